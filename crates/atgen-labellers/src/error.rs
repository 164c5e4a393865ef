//! Labeller errors. None of them ever holds an API key: messages that come
//! back from a server are passed through [`crate::http::redact`] first.

use std::path::PathBuf;

/// Errors of the API labellers.
#[derive(Debug, thiserror::Error)]
pub enum LabellerError {
    /// A `labeller.parameters` value is missing or wrong.
    #[error("labeller.parameters.{key}: {reason}")]
    InvalidParameter { key: String, reason: String },
    /// No key in `labeller.api_key` nor in the provider's environment variable.
    #[error("no API key for provider `{provider}`: set labeller.api_key or the {env} environment variable")]
    MissingApiKey {
        provider: &'static str,
        env: &'static str,
    },
    /// The server refused the request in a way retrying cannot fix (401, 403, 404, ...).
    #[error("{provider} {url}: HTTP {status}: {message}")]
    Http {
        provider: &'static str,
        url: String,
        status: u16,
        message: String,
    },
    /// Every attempt failed with a retryable error; `lost` is the money counted for attempts
    /// that may have been billed (worst case each), which the run's cost and budget include.
    #[error("{provider} {url}: gave up after {attempts} attempts; last error: {last}{}", if *lost > 0.0 { format!("; {lost:.6} counted as spent for attempts that may have been billed") } else { String::new() })]
    RetriesExhausted {
        provider: &'static str,
        url: String,
        attempts: u32,
        last: String,
        lost: f64,
    },
    /// A batch failed as a whole, or did not end in time.
    #[error("{provider} batch {id}: {reason}")]
    Batch {
        provider: &'static str,
        id: String,
        reason: String,
    },
    /// The SQLite response cache failed.
    #[error("response cache {}: {source}", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// A broken invariant inside the labeller (a bug to report).
    #[error("internal error: {what}")]
    Internal { what: String },
    /// Building a prompt for an example failed.
    #[error("prompt of example `{id}`: {reason}")]
    Prompt { id: String, reason: String },
}

impl LabellerError {
    /// Shorthand for [`LabellerError::InvalidParameter`].
    pub fn parameter(key: impl Into<String>, reason: impl Into<String>) -> Self {
        LabellerError::InvalidParameter {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl From<LabellerError> for atgen_core::Error {
    fn from(e: LabellerError) -> Self {
        atgen_core::Error::backend(e)
    }
}

/// Result alias of the labellers.
pub type Result<T> = std::result::Result<T, LabellerError>;
