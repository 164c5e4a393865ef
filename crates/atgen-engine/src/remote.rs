//! Generation on an OpenAI-compatible server (vLLM, SGLang, `atgen serve-model`)
//! for users who outgrow one machine: prompts go to `POST /v1/completions`
//! with `logprobs`, and after each round the freshly trained LoRA adapter is
//! handed to the server with vLLM's `POST /v1/load_lora_adapter`, so the next
//! generations come from the new model. Training stays local (the adapter is
//! trained here and exported in PEFT format).
//!
//! DoRA adapters and full fine-tuning are "merged first": servers load LoRA
//! deltas only (vLLM refuses DoRA, whose magnitude rescaling is not a low-rank
//! delta), so the round's model is merged into a full checkpoint in HF layout
//! and the server swaps its weights in place with SGLang's
//! `POST /update_weights_from_disk` (`{"model_path"}`), which `atgen
//! serve-model` implements too. vLLM cannot swap weights at run time: the error
//! then names the merged checkpoint to restart the server on before
//! `atgen run --resume`.
//!
//! What the OpenAI wire format gives and what it does not: the log-prob of
//! each chosen token is exact; the entropy of each step is computed from the
//! server's top-`k` log-probs (k = 20, the usual server maximum) plus the
//! remaining mass as one outcome, a lower bound of the true entropy; token ids
//! are not returned, so `token_ids` is empty. Requests go through
//! atgen-labellers' transport: the same retries, backoff and key scrubbing as the labellers.

use crate::{EngineError, Result};
use atgen_config::{LabellerConfig, LabellerKind, Mapping, Secret};
use atgen_core::{Generation, GenerationParams};
use atgen_labellers::http::{Attempt, Transport};
use atgen_labellers::settings::ApiSettings;
use serde_json::{json, Value};
use std::path::Path;

/// Top log-probs requested per step (vLLM's default maximum).
const TOP_K: usize = 20;

/// A client of one served model, over atgen-labellers' transport (its retries
/// with backoff, `Retry-After`, and API keys scrubbed from error messages).
pub struct RemoteGenerator {
    settings: ApiSettings,
    transport: Transport,
    /// Name the current adapter serves under, once one is loaded.
    adapter: Option<String>,
}

impl RemoteGenerator {
    /// A client of `model` at `base_url` (e.g. `http://localhost:8000/v1`).
    pub fn new(base_url: &str, model: &str, api_key: Option<String>) -> Result<Self> {
        let mut params = Mapping::new();
        for (k, v) in [
            ("provider", "openai_compatible"),
            ("base_url", base_url),
            ("model", model),
        ] {
            params.insert(k.into(), v.into());
        }
        // Generation and adapter loading can take minutes on a busy server.
        params.insert("timeout_s".into(), 600.into());
        let cfg = LabellerConfig {
            kind: LabellerKind::ApiLlm,
            parameters: params,
            api_key: api_key.map(Secret::new),
            ..LabellerConfig::default()
        };
        let settings = ApiSettings::from_config(&cfg, |_| None, None)
            .map_err(|e| EngineError::Invalid(format!("inference: {e}")))?;
        Ok(RemoteGenerator {
            transport: Transport::new(&settings),
            settings,
            adapter: None,
        })
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.post_url(&format!("{}{path}", self.settings.base_url), body)
    }

    fn post_url(&self, url: &str, body: &Value) -> Result<Value> {
        let s = &self.settings;
        let mut last = String::new();
        for attempt in 0..=s.max_retries {
            match self.transport.post(url, &body.to_string()) {
                Attempt::Success(text) => {
                    return Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
                }
                Attempt::Retryable {
                    reason,
                    retry_after,
                    ..
                } => {
                    last = reason;
                    s.wait_before_retry(attempt, retry_after);
                }
                Attempt::Rejected { status, message } => {
                    return Err(EngineError::Invalid(format!(
                        "{url}: HTTP {status}: {message}"
                    )))
                }
                Attempt::Fatal { status, message } => {
                    let status = status.map(|c| format!("HTTP {c}: ")).unwrap_or_default();
                    return Err(EngineError::Invalid(format!("{url}: {status}{message}")));
                }
            }
        }
        Err(EngineError::Invalid(format!(
            "{url}: gave up after {} attempts; last error: {last}",
            s.max_retries + 1
        )))
    }

