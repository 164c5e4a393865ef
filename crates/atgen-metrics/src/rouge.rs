//! ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum, identical to Google's
//! `rouge-score` 0.1.2 (`rouge_scorer.RougeScorer`).
//!
//! * Tokenizer (`rouge_score/tokenize.py`): Python `str.lower()`, every run of
//!   characters outside `[a-z0-9]` becomes a space, split; with the stemmer,
//!   tokens longer than 3 characters go through NLTK's Porter stemmer
//!   ([`crate::porter`]).
//! * ROUGE-N: clipped n-gram overlap; precision divides by `max(#pred n-grams, 1)`.
//! * ROUGE-L: one LCS over the whole texts (0 when either side has no token).
//! * ROUGE-Lsum: sentences are the non-empty `\n`-separated lines; summary-level
//!   union LCS with the same backtracking tie-break as `_backtrack_norec` and
//!   the same no-double-counting token budget.
//! * Several references: `score_multi`, i.e. score against each one and keep,
//!   per ROUGE type, the reference with the highest F-measure (first on ties,
//!   like `np.argmax`). This is what HF `evaluate`'s `rouge` does for lists.
//! * Corpus value of the [`Rouge`] metric: the mean of per-example F-measures,
//!   i.e. `evaluate`'s `use_aggregator=False` followed by a plain mean (its
//!   default bootstrap aggregator is random and is not reproduced).

use crate::error::Result;
use crate::porter;
use crate::rouge_lcs::{lcs_score, ngram_score, summary_lcs_score, Vocab};
use crate::{mean, score_segments};
use atgen_core::{Metric, MetricValue};
use serde::{Deserialize, Serialize};

/// Precision, recall and F-measure of one ROUGE type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Matched / predicted.
    pub precision: f64,
    /// Matched / reference.
    pub recall: f64,
    /// Harmonic mean of the two (0 when both are 0).
    pub fmeasure: f64,
}

impl Score {
    /// Precision and recall with their F-measure (`scoring.fmeasure`).
    pub fn new(precision: f64, recall: f64) -> Self {
        let fmeasure = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Score {
            precision,
            recall,
            fmeasure,
        }
    }
}

/// The four ROUGE types of one prediction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RougeScores {
    /// Unigram overlap.
    pub rouge1: Score,
    /// Bigram overlap.
    pub rouge2: Score,
    /// Longest common subsequence over the whole texts.
    #[serde(rename = "rougeL")]
    pub rouge_l: Score,
    /// Summary-level LCS over newline-separated sentences.
    #[serde(rename = "rougeLsum")]
    pub rouge_lsum: Score,
}

/// Scores texts the way `RougeScorer(["rouge1","rouge2","rougeL","rougeLsum"], use_stemmer)` does.
#[derive(Debug, Clone, Copy, Default)]
pub struct RougeScorer {
    use_stemmer: bool,
}

impl RougeScorer {
    /// A scorer with or without the Porter stemmer.
    pub fn new(use_stemmer: bool) -> Self {
        RougeScorer { use_stemmer }
    }

    /// `rouge_score.tokenize.tokenize(text, stemmer)`.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        let lower = crate::pytext::py_lower(text);
        lower
            .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
            .filter(|t| !t.is_empty())
            .map(|t| {
                if self.use_stemmer && t.len() > 3 {
                    porter::stem(t)
                } else {
                    t.to_string()
                }
            })
            .filter(|t| {
                !t.is_empty()
                    && t.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
            .collect()
    }

    /// `RougeScorer.score(target, prediction)`.
    pub fn score(&self, target: &str, prediction: &str) -> RougeScores {
        self.score_multi(&[target], prediction)
    }

    /// `RougeScorer.score_multi(targets, prediction)`: per type, the target with
    /// the best F-measure (the first one on ties). No target gives all zeros.
    pub fn score_multi<S: AsRef<str>>(&self, targets: &[S], prediction: &str) -> RougeScores {
        let stem = self.use_stemmer;
        Vocab::with(stem, |v| {
            let p = v.ids(prediction, stem);
            let p_sents: Vec<Vec<u32>> = sentences(prediction).map(|s| v.ids(s, stem)).collect();
            let mut best: Option<RougeScores> = None;
            for target in targets {
                let target = target.as_ref();
                let t = v.ids(target, stem);
                let t_sents: Vec<Vec<u32>> = sentences(target).map(|s| v.ids(s, stem)).collect();
                let s = RougeScores {
                    rouge1: ngram_score(&t, &p, 1),
                    rouge2: ngram_score(&t, &p, 2),
                    rouge_l: lcs_score(&t, &p),
                    rouge_lsum: summary_lcs_score(&t_sents, &p_sents),
                };
                best = Some(match best {
                    None => s,
                    Some(b) => {
                        let pick = |old: Score, new: Score| {
                            if new.fmeasure > old.fmeasure {
                                new
                            } else {
                                old
                            }
                        };
                        RougeScores {
                            rouge1: pick(b.rouge1, s.rouge1),
                            rouge2: pick(b.rouge2, s.rouge2),
                            rouge_l: pick(b.rouge_l, s.rouge_l),
                            rouge_lsum: pick(b.rouge_lsum, s.rouge_lsum),
                        }
                    }
                });
            }
            best.unwrap_or_default()
        })
    }
}

fn sentences(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').filter(|s| !s.is_empty())
}

/// Which ROUGE types to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RougeType {
    /// ROUGE-1.
    #[serde(rename = "rouge1")]
    Rouge1,
    /// ROUGE-2.
    #[serde(rename = "rouge2")]
    Rouge2,
    /// ROUGE-L.
    #[serde(rename = "rougeL")]
    RougeL,
    /// ROUGE-Lsum.
    #[serde(rename = "rougeLsum")]
    RougeLsum,
}

