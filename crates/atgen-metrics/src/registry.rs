//! Pick metrics by name or by config: the tagged [`MetricConfig`] enum and
//! [`build_metrics`], used by the loop and by `atgen eval --metrics`.
//!
//! ```
//! use atgen_metrics::{build_metrics, MetricConfig};
//! let metrics = build_metrics(&["rouge", "bleu", "exact_match"]).unwrap();
//! assert_eq!(metrics.len(), 3);
//! let err = build_metrics(&["rogue"]).err().unwrap();
//! assert!(err.to_string().contains("did you mean `rouge`"));
//! let cfg: MetricConfig = serde_json::from_str(r#"{"type": "chrf", "word_order": 2}"#).unwrap();
//! assert_eq!(cfg.build().unwrap().name(), "chrf++");
//! ```

use crate::bleu::{Bleu, BleuConfig};
use crate::chrf::{Chrf, ChrfConfig};
use crate::error::{MetricsError, Result};
use crate::error_rate::{ErrorRate, ErrorRateConfig};
use crate::exact_match::{ExactMatch, ExactMatchConfig};
use crate::extract::Extractor;
use crate::length::{Length, LengthConfig};
use crate::rouge::{Rouge, RougeConfig};
use atgen_core::Metric;
use serde::{Deserialize, Serialize};

/// One metric and its settings; `{"type": "rouge", "use_stemmer": false}` in configs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MetricConfig {
    /// Trimmed exact match (value `exact_match[_<extractor>]`).
    ExactMatch(ExactMatchConfig),
    /// SQuAD-normalised exact match (value `relaxed_exact_match[_<extractor>]`).
    RelaxedExactMatch(ExactMatchConfig),
    /// ROUGE-1/2/L/Lsum (values `rouge1`, `rouge2`, `rougeL`, `rougeLsum`).
    Rouge(RougeConfig),
    /// sacreBLEU BLEU (value `bleu`).
    Bleu(BleuConfig),
    /// sacreBLEU chrF (value `chrf`, `chrf+`, `chrf++` by word order).
    Chrf(ChrfConfig),
    /// Word error rate as jiwer computes it (value `wer`; lower is better).
    Wer(ErrorRateConfig),
    /// Character error rate as jiwer computes it (value `cer`; lower is better).
    Cer(ErrorRateConfig),
    /// Length statistics (values `length`, `length_ratio`).
    Length(LengthConfig),
    /// BERTScore with a local encoder (values `bertscore_precision`, `_recall`, `_f1`).
    Bertscore(crate::bertscore::BertScoreConfig),
    /// BARTScore with a BART or causal scorer model (values `bartscore_precision`, `_recall`, `_f`, `_faithfulness`).
    Bartscore(crate::bartscore::BartScoreConfig),
    /// An LLM judge through an API (values `judge_<criterion>`, `judge_<criterion>_cost`).
    LlmJudge(crate::judge::JudgeConfig),
    /// AlignScore with a converted alignment model (value `alignscore`).
    Alignscore(crate::alignscore::AlignScoreConfig),
}

/// Every name [`MetricConfig::from_name`] accepts.
pub const METRIC_NAMES: &[&str] = &[
    "exact_match",
    "relaxed_exact_match",
    "exact_match_gsm8k",
    "exact_match_race",
    "relaxed_exact_match_gsm8k",
    "relaxed_exact_match_race",
    "rouge",
    "rouge_nostem",
    "bleu",
    "sacrebleu",
    "chrf",
    "chrf++",
    "wer",
    "cer",
    "length",
    "bertscore",
    "bartscore",
    "alignscore",
    "llm_judge",
];

fn extractor_suffix(e: Extractor) -> &'static str {
    match e {
        Extractor::None => "",
        Extractor::Gsm8k => "_gsm8k",
        Extractor::Race => "_race",
    }
}

