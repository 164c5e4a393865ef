//! AlignScore (Zha et al., ACL 2023): how well a claim is supported by a
//! context, with the RoBERTa alignment model (see [`atgen_models::align`];
//! `scripts/convert_alignscore.py` converts the authors' checkpoints).
//!
//! Scoring follows the original's default `nli_sp` mode (its `Inferencer`):
//! the context is split into sentences ([`crate::punkt`], as NLTK's
//! `sent_tokenize`) and grouped into chunks of `len(sentences) / (words / 350 + 1)`
//! consecutive sentences (at least one); the claim is split into sentences;
//! each claim sentence is scored against every chunk by the 3-way head's
//! probability of "aligned" (class 0); the score is the mean over claim
//! sentences of the best chunk. A claim without any sentence (empty) scores 0
//! (the original returns NaN).
//!
//! The claim is the prediction; the context is the source (`context: source`,
//! faithfulness, the default) or the references (`context: reference`, the
//! best over several).

use crate::error::{MetricsError, Result};
use crate::pytext::py_split;
use atgen_core::{Metric, MetricValue};
use atgen_models::align::AlignModel;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Words per chunk the original aims at (`len(premise.split()) // 350 + 1` chunks).
pub const CHUNK_WORDS: usize = 350;

/// What the prediction is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlignContext {
    /// The example's source text (faithfulness).
    #[default]
    Source,
    /// Each reference; the best one counts.
    Reference,
}

/// AlignScore settings; `{type: alignscore, model: <converted dir>}` in configs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignScoreConfig {
    /// Directory written by `scripts/convert_alignscore.py`.
    pub model: PathBuf,
    /// Device of the scorer model: `auto` (default: a GPU in a `--features cuda` build that
    /// finds one, else the CPU), `cpu`, `cuda` or `cuda:N`.
    #[serde(default)]
    pub device: atgen_core::DeviceName,
    /// The context the prediction is scored against.
    #[serde(default)]
    pub context: AlignContext,
    /// (chunk, claim sentence) pairs per forward pass (the original's default is 32).
    #[serde(default = "default_batch")]
    pub batch_size: usize,
}

fn default_batch() -> usize {
    32
}

/// The metric, with its model loaded.
pub struct AlignScore {
    cfg: AlignScoreConfig,
    model: AlignModel,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> MetricsError {
    MetricsError::InvalidConfig {
        metric: "alignscore",
        field,
        reason: reason.into(),
    }
}

/// The context's chunks: consecutive sentences joined by a space.
pub fn chunks(context: &str) -> Vec<String> {
    let mut sents = crate::punkt::sentences(context);
    if sents.is_empty() {
        sents.push(String::new());
    }
    let n_chunks = py_split(context.trim()).count() / CHUNK_WORDS + 1;
    let per = (sents.len() / n_chunks).max(1);
    sents.chunks(per).map(|c| c.join(" ")).collect()
}

impl AlignScore {
    /// Loads the alignment model on CPU.
    pub fn new(cfg: AlignScoreConfig) -> Result<Self> {
        if cfg.batch_size == 0 {
            return Err(invalid("batch_size", "must be at least 1"));
        }
        let device = atgen_models::device::open(cfg.device, "alignscore.device")
            .map_err(|e| invalid("device", e.to_string()))?;
        let model = AlignModel::load(&cfg.model, &device)
            .map_err(|e| invalid("model", format!("{}: {e}", cfg.model.display())))?;
        Ok(AlignScore { cfg, model })
    }

    /// AlignScore (`nli_sp`) of each `(context, claim)` pair.
    pub fn score_pairs(&self, contexts: &[String], claims: &[String]) -> Result<Vec<f64>> {
        // All (chunk, claim sentence) pairs of all examples, batched together.
        let (mut prem, mut hyp, mut shapes) = (Vec::new(), Vec::new(), Vec::new());
        for (context, claim) in contexts.iter().zip(claims) {
            let chunks = chunks(context);
            let sents = crate::punkt::sentences(claim);
            for c in &chunks {
                for s in &sents {
                    prem.push(c.clone());
                    hyp.push(s.clone());
                }
            }
            shapes.push((chunks.len(), sents.len()));
        }
        let out = self
            .model
            .predict_pairs(&prem, &hyp, self.cfg.batch_size)
            .map_err(|e| invalid("model", e.to_string()))?;
        let mut at = 0;
        Ok(shapes
            .into_iter()
            .map(|(n_chunks, n_sents)| {
                let block = &out[at..at + n_chunks * n_sents];
                at += n_chunks * n_sents;
                if n_sents == 0 {
                    return 0.0;
                }
                let best = (0..n_sents).map(|j| {
                    (0..n_chunks)
                        .map(|i| block[i * n_sents + j].tri[0] as f64)
                        .fold(f64::NEG_INFINITY, f64::max)
                });
                best.sum::<f64>() / n_sents as f64
            })
            .collect())
    }
}

impl Metric for AlignScore {
    fn name(&self) -> &str {
        "alignscore"
    }

    fn compute(
        &self,
        predictions: &[String],
        references: &[Vec<String>],
        sources: &[String],
    ) -> atgen_core::Result<Vec<MetricValue>> {
        let per_example = match self.cfg.context {
            AlignContext::Source => {
                if sources.len() != predictions.len() {
                    return Err(invalid(
                        "context",
                        format!(
                            "`context: source` needs a source text per prediction ({} predictions, {} sources); \
                             give each input line a `source`, or use `context: reference`",
                            predictions.len(),
                            sources.len()
                        ),
                    )
                    .into());
                }
                self.score_pairs(sources, predictions)?
            }
            AlignContext::Reference => {
                crate::error::check_lengths(predictions, references, None)?;
                crate::error::check_non_empty(references, "alignscore")?;
                let (mut ctx, mut claims, mut owner) = (Vec::new(), Vec::new(), Vec::new());
                for (i, (p, refs)) in predictions.iter().zip(references).enumerate() {
                    for r in refs {
                        ctx.push(r.clone());
                        claims.push(p.clone());
                        owner.push(i);
                    }
                }
                let mut best = vec![f64::NEG_INFINITY; predictions.len()];
                for (s, i) in self.score_pairs(&ctx, &claims)?.into_iter().zip(owner) {
                    best[i] = best[i].max(s);
                }
                best
            }
        };
        Ok(vec![MetricValue {
            name: "alignscore".into(),
            corpus: crate::mean(&per_example),
            per_example,
            higher_is_better: true,
        }])
    }
}
