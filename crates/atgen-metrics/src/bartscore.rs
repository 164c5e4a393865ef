//! BARTScore (Yuan et al. 2021) with a causal scorer model: the mean per-token
//! log-likelihood of one text given another, `(1/m) Σ log p(y_t | y_<t, x)`,
//! where `x` is rendered with `prompt_template` (`{text}`) and `y` follows it.
//! Variants as in the paper: faithfulness `source → prediction`, precision
//! `reference → prediction`, recall `prediction → reference`, and F the
//! arithmetic mean of precision and recall. With several references, the best
//! one counts. The original uses BART (seq2seq); any causal LM the model
//! engine loads works here, and log-probs equal transformers' (tested there).

use crate::error::{MetricsError, Result};
use atgen_core::{Metric, MetricValue};
use atgen_models::CausalLm;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// BARTScore settings; `{type: bartscore, model: <dir>}` in configs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BartScoreConfig {
    /// Causal LM directory in HF layout (or a hub id in the HF cache).
    pub model: PathBuf,
    /// How the conditioning text is presented; `{text}` is replaced by it.
    #[serde(default = "default_template")]
    pub prompt_template: String,
    /// Pairs per forward pass.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
}

fn default_template() -> String {
    "{text}\n\n".into()
}
fn default_batch() -> usize {
    16
}

/// The metric, with its scorer model loaded.
pub struct BartScore {
    cfg: BartScoreConfig,
    lm: CausalLm,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> MetricsError {
    MetricsError::InvalidConfig {
        metric: "bartscore",
        field,
        reason: reason.into(),
    }
}

impl BartScore {
    /// Loads the scorer model on CPU.
    pub fn new(cfg: BartScoreConfig) -> Result<Self> {
        if !cfg.prompt_template.contains("{text}") {
            return Err(invalid("prompt_template", "must contain `{text}`"));
        }
        let lm = CausalLm::load(
            &cfg.model.display().to_string(),
            None,
            &candle_core::Device::Cpu,
        )
        .map_err(|e| invalid("model", e.to_string()))?;
        Ok(BartScore { cfg, lm })
    }

    /// Mean target-token log-prob of each `(condition, target)` pair.
    pub fn mean_logprobs(&self, pairs: &[(String, String)]) -> Result<Vec<f64>> {
        let prompted: Vec<(String, String)> = pairs
            .iter()
            .map(|(x, y)| (self.cfg.prompt_template.replace("{text}", x), y.clone()))
            .collect();
        let scores = self
            .lm
            .score(&prompted, self.cfg.batch_size)
            .map_err(|e| invalid("model", e.to_string()))?;
        Ok(scores
            .iter()
            .map(|s| {
                s.logprobs.iter().map(|&v| v as f64).sum::<f64>() / s.logprobs.len().max(1) as f64
            })
            .collect())
    }
}

impl Metric for BartScore {
    fn name(&self) -> &str {
        "bartscore"
    }

    fn compute(
        &self,
        predictions: &[String],
        references: &[Vec<String>],
        sources: &[String],
    ) -> atgen_core::Result<Vec<MetricValue>> {
        if predictions.len() != references.len() {
            return Err(MetricsError::LengthMismatch {
                what: "references",
                expected: predictions.len(),
                got: references.len(),
            }
            .into());
        }
        let value = |name: &str, per: Vec<f64>| MetricValue {
            name: name.into(),
            corpus: per.iter().sum::<f64>() / per.len().max(1) as f64,
            per_example: per,
            higher_is_better: true,
        };
        // Empty predictions or references have nothing to score: they are skipped as pairs
        // and an example without any scorable pair gets -inf (as likely as nothing at all).
        let mut pr_pairs = Vec::new();
        let mut owner = Vec::new();
        for (i, (p, refs)) in predictions.iter().zip(references).enumerate() {
            if refs.is_empty() {
                return Err(MetricsError::NoReferences {
                    index: i,
                    metric: "bartscore",
                }
                .into());
            }
            for r in refs
                .iter()
                .filter(|r| !r.trim().is_empty() && !p.trim().is_empty())
            {
                pr_pairs.push((r.clone(), p.clone()));
                pr_pairs.push((p.clone(), r.clone()));
                owner.push(i);
            }
        }
        let scores = self.mean_logprobs(&pr_pairs)?;
        let n = predictions.len();
        let (mut precision, mut recall, mut f) = (
            vec![f64::NEG_INFINITY; n],
            vec![f64::NEG_INFINITY; n],
            vec![f64::NEG_INFINITY; n],
        );
        for (k, &i) in owner.iter().enumerate() {
            let (p, r) = (scores[2 * k], scores[2 * k + 1]);
            precision[i] = precision[i].max(p);
            recall[i] = recall[i].max(r);
            f[i] = f[i].max((p + r) / 2.0);
        }
        let mut out = vec![
            value("bartscore_precision", precision),
            value("bartscore_recall", recall),
            value("bartscore_f", f),
        ];
        if sources.len() == n && sources.iter().all(|s| !s.is_empty()) {
            let pairs: Vec<(String, String)> = sources
                .iter()
                .cloned()
                .zip(predictions.iter().cloned())
                .collect();
            let (idx, scorable): (Vec<usize>, Vec<(String, String)>) = pairs
                .into_iter()
                .enumerate()
                .filter(|(_, (_, p))| !p.trim().is_empty())
                .unzip();
            let mut faith = vec![f64::NEG_INFINITY; n];
            for (i, s) in idx.into_iter().zip(self.mean_logprobs(&scorable)?) {
                faith[i] = s;
            }
            out.push(value("bartscore_faithfulness", faith));
        }
        Ok(out)
    }
}