impl MetricConfig {
    /// The config behind a registry name (see [`METRIC_NAMES`]); `sacrebleu`
    /// is an alias of `bleu`. Unknown names suggest the closest valid one.
    pub fn from_name(name: &str) -> Result<MetricConfig> {
        let em = |extractor| ExactMatchConfig { extractor };
        Ok(match name {
            "exact_match" => MetricConfig::ExactMatch(em(Extractor::None)),
            "exact_match_gsm8k" => MetricConfig::ExactMatch(em(Extractor::Gsm8k)),
            "exact_match_race" => MetricConfig::ExactMatch(em(Extractor::Race)),
            "relaxed_exact_match" => MetricConfig::RelaxedExactMatch(em(Extractor::None)),
            "relaxed_exact_match_gsm8k" => MetricConfig::RelaxedExactMatch(em(Extractor::Gsm8k)),
            "relaxed_exact_match_race" => MetricConfig::RelaxedExactMatch(em(Extractor::Race)),
            "rouge" => MetricConfig::Rouge(RougeConfig::default()),
            "rouge_nostem" => MetricConfig::Rouge(RougeConfig {
                use_stemmer: false,
                suffix: "_nostem".into(),
                ..RougeConfig::default()
            }),
            "bleu" | "sacrebleu" => MetricConfig::Bleu(BleuConfig::default()),
            "chrf" => MetricConfig::Chrf(ChrfConfig::default()),
            "chrf++" => MetricConfig::Chrf(ChrfConfig::plus_plus()),
            "wer" => MetricConfig::Wer(ErrorRateConfig::default()),
            "cer" => MetricConfig::Cer(ErrorRateConfig::default()),
            "length" => MetricConfig::Length(LengthConfig::default()),
            "bertscore" => return Err(MetricsError::InvalidConfig {
                metric: "bertscore",
                field: "model",
                reason:
                    "bertscore needs an encoder: `{type: bertscore, model: <dir>, num_layers: N}`"
                        .into(),
            }),
            "alignscore" => {
                return Err(MetricsError::InvalidConfig {
                    metric: "alignscore",
                    field: "model",
                    reason: "alignscore needs a converted model (scripts/convert_alignscore.py): \
                         `{type: alignscore, model: <dir>}`"
                        .into(),
                })
            }
            "llm_judge" => {
                return Err(MetricsError::InvalidConfig {
                    metric: "llm_judge",
                    field: "parameters",
                    reason: "llm_judge needs a judge: `{type: llm_judge, criterion: faithfulness, \
                         parameters: {provider: openai, model: <model>}}`"
                        .into(),
                })
            }
            _ => {
                return Err(MetricsError::UnknownMetric {
                    name: name.to_string(),
                    suggestion: closest_name(name).map(str::to_string),
                })
            }
        })
    }

    /// Builds the metric, validating its settings.
    pub fn build(&self) -> Result<Box<dyn Metric>> {
        Ok(match self {
            MetricConfig::ExactMatch(c) => Box::new(ExactMatch::strict(
                format!("exact_match{}", extractor_suffix(c.extractor)),
                c.clone(),
            )),
            MetricConfig::RelaxedExactMatch(c) => Box::new(ExactMatch::relaxed(
                format!("relaxed_exact_match{}", extractor_suffix(c.extractor)),
                c.clone(),
            )),
            MetricConfig::Rouge(c) => Box::new(Rouge::new(c.clone())),
            MetricConfig::Bleu(c) => Box::new(Bleu::new("bleu", c.clone())?),
            MetricConfig::Chrf(c) => {
                let name = format!("chrf{}", "+".repeat(c.word_order.min(8)));
                Box::new(Chrf::new(name, c.clone())?)
            }
            MetricConfig::Wer(c) => Box::new(ErrorRate::wer(c.clone())),
            MetricConfig::Cer(c) => Box::new(ErrorRate::cer(c.clone())),
            MetricConfig::Length(_) => Box::new(Length),
            MetricConfig::Bertscore(c) => Box::new(crate::bertscore::BertScore::new(c.clone())?),
            MetricConfig::Bartscore(c) => Box::new(crate::bartscore::BartScore::new(c.clone())?),
            MetricConfig::Alignscore(c) => Box::new(crate::alignscore::AlignScore::new(c.clone())?),
            MetricConfig::LlmJudge(c) => Box::new(crate::judge::LlmJudge::new(c.clone())?),
        })
    }
}

/// Metric values that are better when lower: the error rates. A threshold on
/// one of them (`al.required_performance`) is reached at or below it; on any
/// other value, at or above it. (Length statistics also report
/// `higher_is_better: false`, but they are descriptive, not errors to push
/// down, so they are not listed.)
pub const LOWER_IS_BETTER: &[&str] = &["wer", "cer"];

/// Whether the metric value `name` is better when lower (see [`LOWER_IS_BETTER`]).
pub fn lower_is_better(name: &str) -> bool {
    LOWER_IS_BETTER.contains(&name)
}