impl RougeType {
    /// The name `rouge-score` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RougeType::Rouge1 => "rouge1",
            RougeType::Rouge2 => "rouge2",
            RougeType::RougeL => "rougeL",
            RougeType::RougeLsum => "rougeLsum",
        }
    }

    fn pick(self, s: &RougeScores) -> Score {
        match self {
            RougeType::Rouge1 => s.rouge1,
            RougeType::Rouge2 => s.rouge2,
            RougeType::RougeL => s.rouge_l,
            RougeType::RougeLsum => s.rouge_lsum,
        }
    }
}

/// Settings of the [`Rouge`] metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RougeConfig {
    /// Porter-stem tokens longer than 3 characters.
    pub use_stemmer: bool,
    /// Types to report, each as a value named after it (F-measure).
    pub rouge_types: Vec<RougeType>,
    /// Also report `<type>_precision` and `<type>_recall`.
    pub precision_recall: bool,
    /// Appended to every value name (e.g. `_nostem`), so two configs can run side by side.
    pub suffix: String,
}

impl Default for RougeConfig {
    fn default() -> Self {
        RougeConfig {
            use_stemmer: true,
            rouge_types: vec![
                RougeType::Rouge1,
                RougeType::Rouge2,
                RougeType::RougeL,
                RougeType::RougeLsum,
            ],
            precision_recall: false,
            suffix: String::new(),
        }
    }
}

/// ROUGE as a [`Metric`]: per-example best-reference F-measure, corpus mean.
#[derive(Debug, Clone, Default)]
pub struct Rouge {
    config: RougeConfig,
}

impl Rouge {
    /// A ROUGE metric with the given settings.
    pub fn new(config: RougeConfig) -> Self {
        Rouge { config }
    }
}

impl Metric for Rouge {
    fn name(&self) -> &str {
        "rouge"
    }

    fn compute(
        &self,
        predictions: &[String],
        references: &[Vec<String>],
        _sources: &[String],
    ) -> atgen_core::Result<Vec<MetricValue>> {
        Ok(self.scores(predictions, references)?)
    }
}

impl Rouge {
    fn scores(
        &self,
        predictions: &[String],
        references: &[Vec<String>],
    ) -> Result<Vec<MetricValue>> {
        let scorer = RougeScorer::new(self.config.use_stemmer);
        let all = score_segments(predictions, references, "rouge", |p, refs| {
            scorer.score_multi(refs, p)
        })?;
        let mut out = Vec::new();
        for &ty in &self.config.rouge_types {
            let mut push = |part: &str, f: fn(Score) -> f64| {
                let per_example: Vec<f64> = all.iter().map(|s| f(ty.pick(s))).collect();
                out.push(MetricValue {
                    name: format!("{}{part}{}", ty.as_str(), self.config.suffix),
                    corpus: mean(&per_example),
                    per_example,
                    higher_is_better: true,
                });
            };
            push("", |s| s.fmeasure);
            if self.config.precision_recall {
                push("_precision", |s| s.precision);
                push("_recall", |s| s.recall);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    // Python (rouge-score 0.1.2):
    // >>> s = RougeScorer(['rouge1','rouge2','rougeL','rougeLsum'], use_stemmer=True)
    // >>> s.score('The quick brown fox jumps over the lazy dog',
    // ...         'The quick brown dog jumps on the log.')
    // rouge1 P=0.75 R=0.6666666666666666 F=0.7058823529411765
    // rouge2 P=0.2857142857142857 R=0.25 F=0.26666666666666666
    // rougeL P=0.625 R=0.5555555555555556 F=0.5882352941176471
    #[test]
    fn readme_example() {
        let s = RougeScorer::new(true).score(
            "The quick brown fox jumps over the lazy dog",
            "The quick brown dog jumps on the log.",
        );
        close(s.rouge1.precision, 0.75);
        close(s.rouge1.fmeasure, 0.7058823529411765);
        close(s.rouge2.fmeasure, 0.26666666666666666);
        close(s.rouge_l.recall, 0.5555555555555556);
        close(s.rouge_lsum.fmeasure, s.rouge_l.fmeasure);
    }

    #[test]
    fn tokenizer_matches_rouge_score() {
        // tokenize.tokenize("Hello, WORLD! It's 2024-05-01; running\u00e9s", PorterStemmer())
        let t = RougeScorer::new(true).tokenize("Hello, WORLD! It's 2024-05-01; running\u{e9}s");
        assert_eq!(
            t,
            ["hello", "world", "it", "s", "2024", "05", "01", "run", "s"]
        );
        assert!(RougeScorer::new(false).tokenize("--- !!").is_empty());
    }

    #[test]
    fn empty_sides_score_zero() {
        let s = RougeScorer::new(false).score("", "something");
        assert_eq!(s, RougeScores::default());
    }

    #[test]
    fn multi_reference_keeps_best_f_per_type() {
        let sc = RougeScorer::new(false);
        let m = sc.score_multi(&["a b c", "x y z"], "x y z");
        close(m.rouge1.fmeasure, 1.0);
        let none: [&str; 0] = [];
        assert_eq!(sc.score_multi(&none, "x"), RougeScores::default());
    }

    #[test]
    fn metric_reports_named_values_and_rejects_bad_lengths() {
        let r = Rouge::default();
        let v = r
            .compute(&["a b".into()], &[vec!["a b".into()]], &[])
            .expect("scores");
        let names: Vec<&str> = v.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["rouge1", "rouge2", "rougeL", "rougeLsum"]);
        close(v[0].corpus, 1.0);
        assert!(r.compute(&["a".into()], &[], &[]).is_err());
        assert!(r.compute(&["a".into()], &[vec![]], &[]).is_err());
    }
}
