//! Batch endpoints: OpenAI `/v1/files` + `/v1/batches`, Anthropic
//! `/v1/messages/batches`. A batch runs at creation; its first poll reports
//! it in progress, later polls report it ended.

use super::chat::complete;
use super::{error_body, json_reply, lock, Api, Recorded, Reply, Shared};
use crate::wire::{anthropic_batch as ab, openai_batch as ob};
use std::sync::atomic::Ordering;

/// A batch the emulator holds.
pub(crate) struct BatchState {
    api: Api,
    polls: u32,
    expired: bool,
    input_file_id: String,
    output_file_id: Option<String>,
    error_file_id: Option<String>,
    /// Anthropic results JSONL.
    results: String,
    counts: (u64, u64, u64),
}

fn new_id(shared: &Shared, prefix: &str) -> String {
    format!("{prefix}{}", shared.next_id.fetch_add(1, Ordering::SeqCst))
}

/// The content of the multipart part named `file`.
fn multipart_file(req: &Recorded) -> Option<String> {
    let ctype = req.header("content-type")?;
    let boundary = ctype.split("boundary=").nth(1)?.trim_matches('"');
    let delim = format!("--{boundary}");
    req.body
        .split(&delim)
        .find(|part| part.contains("name=\"file\""))
        .and_then(|part| part.split_once("\r\n\r\n"))
        .map(|(_, content)| content.trim_end_matches("\r\n").to_string())
}

/// Serves a batch route, or `None` when `req` is none of them.
pub(super) fn route(req: &Recorded, shared: &Shared) -> Option<Reply> {
    let path = req.path.as_str();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Some(match (req.method.as_str(), parts.as_slice()) {
        ("POST", ["v1", "files"]) => upload(req, shared),
        ("GET", ["v1", "files", id, "content"]) => match lock(&shared.files).get(*id) {
            Some(text) => json_reply(200, text.clone()),
            None => json_reply(404, error_body(Api::OpenAi, "not_found", "no such file")),
        },
        ("POST", ["v1", "batches"]) => create_openai(req, shared),
        ("GET", ["v1", "batches", id]) => poll(shared, id, Api::OpenAi),
        ("POST", ["v1", "messages", "batches"]) => create_anthropic(req, shared),
        ("GET", ["v1", "messages", "batches", id]) => poll(shared, id, Api::Anthropic),
        ("GET", ["v1", "messages", "batches", id, "results"]) => {
            match lock(&shared.batches).get(*id) {
                Some(b) if b.polls > 1 => json_reply(200, b.results.clone()),
                _ => json_reply(
                    404,
                    error_body(Api::Anthropic, "not_found_error", "no results"),
                ),
            }
        }
        _ => return None,
    })
}

fn upload(req: &Recorded, shared: &Shared) -> Reply {
    let Some(content) = multipart_file(req) else {
        return json_reply(
            400,
            error_body(Api::OpenAi, "invalid_request_error", "no file part"),
        );
    };
    if !req.body.contains("name=\"purpose\"\r\n\r\nbatch\r\n") {
        return json_reply(
            400,
            error_body(
                Api::OpenAi,
                "invalid_request_error",
                "purpose must be batch",
            ),
        );
    }
    let id = new_id(shared, "file-");
    let bytes = content.len() as u64;
    lock(&shared.files).insert(id.clone(), content);
    let f = ob::FileObject {
        id,
        object: "file".into(),
        bytes,
        filename: "atgen-batch.jsonl".into(),
        purpose: "batch".into(),
    };
    json_reply(200, serde_json::to_string(&f).unwrap_or_default())
}

