//! BERTScore (Zhang et al. 2020) as the `bert-score` package computes it:
//! token states of a BERT-family encoder after `num_layers` layers, L2
//! normalised; each candidate token matched to its most similar reference
//! token (and vice versa), weighted by idf (or uniformly), with `[CLS]` and
//! `[SEP]` weighted 0 but still available as matches; F1 = 2PR / (P + R).
//! Several references: P, R and F are each the maximum over references.
//! Optional baseline rescaling `(s - b) / (1 - b)` from bert-score's TSV
//! files (`LAYER,P,R,F`). Like bert-score, a text shorter than the longest
//! of its batch (`batch_size` candidate/reference pairs, in order) is padded,
//! and a padded position counts as similarity 0 in the max: it wins when every
//! real similarity is negative. Keep `batch_size` equal to bert-score's (64 by
//! default) to reproduce its numbers exactly.

use crate::error::{MetricsError, Result};
use atgen_core::{Metric, MetricValue};
use atgen_models::bert::{BertEmbedder, TokenStates};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// BERTScore settings; `{type: bertscore, model: <dir>, num_layers: 6}` in configs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BertScoreConfig {
    /// sentence-transformers / BERT model directory (config.json, model.safetensors, tokenizer.json).
    pub model: PathBuf,
    /// Device of the scorer model: `auto` (default: a GPU in a `--features cuda` build that
    /// finds one, else the CPU), `cpu`, `cuda` or `cuda:N`.
    #[serde(default)]
    pub device: atgen_core::DeviceName,
    /// Layers to run (bert-score's `num_layers`); all when absent.
    #[serde(default)]
    pub num_layers: Option<usize>,
    /// Weight tokens by idf computed on the references.
    #[serde(default)]
    pub idf: bool,
    /// bert-score baseline TSV for rescaling.
    #[serde(default)]
    pub baseline_path: Option<PathBuf>,
    /// Token limit per text (bert-score uses the tokenizer's `model_max_length`).
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    /// Pairs per batch (also the forward-pass size); bert-score's default is 64.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
}

fn default_max_length() -> usize {
    512
}
fn default_batch() -> usize {
    64
}

/// The metric, with its encoder loaded.
pub struct BertScore {
    cfg: BertScoreConfig,
    encoder: BertEmbedder,
    baseline: Option<[f64; 3]>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> MetricsError {
    MetricsError::InvalidConfig {
        metric: "bertscore",
        field,
        reason: reason.into(),
    }
}

/// The `(P, R, F)` baseline of a layer from a bert-score TSV/CSV file.
pub fn read_baseline(path: &Path, layer: usize) -> Result<[f64; 3]> {
    let text = fs_err::read_to_string(path)?;
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split([',', '\t']).map(str::trim).collect();
        if cols.len() >= 4 && cols[0].parse::<usize>().ok() == Some(layer) {
            let num = |s: &str| {
                s.parse::<f64>()
                    .map_err(|e| invalid("baseline_path", format!("{}: {e}", path.display())))
            };
            return Ok([num(cols[1])?, num(cols[2])?, num(cols[3])?]);
        }
    }
    Err(invalid(
        "baseline_path",
        format!("{} has no row for layer {layer}", path.display()),
    ))
}

impl BertScore {
    /// Loads the encoder (on `cfg.device`) and the baseline.
    pub fn new(cfg: BertScoreConfig) -> Result<Self> {
        let device = atgen_models::device::open(cfg.device, "bertscore.device")
            .map_err(|e| invalid("device", e.to_string()))?;
        let mut encoder =
            BertEmbedder::load(&cfg.model, &device).map_err(|e| invalid("model", e.to_string()))?;
        encoder
            .set_max_length(cfg.max_length)
            .map_err(|e| invalid("max_length", e.to_string()))?;
        let layer = cfg.num_layers.unwrap_or(encoder.num_layers());
        let baseline = cfg
            .baseline_path
            .as_deref()
            .map(|p| read_baseline(p, layer))
            .transpose()?;
        Ok(BertScore {
            cfg,
            encoder,
            baseline,
        })
    }

