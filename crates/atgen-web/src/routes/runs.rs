//! Runs list, new-run form (with live preview), dashboard, live events, curves, controls, export.

use crate::db::runs::RunRow;
use crate::db::sessions::{random_token, Session};
use crate::events::Event;
use crate::export;
use crate::form::{check, FieldErrors, RunForm, PROVIDERS};
use crate::pages::curve::{self, Axis};
use crate::pages::{render, status_json};
use crate::{AppState, Result, WebError};
use atgen_config::ConfigSources;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(serde::Deserialize)]
pub struct ListQuery {
    project: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>> {
    let project = q.project.filter(|p| !p.is_empty());
    let runs: Vec<serde_json::Value> = app
        .db
        .runs()?
        .into_iter()
        .filter(|r| project.as_ref().is_none_or(|p| *p == r.project))
        .map(|r| {
            let href = format!("/?project={}", crate::pages::urlencode(&r.project));
            let mut v = serde_json::to_value(&r).unwrap_or_default();
            v["project_href"] = href.into();
            v
        })
        .collect();
    let projects: Vec<serde_json::Value> = app
        .db
        .projects()?
        .into_iter()
        .map(|p| {
            let mut v = serde_json::to_value(&p).unwrap_or_default();
            v["href"] = format!("/?project={}", crate::pages::urlencode(&p.name)).into();
            v
        })
        .collect();
    render(
        "runs.html",
        serde_json::json!({
            "csrf": s.csrf, "annotator": s.annotator, "runs": runs, "project": project,
            "projects": projects,
        }),
    )
}

fn back_to_list(name: &str) -> Response {
    Redirect::to(&format!("/?project={}", crate::pages::urlencode(name))).into_response()
}

/// Creates a project (from the runs list).
pub async fn create_project(
    State(app): State<AppState>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response> {
    let name = f.get("name").map_or("", String::as_str);
    app.db.create_project(name)?;
    Ok(back_to_list(name.trim()))
}

/// Renames a project; its runs follow.
pub async fn rename_project(
    State(app): State<AppState>,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response> {
    let name = f.get("name").map_or("", String::as_str);
    app.db.rename_project(id, name)?;
    Ok(back_to_list(name.trim()))
}

/// One line describing each strategy: the first comment line of its `configs/al/*.yaml`.
fn strategies() -> Vec<serde_json::Value> {
    let src = ConfigSources::embedded();
    src.options("al")
        .into_iter()
        .map(|name| {
            let description = src
                .read(&format!("al/{name}.yaml"))
                .ok()
                .flatten()
                .and_then(|(_, text)| {
                    text.lines()
                        .find_map(|l| l.strip_prefix('#').map(|d| d.trim().to_string()))
                })
                .unwrap_or_default();
            serde_json::json!({ "name": name, "description": description })
        })
        .collect()
}

fn form_page(
    app: &AppState,
    s: &Session,
    f: &RunForm,
    errors: &FieldErrors,
    preview: &str,
    resolved: &str,
    columns: &[String],
) -> Result<Html<String>> {
    let src = ConfigSources::embedded();
    render(
        "new.html",
        serde_json::json!({
            "csrf": s.csrf, "annotator": s.annotator,
            "f": f.fields, "errors": errors, "preview": preview, "resolved": resolved, "columns": columns,
            "datasets": src.options("data"), "strategies": strategies(), "providers": PROVIDERS,
            "models": src.options("model"), "trainings": src.options("training"),
            "upload_limit": size_text(app.config.upload_limit),
        }),
    )
}

pub async fn new_form(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
) -> Result<Html<String>> {
    // The preview of the default choice (the name is only needed to validate).
    let mut probe = RunForm::default();
    probe.fields.insert("bundled".into(), "gsm8k".into());
    probe.fields.insert("name".into(), "preview".into());
    let (preview, resolved, columns) = match check_blocking(&app, probe).await? {
        Ok(c) => (c.preview, c.resolved_yaml, c.columns),
        Err(_) => Default::default(),
    };
    let mut f = RunForm::default();
    f.fields.insert("bundled".into(), "gsm8k".into());
    form_page(
        &app,
        &s,
        &f,
        &FieldErrors::new(),
        &preview,
        &resolved,
        &columns,
    )
}

/// `4 KiB`, `64 MiB`.
fn size_text(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", (bytes >> 10).max(1))
    }
}

/// Reads a multipart form: text fields, and the data file (saved under `uploads/`).
async fn read_form(app: &AppState, s: &Session, mut mp: Multipart) -> Result<RunForm> {
    let mut form = RunForm::default();
    let too_big = |e: axum::extract::multipart::MultipartError| {
        WebError::invalid(
            "upload",
            format!(
                "{} (uploads are limited to {})",
                e.body_text(),
                size_text(app.config.upload_limit)
            ),
        )
    };
    while let Some(field) = mp.next_field().await.map_err(too_big)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "config_file" {
            // A YAML config file, used as the advanced section's YAML.
            let given = field.file_name().is_some_and(|n| !n.is_empty());
            let text = field.text().await.map_err(too_big)?;
            if given && !text.trim().is_empty() {
                form.fields.insert("config_file_text".into(), text);
            }
            continue;
        }
        if name == "upload" {
            let original = field.file_name().unwrap_or_default().to_string();
            let bytes = field.bytes().await.map_err(too_big)?;
            if original.is_empty() || bytes.is_empty() {
                continue;
            }
            let safe: String = original
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let dir = app.config.data_dir().join("uploads");
            fs_err::create_dir_all(&dir)?;
            let rel = PathBuf::from("uploads").join(format!("{}-{safe}", &random_token()[..12]));
            fs_err::write(app.config.data_dir().join(&rel), &bytes)?;
            form.upload = Some((rel, original));
        } else {
            let text = field
                .text()
                .await
                .map_err(|e| WebError::invalid(&name, e.to_string()))?;
            form.fields.insert(name, text);
        }
    }
    if let Some(text) = form.fields.remove("config_file_text") {
        form.fields.insert("advanced_yaml".into(), text);
    }
    let given = form.fields.get("csrf").map_or("", String::as_str);
    if !crate::auth::same(given, &s.csrf) {
        if let Some((p, _)) = &form.upload {
            let _ = std::fs::remove_file(app.config.data_dir().join(p));
        }
        return Err(WebError::Csrf);
    }
    Ok(form)
}

async fn check_blocking(
    app: &AppState,
    form: RunForm,
) -> Result<std::result::Result<crate::form::Checked, FieldErrors>> {
    let dir = app.config.data_dir();
    tokio::task::spawn_blocking(move || check(&form, &dir))
        .await
        .map_err(|e| WebError::Io(std::io::Error::other(e.to_string())))
}

pub async fn create(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
    mp: Multipart,
) -> Result<Response> {
    let form = read_form(&app, &s, mp).await?;
    match check_blocking(&app, form.clone()).await? {
        Ok(mut c) => {
            c.run.owner = s.annotator.clone();
            if let Some((p, original)) = &form.upload {
                let size = std::fs::metadata(app.config.data_dir().join(p))
                    .map(|m| m.len() as usize)
                    .unwrap_or(0);
                app.db
                    .insert_upload(original, &p.display().to_string(), size, 0)?;
            }
            let id = app.db.insert_run(&c.run)?;
            if let Err(e) = app.runs.launch(id, false) {
                app.db.set_status(id, "failed", Some(&e.to_string()))?;
            }
            Ok(Redirect::to(&format!("/runs/{id}")).into_response())
        }
        Err(errors) => {
            if let Some((p, _)) = &form.upload {
                let _ = std::fs::remove_file(app.config.data_dir().join(p));
            }
            let page = form_page(&app, &s, &form, &errors, "", "", &[])?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
    }
}

/// The live preview: the rendered prompt of the first row and the resolved config, or errors by field.
pub async fn preview(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
    mp: Multipart,
) -> Result<Response> {
    let form = read_form(&app, &s, mp).await?;
    let res = check_blocking(&app, form.clone()).await?;
    if let Some((p, _)) = &form.upload {
        let _ = std::fs::remove_file(app.config.data_dir().join(p));
    }
    Ok(match res {
        Ok(c) => Json(serde_json::json!({ "preview": c.preview, "resolved": c.resolved_yaml, "columns": c.columns }))
            .into_response(),
        Err(errors) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "errors": errors })),
        )
            .into_response(),
    })
}

