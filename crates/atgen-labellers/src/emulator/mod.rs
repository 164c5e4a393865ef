//! An in-process emulator of the OpenAI Chat Completions and Anthropic
//! Messages HTTP APIs, for tests and demos: a tiny std::net server on
//! 127.0.0.1 with the exact wire formats and usage fields, a deterministic
//! answer, and fault injection (429 with `Retry-After`, 500, slow responses,
//! malformed bodies, 400).
//!
//! ```
//! use atgen_labellers::emulator::{Emulator, Fault};
//! let emu = Emulator::start().unwrap();
//! emu.push_fault(Fault::RateLimit { retry_after_s: 0 });
//! assert!(emu.base_url().starts_with("http://127.0.0.1:"));
//! ```
//!
//! Usage: a prompt is billed one token per 4 characters (rounded up) plus 3
//! per message; an answer one token per whitespace-separated word, cut at
//! `max_tokens`. Every request the server ran is recorded in [`Emulator::billed`],
//! including those whose client gave up, as a real provider bills them.
//!
//! Log-probabilities (OpenAI's `logprobs: true, top_logprobs: k`): the answer's tokens are its
//! words, each after the whitespace that precedes it, so they concatenate to the answer.
//! [`Emulator::set_logprobs`] gives each token's candidates; by default a token is certain.

use crate::wire::anthropic;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

mod batch;
mod chat;

/// A failure to inject into the next request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 with `Retry-After: <s>` and the provider's rate-limit error body.
    RateLimit { retry_after_s: u64 },
    /// 500 with an error body.
    ServerError,
    /// Waits this long, then answers normally (and bills).
    Slow(Duration),
    /// 200 with a truncated JSON body (billed).
    Malformed,
    /// 400 "prompt is too long": this example's fault.
    BadRequest,
    /// 400 about an unsupported parameter: the configuration's fault.
    BadParameter,
    /// Served normally; lets a test aim the faults queued after it.
    Pass,
}

/// A request the emulator received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Turns the last user message into the answer.
pub type Responder = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// The candidates `(token, logprob)` at the place of an answer token (given its text).
pub type LogprobFn = Arc<dyn Fn(&str) -> Vec<(String, f64)> + Send + Sync>;

