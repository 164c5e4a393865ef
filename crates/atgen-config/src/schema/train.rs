//! `model`, `training`, `inference` and `evaluation`.

use super::Spec;
use crate::error::{ConfigError, Result};
use crate::secret::Secret;
use atgen_core::DeviceName;
use serde::{Deserialize, Serialize};

/// The acquisition model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Local directory in Hugging Face layout, or a hub model id.
    pub checkpoint: Option<String>,
    /// Hub revision when `checkpoint` is a hub id.
    pub revision: Option<String>,
    /// Weight dtype: `auto` (the checkpoint's), `f32`, `f16` or `bf16`.
    pub dtype: Dtype,
    /// Where the model (and the run's other local models) runs: `auto`, `cpu`, `cuda`, `cuda:N`.
    pub device: DeviceName,
    /// Truncate prompts plus targets to this many tokens (`null`: the model's limit).
    pub max_length: Option<usize>,
    /// Apply the tokenizer's chat template (with `data.system_prompt`) to prompts.
    pub use_chat_template: bool,
    /// Parameter-efficient fine-tuning.
    pub peft: PeftConfig,
    /// Create a random model at `checkpoint` when it does not exist (offline demos, benchmarks).
    pub init: Option<ModelInit>,
}

/// A model created locally: random weights and a BPE tokenizer trained on the pool's texts,
/// optionally pre-trained with the language-modelling objective on those (unlabeled) texts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelInit {
    /// Family: `qwen3`, `qwen2`, `llama` or `mistral`.
    pub arch: String,
    /// Hidden size.
    pub hidden_size: usize,
    /// MLP inner size.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Context length.
    pub max_position_embeddings: usize,
    /// BPE vocabulary size.
    pub vocab_size: usize,
    /// Tokens added whole to the trained BPE (after its `vocab_size` tokens), e.g. a task's
    /// symbol set; one may start with a space to carry the separator before it.
    pub added_tokens: Vec<String>,
    /// Seed of the weights.
    pub seed: u64,
    /// Epochs of language-model pre-training on the unlabeled pool texts (0 = none).
    pub pretrain_epochs: usize,
    /// Pool texts used for tokenizer training and pre-training (at most).
    pub pretrain_texts: usize,
    /// Learning rate of the pre-training.
    pub pretrain_lr: f64,
    /// Tokens of each text used for language-model pre-training (from its start; span-copy
    /// prompts fill the model's context instead, as the rounds' prompts do).
    pub pretrain_max_tokens: usize,
    /// Also pre-train on a self-supervised copy task: each pool text rendered with the
    /// dataset's prompt template, answered with a random span of 1-6 of its own words (no
    /// labels are used), so the model learns to answer from its input before active learning.
    pub pretrain_span_copy: bool,
    /// Span-copy prompts made from each pool text (each with its own random span).
    pub pretrain_span_copies: usize,
    /// Longest span of the span-copy task, in words (spans are 1 to this many words).
    pub pretrain_span_words: usize,
    /// Language-model each pool text written twice (each copy cut to a random length up to
    /// half of `pretrain_max_tokens`), so predicting the second copy teaches the model to copy
    /// from its context; no labels and no dataset prompt are involved.
    pub pretrain_repeat: bool,
}

impl Default for ModelInit {
    fn default() -> Self {
        ModelInit {
            arch: "qwen3".into(),
            hidden_size: 64,
            intermediate_size: 128,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            max_position_embeddings: 512,
            vocab_size: 1024,
            added_tokens: Vec::new(),
            seed: 0,
            pretrain_epochs: 0,
            pretrain_texts: 2000,
            pretrain_lr: 1e-3,
            pretrain_max_tokens: 128,
            pretrain_span_copy: false,
            pretrain_span_copies: 1,
            pretrain_span_words: 6,
            pretrain_repeat: false,
        }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            checkpoint: None,
            revision: None,
            dtype: Dtype::Auto,
            device: DeviceName::Auto,
            max_length: None,
            use_chat_template: true,
            peft: PeftConfig::default(),
            init: None,
        }
    }
}

/// Weight dtypes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dtype {
    /// Whatever the checkpoint stores.
    Auto,
    /// 32-bit float.
    F32,
    /// 16-bit float.
    F16,
    /// bfloat16.
    Bf16,
}

/// Adapter settings (PEFT field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeftConfig {
    /// `lora`, `dora`, `qlora`, or `none` (full fine-tuning).
    pub kind: PeftKind,
    /// Adapter rank.
    pub r: usize,
    /// Scaling numerator (`lora_alpha`); the update is scaled by `alpha / r`.
    pub alpha: f64,
    /// Dropout on the adapter input.
    pub dropout: f64,
    /// Names of the linear layers that get adapters.
    pub target_modules: Vec<String>,
}

