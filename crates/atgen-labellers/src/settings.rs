//! `labeller.parameters` of an `api_llm` labeller, typed and checked once.

use crate::budget::Prices;
use crate::error::{LabellerError, Result};
use atgen_config::{LabellerConfig, Secret};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Which API the labeller speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// OpenAI Chat Completions at `https://api.openai.com/v1`.
    #[default]
    Openai,
    /// Anthropic Messages at `https://api.anthropic.com/v1`.
    Anthropic,
    /// Any server with OpenAI's Chat Completions API (vLLM, SGLang, llama.cpp, ...) at `base_url`.
    OpenaiCompatible,
}

impl Provider {
    /// Name used in configs and messages.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Openai => "openai",
            Provider::Anthropic => "anthropic",
            Provider::OpenaiCompatible => "openai_compatible",
        }
    }

    /// The environment variable read when `labeller.api_key` is unset.
    pub fn key_env(self) -> &'static str {
        match self {
            Provider::Anthropic => "ANTHROPIC_API_KEY",
            Provider::Openai | Provider::OpenaiCompatible => "OPENAI_API_KEY",
        }
    }

    fn default_base_url(self) -> Option<&'static str> {
        match self {
            Provider::Openai => Some("https://api.openai.com/v1"),
            Provider::Anthropic => Some("https://api.anthropic.com/v1"),
            Provider::OpenaiCompatible => None,
        }
    }
}

/// Which field caps the output of an OpenAI request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenField {
    /// `max_tokens`: what OpenAI-compatible servers read.
    MaxTokens,
    /// `max_completion_tokens`: what OpenAI's reasoning models require.
    MaxCompletionTokens,
}

/// `labeller.parameters` as written in a config.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Params {
    provider: Provider,
    model: String,
    max_tokens: u32,
    temperature: Option<f64>,
    seed: Option<u64>,
    base_url: Option<String>,
    system: Option<String>,
    token_field: Option<TokenField>,
    anthropic_version: String,
    timeout_s: f64,
    max_retries: u32,
    backoff_base_s: f64,
    backoff_max_s: f64,
    max_retry_after_s: f64,
    bills_failed_attempts: bool,
    concurrency: usize,
    bytes_per_token: f64,
    cache: bool,
    cache_path: Option<PathBuf>,
    batch: bool,
    /// `sync` or `batch` (the spelling; `batch: true` is the same as `mode: batch`).
    mode: Option<String>,
    batch_discount: f64,
    batch_poll_s: f64,
    batch_max_wait_s: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            provider: Provider::Openai,
            model: String::new(),
            max_tokens: 1024,
            temperature: Some(0.0),
            seed: None,
            base_url: None,
            system: None,
            token_field: None,
            anthropic_version: crate::wire::anthropic::DEFAULT_VERSION.into(),
            timeout_s: 120.0,
            max_retries: 5,
            backoff_base_s: 1.0,
            backoff_max_s: 60.0,
            max_retry_after_s: 300.0,
            bills_failed_attempts: false,
            concurrency: 4,
            bytes_per_token: 3.0,
            cache: true,
            cache_path: None,
            batch: false,
            mode: None,
            batch_discount: 0.5,
            batch_poll_s: 30.0,
            batch_max_wait_s: 26.0 * 3600.0,
        }
    }
}

/// Everything an [`crate::ApiLabeller`] needs, resolved from the config and the environment.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub provider: Provider,
    pub model: String,
    pub max_tokens: u32,
    pub temperature: Option<f64>,
    pub seed: Option<u64>,
    /// Base URL ending in `/v1`, without a trailing slash.
    pub base_url: String,
    /// A system prompt put before the dataset's own messages.
    pub system: Option<String>,
    pub token_field: TokenField,
    pub anthropic_version: String,
    /// Redacted in `Debug`; `None` for servers that need no key.
    pub api_key: Option<Secret>,
    pub prices: Prices,
    pub timeout: Duration,
    pub max_retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub max_retry_after: Duration,
    /// The provider bills attempts that fail with 408/409/429/5xx: each counts at its worst
    /// case against the budget (OpenAI and Anthropic bill none; timeouts and broken
    /// connections after sending always count).
    pub bills_failed_attempts: bool,
    pub concurrency: usize,
    pub bytes_per_token: f64,
    /// Where the SQLite response cache lives (`None`: no cache).
    pub cache_path: Option<PathBuf>,
    /// Send through the provider's batch API (OpenAI Batch, Anthropic Message Batches).
    pub batch: bool,
    /// Price reduction of batch requests (0.5: half price, both providers' discount).
    pub batch_discount: f64,
    /// Time between status polls of a batch.
    pub batch_poll: Duration,
    /// Give up waiting for a batch after this long (it keeps its id in the cache to resume).
    pub batch_max_wait: Duration,
    /// Ask an OpenAI-style API for each output token's log-probability and its `k` most
    /// likely alternatives (`logprobs: true, top_logprobs: k`); set by callers that read
    /// them (the G-Eval judge), not a labeller config key.
    pub top_logprobs: Option<u32>,
}

