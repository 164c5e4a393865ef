//! Anthropic Message Batches: `POST /v1/messages/batches`,
//! `GET /v1/messages/batches/{id}`, and the JSONL at `results_url`.
//!
//! Reference: <https://docs.anthropic.com/en/api/creating-message-batches>.

use super::anthropic::{ErrorResponse, MessagesRequest, MessagesResponse};
use serde::{Deserialize, Serialize};

/// Batch endpoint, relative to the `/v1` base.
pub const BATCHES_PATH: &str = "/messages/batches";

/// `POST /v1/messages/batches` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateBatch {
    pub requests: Vec<BatchRequest>,
}

/// One request of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRequest {
    pub custom_id: String,
    pub params: MessagesRequest,
}

/// A batch object (`type: "message_batch"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageBatch {
    pub id: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    /// `in_progress`, `canceling` or `ended`.
    pub processing_status: ProcessingStatus,
    #[serde(default)]
    pub request_counts: RequestCounts,
    /// Where the results are, once `processing_status` is `ended`.
    #[serde(default)]
    pub results_url: Option<String>,
}

/// The lifecycle of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessingStatus {
    InProgress,
    Canceling,
    /// Terminal.
    Ended,
}

/// Counts of a batch's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RequestCounts {
    pub processing: u64,
    pub succeeded: u64,
    pub errored: u64,
    pub canceled: u64,
    pub expired: u64,
}

/// One line of the results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultLine {
    pub custom_id: String,
    pub result: BatchResult,
}

/// The result of one request; only `succeeded` is billed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BatchResult {
    Succeeded { message: MessagesResponse },
    Errored { error: ErrorResponse },
    Canceled,
    Expired,
}
