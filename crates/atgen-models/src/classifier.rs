//! Sequence-pair classifiers on BERT-family encoders, in HF layout:
//!
//! * `BertForSequenceClassification`: pooler `tanh(W h_[CLS] + b)`, then `classifier`.
//! * `RobertaForSequenceClassification` (roberta-large-mnli and the like): no
//!   pooler; `classifier.dense` + tanh on `<s>`'s state, then `classifier.out_proj`.
//! * `DebertaV2ForSequenceClassification` (DeBERTa-v3 NLI models): context
//!   pooler `act(W h_[CLS] + b)` (`pooler_hidden_act`, gelu by default), then `classifier`.
//!
//! Labels come from `config.json`'s `id2label`, so an NLI cross-encoder's
//! `entailment` class is found by name whatever its index.

use crate::bert::{BertEmbedder, Dense, Prefixed};
use crate::deberta::DebertaEncoder;
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use std::path::Path;

enum Head {
    /// BERT: pooler then a linear classifier.
    Pooled { pooler: Dense, classifier: Dense },
    /// RoBERTa: dense + tanh then an output projection.
    Roberta { dense: Dense, out_proj: Dense },
    /// DeBERTa: context pooler with gelu, then a linear classifier.
    Deberta { pooler: Dense, classifier: Dense },
}

enum Encoder {
    Bert(BertEmbedder),
    Deberta(DebertaEncoder),
}

impl Encoder {
    fn tokenizer(&self) -> &tokenizers::Tokenizer {
        match self {
            Encoder::Bert(e) => &e.tokenizer,
            Encoder::Deberta(e) => &e.tokenizer,
        }
    }

    fn hidden(&self, encs: &[tokenizers::Encoding]) -> Result<Tensor> {
        Ok(match self {
            Encoder::Bert(e) => e.forward_encodings(encs, None)?.0,
            Encoder::Deberta(e) => e.forward_encodings(encs)?,
        })
    }
}

/// A sequence(-pair) classifier: BERT, RoBERTa or DeBERTa-v2/v3 encoder plus its head.
pub struct SequenceClassifier {
    encoder: Encoder,
    head: Head,
    labels: Vec<String>,
}

/// `model_type` from a model directory's `config.json`.
fn model_type(dir: &Path) -> Result<String> {
    let path = dir.join("config.json");
    if !path.is_file() {
        return Err(Error::MissingFile {
            path,
            hint: " (a model directory needs config.json)".into(),
        });
    }
    let v: serde_json::Value = serde_json::from_str(&fs_err::read_to_string(&path)?)
        .map_err(|source| Error::Json { path, source })?;
    Ok(v.get("model_type")
        .and_then(|t| t.as_str())
        .unwrap_or("bert")
        .to_string())
}

/// Class names by index from a `config.json`'s `id2label`.
pub(crate) fn read_id2label(cfg_path: &Path) -> Result<Vec<String>> {
    let v: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(cfg_path)?).map_err(|source| Error::Json {
            path: cfg_path.to_path_buf(),
            source,
        })?;
    let id2label = v
        .get("id2label")
        .and_then(|m| m.as_object())
        .ok_or_else(|| Error::Config {
            key: "id2label".into(),
            reason: format!("missing in {}", cfg_path.display()),
        })?;
    let mut labels = vec![String::new(); id2label.len()];
    for (k, name) in id2label {
        let i: usize = k.parse().map_err(|_| Error::Config {
            key: "id2label".into(),
            reason: format!("bad index `{k}` in {}", cfg_path.display()),
        })?;
        let slot = labels.get_mut(i).ok_or_else(|| Error::Config {
            key: "id2label".into(),
            reason: format!("index {i} out of range in {}", cfg_path.display()),
        })?;
        *slot = name.as_str().unwrap_or_default().to_string();
    }
    Ok(labels)
}

