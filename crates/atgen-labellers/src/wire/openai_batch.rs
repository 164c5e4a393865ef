//! OpenAI Batch API: `POST /v1/files` (multipart, `purpose=batch`),
//! `POST /v1/batches`, `GET /v1/batches/{id}`, `GET /v1/files/{id}/content`.
//!
//! Reference: <https://platform.openai.com/docs/api-reference/batch>.

use super::openai::{ChatCompletionRequest, ChatCompletionResponse};
use serde::{Deserialize, Serialize};

/// Upload endpoint, relative to the `/v1` base.
pub const FILES_PATH: &str = "/files";
/// Batch endpoint, relative to the `/v1` base.
pub const BATCHES_PATH: &str = "/batches";
/// The only completion window the API offers.
pub const COMPLETION_WINDOW: &str = "24h";

/// One line of the uploaded input file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputLine {
    pub custom_id: String,
    /// Always `POST`.
    pub method: String,
    /// `/v1/chat/completions`.
    pub url: String,
    pub body: ChatCompletionRequest,
}

/// A file object (`object: "file"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileObject {
    pub id: String,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub bytes: u64,
    #[serde(default)]
    pub filename: String,
    #[serde(default)]
    pub purpose: String,
}

/// `POST /v1/batches` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateBatch {
    pub input_file_id: String,
    pub endpoint: String,
    pub completion_window: String,
}

/// A batch object (`object: "batch"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub id: String,
    #[serde(default)]
    pub object: String,
    pub status: BatchStatus,
    #[serde(default)]
    pub output_file_id: Option<String>,
    #[serde(default)]
    pub error_file_id: Option<String>,
    #[serde(default)]
    pub request_counts: Option<RequestCounts>,
}

/// The lifecycle of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    Validating,
    InProgress,
    Finalizing,
    Cancelling,
    /// Terminal: every request ran (some may have failed).
    Completed,
    /// Terminal: the input failed validation.
    Failed,
    /// Terminal: not done in 24 h; finished requests are still in the output file.
    Expired,
    /// Terminal.
    Cancelled,
}

impl BatchStatus {
    /// Whether the batch will change no more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            BatchStatus::Completed
                | BatchStatus::Failed
                | BatchStatus::Expired
                | BatchStatus::Cancelled
        )
    }
}

/// Counts of a batch's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RequestCounts {
    pub total: u64,
    pub completed: u64,
    pub failed: u64,
}

/// One line of the output or error file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputLine {
    #[serde(default)]
    pub id: String,
    pub custom_id: String,
    #[serde(default)]
    pub response: Option<OutputResponse>,
    #[serde(default)]
    pub error: Option<OutputError>,
}

/// The HTTP response of one request of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputResponse {
    pub status_code: u16,
    #[serde(default)]
    pub request_id: String,
    /// A chat completion when `status_code` is 200, an error body otherwise.
    pub body: serde_json::Value,
}

impl OutputResponse {
    /// The chat completion of a 200 response.
    pub fn completion(&self) -> Option<ChatCompletionResponse> {
        (self.status_code == 200)
            .then(|| serde_json::from_value(self.body.clone()).ok())
            .flatten()
    }
}

/// Why a request of a batch did not run (`batch_expired`, `batch_cancelled`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}
