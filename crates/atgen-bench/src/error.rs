//! Bench errors: each names the cell, file or key at fault.

use std::path::PathBuf;

/// Errors of a benchmark grid, its report or the performance report.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Engine(#[from] atgen_engine::EngineError),
    #[error(transparent)]
    Config(#[from] atgen_config::ConfigError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("plot {file}: {reason}")]
    Plot { file: String, reason: String },
    #[error("bench preset `{name}`: {reason}")]
    Preset { name: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

/// Result alias of the bench crate.
pub type Result<T> = std::result::Result<T, BenchError>;
