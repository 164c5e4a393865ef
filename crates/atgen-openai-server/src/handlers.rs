//! Request parsing and OpenAI-shaped responses.

use crate::topk::top_logprobs;
use crate::ServedModel;
use atgen_core::{Generation, GenerationParams};
use atgen_models::tokenizer::Message;
use atgen_models::CausalLm;
use serde_json::{json, Value};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};

/// Largest request body accepted.
const MAX_BODY: usize = 8 << 20;
static COUNTER: AtomicU64 = AtomicU64::new(1);

/// An HTTP status and a JSON body.
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

fn error(status: u16, message: impl Into<String>) -> Reply {
    Reply {
        status,
        body: json!({"error": {"message": message.into(), "type": "invalid_request_error", "code": null}}),
    }
}

pub(crate) fn respond(model: &mut ServedModel, mut req: tiny_http::Request) {
    let method = req.method().as_str().to_string();
    let url = req.url().split('?').next().unwrap_or_default().to_string();
    let mut body = Vec::new();
    let read = req
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body);
    let reply = match read {
        Err(e) => error(400, format!("reading the body: {e}")),
        Ok(n) if n > MAX_BODY => error(413, "request body too large"),
        Ok(_) => handle(model, &method, &url, &body),
    };
    let text = reply.body.to_string();
    let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]);
    let mut resp = tiny_http::Response::from_string(text).with_status_code(reply.status);
    if let Ok(h) = header {
        resp = resp.with_header(h);
    }
    let _ = req.respond(resp);
}

/// Routes one request (exposed for tests without sockets).
pub fn handle(model: &mut ServedModel, method: &str, path: &str, body: &[u8]) -> Reply {
    match (method, path) {
        ("GET", "/v1/models") => {
            let mut data = vec![
                json!({"id": model.name, "object": "model", "created": now(), "owned_by": "atgen"}),
            ];
            data.extend(model.adapters.keys().map(|n| json!({"id": n, "object": "model", "created": now(), "owned_by": "atgen", "parent": model.name})));
            Reply {
                status: 200,
                body: json!({"object": "list", "data": data}),
            }
        }
        ("POST", "/v1/load_lora_adapter") | ("POST", "/v1/unload_lora_adapter") => {
            let req: Value = match serde_json::from_slice(body) {
                Ok(v @ Value::Object(_)) => v,
                _ => return error(400, "the body must be a JSON object"),
            };
            adapters(model, path.ends_with("/load_lora_adapter"), &req).unwrap_or_else(|r| r)
        }
        ("POST", "/update_weights_from_disk") => {
            let req: Value = match serde_json::from_slice(body) {
                Ok(v @ Value::Object(_)) => v,
                _ => return error(400, "the body must be a JSON object"),
            };
            update_weights(model, &req)
        }
        ("GET", "/get_model_info") => Reply {
            status: 200,
            body: json!({
                "model_path": model_path(&model.lm),
                "served_model_name": model.name,
                "is_generation": true,
            }),
        },
        ("POST", "/v1/completions") | ("POST", "/v1/chat/completions") => {
            let req: Value = match serde_json::from_slice(body) {
                Ok(v @ Value::Object(_)) => v,
                Ok(_) => return error(400, "the body must be a JSON object"),
                Err(e) => return error(400, format!("malformed JSON: {e}")),
            };
            // A request naming a loaded adapter runs on it.
            let adapter = req
                .get("model")
                .and_then(Value::as_str)
                .and_then(|m| model.adapters.get(m).map(|lm| (m, lm)));
            let target = match adapter {
                Some((name, lm)) => ServedModel::new(name, lm.clone(), model.batch_size),
                None => ServedModel::new(model.name.clone(), model.lm.clone(), model.batch_size),
            };
            let result = if path.ends_with("chat/completions") {
                chat(&target, &req)
            } else {
                completions(&target, &req)
            };
            result.unwrap_or_else(|r| r)
        }
        (_, "/v1/models" | "/v1/completions" | "/v1/chat/completions") => {
            error(405, format!("{method} is not allowed on {path}"))
        }
        _ => error(404, format!("no route {method} {path}")),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn number(req: &Value, key: &str) -> Result<Option<f64>, Reply> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(error(400, format!("`{key}` must be a number"))),
    }
}