impl Default for PeftConfig {
    fn default() -> Self {
        PeftConfig {
            kind: PeftKind::Lora,
            r: 16,
            alpha: 32.0,
            dropout: 0.05,
            target_modules: ["q_proj", "k_proj", "v_proj", "o_proj"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// Adapter kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeftKind {
    /// Low-rank adapters.
    Lora,
    /// Weight-decomposed low-rank adapters.
    Dora,
    /// LoRA over a quantized base model.
    Qlora,
    /// Full fine-tuning.
    None,
}

impl ModelConfig {
    /// Checks the checkpoint and adapter settings.
    pub fn validate(&self) -> Result<()> {
        if self
            .checkpoint
            .as_deref()
            .is_none_or(|c| c.trim().is_empty())
        {
            return Err(ConfigError::MissingValue {
                key: "model.checkpoint".into(),
            });
        }
        if self.peft.kind != PeftKind::None {
            if self.peft.r == 0 {
                return Err(ConfigError::invalid("model.peft.r", "must be > 0"));
            }
            if self.peft.target_modules.is_empty() {
                return Err(ConfigError::invalid(
                    "model.peft.target_modules",
                    "must name at least one module",
                ));
            }
        }
        if !(0.0..1.0).contains(&self.peft.dropout) {
            return Err(ConfigError::invalid(
                "model.peft.dropout",
                format!("must be in [0, 1), got {}", self.peft.dropout),
            ));
        }
        Ok(())
    }
}

/// Fine-tuning hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    /// Epochs over the labeled set per iteration.
    pub num_epochs: usize,
    /// Examples per micro-batch.
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    pub gradient_accumulation_steps: usize,
    /// Peak learning rate (AdamW).
    pub lr: f64,
    /// Fraction of steps with linear warm-up.
    pub warmup_ratio: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Gradient clipping norm (`null`: no clipping).
    pub max_grad_norm: Option<f64>,
    /// Stop after this many epochs without dev-loss improvement (`null`: never).
    pub early_stopping_patience: Option<usize>,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            num_epochs: 3,
            batch_size: 8,
            gradient_accumulation_steps: 1,
            lr: 2e-4,
            warmup_ratio: 0.03,
            weight_decay: 0.01,
            max_grad_norm: Some(1.0),
            early_stopping_patience: None,
        }
    }
}

impl TrainingConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        for (key, v) in [
            ("training.num_epochs", self.num_epochs),
            ("training.batch_size", self.batch_size),
            (
                "training.gradient_accumulation_steps",
                self.gradient_accumulation_steps,
            ),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(key, "must be > 0"));
            }
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(ConfigError::invalid(
                "training.lr",
                format!("must be > 0, got {}", self.lr),
            ));
        }
        if !(0.0..=1.0).contains(&self.warmup_ratio) {
            return Err(ConfigError::invalid(
                "training.warmup_ratio",
                format!("must be in [0, 1], got {}", self.warmup_ratio),
            ));
        }
        if self.weight_decay < 0.0 {
            return Err(ConfigError::invalid(
                "training.weight_decay",
                "must be >= 0",
            ));
        }
        if self.max_grad_norm.is_some_and(|g| g <= 0.0) {
            return Err(ConfigError::invalid(
                "training.max_grad_norm",
                "must be > 0",
            ));
        }
        Ok(())
    }
}

/// Generation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InferenceConfig {
    /// `local` (candle, in process) or `openai_compatible` (vLLM, SGLang, ... at `base_url`).
    pub framework: InferenceFramework,
    /// Server URL for `openai_compatible`, e.g. `http://localhost:8000/v1`.
    pub base_url: Option<String>,
    /// Model name to request from the server (`null`: `model.checkpoint`).
    pub model: Option<String>,
    /// API key for the server, if it needs one (redacted in every output).
    pub api_key: Option<Secret>,
    /// Maximum new tokens per generation.
    pub max_new_tokens: usize,
    /// Prompts per generation batch.
    pub batch_size: usize,
    /// Sampling temperature; 0 is greedy.
    pub temperature: f64,
    /// Nucleus sampling mass in (0, 1].
    pub top_p: f64,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        InferenceConfig {
            framework: InferenceFramework::Local,
            base_url: None,
            model: None,
            api_key: None,
            max_new_tokens: 128,
            batch_size: 16,
            temperature: 0.0,
            top_p: 1.0,
        }
    }
}

/// Where generation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InferenceFramework {
    /// In process, on candle.
    Local,
    /// An OpenAI-compatible HTTP server.
    OpenaiCompatible,
}

impl InferenceConfig {
    /// Checks ranges and that a server has a URL.
    pub fn validate(&self) -> Result<()> {
        if self.framework == InferenceFramework::OpenaiCompatible && self.base_url.is_none() {
            return Err(ConfigError::MissingValue {
                key: "inference.base_url".into(),
            });
        }
        if self.max_new_tokens == 0 {
            return Err(ConfigError::invalid(
                "inference.max_new_tokens",
                "must be > 0",
            ));
        }
        if self.batch_size == 0 {
            return Err(ConfigError::invalid("inference.batch_size", "must be > 0"));
        }
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(ConfigError::invalid(
                "inference.temperature",
                "must be >= 0",
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(ConfigError::invalid("inference.top_p", "must be in (0, 1]"));
        }
        Ok(())
    }
}

/// Metrics computed on the test split after each iteration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationConfig {
    /// Cheap metrics: names or `{type: name, ...params}` (e.g. `{type: exact_match, extractor: gsm8k}`).
    pub metrics: Vec<Spec>,
    /// Expensive model-based metrics (BERTScore, AlignScore, LLM judge, ...), same format.
    pub additional_metrics: Vec<Spec>,
}

impl EvaluationConfig {
    /// Checks that every metric has a name.
    pub fn validate(&self) -> Result<()> {
        for (field, list) in [
            ("metrics", &self.metrics),
            ("additional_metrics", &self.additional_metrics),
        ] {
            if let Some(i) = list.iter().position(|m| m.kind.trim().is_empty()) {
                return Err(ConfigError::MissingValue {
                    key: format!("evaluation.{field}.{i}.type"),
                });
            }
        }
        Ok(())
    }
}
