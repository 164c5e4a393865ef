//! Exact match and relaxed (SQuAD-normalised) exact match, over any number of
//! references (TriviaQA aliases), optionally through a task [`Extractor`].
//!
//! * `exact_match`: the prediction, trimmed, equals one reference, trimmed.
//! * `relaxed_exact_match`: equality after SQuAD's `normalize_answer`
//!   (lowercase, delete ASCII punctuation, replace the words a/an/the by a
//!   space, collapse whitespace).
//! * With an extractor (`gsm8k`, `race`), the extracted answers are compared
//!   instead; when the prediction or a reference yields no answer, that pair
//!   falls back to the text comparison above.
//!
//! Per example 1.0 or 0.0; corpus value is the mean.
//!
//! ```
//! use atgen_metrics::exact_match::normalize_answer;
//! assert_eq!(normalize_answer("The  Beatles!"), "beatles");
//! ```

use crate::error::Result;
use crate::extract::Extractor;
use crate::pytext::py_split;
use crate::{mean, score_segments};
use atgen_core::MetricValue;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

#[allow(clippy::expect_used)] // constant pattern, exercised by the tests
static ARTICLES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(a|an|the)\b").expect("valid article pattern"));

/// SQuAD v1.1 `normalize_answer`.
pub fn normalize_answer(s: &str) -> String {
    let lower = crate::pytext::py_lower(s);
    let no_punct: String = lower
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    let no_articles = ARTICLES.replace_all(&no_punct, " ");
    py_split(&no_articles).collect::<Vec<_>>().join(" ")
}

/// Settings of the exact-match metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExactMatchConfig {
    /// Task answer extraction applied to prediction and references.
    pub extractor: Extractor,
}

/// Exact match ([`ExactMatch::strict`]) or relaxed exact match ([`ExactMatch::relaxed`]).
#[derive(Debug, Clone)]
pub struct ExactMatch {
    name: String,
    relaxed: bool,
    config: ExactMatchConfig,
}

impl ExactMatch {
    /// Trimmed string equality.
    pub fn strict(name: impl Into<String>, config: ExactMatchConfig) -> Self {
        ExactMatch {
            name: name.into(),
            relaxed: false,
            config,
        }
    }

    /// SQuAD-normalised equality.
    pub fn relaxed(name: impl Into<String>, config: ExactMatchConfig) -> Self {
        ExactMatch {
            name: name.into(),
            relaxed: true,
            config,
        }
    }

    fn text_key(&self, s: &str) -> String {
        if self.relaxed {
            normalize_answer(s)
        } else {
            s.trim().to_string()
        }
    }

    /// 1.0 when `prediction` matches one of `references`, else 0.0.
    pub fn score_one<S: AsRef<str>>(&self, prediction: &str, references: &[S]) -> f64 {
        let ex = self.config.extractor;
        let pred_answer = ex.extract(prediction);
        let pred_key = self.text_key(prediction);
        let hit = references.iter().any(|r| {
            let r = r.as_ref();
            match (&pred_answer, ex.extract(r)) {
                (Some(p), Some(r)) => p.matches(&r),
                _ => pred_key == self.text_key(r),
            }
        });
        if hit {
            1.0
        } else {
            0.0
        }
    }

    fn scores(&self, predictions: &[String], references: &[Vec<String>]) -> Result<MetricValue> {
        let per_example = score_segments(predictions, references, "exact_match", |p, r| {
            self.score_one(p, r)
        })?;
        Ok(MetricValue {
            name: self.name.clone(),
            corpus: mean(&per_example),
            per_example,
            higher_is_better: true,
        })
    }
}

single_value_metric!(ExactMatch);

#[cfg(test)]
mod tests {
    use super::*;
    use atgen_core::Metric;

    #[test]
    fn squad_normalisation() {
        // Python (SQuAD v1.1 evaluate script): normalize_answer(s)
        assert_eq!(normalize_answer("  The Exile, of an Era. "), "exile of era");
        assert_eq!(normalize_answer("Théâtre  d'Orsay"), "théâtre dorsay");
        assert_eq!(normalize_answer("a"), "");
        assert_eq!(normalize_answer("anthem"), "anthem");
    }

    #[test]
    fn triviaqa_aliases() {
        let em = ExactMatch::relaxed("relaxed_exact_match", ExactMatchConfig::default());
        let refs = ["Exile", "Exiles", "Internal exile"];
        assert_eq!(em.score_one("the exiles.", &refs), 1.0);
        assert_eq!(em.score_one("exiled", &refs), 0.0);
        let strict = ExactMatch::strict("exact_match", ExactMatchConfig::default());
        assert_eq!(strict.score_one(" Exile\n", &refs), 1.0);
        assert_eq!(strict.score_one("exile", &refs), 0.0);
    }

    #[test]
    fn extractors() {
        let gsm = ExactMatch::strict(
            "exact_match",
            ExactMatchConfig {
                extractor: Extractor::Gsm8k,
            },
        );
        assert_eq!(
            gsm.score_one("so she pays $1,000.00 total", &["... #### 1000"]),
            1.0
        );
        assert_eq!(gsm.score_one("#### 999", &["#### 1000"]), 0.0);
        let race = ExactMatch::strict(
            "exact_match",
            ExactMatchConfig {
                extractor: Extractor::Race,
            },
        );
        assert_eq!(race.score_one("The answer is (b).", &["B"]), 1.0);
        assert_eq!(race.score_one("Answer: C", &["B"]), 0.0);
        // No letter in the prediction: falls back to text equality.
        assert_eq!(race.score_one("Paris", &["Paris"]), 1.0);
    }

    #[test]
    fn metric_mean_and_errors() {
        let em = ExactMatch::strict("exact_match", ExactMatchConfig::default());
        let v = em
            .compute(
                &["a".into(), "b".into()],
                &[vec!["a".into()], vec!["c".into()]],
                &[],
            )
            .expect("scores");
        assert_eq!(v[0].per_example, [1.0, 0.0]);
        assert_eq!(v[0].corpus, 0.5);
        assert!(em.compute(&["a".into()], &[vec![]], &[]).is_err());
    }
}