fn params(
    model: &ServedModel,
    req: &Value,
    max_default: usize,
    top_logprobs: usize,
) -> Result<(GenerationParams, usize), Reply> {
    if let Some(m) = req.get("model").and_then(Value::as_str) {
        if m != model.name {
            return Err(error(
                404,
                format!("model `{m}` is not served here (try `{}`)", model.name),
            ));
        }
    }
    let max_tokens = number(req, "max_completion_tokens")?
        .or(number(req, "max_tokens")?)
        .map_or(max_default, |v| v as usize);
    let temperature = number(req, "temperature")?.unwrap_or(1.0);
    let top_p = number(req, "top_p")?.unwrap_or(1.0);
    let n = number(req, "n")?.map_or(1, |v| v as usize);
    if !(0.0..=2.0).contains(&temperature)
        || !(0.0..=1.0).contains(&top_p)
        || top_p == 0.0
        || n == 0
        || n > 16
    {
        return Err(error(
            400,
            "temperature must be in [0, 2], top_p in (0, 1], n in 1..=16",
        ));
    }
    if top_logprobs > 20 {
        return Err(error(400, "at most 20 top log-probs"));
    }
    let stop = match req.get("stop") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect(),
        Some(_) => return Err(error(400, "`stop` must be a string or a list of strings")),
    };
    let seed = number(req, "seed")?.map_or_else(
        || now() ^ COUNTER.fetch_add(1, Ordering::SeqCst),
        |s| s as u64,
    );
    Ok((
        GenerationParams {
            max_new_tokens: max_tokens,
            temperature,
            top_p,
            top_k: 0,
            num_samples: n,
            seed,
            stop,
            stop_token_ids: Vec::new(),
        },
        max_tokens,
    ))
}

struct Choice {
    gen: Generation,
    top: Vec<Vec<(u32, f32)>>,
    finish: &'static str,
}

fn run(
    model: &ServedModel,
    prompt: &str,
    p: &GenerationParams,
    max_tokens: usize,
    k: usize,
) -> Result<(usize, Vec<Choice>), Reply> {
    let lm = &model.lm;
    let prompt_ids = lm.encode(prompt).map_err(|e| error(400, e.to_string()))?;
    let outs = lm
        .generate(&[prompt.to_string()], p, model.batch_size)
        .map_err(|e| error(400, e.to_string()))?;
    let mut choices = Vec::new();
    for gen in outs.into_iter().flatten() {
        let mut ids = prompt_ids.clone();
        ids.extend(&gen.token_ids);
        let top = if k > 0 {
            top_logprobs(lm, &ids, gen.token_ids.len(), k).map_err(|e| error(500, e.to_string()))?
        } else {
            Vec::new()
        };
        let finish = if gen.token_ids.len() >= max_tokens {
            "length"
        } else {
            "stop"
        };
        choices.push(Choice { gen, top, finish });
    }
    Ok((prompt_ids.len(), choices))
}

fn token_text(model: &ServedModel, id: u32) -> String {
    model.lm.tokenizer.decode(&[id]).unwrap_or_default()
}

fn usage(prompt: usize, choices: &[Choice]) -> Value {
    let completion: usize = choices.iter().map(|c| c.gen.token_ids.len()).sum();
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

fn completions(model: &ServedModel, req: &Value) -> Result<Reply, Reply> {
    let prompts: Vec<String> = match req.get("prompt") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if a.iter().all(Value::is_string) && !a.is_empty() => a
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect(),
        _ => {
            return Err(error(
                400,
                "`prompt` must be a string or a non-empty list of strings",
            ))
        }
    };
    if req.get("echo").and_then(Value::as_bool) == Some(true) {
        return Err(error(400, "`echo` is not supported"));
    }
    let k = number(req, "logprobs")?.map_or(0, |v| v as usize);
    let (p, max_tokens) = params(model, req, 16, k)?;
    let want_logprobs = req.get("logprobs").is_some_and(|v| !v.is_null());
    let (mut prompt_total, mut out, mut all) = (0, Vec::new(), Vec::new());
    for prompt in &prompts {
        let (n_prompt, choices) = run(model, prompt, &p, max_tokens, k)?;
        prompt_total += n_prompt;
        for c in choices {
            let logprobs = want_logprobs.then(|| {
                let tokens: Vec<String> = c.gen.token_ids.iter().map(|&t| token_text(model, t)).collect();
                let mut offset = 0;
                let offsets: Vec<usize> = tokens.iter().map(|t| { let o = offset; offset += t.len(); o }).collect();
                let top: Vec<Value> = c.top.iter().map(|row| Value::Object(row.iter().map(|&(t, lp)| (token_text(model, t), json!(lp))).collect())).collect();
                json!({"tokens": tokens, "token_logprobs": c.gen.logprobs, "top_logprobs": if k > 0 { json!(top) } else { Value::Null }, "text_offset": offsets})
            });
            out.push(json!({"index": out.len(), "text": c.gen.text, "logprobs": logprobs, "finish_reason": c.finish}));
            all.push(c);
        }
    }
    let id = format!("cmpl-{}", COUNTER.fetch_add(1, Ordering::SeqCst));
    Ok(Reply {
        status: 200,
        body: json!({"id": id, "object": "text_completion", "created": now(), "model": model.name, "choices": out, "usage": usage(prompt_total, &all)}),
    })
}