    /// Serves the adapter in `dir` under `name` from now on.
    pub fn load_adapter(&mut self, name: &str, dir: &Path) -> Result<()> {
        let path = fs_err::canonicalize(dir)?;
        if let Some(old) = self.adapter.take() {
            // Best effort: a server that forgot it is fine.
            let _ = self.post("/unload_lora_adapter", &json!({"lora_name": old}));
        }
        self.post(
            "/load_lora_adapter",
            &json!({"lora_name": name, "lora_path": path.display().to_string()}),
        )?;
        self.adapter = Some(name.to_string());
        Ok(())
    }

    /// Serves the full checkpoint in `dir` (HF layout) under the base model's name from now
    /// on, with SGLang's `POST /update_weights_from_disk` at the server's root.
    pub fn update_weights(&mut self, dir: &Path) -> Result<()> {
        let path = fs_err::canonicalize(dir)?;
        let root = self
            .settings
            .base_url
            .trim_end_matches('/')
            .trim_end_matches("/v1")
            .to_string();
        let url = format!("{root}/update_weights_from_disk");
        let r = self
            .post_url(&url, &json!({"model_path": path.display().to_string()}))
            .map_err(|e| {
                EngineError::Invalid(format!(
                    "{e}\nthe server cannot swap its weights at run time (SGLang and `atgen serve-model` can; vLLM cannot): restart it on the merged checkpoint {} (e.g. `vllm serve {} --served-model-name {}`) and continue with `atgen run --resume <run dir>`",
                    path.display(),
                    path.display(),
                    self.settings.model
                ))
            })?;
        if r.get("success").and_then(Value::as_bool) == Some(false) {
            return Err(EngineError::Invalid(format!(
                "{url}: the server could not load {}: {}",
                path.display(),
                r.get("message").and_then(Value::as_str).unwrap_or_default()
            )));
        }
        self.adapter = None;
        Ok(())
    }

    /// `params.num_samples` generations per prompt.
    pub fn generate(
        &self,
        prompts: &[String],
        params: &GenerationParams,
    ) -> Result<Vec<Vec<Generation>>> {
        let model = self
            .adapter
            .clone()
            .unwrap_or_else(|| self.settings.model.clone());
        let mut out = Vec::with_capacity(prompts.len());
        for prompt in prompts {
            let mut body = json!({
                "model": model, "prompt": prompt, "max_tokens": params.max_new_tokens,
                "temperature": params.temperature, "top_p": params.top_p, "n": params.num_samples.max(1),
                "seed": params.seed, "logprobs": TOP_K,
            });
            if !params.stop.is_empty() {
                body["stop"] = json!(params.stop);
            }
            let r = self.post("/completions", &body)?;
            let choices = r.get("choices").and_then(Value::as_array).ok_or_else(|| {
                EngineError::Invalid(format!(
                    "{}/completions: no `choices` in the response",
                    self.settings.base_url
                ))
            })?;
            out.push(choices.iter().map(parse_choice).collect());
        }
        Ok(out)
    }
}

fn parse_choice(c: &Value) -> Generation {
    let lp = &c["logprobs"];
    let logprobs: Vec<f32> = lp["token_logprobs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_f64().unwrap_or(0.0) as f32)
        .collect();
    let entropies = lp["top_logprobs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|top| {
            let ps: Vec<f64> = top
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(_, v)| v.as_f64())
                .map(f64::exp)
                .collect();
            let rest = (1.0 - ps.iter().sum::<f64>()).max(0.0);
            let h: f64 = ps
                .iter()
                .chain(std::iter::once(&rest))
                .filter(|p| **p > 0.0)
                .map(|p| -p * p.ln())
                .sum();
            h as f32
        })
        .collect();
    Generation {
        text: c["text"].as_str().unwrap_or_default().to_string(),
        token_ids: Vec::new(),
        logprobs,
        entropies,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A server without `/update_weights_from_disk` (as vLLM): every request gets a 404.
    fn server_without_weight_updates() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(4) {
                let Ok(mut s) = stream else { continue };
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let body = r#"{"detail":"Not Found"}"#;
                let _ = write!(
                    s,
                    "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        format!("http://{addr}/v1")
    }

    #[test]
    fn a_server_that_cannot_swap_weights_gets_the_restart_instructions() {
        let url = server_without_weight_updates();
        let mut g = RemoteGenerator::new(&url, "toy", None).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let e = g.update_weights(tmp.path()).unwrap_err().to_string();
        let dir = fs_err::canonicalize(tmp.path()).unwrap();
        assert!(e.contains("update_weights_from_disk"), "{e}");
        assert!(e.contains("HTTP 404"), "{e}");
        assert!(
            e.contains(&format!(
                "vllm serve {} --served-model-name toy",
                dir.display()
            )),
            "{e}"
        );
        assert!(e.contains("atgen run --resume"), "{e}");
    }
}
