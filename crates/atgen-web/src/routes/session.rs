//! Sign-in, the annotator's name, static assets.

use crate::auth::same;
use crate::db::sessions::Session;
use crate::{AppState, Result, WebError};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use std::collections::HashMap;

pub async fn login_page(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
) -> Result<Html<String>> {
    crate::pages::render(
        "login.html",
        serde_json::json!({ "csrf": s.csrf, "annotator": s.annotator, "needs_token": !s.signed_in && app.config.access_token.is_some() }),
    )
}

pub async fn login(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response> {
    if !s.signed_in {
        let expected = app.config.access_token.clone().unwrap_or_default();
        let given = f.get("token").map_or("", String::as_str);
        if expected.is_empty() || !same(given, &expected) {
            let page = crate::pages::render(
                "login.html",
                serde_json::json!({ "csrf": s.csrf, "annotator": s.annotator, "needs_token": true, "error": "Wrong access token." }),
            )?;
            return Ok((StatusCode::UNAUTHORIZED, page).into_response());
        }
        app.db.sign_in(&s.token)?;
    }
    if let Some(name) = f.get("name") {
        set_annotator(&app, &s, name)?;
    }
    Ok(Redirect::to("/").into_response())
}

fn set_annotator(app: &AppState, s: &Session, name: &str) -> Result<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 40 || name.chars().any(char::is_control) {
        return Err(WebError::invalid("name", "1 to 40 printable characters"));
    }
    app.db.set_annotator(&s.token, name)
}

pub async fn set_name(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response> {
    set_annotator(&app, &s, f.get("name").map_or("", String::as_str))?;
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| {
            r.find("://")
                .and_then(|i| r[i + 3..].find('/').map(|j| r[i + 3 + j..].to_string()))
        })
        // Same-origin paths only ("//host" would leave the site).
        .filter(|p| !p.starts_with("//"))
        .unwrap_or_else(|| "/".into());
    Ok(Redirect::to(&back).into_response())
}

pub async fn asset(Path(file): Path<String>) -> Result<Response> {
    crate::pages::asset(&file)
}
