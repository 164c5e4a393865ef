//! Generation on an OpenAI-compatible server (vLLM, SGLang, `atgen serve-model`)
//! for users who outgrow one machine: prompts go to `POST /v1/completions`
//! with `logprobs`, and after each round the freshly trained LoRA adapter is
//! handed to the server with vLLM's `POST /v1/load_lora_adapter`, so the next
//! generations come from the new model. Training stays local (the adapter is
//! trained here and exported in PEFT format). DoRA adapters cannot be loaded
//! by vLLM; such runs must keep `inference.framework=local`.
//!
//! What the OpenAI wire format gives and what it does not: the log-prob of
//! each chosen token is exact; the entropy of each step is computed from the
//! server's top-`k` log-probs (k = 20, the usual server maximum) plus the
//! remaining mass as one outcome, a lower bound of the true entropy; token ids
//! are not returned, so `token_ids` is empty.

use crate::{EngineError, Result};
use atgen_core::{Generation, GenerationParams};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// Top log-probs requested per step (vLLM's default maximum).
const TOP_K: usize = 20;

/// A client of one served model.
pub struct RemoteGenerator {
    base_url: String,
    model: String,
    api_key: Option<String>,
    /// Name the current adapter serves under, once one is loaded.
    adapter: Option<String>,
    agent: ureq::Agent,
}

impl RemoteGenerator {
    /// A client of `model` at `base_url` (e.g. `http://localhost:8000/v1`).
    pub fn new(base_url: &str, model: &str, api_key: Option<String>) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(600))
            .build();
        RemoteGenerator {
            base_url: base_url.trim_end_matches('/').to_string(),
            model: model.to_string(),
            api_key,
            adapter: None,
            agent,
        }
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let url = format!("{}{path}", self.base_url);
        let mut last = String::new();
        for attempt in 0..4 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200 << attempt));
            }
            let mut req = self.agent.post(&url);
            if let Some(k) = &self.api_key {
                req = req.set("Authorization", &format!("Bearer {k}"));
            }
            match req.send_json(body.clone()) {
                Ok(r) => {
                    let text = r.into_string().map_err(|e| {
                        EngineError::Invalid(format!("{url}: reading the response: {e}"))
                    })?;
                    return Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)));
                }
                Err(ureq::Error::Status(code, r)) if code == 429 || code >= 500 => {
                    last = format!("HTTP {code}: {}", r.into_string().unwrap_or_default());
                }
                Err(ureq::Error::Status(code, r)) => {
                    return Err(EngineError::Invalid(format!(
                        "{url}: HTTP {code}: {}",
                        r.into_string().unwrap_or_default()
                    )))
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(EngineError::Invalid(format!(
            "{url}: giving up after 4 tries: {last}"
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

    /// `params.num_samples` generations per prompt.
    pub fn generate(
        &self,
        prompts: &[String],
        params: &GenerationParams,
    ) -> Result<Vec<Vec<Generation>>> {
        let model = self.adapter.clone().unwrap_or_else(|| self.model.clone());
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
                    self.base_url
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
