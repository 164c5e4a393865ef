//! The crate's error type, and how each error becomes an HTTP response.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Everything that can go wrong serving a request or managing a run.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// SQLite failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// No such run, item, upload or file.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request is malformed or fails validation; `field` names the input at fault.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Missing or wrong CSRF token.
    #[error("forbidden: missing or wrong CSRF token (reload the page)")]
    Csrf,
    /// Not signed in where an access token is required.
    #[error("unauthorized: sign in with the access token")]
    Unauthorized,
    /// The action does not fit the current state (e.g. undoing a label the model already has).
    #[error("{0}")]
    Conflict(String),
    /// The engine failed.
    #[error("engine: {0}")]
    Engine(#[from] atgen_engine::EngineError),
    /// The configuration is invalid.
    #[error("config: {0}")]
    Config(#[from] atgen_config::ConfigError),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, WebError>;

impl WebError {
    /// Shorthand for [`WebError::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        WebError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Invalid { .. } | WebError::Config(_) => StatusCode::BAD_REQUEST,
            WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::Unauthorized => StatusCode::UNAUTHORIZED,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            eprintln!("atgen serve: {self}");
        }
        // Plain text: never HTML, so nothing in the message can render as markup.
        (status, self.to_string()).into_response()
    }
}
