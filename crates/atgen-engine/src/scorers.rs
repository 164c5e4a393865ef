//! Real scorers for HADAS and LD-CAL, built from `al.scorers`:
//!
//! * `nli`: a BERT, RoBERTa or DeBERTa-v2/v3 sequence classifier (NLI cross-encoder such as
//!   roberta-large-mnli) in HF layout; the score of `(document, output)` is the
//!   probability of `label` (default `entailment`, matched ignoring case) with
//!   the document as premise.
//! * `alignscore`: AlignScore of the output against the document (a converted
//!   alignment model, see atgen-metrics' `alignscore`).
//! * `llm_judge`: an LLM judge through an API (atgen-metrics' `judge`, same
//!   keys as the `llm_judge` metric): for pair roles a criterion such as
//!   `faithfulness`, its score rescaled to [0, 1]; for `difficulty` the
//!   criterion `difficulty`, its rating as given (e.g. `max_score: 10`). A
//!   reply without a readable score gets the mean of the batch's readable ones
//!   (neutral for selection) and is reported on stderr; a batch with no
//!   readable score is an error.
//! * `bertscore`: BERTScore precision of the output against the document (how
//!   much of the output the document supports).
//! * `model_judge` (difficulty): the base model is asked to rate each input's
//!   difficulty from 1 to 10; the rating is the expectation over the ten
//!   answers' probabilities (G-Eval style), so any model gives a number.
//!
//! A role a strategy needs but the config lacks is an error when the strategy
//! is built; an unknown role or type is an error here.

use crate::{EngineError, Result};
use atgen_config::Spec;
use atgen_core::{Example, Metric};
use atgen_metrics::alignscore::AlignScore;
use atgen_metrics::bertscore::{BertScore, BertScoreConfig};
use atgen_metrics::judge::{Criterion, Judge, JudgeConfig, Verdict};
use atgen_metrics::MetricConfig;
use atgen_models::bert::BertClassifier;
use atgen_models::CausalLm;
use atgen_strategies::{DifficultyJudge, PairScorer, Scorers};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

struct NliScorer {
    model: BertClassifier,
    label: usize,
}

impl PairScorer for NliScorer {
    fn score(&self, documents: &[String], outputs: &[String]) -> atgen_core::Result<Vec<f64>> {
        let probs = self.model.predict_pairs(documents, outputs, 16)?;
        Ok(probs.iter().map(|p| p[self.label] as f64).collect())
    }
}

struct BertScorePrecision(BertScore);

impl PairScorer for BertScorePrecision {
    fn score(&self, documents: &[String], outputs: &[String]) -> atgen_core::Result<Vec<f64>> {
        let refs: Vec<Vec<String>> = documents.iter().map(|d| vec![d.clone()]).collect();
        let values = self.0.compute(outputs, &refs, &[])?;
        Ok(values
            .into_iter()
            .find(|v| v.name == "bertscore_precision")
            .map(|v| v.per_example)
            .unwrap_or_default())
    }
}

struct AlignScorer(AlignScore);

impl PairScorer for AlignScorer {
    fn score(&self, documents: &[String], outputs: &[String]) -> atgen_core::Result<Vec<f64>> {
        Ok(self.0.score_pairs(documents, outputs)?)
    }
}

/// Scores of `verdicts`, failures replaced by the mean of the readable ones.
fn judged_scores(verdicts: &[Verdict], what: &str) -> atgen_core::Result<Vec<f64>> {
    let ok: Vec<f64> = verdicts.iter().filter_map(|v| v.score).collect();
    if ok.is_empty() && !verdicts.is_empty() {
        let why = verdicts
            .iter()
            .find_map(|v| v.error.clone())
            .unwrap_or_default();
        return Err(atgen_core::Error::Invalid {
            what: what.to_string(),
            reason: format!(
                "the judge gave no readable score for any of {} texts (first: {why})",
                verdicts.len()
            ),
        });
    }
    let fill = ok.iter().sum::<f64>() / ok.len().max(1) as f64;
    let failed = verdicts.len() - ok.len();
    if failed > 0 {
        eprintln!(
            "{what}: {failed} of {} judge replies had no readable score; they count as the mean ({fill:.3})",
            verdicts.len()
        );
    }
    Ok(verdicts.iter().map(|v| v.score.unwrap_or(fill)).collect())
}