fn seconds(key: &str, v: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(v)
        .map_err(|_| LabellerError::parameter(key, format!("must be seconds >= 0, got {v}")))
}

impl ApiSettings {
    /// Sleeps before retry number `attempt + 1`, unless `attempt` was the last one allowed:
    /// the server's `Retry-After` (capped) or exponential backoff with jitter.
    pub fn wait_before_retry(&self, attempt: u32, retry_after: Option<Duration>) {
        if attempt < self.max_retries {
            std::thread::sleep(crate::http::backoff(
                attempt,
                retry_after,
                self.backoff_base,
                self.backoff_max,
                self.max_retry_after,
            ));
        }
    }

    /// Reads `cfg`; `env` looks up environment variables (the API key); a
    /// relative `cache_path` is taken under `default_cache_dir`, which is also
    /// where the cache goes when none is named.
    pub fn from_config(
        cfg: &LabellerConfig,
        env: impl Fn(&str) -> Option<String>,
        default_cache_dir: Option<&std::path::Path>,
    ) -> Result<Self> {
        let mut p: Params =
            serde_norway::from_value(serde_norway::Value::Mapping(cfg.parameters.clone()))
                .map_err(|e| LabellerError::parameter("*", e.to_string()))?;
        match p.mode.as_deref() {
            None => {}
            Some("sync") if !p.batch => {}
            Some("batch") => p.batch = true,
            Some(other) => {
                return Err(LabellerError::parameter(
                    "mode",
                    format!("`{other}` is not sync or batch (or contradicts `batch: true`)"),
                ))
            }
        }
        if p.model.trim().is_empty() {
            return Err(LabellerError::parameter("model", "is required"));
        }
        if p.max_tokens == 0 {
            return Err(LabellerError::parameter("max_tokens", "must be > 0"));
        }
        if p.concurrency == 0 {
            return Err(LabellerError::parameter("concurrency", "must be > 0"));
        }
        if !(p.bytes_per_token >= 1.0 && p.bytes_per_token.is_finite()) {
            return Err(LabellerError::parameter("bytes_per_token", "must be >= 1"));
        }
        if !(0.0..1.0).contains(&p.batch_discount) {
            return Err(LabellerError::parameter(
                "batch_discount",
                format!("must be in [0, 1), got {}", p.batch_discount),
            ));
        }
        if p.batch && p.provider == Provider::OpenaiCompatible {
            return Err(LabellerError::parameter(
                "batch",
                "batch APIs exist for provider openai and anthropic only",
            ));
        }
        let base_url = p
            .base_url
            .clone()
            .or_else(|| p.provider.default_base_url().map(String::from))
            .ok_or_else(|| {
                LabellerError::parameter("base_url", "is required for provider openai_compatible")
            })?;
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(LabellerError::parameter(
                "base_url",
                format!("must start with http:// or https://, got `{base_url}`"),
            ));
        }
        // A resumed run reads its saved config, where the key was redacted to `***`.
        let api_key = cfg
            .api_key
            .clone()
            .filter(|k| !k.is_empty() && k.expose() != atgen_config::REDACTED)
            .or_else(|| {
                env(p.provider.key_env())
                    .filter(|k| !k.is_empty())
                    .map(Secret::new)
            });
        if api_key.is_none() && p.provider != Provider::OpenaiCompatible {
            return Err(LabellerError::MissingApiKey {
                provider: p.provider.name(),
                env: p.provider.key_env(),
            });
        }
        let token_field = p.token_field.unwrap_or(match p.provider {
            Provider::Openai => TokenField::MaxCompletionTokens,
            _ => TokenField::MaxTokens,
        });
        let cache_path = match (p.cache, p.cache_path, default_cache_dir) {
            (false, _, _) => None,
            (true, Some(path), Some(dir)) if path.is_relative() => Some(dir.join(path)),
            (true, Some(path), _) => Some(path),
            (true, None, Some(dir)) => Some(dir.join("labeller_cache.sqlite")),
            (true, None, None) => None,
        };
        Ok(ApiSettings {
            provider: p.provider,
            model: p.model,
            max_tokens: p.max_tokens,
            temperature: p.temperature,
            seed: p.seed,
            base_url: base_url.trim_end_matches('/').to_string(),
            system: p.system,
            token_field,
            anthropic_version: p.anthropic_version,
            api_key,
            prices: Prices {
                input_per_1m: cfg.price.input_per_1m,
                output_per_1m: cfg.price.output_per_1m,
            },
            timeout: seconds("timeout_s", p.timeout_s)?,
            max_retries: p.max_retries,
            backoff_base: seconds("backoff_base_s", p.backoff_base_s)?,
            backoff_max: seconds("backoff_max_s", p.backoff_max_s)?,
            max_retry_after: seconds("max_retry_after_s", p.max_retry_after_s)?,
            bills_failed_attempts: p.bills_failed_attempts,
            concurrency: p.concurrency,
            bytes_per_token: p.bytes_per_token,
            cache_path,
            batch: p.batch,
            batch_discount: p.batch_discount,
            batch_poll: seconds("batch_poll_s", p.batch_poll_s)?,
            batch_max_wait: seconds("batch_max_wait_s", p.batch_max_wait_s)?,
            top_logprobs: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atgen_config::{LabellerKind, Mapping, Value};

    fn cfg(params: &str, key: Option<&str>) -> LabellerConfig {
        let parameters: Mapping = serde_norway::from_str(params).unwrap();
        LabellerConfig {
            kind: LabellerKind::ApiLlm,
            parameters,
            api_key: key.map(Secret::new),
            ..LabellerConfig::default()
        }
    }

    #[test]
    fn mode_batch_is_the_same_as_batch_true() {
        let on = |params: &str| {
            ApiSettings::from_config(&cfg(params, Some("k")), |_| None, None).map(|s| s.batch)
        };
        assert!(matches!(on("{model: m, mode: batch}"), Ok(true)));
        assert!(matches!(on("{model: m, mode: sync}"), Ok(false)));
        assert!(matches!(on("{model: m, batch: true}"), Ok(true)));
        assert!(on("{model: m, mode: stream}").is_err());
        assert!(on("{model: m, mode: sync, batch: true}").is_err());
    }

    #[test]
    fn key_from_config_then_environment_and_never_in_debug() {
        let s =
            ApiSettings::from_config(&cfg("{model: m}", Some("sk-cfg")), |_| None, None).unwrap();
        assert_eq!(s.api_key.as_ref().map(Secret::expose), Some("sk-cfg"));
        assert!(!format!("{s:?}").contains("sk-cfg"));
        let s = ApiSettings::from_config(
            &cfg("{model: m, provider: anthropic}", None),
            |k| (k == "ANTHROPIC_API_KEY").then(|| "sk-ant".to_string()),
            None,
        )
        .unwrap();
        assert_eq!(s.api_key.as_ref().map(Secret::expose), Some("sk-ant"));
        assert_eq!(s.base_url, "https://api.anthropic.com/v1");
        // The redacted placeholder of a saved config is no key: the environment's is used.
        let s = ApiSettings::from_config(
            &cfg("{model: m}", Some("***")),
            |k| (k == "OPENAI_API_KEY").then(|| "sk-env".to_string()),
            None,
        )
        .unwrap();
        assert_eq!(s.api_key.as_ref().map(Secret::expose), Some("sk-env"));
    }

    #[test]
    fn missing_key_names_the_variable() {
        let e = ApiSettings::from_config(
            &cfg("{model: m, provider: anthropic}", None),
            |_| None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("ANTHROPIC_API_KEY"), "{e}");
        // A local server needs none.
        let s = ApiSettings::from_config(
            &cfg(
                "{model: m, provider: openai_compatible, base_url: 'http://h:1/v1/'}",
                None,
            ),
            |_| None,
            None,
        )
        .unwrap();
        assert_eq!(s.base_url, "http://h:1/v1");
        assert_eq!(s.token_field, TokenField::MaxTokens);
    }

    #[test]
    fn unknown_and_bad_parameters_are_named() {
        let e =
            ApiSettings::from_config(&cfg("{model: m, max_tokenz: 3}", Some("k")), |_| None, None)
                .unwrap_err();
        assert!(e.to_string().contains("max_tokenz"), "{e}");
        let e = ApiSettings::from_config(
            &cfg("{model: m, provider: openai_compatible}", None),
            |_| None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("base_url"), "{e}");
        let e =
            ApiSettings::from_config(&cfg("{model: m, timeout_s: -1}", Some("k")), |_| None, None)
                .unwrap_err();
        assert!(e.to_string().contains("timeout_s"), "{e}");
        let _ = Value::Null;
    }

    #[test]
    fn cache_goes_under_the_default_directory() {
        let dir = std::path::Path::new("/tmp/out");
        let s =
            ApiSettings::from_config(&cfg("{model: m}", Some("k")), |_| None, Some(dir)).unwrap();
        assert_eq!(s.cache_path, Some(dir.join("labeller_cache.sqlite")));
        let s = ApiSettings::from_config(
            &cfg("{model: m, cache: false}", Some("k")),
            |_| None,
            Some(dir),
        )
        .unwrap();
        assert_eq!(s.cache_path, None);
    }
}