pub(super) struct Shared {
    addr: SocketAddr,
    faults: Mutex<VecDeque<Fault>>,
    requests: Mutex<Vec<Recorded>>,
    billed: Mutex<Vec<(u64, u64)>>,
    billed_batch: Mutex<Vec<(u64, u64)>>,
    key: Mutex<Option<String>>,
    responder: Mutex<Responder>,
    logprobs: Mutex<LogprobFn>,
    files: Mutex<HashMap<String, String>>,
    batches: Mutex<HashMap<String, batch::BatchState>>,
    expire_last: Mutex<usize>,
    next_id: std::sync::atomic::AtomicU64,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running emulator; stops when dropped.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts on a free port of 127.0.0.1. The default answer is
    /// `<think>...</think>` reasoning followed by `EMU <last user message>`.
    pub fn start() -> std::io::Result<Emulator> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            addr,
            faults: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            billed: Mutex::new(Vec::new()),
            billed_batch: Mutex::new(Vec::new()),
            key: Mutex::new(None),
            files: Mutex::new(HashMap::new()),
            batches: Mutex::new(HashMap::new()),
            expire_last: Mutex::new(0),
            next_id: std::sync::atomic::AtomicU64::new(1),
            logprobs: Mutex::new(Arc::new(|t: &str| vec![(t.to_string(), 0.0)])),
            responder: Mutex::new(Arc::new(|q: &str| {
                format!("<think>emulated reasoning</think>\nEMU {q}")
            })),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = conn {
                        let shared = shared.clone();
                        std::thread::spawn(move || {
                            let _ = serve(stream, &shared);
                        });
                    }
                }
            })
        };
        Ok(Emulator {
            addr,
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Requires this key (`Authorization: Bearer` or `x-api-key`); a wrong
    /// key gets a 401 whose message echoes it, as a careless server would.
    pub fn require_key(&self, key: &str) {
        *lock(&self.shared.key) = Some(key.to_string());
    }

    /// Queues a fault: the next request not yet served gets it.
    pub fn push_fault(&self, fault: Fault) {
        lock(&self.shared.faults).push_back(fault);
    }

    /// Replaces the answer function.
    pub fn set_responder(&self, f: impl Fn(&str) -> String + Send + Sync + 'static) {
        *lock(&self.shared.responder) = Arc::new(f);
    }

    /// Sets the candidates at each answer token: `f(token)` lists `(token, logprob)`; the
    /// response gives the token its own entry's logprob (0 when it is not listed) and the
    /// `top_logprobs` most likely candidates.
    pub fn set_logprobs(&self, f: impl Fn(&str) -> Vec<(String, f64)> + Send + Sync + 'static) {
        *lock(&self.shared.logprobs) = Arc::new(f);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// `(prompt_tokens, completion_tokens)` of every request the server ran.
    pub fn billed(&self) -> Vec<(u64, u64)> {
        lock(&self.shared.billed).clone()
    }

    /// The same for requests run inside batches (billed at the batch discount).
    pub fn billed_batch(&self) -> Vec<(u64, u64)> {
        lock(&self.shared.billed_batch).clone()
    }

    /// Batches created from now on end with their last `n` requests expired.
    pub fn expire_last(&self, n: usize) {
        *lock(&self.shared.expire_last) = n;
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let method = line.split_whitespace().next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    let req = Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    lock(&shared.requests).push(req.clone());
    let reply = respond(&req, shared);
    write_response(stream, reply)
}

pub(super) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

pub(super) fn json_reply(status: u16, body: String) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body,
    }
}

fn write_response(mut stream: TcpStream, r: Reply) -> std::io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        r.status,
        r.body.len()
    );
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(r.body.as_bytes())?;
    stream.flush()
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Api {
    OpenAi,
    Anthropic,
}

pub(super) fn error_body(api: Api, kind: &str, message: &str) -> String {
    let v = match api {
        Api::OpenAi => {
            serde_json::json!({"error": {"message": message, "type": kind, "param": null, "code": kind}})
        }
        Api::Anthropic => {
            serde_json::json!({"type": "error", "error": {"type": kind, "message": message}})
        }
    };
    v.to_string()
}

fn respond(req: &Recorded, shared: &Shared) -> Reply {
    let path = req.path.as_str();
    let api = if path.starts_with("/v1/messages") {
        Api::Anthropic
    } else {
        Api::OpenAi
    };
    if let Some(key) = lock(&shared.key).clone() {
        let given = match api {
            Api::OpenAi => req
                .header("authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(String::from),
            Api::Anthropic => req.header(anthropic::API_KEY_HEADER).map(String::from),
        };
        if given.as_deref() != Some(key.as_str()) {
            let msg = format!("Incorrect API key provided: {}", given.unwrap_or_default());
            return json_reply(401, error_body(api, "authentication_error", &msg));
        }
    }
    if api == Api::Anthropic && req.header(anthropic::VERSION_HEADER).is_none() {
        return json_reply(
            400,
            error_body(
                api,
                "invalid_request_error",
                "anthropic-version header is required",
            ),
        );
    }
    match (req.method.as_str(), path) {
        ("POST", "/v1/chat/completions") => chat::complete(Api::OpenAi, &req.body, shared, false),
        ("POST", "/v1/messages") => chat::complete(Api::Anthropic, &req.body, shared, false),
        _ => batch::route(req, shared).unwrap_or_else(|| {
            json_reply(
                404,
                error_body(
                    api,
                    "not_found_error",
                    &format!("no route {} {path}", req.method),
                ),
            )
        }),
    }
}
