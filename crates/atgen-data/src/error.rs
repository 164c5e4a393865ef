//! Structured load errors, and the report of what a load read and skipped.

use std::fmt;
use std::path::PathBuf;

/// Errors of reading a dataset; each names the file, and the line or column at fault.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or directory does not exist.
    #[error("dataset file not found: {}", path.display())]
    MissingFile { path: PathBuf },
    /// Reading failed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A configured column is in no row of the file.
    #[error("column `{column}` not found in {file} (columns: {})", available.join(", "))]
    MissingColumn {
        column: String,
        available: Vec<String>,
        file: String,
    },
    /// A row cannot be parsed, or lacks a column other rows have.
    #[error("{file}:{line}: {message}")]
    Malformed {
        file: String,
        line: usize,
        message: String,
    },
    /// The input (or target) of a row is empty.
    #[error("{file}:{line}: empty text in column `{column}`")]
    EmptyText {
        file: String,
        line: usize,
        column: String,
    },
    /// A line is not valid UTF-8.
    #[error("{file}:{line}: invalid UTF-8")]
    InvalidUtf8 { file: String, line: usize },
    /// Two rows share an id.
    #[error("{file}:{line}: duplicate id `{id}`")]
    DuplicateId {
        file: String,
        line: usize,
        id: String,
    },
    /// The file extension is not one of jsonl/ndjson/json/csv/tsv/parquet.
    #[error("unsupported dataset format: {} (use .jsonl, .json, .csv, .tsv or .parquet)", path.display())]
    UnsupportedFormat { path: PathBuf },
    /// The Parquet reader failed.
    #[error("cannot read Parquet file {file}: {message}")]
    Parquet { file: String, message: String },
    /// A split is not in the dataset.
    #[error("split `{split}` not found in {source_name} (splits found: {})", available.join(", "))]
    MissingSplit {
        split: String,
        available: Vec<String>,
        source_name: String,
    },
    /// A hub dataset is not in the local Hugging Face cache (and may not be downloaded).
    #[error("hub dataset `{repo}` (revision `{revision}`) is not in the Hugging Face cache at {}{}", cache.display(), if *offline { " and HF_HUB_OFFLINE is set (unset it to download)" } else { "" })]
    HubNotCached {
        repo: String,
        revision: String,
        cache: PathBuf,
        offline: bool,
    },
    /// The hub has no such dataset (or it is private and no token was given).
    #[error("hub dataset `{repo}` not found at {endpoint}{}", if *authenticated { "" } else { " (a private dataset needs HF_TOKEN)" })]
    HubRepoNotFound {
        repo: String,
        endpoint: String,
        authenticated: bool,
    },
    /// The dataset exists but the revision does not.
    #[error("hub dataset `{repo}` has no revision `{revision}` (set data.revision to a branch, tag or commit)")]
    HubRevisionNotFound { repo: String, revision: String },
    /// The dataset is gated or private and the token is missing or lacks access.
    #[error("hub dataset `{repo}` is gated or private (HTTP {status}): {}", if *authenticated { "the token in HF_TOKEN has no access; accept the dataset's conditions on its hub page with that account" } else { "accept its conditions on its hub page and set HF_TOKEN (or run `huggingface-cli login`)" })]
    HubAccess {
        repo: String,
        status: u16,
        authenticated: bool,
    },
    /// The revision has no data files and no Parquet conversion.
    #[error("hub dataset `{repo}` (revision `{revision}`) has no data files (.parquet, .jsonl, .json, .csv, .tsv) and no Parquet conversion at refs/convert/parquet")]
    HubNoDataFiles { repo: String, revision: String },
    /// Talking to the hub failed (after retries where retrying makes sense).
    #[error("hub request {url} failed: {message}")]
    HubHttp { url: String, message: String },
    /// A downloaded file could not be stored or did not match its checksum or size.
    #[error("downloading `{file}` of hub dataset `{repo}`: {message}")]
    HubDownload {
        repo: String,
        file: String,
        message: String,
    },
    /// The hub snapshot has several configurations and none was chosen.
    #[error("hub dataset `{repo}` has several configurations ({}); choose one with `data.hub_config=...`", configs.join(", "))]
    HubConfigAmbiguous { repo: String, configs: Vec<String> },
    /// `bundled:<name>` names no bundled dataset.
    #[error("no bundled dataset `{name}` (bundled: {})", available.join(", "))]
    UnknownBundled {
        name: String,
        available: Vec<String>,
    },
    /// The prompt template is malformed or names a column the data lacks.
    #[error("prompt template: {message}")]
    Template { message: String },
    /// A configuration value is unusable.
    #[error("invalid data config `{key}`: {reason}")]
    Config { key: String, reason: String },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, DataError>;

impl DataError {
    /// The line (1-based; the row number for Parquet, the element for a JSON array) of a
    /// row-level error, which `skip_bad_rows` may skip.
    pub fn row_line(&self) -> Option<usize> {
        match self {
            DataError::Malformed { line, .. }
            | DataError::EmptyText { line, .. }
            | DataError::InvalidUtf8 { line, .. }
            | DataError::DuplicateId { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// A row left out because `skip_bad_rows` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRow {
    /// 1-based line (or row) number.
    pub line: usize,
    /// Why it was skipped (the error it would have raised).
    pub reason: String,
}

/// What one file contributed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileReport {
    /// File name (or `bundled:<name>/<file>`).
    pub file: String,
    /// Split it was read for.
    pub split: String,
    /// Rows read (including skipped ones).
    pub rows: usize,
    /// Examples produced.
    pub examples: usize,
    /// Rows skipped.
    pub skipped: Vec<SkippedRow>,
}

/// What a dataset load read, kept, and skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// One entry per file read.
    pub files: Vec<FileReport>,
    /// Whether the test split was held out of the train split.
    pub held_out_test: bool,
    /// Pool size after subsetting and few-shot removal.
    pub train_examples: usize,
    /// Test size after subsetting.
    pub test_examples: usize,
}

impl LoadReport {
    /// Rows skipped over all files.
    pub fn skipped_total(&self) -> usize {
        self.files.iter().map(|f| f.skipped.len()).sum()
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} train / {} test examples",
            self.train_examples, self.test_examples
        )?;
        if self.held_out_test {
            write!(f, " (test held out of train)")?;
        }
        let skipped = self.skipped_total();
        if skipped > 0 {
            write!(f, "; {skipped} bad rows skipped")?;
            for file in self.files.iter().filter(|r| !r.skipped.is_empty()) {
                let first = &file.skipped[0];
                write!(
                    f,
                    "; {}: {} (first at line {}: {})",
                    file.file,
                    file.skipped.len(),
                    first.line,
                    first.reason
                )?;
            }
        }
        Ok(())
    }
}
