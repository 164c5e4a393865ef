//! Engine errors: each names the component, file or key at fault.

use std::path::PathBuf;

/// Errors of an active-learning run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Config(#[from] atgen_config::ConfigError),
    #[error(transparent)]
    Data(#[from] atgen_data::DataError),
    #[error(transparent)]
    Model(#[from] atgen_models::Error),
    #[error(transparent)]
    Strategy(#[from] atgen_strategies::StrategyError),
    #[error(transparent)]
    Metrics(#[from] atgen_metrics::MetricsError),
    #[error(transparent)]
    Core(#[from] atgen_core::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{path}: {reason}")]
    RunDir { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
}

/// Result alias of the engine.
pub type Result<T> = std::result::Result<T, EngineError>;
