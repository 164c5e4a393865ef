//! Hugging Face `config.json` of the decoder families we implement.
//!
//! Llama, Mistral, Qwen2 and Qwen3 share one shape (pre-norm blocks, RMSNorm,
//! rotary embeddings, grouped-query attention, SwiGLU MLP) and differ in a few
//! switches recorded here: Qwen2 puts biases on q/k/v, Qwen3 normalises q and k
//! per head, Llama 3 rescales rotary frequencies, Mistral limits attention to a
//! sliding window of keys (in prefill, cached generation and training alike).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Decoder family, chosen from `architectures` (or `model_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `LlamaForCausalLM`
    Llama,
    /// `MistralForCausalLM` (a Llama with sliding-window attention: `sliding_window`)
    Mistral,
    /// `Qwen2ForCausalLM`
    Qwen2,
    /// `Qwen3ForCausalLM`
    Qwen3,
}

impl Family {
    /// The `architectures` entry transformers writes for this family.
    pub fn architecture(self) -> &'static str {
        match self {
            Family::Llama => "LlamaForCausalLM",
            Family::Mistral => "MistralForCausalLM",
            Family::Qwen2 => "Qwen2ForCausalLM",
            Family::Qwen3 => "Qwen3ForCausalLM",
        }
    }

    /// The `model_type` transformers writes for this family.
    pub fn model_type(self) -> &'static str {
        match self {
            Family::Llama => "llama",
            Family::Mistral => "mistral",
            Family::Qwen2 => "qwen2",
            Family::Qwen3 => "qwen3",
        }
    }

    fn from_name(name: &str) -> Option<Family> {
        let n = name.to_ascii_lowercase();
        [Family::Qwen3, Family::Qwen2, Family::Mistral, Family::Llama]
            .into_iter()
            .find(|f| n == f.model_type() || n == f.architecture().to_ascii_lowercase())
    }

    /// All supported architecture names, for error messages.
    pub fn supported() -> String {
        [Family::Llama, Family::Mistral, Family::Qwen2, Family::Qwen3]
            .map(Family::architecture)
            .join(", ")
    }
}

/// `rope_scaling` of Llama 3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RopeScaling {
    /// Scaling kind; only `llama3` (and `default`) are implemented.
    #[serde(alias = "type")]
    pub rope_type: String,
    /// Frequency division factor.
    #[serde(default = "one")]
    pub factor: f64,
    #[serde(default = "one")]
    pub low_freq_factor: f64,
    #[serde(default = "four")]
    pub high_freq_factor: f64,
    #[serde(default = "ctx8k")]
    pub original_max_position_embeddings: usize,
}

fn one() -> f64 {
    1.0
}
fn four() -> f64 {
    4.0
}
fn ctx8k() -> usize {
    8192
}

/// An id or a list of ids (`eos_token_id` may be either).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    One(u32),
    Many(Vec<u32>),
}

impl TokenIds {
    /// The ids as a vector.
    pub fn to_vec(&self) -> Vec<u32> {
        match self {
            TokenIds::One(i) => vec![*i],
            TokenIds::Many(v) => v.clone(),
        }
    }
}

/// The decoder configuration, as in `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecoderConfig {
    #[serde(default)]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub model_type: Option<String>,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    #[serde(default)]
    pub head_dim: Option<usize>,
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    #[serde(default = "default_theta")]
    pub rope_theta: f64,
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
    #[serde(default = "default_max_pos")]
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Llama's switch for q/k/v/o biases (Qwen2 always has q/k/v biases).
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    #[serde(default)]
    pub eos_token_id: Option<TokenIds>,
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    #[serde(default)]
    pub torch_dtype: Option<String>,
    #[serde(default)]
    pub sliding_window: Option<usize>,
    #[serde(default)]
    pub initializer_range: Option<f64>,
}