/// An LLM judge of `(document, output)` pairs, rescaled to [0, 1].
struct JudgePairScorer {
    judge: Judge,
    role: String,
}

impl PairScorer for JudgePairScorer {
    fn score(&self, documents: &[String], outputs: &[String]) -> atgen_core::Result<Vec<f64>> {
        let verdicts = self.judge.grade(documents, outputs, &[])?;
        let (lo, hi) = self.judge.range();
        Ok(judged_scores(&verdicts, &self.role)?
            .into_iter()
            .map(|s| (s - lo as f64) / (hi - lo) as f64)
            .collect())
    }
}

/// An LLM judge rating each input's difficulty.
struct JudgeDifficulty(Judge);

impl DifficultyJudge for JudgeDifficulty {
    fn rate(&self, examples: &[Example]) -> atgen_core::Result<Vec<f64>> {
        let inputs: Vec<String> = examples.iter().map(|e| e.input.clone()).collect();
        let verdicts = self.0.grade(&inputs, &inputs, &[])?;
        judged_scores(&verdicts, "al.scorers.difficulty")
    }
}

/// Rates difficulty with a causal LM: E[rating] under its next-token distribution over "1".."10".
pub struct ModelJudge {
    lm: CausalLm,
    ratings: Vec<(f64, u32)>,
}

impl ModelJudge {
    /// A judge over `lm`; ratings are the tokens of " 1" .. " 10" (first token of each).
    pub fn new(lm: CausalLm) -> Result<Self> {
        let mut ratings = Vec::new();
        for r in 1..=10u32 {
            let ids = lm.tokenizer.encode(&format!(" {r}"), false)?;
            let id = *ids.first().ok_or_else(|| {
                EngineError::Invalid(format!("the tokenizer cannot encode the rating {r}"))
            })?;
            if !ratings.iter().any(|(_, t)| *t == id) {
                ratings.push((r as f64, id));
            }
        }
        Ok(ModelJudge { lm, ratings })
    }

    fn prompt(ex: &Example) -> String {
        format!(
            "Rate how difficult it is to produce the correct output for the following input, \
             from 1 (trivial) to 10 (very hard).\n\nInput:\n{}\n\nDifficulty (1-10):",
            ex.input
        )
    }
}

impl DifficultyJudge for ModelJudge {
    fn rate(&self, examples: &[Example]) -> atgen_core::Result<Vec<f64>> {
        let max = self.lm.max_context().saturating_sub(4);
        examples
            .iter()
            .map(|ex| {
                let mut ids = self.lm.encode(&Self::prompt(ex))?;
                if ids.len() > max {
                    ids.drain(..ids.len() - max);
                }
                // Log-prob of each rating token as the next token after the prompt.
                let lps = self.lm.next_token_logprobs(&ids)?;
                let probs: Vec<(f64, f64)> = self
                    .ratings
                    .iter()
                    .map(|&(r, t)| (r, (lps[t as usize] as f64).exp()))
                    .collect();
                let mass: f64 = probs.iter().map(|p| p.1).sum();
                Ok(probs.iter().map(|(r, p)| r * p).sum::<f64>() / mass.max(f64::MIN_POSITIVE))
            })
            .collect()
    }
}

