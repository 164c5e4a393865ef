//! What `run.json` and the per-round files hold.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The steps of one round, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Query,
    Label,
    Train,
    Evaluate,
}

/// `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `running`, `completed`, `stopped` or `failed`.
    pub status: String,
    /// Why the run ended.
    pub stop_reason: Option<String>,
    /// Current round (0 = initial labeled set).
    pub round: usize,
    /// Phases of the current round already completed.
    pub phases_done: Vec<Phase>,
    /// Texts with a label.
    pub n_labeled: usize,
    /// Texts the labeller could not label (removed from the pool, not used for training).
    pub n_unlabeled_returns: usize,
    /// Money spent on labels, including [`RunRecord::lost_cost`].
    pub cost: f64,
    /// Money of labelling calls that returned no label to the run: attempts that may have been
    /// billed (timeouts, broken connections or unreadable answers after the request was sent)
    /// when retries ran out or the budget refused the next try, and the answers a failed call
    /// had received (a resumed run reuses those from the response cache at no cost).
    #[serde(default)]
    pub lost_cost: f64,
    /// Whether the labeller refused a request that could have crossed the budget.
    #[serde(default)]
    pub budget_exhausted: bool,
    /// Latest test metrics.
    pub metrics: BTreeMap<String, f64>,
    /// Wall-clock seconds spent, over all sessions of the run.
    pub elapsed_s: f64,
    /// Failure message of a failed run.
    pub error: Option<String>,
    /// The atgen version that wrote the run.
    pub atgen_version: String,
}

impl Default for RunRecord {
    fn default() -> Self {
        RunRecord {
            status: "running".into(),
            stop_reason: None,
            round: 0,
            phases_done: Vec::new(),
            n_labeled: 0,
            n_unlabeled_returns: 0,
            cost: 0.0,
            lost_cost: 0.0,
            budget_exhausted: false,
            metrics: BTreeMap::new(),
            elapsed_s: 0.0,
            error: None,
            atgen_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// One line of `query.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRow {
    pub id: String,
    pub rank: usize,
    pub score: f64,
}

/// One line of `labeled.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelRow {
    pub id: String,
    pub label: Option<String>,
    pub cost: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `metrics.json` of a round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundMetrics {
    pub round: usize,
    pub n_labeled: usize,
    pub cost: f64,
    pub metrics: BTreeMap<String, f64>,
    pub train: atgen_core::TrainReport,
}