    fn states(&self, texts: &[String]) -> Result<Vec<TokenStates>> {
        let stripped: Vec<String> = texts.iter().map(|t| t.trim().to_string()).collect();
        let mut out = self
            .encoder
            .token_states(&stripped, self.cfg.num_layers, self.cfg.batch_size)
            .map_err(|e| invalid("model", e.to_string()))?;
        for (_, states) in &mut out {
            for v in states.iter_mut() {
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= n);
            }
        }
        Ok(out)
    }

    /// Per-example `(P, R, F)` of each candidate against each of its references (before the max).
    pub fn scores(
        &self,
        predictions: &[String],
        references: &[Vec<String>],
    ) -> Result<Vec<[f64; 3]>> {
        if predictions.len() != references.len() {
            return Err(MetricsError::LengthMismatch {
                what: "references",
                expected: predictions.len(),
                got: references.len(),
            });
        }
        let flat_refs: Vec<String> = references.iter().flatten().cloned().collect();
        let special = self
            .encoder
            .special_ids()
            .map_err(|e| invalid("model", e.to_string()))?;
        let ref_states = self.states(&flat_refs)?;
        let idf = self.idf(&ref_states, &special);
        let weight = |id: u32| -> f64 {
            if special.contains(&id) {
                0.0
            } else if let Some(idf) = &idf {
                *idf.0.get(&id).unwrap_or(&idf.1)
            } else {
                1.0
            }
        };
        let hyp_states = self.states(predictions)?;
        // bert-score's batches run over (candidate, reference) pairs with references flattened.
        let pair_hyp: Vec<usize> = references
            .iter()
            .enumerate()
            .flat_map(|(i, r)| std::iter::repeat_n(i, r.len()))
            .collect();
        let bs = self.cfg.batch_size.max(1);
        let padded = |t: usize, len: &dyn Fn(usize) -> usize| {
            let start = t / bs * bs;
            let end = (start + bs).min(pair_hyp.len());
            (start..end).map(len).max().unwrap_or(0) > len(t)
        };
        let mut out = Vec::with_capacity(predictions.len());
        let mut at = 0;
        for (i, refs) in references.iter().enumerate() {
            if refs.is_empty() {
                return Err(MetricsError::NoReferences {
                    index: i,
                    metric: "bertscore",
                });
            }
            let (hyp_ids, hyp) = &hyp_states[i];
            let mut best = [f64::NEG_INFINITY; 3];
            for (t, (ref_ids, rf)) in ref_states[at..at + refs.len()]
                .iter()
                .enumerate()
                .map(|(k, r)| (at + k, r))
            {
                let ref_pad = if padded(t, &|u| ref_states[u].0.len()) {
                    0.0
                } else {
                    f64::NEG_INFINITY
                };
                let hyp_pad = if padded(t, &|u| hyp_states[pair_hyp[u]].0.len()) {
                    0.0
                } else {
                    f64::NEG_INFINITY
                };
                let sim: Vec<Vec<f64>> = hyp
                    .iter()
                    .map(|h| {
                        rf.iter()
                            .map(|r| h.iter().zip(r).map(|(a, b)| (a * b) as f64).sum())
                            .collect()
                    })
                    .collect();
                let side = |ids: &[u32], best_of: &dyn Fn(usize) -> f64| {
                    let (mut num, mut den) = (0.0, 0.0);
                    for (k, &id) in ids.iter().enumerate() {
                        let w = weight(id);
                        num += w * best_of(k);
                        den += w;
                    }
                    if den > 0.0 {
                        num / den
                    } else {
                        0.0
                    }
                };
                let p = side(hyp_ids, &|k| sim[k].iter().copied().fold(ref_pad, f64::max));
                let r = side(ref_ids, &|k| {
                    sim.iter().map(|row| row[k]).fold(hyp_pad, f64::max)
                });
                let f = if p + r != 0.0 {
                    2.0 * p * r / (p + r)
                } else {
                    0.0
                };
                for (b, v) in best.iter_mut().zip([p, r, f]) {
                    *b = b.max(v);
                }
            }
            at += refs.len();
            if let Some(base) = self.baseline {
                for (b, base) in best.iter_mut().zip(base) {
                    *b = (*b - base) / (1.0 - base);
                }
            }
            out.push(best);
        }
        Ok(out)
    }

    /// idf per token id from the references, and the value for unseen ids.
    fn idf(&self, refs: &[TokenStates], special: &[u32]) -> Option<(HashMap<u32, f64>, f64)> {
        if !self.cfg.idf {
            return None;
        }
        let m = refs.len() as f64;
        let mut df: HashMap<u32, usize> = HashMap::new();
        for (ids, _) in refs {
            let mut seen: Vec<u32> = ids
                .iter()
                .copied()
                .filter(|i| !special.contains(i))
                .collect();
            seen.sort_unstable();
            seen.dedup();
            for id in seen {
                *df.entry(id).or_default() += 1;
            }
        }
        let map = df
            .into_iter()
            .map(|(id, c)| (id, ((m + 1.0) / (c as f64 + 1.0)).ln()))
            .collect();
        Some((map, (m + 1.0).ln()))
    }
}

impl Metric for BertScore {
    fn name(&self) -> &str {
        "bertscore"
    }

    fn compute(
        &self,
        predictions: &[String],
        references: &[Vec<String>],
        _sources: &[String],
    ) -> atgen_core::Result<Vec<MetricValue>> {
        let scores = self.scores(predictions, references)?;
        let n = scores.len().max(1) as f64;
        Ok(["bertscore_precision", "bertscore_recall", "bertscore_f1"]
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let per: Vec<f64> = scores.iter().map(|s| s[j]).collect();
                MetricValue {
                    name: name.to_string(),
                    corpus: per.iter().sum::<f64>() / n,
                    per_example: per,
                    higher_is_better: true,
                }
            })
            .collect())
    }
}