fn run_dir(run: &RunRow) -> Option<PathBuf> {
    run.dir.as_ref().map(PathBuf::from)
}

fn curves_html(run: &RunRow) -> String {
    let c = run_dir(run).map(|d| export::curve(&d)).unwrap_or_default();
    let names = curve::metric_names(&c);
    if names.is_empty() {
        return curve::svg(&c, "metric", Axis::Labeled);
    }
    let mut out = String::new();
    for m in &names {
        out.push_str(&curve::svg(&c, m, Axis::Labeled));
        out.push_str(&curve::svg(&c, m, Axis::Cost));
    }
    out
}

/// The input text of each example of a run (from its pool in SQLite; for runs older than that
/// table, the queue or the dataset), and who annotated it.
fn inputs_of(app: &AppState, run: &RunRow) -> Result<HashMap<String, export::TextInfo>> {
    let mut map = HashMap::new();
    {
        let conn = app.db.lock();
        let mut st = conn.prepare(
            "SELECT q.item_id, q.input,
               (SELECT a.annotator FROM annotations a WHERE a.run_id = q.run_id AND a.item_id = q.item_id AND a.undone = 0 ORDER BY a.id LIMIT 1)
             FROM pool_texts q WHERE q.run_id = ?1
             UNION ALL
             SELECT q.item_id, q.input, NULL FROM queue_items q
             WHERE q.run_id = ?1 AND NOT EXISTS (SELECT 1 FROM pool_texts p WHERE p.run_id = q.run_id)",
        )?;
        let rows = st.query_map([run.id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                export::TextInfo {
                    input: r.get(1)?,
                    annotator: r.get(2)?,
                    annotations: Vec::new(),
                },
            ))
        })?;
        for r in rows {
            let (k, v) = r?;
            map.insert(k, v);
        }
    }
    for a in app.db.annotations(run.id)? {
        if let Some(t) = map.get_mut(&a.item_id) {
            t.annotations.push((a.annotator, a.label));
        }
    }
    if map.is_empty() {
        let cfg = app.runs.config_of(run)?;
        let ctx = atgen_data::LoadContext {
            base_dir: app.config.data_dir(),
            ..Default::default()
        };
        if let Ok(ds) = atgen_data::load_dataset_with(&cfg.data, &ctx) {
            map.extend(ds.train.into_iter().map(|e| {
                (
                    e.id,
                    export::TextInfo {
                        input: e.input,
                        annotator: None,
                        annotations: Vec::new(),
                    },
                )
            }));
        }
    }
    Ok(map)
}

