//! The traits the loop drives. Implementations live in the crates above the core.

use crate::{
    Example, ExampleId, Generation, GenerationParams, Result, ScoredId, TargetScore, TrainExample,
    TrainReport,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Produces generations with per-token scores for a batch of prompts.
pub trait Generator {
    /// One `Vec` per prompt, holding `params.num_samples` generations.
    fn generate(
        &mut self,
        prompts: &[String],
        params: &GenerationParams,
    ) -> Result<Vec<Vec<Generation>>>;
}

/// Scores given targets under teacher forcing.
pub trait Scorer {
    /// Per-token log-probs of each `(prompt, target)` pair's target.
    fn score(&mut self, pairs: &[(String, String)]) -> Result<Vec<TargetScore>>;
}

/// Maps texts to fixed-size vectors.
pub trait Embedder {
    /// One vector per text, all of the same dimension.
    fn embed(&mut self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
}

/// Fine-tunes the acquisition model on labeled examples.
pub trait Trainer {
    /// Trains on `train`, early-stopping on `dev` when given.
    fn fit(&mut self, train: &[TrainExample], dev: Option<&[TrainExample]>) -> Result<TrainReport>;
}

/// Model outputs a strategy may ask for; the loop serves them from one
/// per-iteration cache, so two strategies (or one hybrid) never compute twice.
pub trait ModelOutputs {
    /// `num_samples` generations for each example (greedy when 1, sampled otherwise).
    fn generations(
        &mut self,
        examples: &[Example],
        num_samples: usize,
    ) -> Result<Vec<Vec<Generation>>>;
    /// Sentence embeddings of each example's input.
    fn embeddings(&mut self, examples: &[Example]) -> Result<Vec<Vec<f32>>>;
}

/// What a strategy sees when it selects.
pub struct SelectionContext<'a> {
    /// Texts that may be selected.
    pub unlabeled: &'a [Example],
    /// Texts labeled so far.
    pub labeled: &'a [Example],
    /// Iteration number (0 = initial selection).
    pub iteration: usize,
    /// Seed for any randomness in the strategy.
    pub seed: u64,
    /// Model outputs; `None` before any model exists (experimental design).
    pub outputs: Option<&'a mut dyn ModelOutputs>,
}

/// A query strategy: decides which unlabeled texts are worth a label.
pub trait Strategy {
    /// Name used in configs and reports.
    fn name(&self) -> &str;
    /// `false` for experimental-design strategies that select without a trained model.
    fn needs_model(&self) -> bool;
    /// Up to `k` ids from `ctx.unlabeled`, best first.
    fn select(&mut self, ctx: &mut SelectionContext<'_>, k: usize) -> Result<Vec<ScoredId>>;
}

/// The outcome of asking a labeller for one example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelOutcome {
    /// The example labeled.
    pub id: ExampleId,
    /// The label, or `None` when the labeller could not label it.
    pub label: Option<String>,
    /// Money spent on this label (0 for people and golden labels).
    pub cost: f64,
    /// Why there is no label, or other remarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Annotates texts: a person, an LLM, or the gold references.
pub trait Labeller {
    /// Labels each example of `batch`, in order.
    fn label(&mut self, batch: &[Example]) -> Result<Vec<LabelOutcome>>;

    /// Money spent since the last call that no returned outcome carries: attempts that may
    /// have been billed when [`Labeller::label`] failed (retries ran out). The loop adds it to
    /// the run's cost, so a budget counts it too.
    fn take_unreported_cost(&mut self) -> f64 {
        0.0
    }
}

/// One metric's corpus score and per-example scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    /// Name, e.g. `rouge1` or `exact_match`.
    pub name: String,
    /// Corpus-level aggregate.
    pub corpus: f64,
    /// One score per example (empty for corpus-only metrics such as corpus BLEU).
    pub per_example: Vec<f64>,
    /// Whether a larger value is better.
    pub higher_is_better: bool,
}

/// What a metric reports beside its numbers about its latest `compute`
/// (an LLM judge's reasons, replies and parse failures).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricDetails {
    /// Corpus-level facts (counts, money), by name.
    pub corpus: BTreeMap<String, f64>,
    /// Per example (empty or one per prediction): text fields by name.
    pub per_example: Vec<BTreeMap<String, String>>,
}

/// An evaluation metric over predictions and (possibly several) references.
pub trait Metric {
    /// Name used in configs.
    fn name(&self) -> &str;
    /// Scores `predictions[i]` against `references[i]` (and `sources[i]` when the metric needs it).
    fn compute(
        &self,
        predictions: &[String],
        references: &[Vec<String>],
        sources: &[String],
    ) -> Result<Vec<MetricValue>>;
    /// Details of the latest [`Metric::compute`], taken (a second call returns `None`).
    fn take_details(&self) -> Option<MetricDetails> {
        None
    }
}

/// What a stop criterion sees after each iteration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Iterations completed.
    pub iteration: usize,
    /// Labeled texts so far.
    pub n_labeled: usize,
    /// Money spent so far.
    pub cost: f64,
    /// Latest corpus metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Unlabeled texts left.
    pub pool_left: usize,
}

/// Continue, or stop with a reason that is recorded in the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopDecision {
    /// Keep going.
    Continue,
    /// Stop, for the given reason.
    Stop(String),
}

/// Decides when the loop ends.
pub trait StopCriterion {
    /// Checked after each completed iteration.
    fn check(&self, state: &LoopState) -> StopDecision;
}
