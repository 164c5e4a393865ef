//! The crate's error type. Every bad input (empty pool, ragged embeddings,
//! a missing scorer) is one of these, never a panic.

/// Errors of strategy construction and selection.
#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    /// A configuration value is out of its domain.
    #[error("invalid parameter `{param}` of strategy `{strategy}`: {reason}")]
    InvalidParam {
        strategy: &'static str,
        param: &'static str,
        reason: String,
    },
    /// The strategy needs model outputs but the loop passed none.
    #[error("strategy `{strategy}` needs model outputs ({what}) but none were given")]
    MissingOutputs {
        strategy: &'static str,
        what: &'static str,
    },
    /// A strategy that needs an external scorer was built without it.
    #[error("strategy `{strategy}` needs a `{scorer}` scorer; pass it to the constructor")]
    MissingScorer {
        strategy: &'static str,
        scorer: &'static str,
    },
    /// Embeddings of one call do not all have the same dimension.
    #[error("embedding {index} has dimension {got}, expected {expected}")]
    DimMismatch {
        index: usize,
        expected: usize,
        got: usize,
    },
    /// An embedding holds NaN or an infinity.
    #[error("embedding {index} holds a non-finite value")]
    NonFinite { index: usize },
    /// A model-output provider or scorer returned the wrong number of items.
    #[error("{what} returned {got} items for {expected} inputs")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// Two unlabeled examples share an id, so ids cannot name a selection.
    #[error("duplicate example id `{0}` in the unlabeled pool")]
    DuplicateId(String),
    /// The model-output provider or a scorer failed.
    #[error(transparent)]
    Core(#[from] atgen_core::Error),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, StrategyError>;

impl From<StrategyError> for atgen_core::Error {
    fn from(e: StrategyError) -> Self {
        match e {
            StrategyError::Core(inner) => inner,
            StrategyError::MissingOutputs { strategy, what } => {
                atgen_core::Error::MissingComponent(format!("{what} for strategy `{strategy}`"))
            }
            StrategyError::MissingScorer { strategy, scorer } => {
                atgen_core::Error::MissingComponent(format!("{scorer} for strategy `{strategy}`"))
            }
            StrategyError::InvalidParam {
                strategy,
                param,
                reason,
            } => atgen_core::Error::invalid(format!("{strategy}.{param}"), reason),
            other => atgen_core::Error::backend(other),
        }
    }
}

/// Shorthand for [`StrategyError::InvalidParam`].
pub(crate) fn invalid(
    strategy: &'static str,
    param: &'static str,
    reason: impl Into<String>,
) -> StrategyError {
    StrategyError::InvalidParam {
        strategy,
        param,
        reason: reason.into(),
    }
}