impl SequenceClassifier {
    /// Loads a classifier directory (config.json, model.safetensors, tokenizer.json).
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let labels = read_id2label(&dir.join("config.json"))?;
        let n = labels.len();
        if model_type(dir)?.starts_with("deberta") {
            let (encoder, st) = DebertaEncoder::load_with_source(dir, device)?;
            let h = encoder.cfg.hidden_size;
            let p = encoder.cfg.pooler_hidden_size.unwrap_or(h);
            if let Some(act) = encoder
                .cfg
                .pooler_hidden_act
                .as_deref()
                .filter(|a| *a != "gelu")
            {
                return Err(Error::Config {
                    key: "pooler_hidden_act".into(),
                    reason: format!("`{act}` (gelu only)"),
                });
            }
            return Ok(SequenceClassifier {
                head: Head::Deberta {
                    pooler: Dense::load(&st, "pooler.dense", p, h)?,
                    classifier: Dense::load(&st, "classifier", n, p)?,
                },
                encoder: Encoder::Deberta(encoder),
                labels,
            });
        }
        let (encoder, st, prefix) = BertEmbedder::load_with_source(dir, device)?;
        let h = encoder.cfg.hidden_size;
        let head = if encoder.cfg.is_roberta() {
            Head::Roberta {
                dense: Dense::load(&st, "classifier.dense", h, h)?,
                out_proj: Dense::load(&st, "classifier.out_proj", n, h)?,
            }
        } else {
            Head::Pooled {
                pooler: Dense::load(&Prefixed(&st, prefix), "pooler.dense", h, h)?,
                classifier: Dense::load(&st, "classifier", n, h)?,
            }
        };
        Ok(SequenceClassifier {
            encoder: Encoder::Bert(encoder),
            head,
            labels,
        })
    }

    /// Label names, by class index.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Class probabilities of each `(first, second)` text pair (longest-first
    /// truncation to the encoder's length, as transformers' `truncation=True`).
    pub fn predict_pairs(
        &self,
        first: &[String],
        second: &[String],
        batch_size: usize,
    ) -> Result<Vec<Vec<f32>>> {
        check_pairs(first, second)?;
        let mut out = Vec::with_capacity(first.len());
        for (a, b) in first
            .chunks(batch_size.max(1))
            .zip(second.chunks(batch_size.max(1)))
        {
            let encs = a
                .iter()
                .zip(b)
                .map(|(x, y)| {
                    self.encoder
                        .tokenizer()
                        .encode((x.as_str(), y.as_str()), true)
                        .map_err(Error::tokenizer)
                })
                .collect::<Result<Vec<_>>>()?;
            let hidden = self.encoder.hidden(&encs)?;
            let cls = first_token(&hidden)?;
            let logits = match &self.head {
                Head::Pooled { pooler, classifier } => {
                    classifier.forward(&pooler.forward(&cls)?.tanh()?)?
                }
                Head::Roberta { dense, out_proj } => {
                    out_proj.forward(&dense.forward(&cls)?.tanh()?)?
                }
                Head::Deberta { pooler, classifier } => {
                    classifier.forward(&pooler.forward(&cls)?.gelu_erf()?)?
                }
            };
            out.extend(candle_nn::ops::softmax_last_dim(&logits)?.to_vec2::<f32>()?);
        }
        Ok(out)
    }
}

/// Both sides of a batch of pairs have the same length.
pub(crate) fn check_pairs(first: &[String], second: &[String]) -> Result<()> {
    if first.len() != second.len() {
        return Err(Error::Invalid(format!(
            "{} first texts but {} second texts",
            first.len(),
            second.len()
        )));
    }
    Ok(())
}

/// `<s>`/`[CLS]` state of each row of `(b, t, h)` hidden states → `(b, h)`.
pub(crate) fn first_token(hidden: &Tensor) -> Result<Tensor> {
    Ok(hidden.narrow(1, 0, 1)?.squeeze(1)?)
}