#[derive(serde::Deserialize)]
pub struct Browse {
    iter: Option<usize>,
    #[serde(default)]
    q: String,
}

pub async fn dashboard(
    State(app): State<AppState>,
    Extension(s): Extension<Session>,
    Path(id): Path<i64>,
    Query(b): Query<Browse>,
) -> Result<Html<String>> {
    let run = app.db.run(id)?;
    let (iterations, labeled, generations, iter) = match run_dir(&run) {
        Some(d) => {
            let its = export::iterations(&d);
            let iter = b.iter.or(its.last().copied()).unwrap_or(0);
            let labeled = labeled_of(&app, &run, &d, iter, &b.q).await?;
            let gens = export::search(export::generations(&d, iter)?, &b.q);
            (its, labeled, gens, iter)
        }
        None => (Vec::new(), Vec::new(), Vec::new(), 0),
    };
    let pending = export::search(app.db.pending_submissions(id, iter as i64)?, &b.q);
    render(
        "dashboard.html",
        serde_json::json!({
            "csrf": s.csrf, "annotator": s.annotator, "run": run,
            "queue": app.db.queue_progress(id, run.overlap)?, "pool": app.db.pool_counts(id)?,
            "curves": curves_html(&run), "iterations": iterations, "iter": iter, "q": b.q,
            "labeled": labeled, "pending": pending, "generations": generations,
            "secret_keys": app.db.run_secret_keys(id)?,
            "agreement": crate::db::overlap::agreement(&app.db.annotations(id)?),
        }),
    )
}

/// The labeled rows of round `iter`, searched.
async fn labeled_of(
    app: &AppState,
    run: &RunRow,
    dir: &std::path::Path,
    iter: usize,
    q: &str,
) -> Result<Vec<export::LabeledRow>> {
    let inputs = {
        let (app, run) = (app.clone(), run.clone());
        tokio::task::spawn_blocking(move || inputs_of(&app, &run))
            .await
            .map_err(|e| WebError::Io(std::io::Error::other(e.to_string())))??
    };
    Ok(export::search(
        export::labeled(dir, Some(iter), &inputs)?,
        q,
    ))
}

/// The dashboard's labeled table for the latest round (or `iter`): refetched live.
pub async fn labeled_rows(
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Query(b): Query<Browse>,
) -> Result<Html<String>> {
    let run = app.db.run(id)?;
    let (labeled, iter) = match run_dir(&run) {
        Some(d) => {
            let iter = b
                .iter
                .or(export::iterations(&d).last().copied())
                .unwrap_or(0);
            (labeled_of(&app, &run, &d, iter, &b.q).await?, iter)
        }
        None => (Vec::new(), b.iter.unwrap_or(0)),
    };
    let pending = export::search(app.db.pending_submissions(id, iter as i64)?, &b.q);
    render(
        "labeled_rows.html",
        serde_json::json!({ "labeled": labeled, "pending": pending }),
    )
}