fn default_eps() -> f64 {
    1e-6
}
fn default_theta() -> f64 {
    10_000.0
}
fn default_max_pos() -> usize {
    2048
}
fn default_act() -> String {
    "silu".into()
}

impl DecoderConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = fs_err::read_to_string(path)?;
        let cfg: DecoderConfig = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        cfg.family_at(path)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The family, from `architectures` then `model_type`.
    pub fn family(&self) -> Result<Family> {
        self.family_at(Path::new("config.json"))
    }

    fn family_at(&self, path: &Path) -> Result<Family> {
        let names = self.architectures.iter().chain(self.model_type.iter());
        let mut first = None;
        for name in names {
            first.get_or_insert_with(|| name.clone());
            if let Some(f) = Family::from_name(name) {
                return Ok(f);
            }
        }
        Err(Error::UnsupportedArchitecture {
            found: first.unwrap_or_else(|| "<none>".into()),
            path: path.to_path_buf(),
            supported: Family::supported(),
        })
    }

    /// Checks the dimensions agree.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, reason: String| {
            Err(Error::Config {
                key: key.into(),
                reason,
            })
        };
        if self.num_attention_heads == 0 || self.hidden_size == 0 || self.vocab_size == 0 {
            return bad("hidden_size", "sizes must be positive".into());
        }
        if self.head_dim.is_none() && !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(
                "num_attention_heads",
                format!(
                    "{} does not divide hidden_size {}",
                    self.num_attention_heads, self.hidden_size
                ),
            );
        }
        if !self.num_attention_heads.is_multiple_of(self.num_kv_heads()) {
            return bad(
                "num_key_value_heads",
                format!(
                    "{} does not divide num_attention_heads {}",
                    self.num_kv_heads(),
                    self.num_attention_heads
                ),
            );
        }
        if !self.head_dim().is_multiple_of(2) {
            return bad("head_dim", "must be even for rotary embeddings".into());
        }
        if !matches!(self.hidden_act.as_str(), "silu" | "swish") {
            return bad(
                "hidden_act",
                format!("`{}` is not supported (silu only)", self.hidden_act),
            );
        }
        if let Some(rs) = &self.rope_scaling {
            if !matches!(rs.rope_type.as_str(), "llama3" | "default") {
                return bad(
                    "rope_scaling.rope_type",
                    format!("`{}` is not supported", rs.rope_type),
                );
            }
        }
        Ok(())
    }

    /// Key/value heads (defaults to the attention heads).
    pub fn num_kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// Per-head dimension.
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// Whether q/k/v projections carry a bias.
    pub fn qkv_bias(&self) -> bool {
        matches!(self.family(), Ok(Family::Qwen2)) || self.attention_bias
    }

    /// Whether the output projection carries a bias.
    pub fn o_bias(&self) -> bool {
        !matches!(self.family(), Ok(Family::Qwen2)) && self.attention_bias
    }

    /// End-of-sequence ids.
    pub fn eos_ids(&self) -> Vec<u32> {
        self.eos_token_id
            .as_ref()
            .map(TokenIds::to_vec)
            .unwrap_or_default()
    }

    /// A small config of the given family, for tests and `atgen model init`.
    pub fn tiny(family: Family, vocab_size: usize) -> Self {
        DecoderConfig {
            architectures: vec![family.architecture().into()],
            model_type: Some(family.model_type().into()),
            vocab_size,
            hidden_size: 64,
            intermediate_size: 128,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            num_key_value_heads: Some(2),
            head_dim: (family == Family::Qwen3).then_some(16),
            rms_norm_eps: 1e-6,
            rope_theta: 10_000.0,
            rope_scaling: None,
            max_position_embeddings: 512,
            tie_word_embeddings: family != Family::Llama,
            attention_bias: false,
            hidden_act: "silu".into(),
            bos_token_id: None,
            eos_token_id: None,
            pad_token_id: None,
            torch_dtype: Some("float32".into()),
            sliding_window: None,
            initializer_range: Some(0.02),
        }
    }
}
