//! atgen-engine: the active-learning loop behind `atgen run`.
//!
//! It builds everything a run needs from a resolved [`atgen_config::Config`]
//! (dataset, acquisition model, strategy, labeller, metrics), checks it before
//! anything is spent, then drives rounds of query → label → train → evaluate,
//! writing the run directory as it goes (see [`run_dir`]) and stopping by the
//! configured criteria (see [`stop`]).

pub mod embedding_cache;
mod error;
pub mod estimate;
pub mod evaluate;
pub mod labeller;
pub mod local_model;
pub mod outputs;
pub mod prompting;
pub mod record;
pub mod remote;
pub mod run;
pub mod run_dir;
pub mod scorers;
pub mod stop;

pub use error::{EngineError, Result};
pub use record::{Phase, RunRecord};
pub use run::{
    resume, run, HumanLabellerFactory, Observer, RunEvent, RunOptions, RunSummary,
    MODEL_DRAFT_FIELD,
};

/// Peak resident memory of this process so far (Linux `VmHWM`), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = fs_err::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