/// The valid name nearest to `name` by edit distance, when it is close enough
/// to be a likely typo.
pub fn closest_name(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase().replace('-', "_");
    METRIC_NAMES
        .iter()
        .map(|&n| (strsim::damerau_levenshtein(&lower, n), n))
        .min_by_key(|&(d, _)| d)
        .filter(|&(d, n)| d <= (n.len() / 3).max(2))
        .map(|(_, n)| n)
}

/// Builds metrics from registry names, in order; a name given twice (or an
/// alias of one already given) is built once.
pub fn build_metrics(names: &[&str]) -> Result<Vec<Box<dyn Metric>>> {
    let mut configs: Vec<MetricConfig> = Vec::new();
    for name in names {
        let cfg = MetricConfig::from_name(name.trim())?;
        if !configs.contains(&cfg) {
            configs.push(cfg);
        }
    }
    configs.iter().map(MetricConfig::build).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_builds() {
        let e = MetricConfig::from_name("bertscore")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("needs an encoder"), "{e}");
        // bertscore is listed (for suggestions) but needs an encoder directory to build.
        for name in METRIC_NAMES
            .iter()
            .filter(|n| !matches!(**n, "bertscore" | "bartscore" | "alignscore" | "llm_judge"))
        {
            let m = MetricConfig::from_name(name)
                .and_then(|c| c.build())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!m.name().is_empty());
        }
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let cases = [
            ("rouge-l", Some("rouge")),
            ("ROUGE", Some("rouge")),
            ("blue", Some("bleu")),
            ("chrf+", Some("chrf")),
            ("exact-match", Some("exact_match")),
            ("bertscor", Some("bertscore")),
        ];
        for (name, want) in cases {
            match build_metrics(&[name]) {
                Err(MetricsError::UnknownMetric { suggestion, .. }) => {
                    assert_eq!(suggestion.as_deref(), want, "{name}")
                }
                Err(e) => panic!("{name}: unexpected error {e}"),
                Ok(_) => panic!("{name}: accepted"),
            }
        }
    }

    #[test]
    fn error_rates_are_the_values_that_are_better_lower() {
        let metrics = build_metrics(&["wer", "cer", "rouge", "exact_match"]).expect("builds");
        let preds = ["AE1 B IY0".to_string()];
        let refs = [vec!["AE1 B IY1".to_string()]];
        for m in &metrics {
            for v in m.compute(&preds, &refs, &[]).expect("scores") {
                assert_eq!(v.higher_is_better, !lower_is_better(&v.name), "{}", v.name);
            }
        }
        assert!(lower_is_better("wer") && lower_is_better("cer"));
        assert!(!lower_is_better("length"), "descriptive, not an error rate");
        let cfg: MetricConfig =
            serde_json::from_str(r#"{"type": "wer", "lowercase": true}"#).expect("parses");
        assert_eq!(cfg, MetricConfig::Wer(ErrorRateConfig { lowercase: true }));
        assert_eq!(cfg.build().expect("builds").name(), "wer");
        assert!(serde_json::from_str::<MetricConfig>(r#"{"type": "cer", "lower": true}"#).is_err());
        match build_metrics(&["WER"]) {
            Err(MetricsError::UnknownMetric { suggestion, .. }) => {
                assert_eq!(suggestion.as_deref(), Some("wer"))
            }
            _ => panic!("`WER` is not a registry name"),
        }
    }

    #[test]
    fn aliases_are_built_once() {
        let m = build_metrics(&["bleu", "sacrebleu", "rouge", "rouge_nostem"]).expect("builds");
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn configs_round_trip_through_serde() {
        let cfg: MetricConfig = serde_json::from_str(
            r#"{"type": "bleu", "tokenize": "none", "smooth_method": "add-k", "smooth_value": 2.0}"#,
        )
        .expect("parses");
        let back: MetricConfig =
            serde_json::from_str(&serde_json::to_string(&cfg).expect("serializes"))
                .expect("parses");
        assert_eq!(cfg, back);
        let cfg: MetricConfig =
            serde_json::from_str(r#"{"type": "exact_match", "extractor": "gsm8k"}"#)
                .expect("parses");
        assert_eq!(cfg.build().expect("builds").name(), "exact_match_gsm8k");
        let bad = serde_json::from_str::<MetricConfig>(r#"{"type": "rouge", "stemmer": true}"#);
        assert!(bad.is_err(), "unknown fields are rejected");
        let bad = serde_json::from_str::<MetricConfig>(r#"{"type": "bleu", "max_ngram_order": 0}"#)
            .expect("parses");
        assert!(bad.build().is_err());
    }
}
