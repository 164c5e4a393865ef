//! Errors of the model engine, each naming the file, tensor or input at fault.

use std::path::PathBuf;

/// Model engine errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed.
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
    /// Reading or writing a file failed (the message names the path).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A JSON file could not be parsed.
    #[error("invalid JSON in {path}: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// A required file is missing from a model directory.
    #[error("missing file {path}{hint}")]
    MissingFile { path: PathBuf, hint: String },
    /// `config.json` names an architecture we do not implement.
    #[error("unsupported architecture `{found}` in {path} (supported: {supported})")]
    UnsupportedArchitecture {
        found: String,
        path: PathBuf,
        supported: String,
    },
    /// A config value is invalid.
    #[error("invalid config value `{key}`: {reason}")]
    Config { key: String, reason: String },
    /// The device a model should run on cannot be opened (`what` names the option).
    #[error("{what} `{name}`: {reason}")]
    Device {
        what: String,
        name: String,
        reason: String,
    },
    /// A tensor is missing or has the wrong shape in a checkpoint.
    #[error("tensor `{name}` in {path}: {reason}")]
    Tensor {
        name: String,
        path: PathBuf,
        reason: String,
    },
    /// A safetensors file could not be read.
    #[error("corrupt safetensors file {path}: {reason}")]
    Safetensors { path: PathBuf, reason: String },
    /// The tokenizer failed or could not be loaded.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The chat template failed to render.
    #[error("chat template: {0}")]
    Template(String),
    /// An input is longer than the model's context.
    #[error("input {index} has {tokens} tokens, more than the model's context of {max}")]
    TooLong {
        index: usize,
        tokens: usize,
        max: usize,
    },
    /// A user-given input line is invalid.
    #[error("{path}:{line}: {reason}")]
    Input {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A hub id could not be resolved.
    #[error("cannot resolve model `{id}`: {reason}")]
    Hub { id: String, reason: String },
    /// Any other invalid argument.
    #[error("{0}")]
    Invalid(String),
}

/// Result alias of the model engine.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps a tokenizers error.
    pub fn tokenizer(e: impl std::fmt::Display) -> Self {
        Error::Tokenizer(e.to_string())
    }
}

impl From<Error> for atgen_core::Error {
    fn from(e: Error) -> Self {
        atgen_core::Error::backend(e)
    }
}
