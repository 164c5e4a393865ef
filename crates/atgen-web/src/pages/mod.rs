//! Server-rendered pages: minijinja templates embedded at compile time, HTML auto-escaping on
//! for every `.html` template (user text can only appear escaped), and the static assets.

pub mod curve;

use crate::db::runs::RunRow;
use crate::{Result, WebError};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use std::sync::OnceLock;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "layout.html",
        include_str!("../../assets/templates/layout.html"),
    ),
    (
        "runs.html",
        include_str!("../../assets/templates/runs.html"),
    ),
    ("new.html", include_str!("../../assets/templates/new.html")),
    (
        "dashboard.html",
        include_str!("../../assets/templates/dashboard.html"),
    ),
    (
        "labeled_rows.html",
        include_str!("../../assets/templates/labeled_rows.html"),
    ),
    (
        "annotate.html",
        include_str!("../../assets/templates/annotate.html"),
    ),
    (
        "login.html",
        include_str!("../../assets/templates/login.html"),
    ),
];

/// The static files under `/assets/`.
pub const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/app.js"),
    ),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // Auto-escaping follows the name: every template here ends in `.html`.
        for (name, src) in TEMPLATES {
            if let Err(e) = env.add_template(name, src) {
                eprintln!("atgen serve: template {name}: {e}");
            }
        }
        env
    })
}

/// Renders `name` with `ctx`.
pub fn render(name: &str, ctx: impl serde::Serialize) -> Result<Html<String>> {
    let ctx = minijinja::Value::from(minijinja::value::Serde(ctx));
    env()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map(Html)
        .map_err(|e| WebError::Io(std::io::Error::other(format!("template {name}: {e:#}"))))
}

/// A static asset.
pub fn asset(name: &str) -> Result<Response> {
    let (_, mime, body) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| WebError::NotFound(format!("asset {name}")))?;
    Ok(([(header::CONTENT_TYPE, *mime)], *body).into_response())
}

/// Percent-encodes a query-string value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What the dashboard and runs list show of a run's state (no secrets in a [`RunRow`]).
pub fn status_json(run: &RunRow, active: bool) -> serde_json::Value {
    serde_json::json!({
        "id": run.id,
        "status": run.status,
        "step": run.step,
        "round": run.round,
        "n_labeled": run.n_labeled,
        "cost": run.cost,
        "budget": run.budget,
        "error": run.error,
        "active": active,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_user_text_is_escaped() {
        for (name, _) in TEMPLATES {
            assert!(env().get_template(name).is_ok(), "{name}");
        }
        let html = render(
            "login.html",
            serde_json::json!({ "csrf": "t", "annotator": "<script>alert(1)</script>", "needs_token": true }),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!html.0.contains("<script>alert(1)"));
        assert!(html.0.contains("&lt;script&gt;alert(1)"));
    }
}