/// Builds the scorers named in `al.scorers`; `base` is the untrained acquisition model.
pub fn build_scorers(
    specs: &BTreeMap<String, Spec>,
    base_dir: &Path,
    base: &CausalLm,
) -> Result<Scorers> {
    let mut scorers = Scorers::default();
    for (role, spec) in specs {
        let key = format!("al.scorers.{role}");
        let param = |name: &str| {
            spec.params
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let pair: Option<Arc<dyn PairScorer>> = match spec.kind.as_str() {
            "nli" => {
                let dir = base_dir.join(
                    param("model")
                        .ok_or_else(|| EngineError::Invalid(format!("{key}.model is required")))?,
                );
                let model = BertClassifier::load(&dir, base.device())?;
                let want = param("label").unwrap_or_else(|| "entailment".into());
                let label = model
                    .labels()
                    .iter()
                    .position(|l| l.eq_ignore_ascii_case(&want))
                    .ok_or_else(|| {
                        EngineError::Invalid(format!(
                            "{key}.label: `{want}` is not a label of {} ({:?})",
                            dir.display(),
                            model.labels()
                        ))
                    })?;
                Some(Arc::new(NliScorer { model, label }))
            }
            "bertscore" => {
                let mut cfg: BertScoreConfig = match spec.deserialize_into::<MetricConfig>() {
                    Ok(MetricConfig::Bertscore(c)) => c,
                    Ok(_) => {
                        return Err(EngineError::Invalid(format!(
                            "{key}: expected a bertscore spec"
                        )))
                    }
                    Err(e) => return Err(EngineError::Invalid(format!("{key}: {e}"))),
                };
                cfg.model = base_dir.join(&cfg.model);
                Some(Arc::new(BertScorePrecision(BertScore::new(cfg)?)))
            }
            "alignscore" => match spec.deserialize_into::<MetricConfig>() {
                Ok(MetricConfig::Alignscore(mut c)) => {
                    c.model = base_dir.join(&c.model);
                    Some(Arc::new(AlignScorer(AlignScore::new(c)?)))
                }
                Ok(_) => return Err(EngineError::Invalid(format!("{key}: expected an alignscore spec"))),
                Err(e) => return Err(EngineError::Invalid(format!("{key}: {e}"))),
            },
            "llm_judge" => {
                let cfg: JudgeConfig = match spec.deserialize_into::<MetricConfig>() {
                    Ok(MetricConfig::LlmJudge(c)) => c,
                    Ok(_) => return Err(EngineError::Invalid(format!("{key}: expected an llm_judge spec"))),
                    Err(e) => return Err(EngineError::Invalid(format!("{key}: {e}"))),
                };
                let is_difficulty = cfg.criterion == Criterion::Difficulty;
                if is_difficulty != (role == "difficulty") {
                    return Err(EngineError::Invalid(format!(
                        "{key}.criterion: `difficulty` is for the difficulty role only, and that role needs it"
                    )));
                }
                let judge = Judge::new(cfg, |k| std::env::var(k).ok(), None)
                    .map_err(|e| EngineError::Invalid(format!("{key}: {e}")))?;
                if is_difficulty {
                    scorers.difficulty = Some(Arc::new(JudgeDifficulty(judge)));
                    continue;
                }
                Some(Arc::new(JudgePairScorer {
                    judge,
                    role: key.clone(),
                }))
            }
            "model_judge" => None,
            other => {
                return Err(EngineError::Invalid(format!(
                    "{key}.type: unknown `{other}` (nli, bertscore, alignscore, llm_judge, model_judge)"
                )))
            }
        };
        match (role.as_str(), pair) {
            ("entailment", Some(p)) => scorers.entailment = Some(p),
            ("discourse", Some(p)) => scorers.discourse = Some(p),
            ("verifiability", Some(p)) => scorers.verifiability = Some(p),
            ("difficulty", None) => scorers.difficulty = Some(Arc::new(ModelJudge::new(base.clone())?)),
            ("entailment" | "discourse" | "verifiability", None) => {
                return Err(EngineError::Invalid(format!("{key}: a pair scorer (nli, bertscore, alignscore or llm_judge) is needed")))
            }
            ("difficulty", Some(_)) => return Err(EngineError::Invalid(format!("{key}: the difficulty judge is `model_judge` or `llm_judge`"))),
            (other, _) => {
                return Err(EngineError::Invalid(format!(
                    "al.scorers: unknown role `{other}` (entailment, discourse, verifiability, difficulty)"
                )))
            }
        }
    }
    Ok(scorers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(score: Option<f64>) -> Verdict {
        Verdict {
            score,
            reason: None,
            error: score
                .is_none()
                .then(|| "malformed judge reply: no score".to_string()),
            reply: None,
            cost: 0.0,
            stated: None,
            distribution: None,
        }
    }

    #[test]
    fn unreadable_verdicts_count_as_the_batch_mean_and_all_unreadable_is_an_error() {
        let v = [verdict(Some(2.0)), verdict(None), verdict(Some(4.0))];
        assert_eq!(judged_scores(&v, "role").ok(), Some(vec![2.0, 3.0, 4.0]));
        let e = judged_scores(&[verdict(None), verdict(None)], "al.scorers.verifiability")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("al.scorers.verifiability") && e.contains("no readable score"),
            "{e}"
        );
        assert_eq!(judged_scores(&[], "role").ok(), Some(vec![]));
    }
}
