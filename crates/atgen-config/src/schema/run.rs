//! `al` and `labeller`: the loop, its stopping rules, and who annotates.

use super::{Size, Spec};
use crate::error::{ConfigError, Result};
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use serde_norway::Mapping;
use std::collections::BTreeMap;

/// The active-learning loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlConfig {
    /// Query strategy: a name, or `{type: name, ...params}` passed as is to the strategies crate.
    pub strategy: Spec,
    /// Texts labeled before the first training (count or fraction of the pool; 0 for none).
    pub init_query_size: Size,
    /// Texts queried per iteration (count or fraction of the pool).
    pub query_size: Size,
    /// Number of query iterations after the initial one.
    pub num_iterations: usize,
    /// Score only a random subsample of the pool of this size (count or fraction); `null` scores all.
    pub subsample_size: Option<Size>,
    /// Stop when this much money has been spent on labels (`null`: no limit).
    pub budget: Option<f64>,
    /// Stop when this many texts are labeled (`null`: no limit).
    pub max_labeled: Option<usize>,
    /// Stop when test metrics reach these values, e.g. `{rougeL: 0.4}`.
    pub required_performance: BTreeMap<String, f64>,
    /// Whether `all` or `any` of `required_performance` must be reached.
    pub required_performance_mode: PerformanceMode,
    /// Train each iteration from the base model (true) or continue the previous adapter.
    pub train_from_scratch: bool,
    /// Sentence-transformers model directory for strategies that need embeddings
    /// (`null`: the acquisition model's mean-pooled hidden states).
    pub embedder: Option<String>,
    /// External scorers of HADAS and LD-CAL by role (`entailment`, `discourse`,
    /// `verifiability`, `difficulty`): `{type: nli | bertscore | model_judge, ...}`.
    pub scorers: BTreeMap<String, Spec>,
}

impl Default for AlConfig {
    fn default() -> Self {
        AlConfig {
            strategy: Spec::new("random"),
            init_query_size: Size::Count(10),
            query_size: Size::Count(10),
            num_iterations: 5,
            subsample_size: None,
            budget: None,
            max_labeled: None,
            required_performance: BTreeMap::new(),
            required_performance_mode: PerformanceMode::All,
            train_from_scratch: true,
            embedder: None,
            scorers: BTreeMap::new(),
        }
    }
}

/// How several required metrics combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PerformanceMode {
    /// Every metric must reach its value.
    All,
    /// One metric reaching its value is enough.
    Any,
}

impl AlConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        if self.strategy.kind.trim().is_empty() {
            return Err(ConfigError::MissingValue {
                key: "al.strategy.type".into(),
            });
        }
        self.init_query_size.check("al.init_query_size", true)?;
        self.query_size.check("al.query_size", false)?;
        if let Some(s) = &self.subsample_size {
            s.check("al.subsample_size", false)?;
        }
        if let Some(b) = self.budget {
            if !(b >= 0.0 && b.is_finite()) {
                return Err(ConfigError::invalid(
                    "al.budget",
                    format!("must be >= 0, got {b}"),
                ));
            }
        }
        for (metric, v) in &self.required_performance {
            if !v.is_finite() {
                return Err(ConfigError::invalid(
                    format!("al.required_performance.{metric}"),
                    "must be a finite number",
                ));
            }
        }
        Ok(())
    }
}

/// Who labels the queried texts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabellerConfig {
    /// `golden` (dataset references), `human` (web app), `api_llm`, or `local_llm`.
    #[serde(rename = "type")]
    pub kind: LabellerKind,
    /// Labeller-specific settings (e.g. `model`, `max_tokens`, `provider`, `base_url`).
    pub parameters: Mapping,
    /// Price of the labeller's tokens.
    pub price: Price,
    /// API key for `api_llm` (redacted in every output; prefer `${oc.env:OPENAI_API_KEY}`).
    pub api_key: Option<Secret>,
    /// Only estimate the labelling cost of the run (as `atgen run --estimate-cost`) and exit.
    pub dry_run: bool,
}

impl Default for LabellerConfig {
    fn default() -> Self {
        LabellerConfig {
            kind: LabellerKind::Golden,
            parameters: Mapping::new(),
            price: Price::default(),
            api_key: None,
            dry_run: false,
        }
    }
}

/// The kinds of labeller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabellerKind {
    /// The dataset's references.
    Golden,
    /// A person, through the web app.
    Human,
    /// An LLM behind an API (OpenAI, Anthropic, any OpenAI-compatible server).
    ApiLlm,
    /// A local model.
    LocalLlm,
}

/// Token prices, in money units per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Price {
    /// Price per 1M input (prompt) tokens.
    pub input_per_1m: f64,
    /// Price per 1M output (completion) tokens.
    pub output_per_1m: f64,
}

impl LabellerConfig {
    /// Checks prices and what an `api_llm` labeller needs.
    pub fn validate(&self) -> Result<()> {
        for (key, v) in [
            ("labeller.price.input_per_1m", self.price.input_per_1m),
            ("labeller.price.output_per_1m", self.price.output_per_1m),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(ConfigError::invalid(key, format!("must be >= 0, got {v}")));
            }
        }
        if self.kind == LabellerKind::ApiLlm && !self.parameters.contains_key("model") {
            return Err(ConfigError::MissingValue {
                key: "labeller.parameters.model".into(),
            });
        }
        Ok(())
    }
}
