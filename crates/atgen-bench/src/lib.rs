//! atgen-bench: `atgen bench`, a grid of datasets x strategies x seeds in the
//! simulated AL setup, each cell an ordinary run directory under
//! `<out>/<data>/<strategy>/seed<k>/`.
//!
//! * [`grid`] plans the cells, runs them `jobs` at a time (each in its own
//!   `atgen run` process with its own log), resumes interrupted
//!   ones, never recomputes a finished one, and reports a failing cell without
//!   losing the others.
//! * [`aggregate`] turns cell curves into mean ± std per round, area under the
//!   learning curve and the labels (or money) needed to reach random's final
//!   quality; [`report`] writes `report.md`, and [`plot`] the PNG + SVG plots.
//! * [`presets`] names the paper's setups; [`perf`] writes docs/PERFORMANCE.md.
//!
//! ```text
//! atgen-cli ──► atgen-bench ──► atgen-engine (one AL run per cell)
//!                   └─► plotters (PNG with a bundled font, SVG)
//! ```

pub mod aggregate;
mod error;
pub mod grid;
pub mod perf;
mod perf_atgen;
mod perf_metrics;
mod perf_strategies;
mod perf_submod;
pub mod plot;
pub mod presets;
pub mod report;

pub use aggregate::{aggregate, Aggregate, CurvePoint};
pub use error::{BenchError, Result};
pub use grid::{run_grid, CellRunner, Subprocess};
pub use report::write_report;

use atgen_engine::record::RoundMetrics;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The grid and where it goes.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    pub datasets: Vec<String>,
    pub strategies: Vec<String>,
    pub seeds: Vec<u64>,
    /// Overrides applied to every cell (after the grid's own and the dataset's).
    pub overrides: Vec<String>,
    /// Overrides for the cells of one dataset (a preset's), before `overrides`.
    pub dataset_overrides: BTreeMap<String, Vec<String>>,
    pub out: PathBuf,
    /// Cells run at the same time.
    pub jobs: usize,
}

/// One cell's learning curve.
#[derive(Debug, Clone)]
pub struct CellResult {
    pub data: String,
    pub strategy: String,
    pub seed: u64,
    pub curve: Vec<RoundMetrics>,
}

/// Cells to run at once when not told: one per core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The last non-empty line of a child's output (what to quote when it fails).
pub(crate) fn last_line(text: &str) -> Option<&str> {
    text.lines().rev().find(|l| !l.trim().is_empty())
}
