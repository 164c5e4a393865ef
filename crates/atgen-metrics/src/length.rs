//! Length statistics: how long predictions are, in words, and how that
//! compares with the source text.
//!
//! * `length`: words (Python `str.split()`) per prediction; corpus = mean.
//! * `length_ratio`: prediction words / source words per example (a source of
//!   no word counts as one word, so the ratio stays finite); corpus = mean of
//!   the ratios. Reported only when sources are given.
//!
//! These are descriptive, not quality scores: `higher_is_better` is `false`
//! for both, which only means "do not maximise this".

use crate::error::{check_lengths, Result};
use crate::mean;
use crate::pytext::py_split;
use atgen_core::{Metric, MetricValue};
use serde::{Deserialize, Serialize};

/// Settings of the length statistics (none yet; kept for the config enum).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LengthConfig {}

/// Word counts of predictions and their ratio to the sources.
#[derive(Debug, Clone, Default)]
pub struct Length;

fn words(s: &str) -> usize {
    py_split(s).count()
}

impl Length {
    fn scores(
        &self,
        predictions: &[String],
        references: &[Vec<String>],
        sources: &[String],
    ) -> Result<Vec<MetricValue>> {
        let sources = (!sources.is_empty()).then_some(sources);
        check_lengths(predictions, references, sources)?;
        let lens: Vec<f64> = predictions.iter().map(|p| words(p) as f64).collect();
        let mut out = vec![MetricValue {
            name: "length".into(),
            corpus: mean(&lens),
            per_example: lens.clone(),
            higher_is_better: false,
        }];
        if let Some(sources) = sources {
            let ratios: Vec<f64> = lens
                .iter()
                .zip(sources)
                .map(|(&l, s)| l / words(s).max(1) as f64)
                .collect();
            out.push(MetricValue {
                name: "length_ratio".into(),
                corpus: mean(&ratios),
                per_example: ratios,
                higher_is_better: false,
            });
        }
        Ok(out)
    }
}

impl Metric for Length {
    fn name(&self) -> &str {
        "length"
    }

    /// `references` may be empty lists (lengths need none), but must be one per prediction.
    fn compute(
        &self,
        predictions: &[String],
        references: &[Vec<String>],
        sources: &[String],
    ) -> atgen_core::Result<Vec<MetricValue>> {
        Ok(self.scores(predictions, references, sources)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_ratios() {
        let v = Length
            .compute(
                &["one two three".into(), "".into()],
                &[vec![], vec![]],
                &["a b c d e f".into(), "".into()],
            )
            .expect("scores");
        assert_eq!(v[0].per_example, [3.0, 0.0]);
        assert_eq!(v[0].corpus, 1.5);
        assert_eq!(v[1].name, "length_ratio");
        assert_eq!(v[1].per_example, [0.5, 0.0]);
    }

    #[test]
    fn no_sources_no_ratio_and_mismatch_is_an_error() {
        let v = Length
            .compute(&["x".into()], &[vec![]], &[])
            .expect("scores");
        assert_eq!(v.len(), 1);
        assert!(Length
            .compute(&["x".into()], &[vec![]], &["a".into(), "b".into()])
            .is_err());
    }
}
