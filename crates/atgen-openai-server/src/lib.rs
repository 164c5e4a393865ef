//! An OpenAI-compatible HTTP server over atgen's model engine, so atgen's own
//! model can annotate for another run and the OpenAI-compatible client is
//! tested against a real server.
//!
//! Endpoints: `GET /v1/models`, `POST /v1/completions` (with `logprobs: k`),
//! `POST /v1/chat/completions` (with `logprobs: true` and `top_logprobs: k`),
//! and vLLM's `POST /v1/load_lora_adapter` / `POST /v1/unload_lora_adapter`
//! (`{"lora_name", "lora_path"}`): a PEFT adapter then serves under its own
//! model name, which is how the AL loop hands a fresh adapter to a server.
//! SGLang's `POST /update_weights_from_disk` (`{"model_path"}`) swaps the base
//! model's weights for a checkpoint in HF layout (how a merged DoRA round
//! reaches the server) and `GET /get_model_info` says which path is served.
//! Requests are served one at a time (the model runs on this machine's cores).
//! Log-probs are those of the raw model distribution; `top_logprobs` come from
//! one teacher-forced pass over the generated tokens.

mod handlers;
mod topk;

pub use handlers::handle;

use atgen_models::CausalLm;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Server errors.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
}

/// A model and the name clients call it by.
pub struct ServedModel {
    pub name: String,
    pub lm: CausalLm,
    /// Rows per generation batch.
    pub batch_size: usize,
    /// Adapters loaded at run time, by name.
    pub adapters: std::collections::BTreeMap<String, CausalLm>,
}

impl ServedModel {
    /// A base model with no adapters.
    pub fn new(name: impl Into<String>, lm: CausalLm, batch_size: usize) -> Self {
        ServedModel {
            name: name.into(),
            lm,
            batch_size,
            adapters: Default::default(),
        }
    }
}

/// A running server; stops when dropped.
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Blocks until the server stops.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts serving `model` on `addr` (e.g. `127.0.0.1:8000`, or port 0 for any free port).
pub fn serve(mut model: ServedModel, addr: &str) -> Result<ServerHandle, ServerError> {
    let server = tiny_http::Server::http(addr).map_err(|e| ServerError::Bind {
        addr: addr.into(),
        reason: e.to_string(),
    })?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| ServerError::Bind {
            addr: addr.into(),
            reason: "not an IP address".into(),
        })?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        while !flag.load(Ordering::SeqCst) {
            match server.recv_timeout(Duration::from_millis(100)) {
                Ok(Some(req)) => handlers::respond(&mut model, req),
                Ok(None) => {}
                Err(_) => break,
            }
        }
    });
    Ok(ServerHandle {
        addr: bound,
        stop,
        thread: Some(thread),
    })
}
