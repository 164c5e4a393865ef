//! Parameter-efficient adapters that wrap linear layers: LoRA, DoRA, and QLoRA
//! (LoRA over a base stored in 4-bit NF4).
//!
//! The model code never changes per adapter kind: every projection is an
//! [`AdaptedLinear`](crate::linear::AdaptedLinear) built by one factory that
//! consults [`PeftConfig::target_modules`]. Field names follow PEFT's
//! `adapter_config.json` so a config round-trips through serde unchanged.

mod lora;
pub mod nf4;

pub use lora::LoraWeights;

use serde::{Deserialize, Serialize};

/// Which kind of fine-tuning to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PeftKind {
    /// Low-rank adapters on a frozen base.
    #[default]
    Lora,
    /// Weight-decomposed LoRA: a trainable magnitude per output feature.
    Dora,
    /// LoRA on a frozen base stored in 4-bit NF4.
    Qlora,
    /// Full fine-tuning: every weight trains.
    None,
}

impl std::str::FromStr for PeftKind {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "lora" => Ok(PeftKind::Lora),
            "dora" => Ok(PeftKind::Dora),
            "qlora" => Ok(PeftKind::Qlora),
            "none" | "full" => Ok(PeftKind::None),
            other => Err(crate::Error::Invalid(format!(
                "unknown peft kind `{other}` (expected lora, dora, qlora or none)"
            ))),
        }
    }
}

/// Adapter hyper-parameters, named as in PEFT's `LoraConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PeftConfig {
    /// Adapter kind.
    pub kind: PeftKind,
    /// Rank of the update.
    pub r: usize,
    /// Scaling numerator: the update is multiplied by `lora_alpha / r` (or `/ sqrt(r)` with rsLoRA).
    pub lora_alpha: f64,
    /// Dropout on the adapter input during training.
    pub lora_dropout: f64,
    /// Module names (last path component) that get adapters.
    pub target_modules: Vec<String>,
    /// Rank-stabilised scaling `lora_alpha / sqrt(r)`.
    pub use_rslora: bool,
}

impl Default for PeftConfig {
    /// The paper's Table 1: r = 16, alpha = 16, dropout 0, all linear projections.
    fn default() -> Self {
        PeftConfig {
            kind: PeftKind::Lora,
            r: 16,
            lora_alpha: 16.0,
            lora_dropout: 0.0,
            target_modules: [
                "q_proj",
                "k_proj",
                "v_proj",
                "o_proj",
                "gate_proj",
                "up_proj",
                "down_proj",
            ]
            .map(String::from)
            .to_vec(),
            use_rslora: false,
        }
    }
}

impl PeftConfig {
    /// The multiplier applied to `B A x`.
    pub fn scaling(&self) -> f64 {
        if self.use_rslora {
            self.lora_alpha / (self.r as f64).sqrt()
        } else {
            self.lora_alpha / self.r as f64
        }
    }

    /// Whether a module (by its last name component) gets an adapter.
    pub fn targets(&self, module: &str) -> bool {
        self.kind != PeftKind::None && self.target_modules.iter().any(|t| t == module)
    }

    /// Checks the values.
    pub fn validate(&self) -> crate::Result<()> {
        if self.kind != PeftKind::None && self.r == 0 {
            return Err(crate::Error::Config {
                key: "r".into(),
                reason: "rank must be positive".into(),
            });
        }
        if !(0.0..1.0).contains(&self.lora_dropout) {
            return Err(crate::Error::Config {
                key: "lora_dropout".into(),
                reason: format!("{} is not in [0, 1)", self.lora_dropout),
            });
        }
        Ok(())
    }
}
