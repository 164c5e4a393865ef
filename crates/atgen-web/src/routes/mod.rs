//! The router: route paths, the session/CSRF middleware, the body limit.

mod annotate;
mod runs;
mod session;

use crate::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

/// Route paths (axum syntax).
pub mod paths {
    pub const RUNS: &str = "/";
    pub const PROJECTS: &str = "/projects";
    pub const RENAME_PROJECT: &str = "/projects/{id}/rename";
    pub const NEW_RUN: &str = "/runs/new";
    pub const CREATE_RUN: &str = "/runs";
    pub const PREVIEW: &str = "/api/preview";
    pub const DASHBOARD: &str = "/runs/{id}";
    pub const STATUS: &str = "/runs/{id}/status.json";
    pub const EVENTS: &str = "/runs/{id}/events";
    pub const LABELED_ROWS: &str = "/runs/{id}/labeled";
    pub const CURVES: &str = "/runs/{id}/curves";
    pub const CURVE_SVG: &str = "/runs/{id}/curve.svg";
    pub const CONTROL: &str = "/runs/{id}/{action}";
    pub const EXPORT: &str = "/runs/{id}/export/{file}";
    pub const ANNOTATE: &str = "/runs/{id}/annotate";
    pub const SUBMIT: &str = "/runs/{id}/annotate/submit";
    pub const SKIP: &str = "/runs/{id}/annotate/skip";
    pub const UNDO: &str = "/runs/{id}/annotate/undo";
    pub const PICK: &str = "/runs/{id}/annotate/pick";
    pub const DRAFT: &str = "/runs/{id}/annotate/draft";
    pub const NEXT: &str = "/runs/{id}/annotate/next.json";
    pub const LOGIN: &str = "/login";
    pub const ME: &str = "/me";
    pub const ASSET: &str = "/assets/{file}";
    pub const HEALTH: &str = "/healthz";
}

/// Every route of the app.
pub fn router(state: AppState) -> Router {
    use paths::*;
    let limit = state.config.upload_limit;
    Router::new()
        .route(RUNS, get(runs::list))
        .route(PROJECTS, post(runs::create_project))
        .route(RENAME_PROJECT, post(runs::rename_project))
        .route(NEW_RUN, get(runs::new_form))
        .route(CREATE_RUN, post(runs::create))
        .route(PREVIEW, post(runs::preview))
        .route(DASHBOARD, get(runs::dashboard))
        .route(STATUS, get(runs::status))
        .route(EVENTS, get(runs::events))
        .route(LABELED_ROWS, get(runs::labeled_rows))
        .route(CURVES, get(runs::curves))
        .route(CURVE_SVG, get(runs::curve_svg))
        .route(CONTROL, post(runs::control))
        .route(EXPORT, get(runs::export))
        .route(ANNOTATE, get(annotate::page))
        .route(SUBMIT, post(annotate::submit))
        .route(SKIP, post(annotate::skip))
        .route(UNDO, post(annotate::undo))
        .route(PICK, post(annotate::pick))
        .route(DRAFT, post(annotate::draft))
        .route(NEXT, get(annotate::next_json))
        .route(LOGIN, get(session::login_page).post(session::login))
        .route(ME, post(session::set_name))
        .route(ASSET, get(session::asset))
        .route(HEALTH, get(|| async { "ok" }))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::middleware,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
