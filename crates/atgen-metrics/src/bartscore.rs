//! BARTScore (Yuan et al. 2021): the mean per-token log-likelihood of one text
//! given another, `(1/m) Σ log p(y_t | y_<t, x)`.
//!
//! The scorer is chosen by the model's `config.json` `model_type`:
//! * `bart` (the original, e.g. facebook/bart-large-cnn): `x` feeds the
//!   encoder, `y` is scored with its `<s> … </s>` tokens by the decoder, both
//!   truncated to `max_length` tokens, exactly as neulab/BARTScore's
//!   `BARTScorer.score` does;
//! * any causal LM the model engine loads: `x` is rendered with
//!   `prompt_template` (`{text}`) and `y` follows it.
//!
//! Variants as in the paper: faithfulness `source → prediction`, precision
//! `reference → prediction`, recall `prediction → reference`, and F the
//! arithmetic mean of precision and recall. Several references are folded per
//! `multi_ref`: the best one (`max`, the default) or their mean (`mean`), the
//! two aggregations of the original's `multi_ref_score`.

use crate::error::{MetricsError, Result};
use atgen_core::{Metric, MetricValue};
use atgen_models::bart::Seq2SeqLm;
use atgen_models::CausalLm;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// BARTScore settings; `{type: bartscore, model: <dir>}` in configs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BartScoreConfig {
    /// Scorer model directory in HF layout (or a hub id in the HF cache): a BART
    /// encoder-decoder (`model_type: bart`) or a causal LM.
    pub model: PathBuf,
    /// Device of the scorer model: `auto` (default: a GPU in a `--features cuda` build that
    /// finds one, else the CPU), `cpu`, `cuda` or `cuda:N`.
    #[serde(default)]
    pub device: atgen_core::DeviceName,
    /// How a causal scorer sees the conditioning text; `{text}` is replaced by it
    /// (unused by BART, whose encoder reads the text itself).
    #[serde(default = "default_template")]
    pub prompt_template: String,
    /// Pairs per forward pass.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// BART scorers: tokens each text is truncated to (capped by the position table).
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    /// How several references combine: `max` (best reference) or `mean`.
    #[serde(default)]
    pub multi_ref: MultiRef,
}

/// Aggregation over references of the original's `multi_ref_score`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MultiRef {
    /// The best-scoring reference counts.
    #[default]
    Max,
    /// The mean over references.
    Mean,
}

fn default_template() -> String {
    "{text}\n\n".into()
}
fn default_batch() -> usize {
    16
}
fn default_max_length() -> usize {
    1024
}

/// The model that computes log-likelihoods.
enum Scorer {
    Seq2Seq(Box<Seq2SeqLm>),
    Causal(Box<CausalLm>),
}

/// The metric, with its scorer model loaded.
pub struct BartScore {
    cfg: BartScoreConfig,
    scorer: Scorer,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> MetricsError {
    MetricsError::InvalidConfig {
        metric: "bartscore",
        field,
        reason: reason.into(),
    }
}

impl BartScore {
    /// Loads the scorer model on `cfg.device`; `model_type: bart` selects the seq2seq scorer.
    pub fn new(cfg: BartScoreConfig) -> Result<Self> {
        if cfg.batch_size == 0 {
            return Err(invalid("batch_size", "must be at least 1"));
        }
        let model = cfg.model.display().to_string();
        let model_err = |e: atgen_models::Error| invalid("model", e.to_string());
        let dev = atgen_models::device::open(cfg.device, "bartscore.device")
            .map_err(|e| invalid("device", e.to_string()))?;
        let scorer = if atgen_models::bart::model_type(&model).map_err(model_err)? == "bart" {
            let mut lm = Seq2SeqLm::load(&model, &dev).map_err(model_err)?;
            lm.set_max_length(cfg.max_length)
                .map_err(|e| invalid("max_length", e.to_string()))?;
            Scorer::Seq2Seq(Box::new(lm))
        } else {
            if !cfg.prompt_template.contains("{text}") {
                return Err(invalid("prompt_template", "must contain `{text}`"));
            }
            Scorer::Causal(Box::new(
                CausalLm::load(&model, None, &dev).map_err(model_err)?,
            ))
        };
        Ok(BartScore { cfg, scorer })
    }

    /// Mean target-token log-prob of each `(condition, target)` pair.
    pub fn mean_logprobs(&self, pairs: &[(String, String)]) -> Result<Vec<f64>> {
        let scores = match &self.scorer {
            Scorer::Seq2Seq(lm) => lm.score(pairs, self.cfg.batch_size),
            Scorer::Causal(lm) => {
                let prompted: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(x, y)| (self.cfg.prompt_template.replace("{text}", x), y.clone()))
                    .collect();
                lm.score(&prompted, self.cfg.batch_size)
            }
        }
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
        // Per example: the (precision, recall) of each scorable reference.
        let mut per_ref: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n];
        for (k, &i) in owner.iter().enumerate() {
            per_ref[i].push((scores[2 * k], scores[2 * k + 1]));
        }
        let fold = |vals: &mut dyn Iterator<Item = f64>| -> f64 {
            match self.cfg.multi_ref {
                MultiRef::Max => vals.fold(f64::NEG_INFINITY, f64::max),
                MultiRef::Mean => {
                    let v: Vec<f64> = vals.collect();
                    if v.is_empty() {
                        f64::NEG_INFINITY
                    } else {
                        v.iter().sum::<f64>() / v.len() as f64
                    }
                }
            }
        };
        let precision = per_ref
            .iter()
            .map(|v| fold(&mut v.iter().map(|x| x.0)))
            .collect();
        let recall = per_ref
            .iter()
            .map(|v| fold(&mut v.iter().map(|x| x.1)))
            .collect();
        let f = per_ref
            .iter()
            .map(|v| fold(&mut v.iter().map(|x| (x.0 + x.1) / 2.0)))
            .collect();
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