fn create_openai(req: &Recorded, shared: &Shared) -> Reply {
    let bad = |m: &str| json_reply(400, error_body(Api::OpenAi, "invalid_request_error", m));
    let Ok(c) = serde_json::from_str::<ob::CreateBatch>(&req.body) else {
        return bad("malformed batch request");
    };
    if c.endpoint != "/v1/chat/completions" || c.completion_window != "24h" {
        return bad("unsupported endpoint or completion_window");
    }
    let Some(input) = lock(&shared.files).get(&c.input_file_id).cloned() else {
        return bad("no such input file");
    };
    let lines: Vec<&str> = input.lines().filter(|l| !l.trim().is_empty()).collect();
    let expire = *lock(&shared.expire_last);
    let (mut out, mut err) = (String::new(), String::new());
    let (mut done, mut failed) = (0, 0);
    for (n, line) in lines.iter().enumerate() {
        let Ok(l) = serde_json::from_str::<ob::InputLine>(line) else {
            return bad("malformed input line");
        };
        let row = if n + expire >= lines.len() {
            failed += 1;
            serde_json::json!({"id": format!("batch_req_{n}"), "custom_id": l.custom_id, "response": null,
                "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}})
        } else {
            let body = serde_json::to_string(&l.body).unwrap_or_default();
            let r = complete(Api::OpenAi, &body, shared, true);
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
            if r.status == 200 {
                done += 1
            } else {
                failed += 1
            }
            serde_json::json!({"id": format!("batch_req_{n}"), "custom_id": l.custom_id,
                "response": {"status_code": r.status, "request_id": format!("req_{n}"), "body": body}, "error": null})
        };
        let target = if row["response"]["status_code"] == 200 {
            &mut out
        } else {
            &mut err
        };
        target.push_str(&row.to_string());
        target.push('\n');
    }
    let mut files = lock(&shared.files);
    let mut keep = |text: String| {
        (!text.is_empty()).then(|| {
            let id = new_id(shared, "file-");
            files.insert(id.clone(), text);
            id
        })
    };
    let state = BatchState {
        api: Api::OpenAi,
        polls: 0,
        expired: expire > 0,
        input_file_id: c.input_file_id,
        output_file_id: keep(out),
        error_file_id: keep(err),
        results: String::new(),
        counts: (lines.len() as u64, done, failed),
    };
    drop(files);
    let id = new_id(shared, "batch_");
    let view = openai_view(&id, &state);
    lock(&shared.batches).insert(id, state);
    json_reply(200, view)
}

fn openai_view(id: &str, b: &BatchState) -> String {
    let ended = b.polls > 1;
    let status = match (ended, b.expired) {
        (false, _) if b.polls == 0 => "validating",
        (false, _) => "in_progress",
        (true, true) => "expired",
        (true, false) => "completed",
    };
    serde_json::json!({"id": id, "object": "batch", "endpoint": "/v1/chat/completions",
        "input_file_id": b.input_file_id, "completion_window": "24h", "status": status,
        "output_file_id": if ended { b.output_file_id.clone() } else { None },
        "error_file_id": if ended { b.error_file_id.clone() } else { None },
        "request_counts": {"total": b.counts.0, "completed": b.counts.1, "failed": b.counts.2}})
    .to_string()
}

fn create_anthropic(req: &Recorded, shared: &Shared) -> Reply {
    let Ok(c) = serde_json::from_str::<ab::CreateBatch>(&req.body) else {
        return json_reply(
            400,
            error_body(Api::Anthropic, "invalid_request_error", "malformed batch"),
        );
    };
    let expire = *lock(&shared.expire_last);
    let n_req = c.requests.len();
    let mut results = String::new();
    let (mut ok, mut errored) = (0, 0);
    for (n, r) in c.requests.into_iter().enumerate() {
        let result = if n + expire >= n_req {
            serde_json::json!({"type": "expired"})
        } else {
            let body = serde_json::to_string(&r.params).unwrap_or_default();
            let reply = complete(Api::Anthropic, &body, shared, true);
            let v: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
            if reply.status == 200 {
                ok += 1;
                serde_json::json!({"type": "succeeded", "message": v})
            } else {
                errored += 1;
                serde_json::json!({"type": "errored", "error": v})
            }
        };
        results
            .push_str(&serde_json::json!({"custom_id": r.custom_id, "result": result}).to_string());
        results.push('\n');
    }
    let state = BatchState {
        api: Api::Anthropic,
        polls: 0,
        expired: expire > 0,
        input_file_id: String::new(),
        output_file_id: None,
        error_file_id: None,
        results,
        counts: (ok, errored, expire.min(n_req) as u64),
    };
    let id = new_id(shared, "msgbatch_");
    let view = anthropic_view(shared, &id, &state);
    lock(&shared.batches).insert(id, state);
    json_reply(200, view)
}

fn anthropic_view(shared: &Shared, id: &str, b: &BatchState) -> String {
    let ended = b.polls > 1;
    serde_json::json!({"id": id, "type": "message_batch",
        "processing_status": if ended { "ended" } else { "in_progress" },
        "request_counts": {"processing": if ended { 0 } else { b.counts.0 + b.counts.1 + b.counts.2 },
            "succeeded": b.counts.0, "errored": b.counts.1, "canceled": 0, "expired": b.counts.2},
        "results_url": ended.then(|| format!("http://{}/v1/messages/batches/{id}/results", shared.addr))})
    .to_string()
}

fn poll(shared: &Shared, id: &str, api: Api) -> Reply {
    let mut batches = lock(&shared.batches);
    match batches.get_mut(id) {
        Some(b) if b.api == api => {
            b.polls += 1;
            let view = match api {
                Api::OpenAi => openai_view(id, b),
                Api::Anthropic => anthropic_view(shared, id, b),
            };
            json_reply(200, view)
        }
        _ => json_reply(404, error_body(api, "not_found_error", "no such batch")),
    }
}