pub async fn status(
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>> {
    let run = app.db.run(id)?;
    let mut v = status_json(&run, app.runs.is_active(id));
    v["queue"] = serde_json::json!(app.db.queue_progress(id, run.overlap)?);
    v["pool"] = serde_json::json!(app.db.pool_counts(id)?);
    v["points"] = serde_json::json!(run_dir(&run).map(|d| export::curve(&d).len()).unwrap_or(0));
    Ok(Json(v))
}

pub async fn events(State(app): State<AppState>, Path(id): Path<i64>) -> Result<Response> {
    let run = app.db.run(id)?;
    let first = Event {
        run_id: id,
        kind: "status",
        data: status_json(&run, app.runs.is_active(id)),
    };
    Ok(app.events.stream(id, first).into_response())
}

pub async fn curves(State(app): State<AppState>, Path(id): Path<i64>) -> Result<Html<String>> {
    Ok(Html(curves_html(&app.db.run(id)?)))
}

#[derive(serde::Deserialize)]
pub struct CurveQuery {
    #[serde(default)]
    x: String,
    #[serde(default)]
    metric: String,
}

pub async fn curve_svg(
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<CurveQuery>,
) -> Result<Response> {
    let run = app.db.run(id)?;
    let axis = Axis::parse(&q.x).ok_or_else(|| WebError::invalid("x", "labeled or cost"))?;
    let c = run_dir(&run).map(|d| export::curve(&d)).unwrap_or_default();
    let metric = if q.metric.is_empty() {
        curve::metric_names(&c)
            .into_iter()
            .next()
            .unwrap_or_default()
    } else {
        q.metric
    };
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml")],
        curve::svg(&c, &metric, axis),
    )
        .into_response())
}

pub async fn control(
    State(app): State<AppState>,
    Path((id, action)): Path<(i64, String)>,
) -> Result<Response> {
    match action.as_str() {
        "stop" => app.runs.stop(id)?,
        "pause" => app.runs.pause(id)?,
        "resume" => app.runs.resume(id)?,
        other => return Err(WebError::NotFound(format!("action `{other}`"))),
    }
    Ok(Redirect::to(&format!("/runs/{id}")).into_response())
}

pub async fn export(
    State(app): State<AppState>,
    Path((id, file)): Path<(i64, String)>,
) -> Result<Response> {
    let run = app.db.run(id)?;
    let dir =
        run_dir(&run).ok_or_else(|| WebError::NotFound(format!("run {id} has no output yet")))?;
    let attach = |name: &str| format!("attachment; filename=\"run-{id}-{name}\"");
    match file.as_str() {
        "labeled.jsonl" | "labeled.csv" => {
            let rows = {
                let (app, run, d) = (app.clone(), run.clone(), dir.clone());
                tokio::task::spawn_blocking(move || {
                    export::labeled(&d, None, &inputs_of(&app, &run)?)
                })
                .await
                .map_err(|e| WebError::Io(std::io::Error::other(e.to_string())))??
            };
            if file.ends_with("jsonl") {
                Ok((
                    [
                        (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
                        (header::CONTENT_DISPOSITION, attach(&file)),
                    ],
                    export::to_jsonl(&rows),
                )
                    .into_response())
            } else {
                Ok((
                    [
                        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                        (header::CONTENT_DISPOSITION, attach(&file)),
                    ],
                    export::to_csv(&rows)?,
                )
                    .into_response())
            }
        }
        // The engine writes it with secrets redacted.
        "config.yaml" => Ok((
            [
                (header::CONTENT_TYPE, "text/yaml; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, attach(&file)),
            ],
            fs_err::read_to_string(dir.join("config.yaml"))?,
        )
            .into_response()),
        "adapter.tar" => {
            let a = dir.join("adapter");
            if !a.is_dir() {
                return Err(WebError::NotFound(
                    "no adapter yet (the first round has not trained)".into(),
                ));
            }
            Ok((
                [
                    (header::CONTENT_TYPE, "application/x-tar".to_string()),
                    (header::CONTENT_DISPOSITION, attach(&file)),
                ],
                export::tar_dir(&a, "adapter")?,
            )
                .into_response())
        }
        other => Err(WebError::NotFound(format!("export `{other}`"))),
    }
}
