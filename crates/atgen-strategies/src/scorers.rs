//! Pluggable external scorers for [`crate::Hadas`] and [`crate::LdCal`].
//! The lead wires real ones (an NLI cross-encoder, UniEval, BERTScore, an LLM
//! judge); tests use hand-made ones. A strategy built without the scorers it
//! needs fails at construction ([`crate::StrategyError::MissingScorer`]).

use atgen_core::{Example, Result};

/// Scores `(document, output)` pairs, e.g. the entailment probability of an
/// NLI cross-encoder, a UniEval overall score, or BERTScore precision.
pub trait PairScorer: Send + Sync {
    /// One score per pair, in order.
    fn score(&self, documents: &[String], outputs: &[String]) -> Result<Vec<f64>>;
}

/// Rates how hard each example is to label / learn (higher = harder), e.g.
/// an LLM asked for a 1-10 difficulty.
pub trait DifficultyJudge: Send + Sync {
    /// One rating per example, in order.
    fn rate(&self, examples: &[Example]) -> Result<Vec<f64>>;
}

impl<F> PairScorer for F
where
    F: Fn(&str, &str) -> f64 + Send + Sync,
{
    fn score(&self, documents: &[String], outputs: &[String]) -> Result<Vec<f64>> {
        Ok(documents
            .iter()
            .zip(outputs)
            .map(|(d, o)| self(d, o))
            .collect())
    }
}
