//! The annotate page and its actions: submit, skip, undo, go back, autosaved drafts.

use crate::db::now;
use crate::db::overlap::OverlapRule;
use crate::db::sessions::Session;
use crate::{AppState, Result, WebError};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form, Json};
use std::collections::HashMap;

#[derive(serde::Deserialize)]
pub struct Which {
    item: Option<String>,
    notice: Option<String>,
}

fn lease(app: &AppState) -> i64 {
    app.config.lease.as_secs().max(1) as i64
}

fn publish_queue(app: &AppState, id: i64, overlap: i64) {
    if let Ok(Some(p)) = app.db.queue_progress(id, overlap) {
        app.events.send(id, "queue", serde_json::json!(p));
    }
}

pub async fn page(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<i64>,
    Query(w): Query<Which>,
) -> Result<Html<String>> {
    let run = app.db.run(id)?;
    // "Go back" names an item; otherwise the next one is leased to this annotator.
    // An ended run offers nothing new (a stop leaves unannotated texts in the queue).
    let item = match &w.item {
        Some(item) => Some(app.db.queue_item(id, item)?),
        None if run.is_unfinished() => {
            app.db
                .next_item(id, &s.annotator, run.overlap, now(), lease(&app))?
        }
        None => None,
    };
    let text = match &item {
        Some(it) => app
            .db
            .draft(id, &it.item_id, &s.annotator)?
            .or(app.db.my_label(id, &it.item_id, &s.annotator)?)
            .or(it.draft.clone())
            .unwrap_or_default(),
        None => String::new(),
    };
    let current = item.as_ref().map(|i| i.item_id.clone());
    // Back walks this annotator's submissions from the newest: from a submitted item, to the
    // one submitted before it.
    let history: Vec<String> = app
        .db
        .my_submissions(id, &s.annotator, 200)?
        .into_iter()
        .map(|x| x.item_id)
        .collect();
    let back = match current
        .as_ref()
        .and_then(|c| history.iter().position(|h| h == c))
    {
        Some(i) => history.get(i + 1),
        None => history.first(),
    }
    .map(|x| format!("/runs/{id}/annotate?item={}", crate::pages::urlencode(x)));
    let notice = w.notice.as_deref().map(|n| match n {
        "undone" => "Your last submission was withdrawn; edit it and submit again.",
        "nothing" => "Nothing to undo.",
        "final" => "That text was already handed to the model; it can no longer change.",
        "skipped" => "Skipped; it comes back after the others.",
        "picked" => "Picked; that annotation is the text's label.",
        _ => "",
    });
    // Under "owner decides", the owner sees the fully annotated texts waiting for their pick.
    let to_pick = if run.overlap_rule == OverlapRule::Owner && run.owner == s.annotator {
        app.db.awaiting_pick(id, run.overlap)?
    } else {
        Vec::new()
    };
    crate::pages::render(
        "annotate.html",
        serde_json::json!({
            "csrf": s.csrf, "annotator": s.annotator, "run": run, "item": item, "text": text,
            "back": back, "notice": notice, "queue": app.db.queue_progress(id, run.overlap)?,
            "to_pick": to_pick,
        }),
    )
}

fn field<'a>(f: &'a HashMap<String, String>, k: &str) -> Result<&'a str> {
    f.get(k)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| WebError::invalid(k, "required"))
}

/// Longest annotation or draft accepted, in bytes.
const MAX_TEXT: usize = 100_000;

fn check_length(k: &str, text: &str) -> Result<()> {
    if text.len() > MAX_TEXT {
        return Err(WebError::invalid(k, "at most 100,000 characters"));
    }
    Ok(())
}

/// Back to the annotate page, with a notice when one is given.
fn to_annotate(id: i64, notice: Option<&str>) -> Response {
    let query = notice.map_or(String::new(), |n| format!("?notice={n}"));
    Redirect::to(&format!("/runs/{id}/annotate{query}")).into_response()
}

/// `Ok(false)` when the change came too late: the text's label is already final.
fn unless_final(r: Result<()>) -> Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(WebError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn submit(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response> {
    let run = app.db.run(id)?;
    let item = field(&f, "item")?;
    let label = f.get("label").map_or("", |l| l.trim());
    if label.is_empty() {
        return Err(WebError::invalid(
            "label",
            "an empty annotation cannot be submitted (skip the text instead)",
        ));
    }
    check_length("label", label)?;
    if !run.is_unfinished()
        || !unless_final(app.db.submit(
            id,
            item,
            &s.annotator,
            &label.replace("\r\n", "\n"),
            now(),
        ))?
    {
        return Ok(to_annotate(id, Some("final")));
    }
    publish_queue(&app, id, run.overlap);
    Ok(to_annotate(id, None))
}

/// The run's owner picks which annotation of a text becomes its label.
pub async fn pick(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response> {
    let run = app.db.run(id)?;
    if run.overlap_rule != OverlapRule::Owner || run.owner != s.annotator {
        return Err(WebError::invalid(
            "annotation",
            format!(
                "only the run's owner ({}) picks labels, and only when the run's rule is `owner`",
                run.owner
            ),
        ));
    }
    let item = field(&f, "item")?;
    let annotation: i64 = field(&f, "annotation")?
        .parse()
        .map_err(|_| WebError::invalid("annotation", "an annotation id"))?;
    let notice = if unless_final(app.db.pick(id, item, annotation))? {
        "picked"
    } else {
        "final"
    };
    Ok(to_annotate(id, Some(notice)))
}

pub async fn skip(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response> {
    app.db.run(id)?;
    let item = field(&f, "item")?;
    app.db.queue_item(id, item)?;
    app.db.skip(id, item, &s.annotator, now())?;
    Ok(to_annotate(id, Some("skipped")))
}

pub async fn undo(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<i64>,
) -> Result<Response> {
    let run = app.db.run(id)?;
    let to = match app.db.undo_last(id, &s.annotator, now(), lease(&app)) {
        Ok(Some(item)) => {
            publish_queue(&app, id, run.overlap);
            format!(
                "/runs/{id}/annotate?item={}&notice=undone",
                crate::pages::urlencode(&item)
            )
        }
        Ok(None) => format!("/runs/{id}/annotate?notice=nothing"),
        Err(WebError::Conflict(_)) => format!("/runs/{id}/annotate?notice=final"),
        Err(e) => return Err(e),
    };
    Ok(Redirect::to(&to).into_response())
}

pub async fn draft(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response> {
    app.db.run(id)?;
    let item = field(&f, "item")?;
    app.db.queue_item(id, item)?;
    let text = f.get("text").map_or("", String::as_str);
    check_length("text", text)?;
    app.db.save_draft(id, item, &s.annotator, text, now())?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The item this annotator would get now, as JSON (scripts and tests).
pub async fn next_json(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>> {
    let run = app.db.run(id)?;
    let item = if run.is_unfinished() {
        app.db
            .next_item(id, &s.annotator, run.overlap, now(), lease(&app))?
    } else {
        None
    };
    Ok(Json(
        serde_json::json!({ "item": item, "queue": app.db.queue_progress(id, run.overlap)? }),
    ))
}
