//! The core's error type: what a trait implementation may report across crates.

/// Any error from an implementation crate, boxed so the core stays dependency-free.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors that cross the core's traits.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value given by the user or a config is invalid.
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },
    /// A component the configuration needs is not available.
    #[error("missing component `{0}`")]
    MissingComponent(String),
    /// An implementation (model, labeller, metric backend) failed.
    #[error(transparent)]
    Backend(#[from] BoxError),
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Wraps any implementation error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Backend(Box::new(e))
    }
}

/// Result alias for the core's traits.
pub type Result<T> = std::result::Result<T, Error>;
