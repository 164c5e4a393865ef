//! Labellers that call LLMs behind HTTP APIs: OpenAI Chat Completions,
//! Anthropic Messages, and any OpenAI-compatible server (vLLM, SGLang,
//! llama.cpp, `atgen serve-model`).
//!
//! ```text
//! atgen-engine ──► ApiLabeller (Labeller) ──► provider::prepare ──► http::Transport ──► server
//!                     │  budget::Budget (hard limit)        ▲ wire::{openai, anthropic,
//!                     │  cache::ResponseCache (SQLite)       │       openai_batch, anthropic_batch}
//!                     │  batch (parameters.batch=true) ──────┘
//!                     └─ clean::clean_label ◄── provider::parse
//! ```
//!
//! Why blocking: the core's [`atgen_core::Labeller`] trait is synchronous,
//! and a labelling round is a few hundred requests at most, so a handful of
//! worker threads with a blocking client (ureq, already in the tree through
//! hf-hub) give the same throughput as an async runtime without one.
//!
//! Money: every response's usage is priced; before each request its worst
//! case is reserved against `al.budget`, and a request that could cross it
//! is not sent (the example comes back unlabeled with a note). Responses are
//! cached in SQLite, keyed by the exact request, so a resumed or repeated
//! run never pays twice. With `batch: true` requests go through OpenAI's
//! Batch API or Anthropic's Message Batches at half price (`batch_discount`).
//! [`emulator`] serves both APIs, batches included, in-process for tests.
//!
//! ```
//! use atgen_labellers::emulator::Emulator;
//! use atgen_labellers::{ApiLabeller, ApiSettings};
//! use atgen_config::{LabellerConfig, LabellerKind};
//! use atgen_core::{Example, Labeller};
//!
//! let emu = Emulator::start().unwrap();
//! let mut cfg = LabellerConfig { kind: LabellerKind::ApiLlm, ..LabellerConfig::default() };
//! cfg.parameters = serde_norway::from_str(&format!(
//!     "{{provider: openai_compatible, model: m, base_url: '{}'}}", emu.base_url())).unwrap();
//! let settings = ApiSettings::from_config(&cfg, |_| None, None).unwrap();
//! let mut labeller = ApiLabeller::new(settings, None, 0.0).unwrap();
//! let out = labeller.label(&[Example::new("a", "2+2?")]).unwrap();
//! assert_eq!(out[0].label.as_deref(), Some("EMU 2+2?"));
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod api;
mod batch;
pub mod budget;
pub mod cache;
pub mod clean;
pub mod emulator;
pub mod error;
pub mod http;
pub mod provider;
pub mod settings;
pub mod tokens;
pub mod wire;

pub use api::{input_as_prompt, ApiLabeller, Completion, PromptFn};
pub use budget::{Budget, Prices, BUDGET_NOTE_PREFIX};
pub use clean::clean_label;
pub use error::{LabellerError, Result};
pub use provider::{ChatMessage, TokenLogprob};
pub use settings::{ApiSettings, Provider};

/// An `api_llm` labeller from the config: the key comes from the config or
/// the provider's environment variable; `budget` is `al.budget`, `spent` what
/// the run already spent (its recorded cost when resuming); the response
/// cache goes under `cache_dir` unless `labeller.parameters.cache_path` names
/// one (`cache: false` turns it off).
pub fn build_api_labeller(
    cfg: &atgen_config::LabellerConfig,
    budget: Option<f64>,
    spent: f64,
    cache_dir: Option<&std::path::Path>,
    prompt: PromptFn,
) -> Result<ApiLabeller> {
    let settings = ApiSettings::from_config(cfg, |k| std::env::var(k).ok(), cache_dir)?;
    Ok(ApiLabeller::new(settings, budget, spent)?.with_prompt(prompt))
}