fn chat(model: &ServedModel, req: &Value) -> Result<Reply, Reply> {
    let msgs = req
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| error(400, "`messages` must be a non-empty list"))?;
    let mut messages = Vec::with_capacity(msgs.len());
    for (i, m) in msgs.iter().enumerate() {
        let role = m
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| error(400, format!("messages[{i}].role is missing")))?;
        let content = match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            // Content parts: keep the text parts.
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
            _ => {
                return Err(error(
                    400,
                    format!("messages[{i}].content must be a string or a list of text parts"),
                ))
            }
        };
        messages.push(Message::new(role, content));
    }
    let prompt = model
        .lm
        .tokenizer
        .apply_chat_template(&messages)
        .map_err(|e| error(400, e.to_string()))?;
    let want = req
        .get("logprobs")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let k = if want {
        number(req, "top_logprobs")?.map_or(0, |v| v as usize)
    } else {
        0
    };
    let room = model
        .lm
        .max_context()
        .saturating_sub(model.lm.encode(&prompt).map_or(0, |v| v.len()));
    let (p, max_tokens) = params(model, req, room.min(512), k)?;
    let (n_prompt, choices) = run(model, &prompt, &p, max_tokens, k)?;
    let out: Vec<Value> = choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let logprobs = want.then(|| {
                let content: Vec<Value> = c
                    .gen
                    .token_ids
                    .iter()
                    .zip(&c.gen.logprobs)
                    .enumerate()
                    .map(|(j, (&t, &lp))| {
                        let text = token_text(model, t);
                        let top: Vec<Value> = c.top.get(j).into_iter().flatten().map(|&(u, l)| {
                            let s = token_text(model, u);
                            json!({"token": s, "logprob": l, "bytes": s.as_bytes()})
                        }).collect();
                        json!({"token": text, "logprob": lp, "bytes": text.as_bytes(), "top_logprobs": top})
                    })
                    .collect();
                json!({"content": content})
            });
            json!({"index": i, "message": {"role": "assistant", "content": c.gen.text}, "logprobs": logprobs, "finish_reason": c.finish})
        })
        .collect();
    let id = format!("chatcmpl-{}", COUNTER.fetch_add(1, Ordering::SeqCst));
    Ok(Reply {
        status: 200,
        body: json!({"id": id, "object": "chat.completion", "created": now(), "model": model.name, "choices": out, "usage": usage(n_prompt, &choices)}),
    })
}

fn model_path(lm: &CausalLm) -> String {
    lm.files
        .as_ref()
        .map(|f| f.dir.display().to_string())
        .unwrap_or_default()
}

/// SGLang's `POST /update_weights_from_disk` (`{"model_path"}`): the base model's weights are
/// replaced by a checkpoint in HF layout (same architecture; a merged DoRA round, say), served
/// under the same name. Loaded adapters keep the base they were loaded on.
fn update_weights(model: &mut ServedModel, req: &Value) -> Reply {
    let fail = |status: u16, message: String| Reply {
        status,
        body: json!({"success": false, "message": message}),
    };
    let Some(path) = req.get("model_path").and_then(Value::as_str) else {
        return fail(400, "`model_path` is required".into());
    };
    let lm = match CausalLm::load(path, Some(model.lm.dtype()), model.lm.device()) {
        Ok(lm) => lm,
        Err(e) => return fail(400, format!("cannot load `{path}`: {e}")),
    };
    if lm.decoder.config().vocab_size != model.lm.decoder.config().vocab_size {
        return fail(
            400,
            format!("`{path}` has another vocabulary than the served model"),
        );
    }
    model.lm = lm;
    Reply {
        status: 200,
        body: json!({"success": true, "message": format!("Succeeded to update model weights from {path}.")}),
    }
}

/// vLLM's dynamic LoRA endpoints: load a PEFT adapter under a name, or unload it.
fn adapters(model: &mut ServedModel, load: bool, req: &Value) -> Result<Reply, Reply> {
    let name = req
        .get("lora_name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| error(400, "`lora_name` is required"))?;
    if !load {
        return match model.adapters.remove(name) {
            Some(_) => Ok(Reply {
                status: 200,
                body: json!(format!(
                    "Success: LoRA adapter '{name}' removed successfully."
                )),
            }),
            None => Err(error(404, format!("no adapter named `{name}`"))),
        };
    }
    if name == model.name {
        return Err(error(400, format!("`{name}` is the base model's name")));
    }
    let path = req
        .get("lora_path")
        .and_then(Value::as_str)
        .ok_or_else(|| error(400, "`lora_path` is required"))?;
    let mut lm = model.lm.clone();
    atgen_models::peft::load_adapter(&mut lm, std::path::Path::new(path))
        .map_err(|e| error(400, e.to_string()))?;
    model.adapters.insert(name.to_string(), lm);
    Ok(Reply {
        status: 200,
        body: json!(format!(
            "Success: LoRA adapter '{name}' added successfully."
        )),
    })
}
