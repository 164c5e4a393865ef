//! Anthropic Messages (`POST /v1/messages`, headers `x-api-key` and `anthropic-version`).
//!
//! Reference: <https://docs.anthropic.com/en/api/messages>.

use serde::{Deserialize, Serialize};

/// Path of the endpoint, relative to a base URL ending in `/v1`.
pub const MESSAGES_PATH: &str = "/messages";
/// Header carrying the API key.
pub const API_KEY_HEADER: &str = "x-api-key";
/// Header carrying the API version.
pub const VERSION_HEADER: &str = "anthropic-version";
/// The API version atgen speaks.
pub const DEFAULT_VERSION: &str = "2023-06-01";

/// A request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    pub model: String,
    /// Required by the API.
    pub max_tokens: u32,
    /// The system prompt is a top-level field, not a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Alternating `user` / `assistant` turns, starting with `user`.
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
}

/// A turn of the conversation (string content is shorthand for one text block).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// A response body (`type: "message"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesResponse {
    #[serde(default)]
    pub id: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub model: String,
    pub content: Vec<ContentBlock>,
    /// `end_turn`, `max_tokens`, `stop_sequence`, `tool_use`, `refusal`, `pause_turn`.
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

/// A block of the response content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text {
        text: String,
    },
    /// Extended thinking; never part of a label.
    Thinking {
        thinking: String,
        #[serde(default)]
        signature: String,
    },
    RedactedThinking {
        data: String,
    },
    /// Tool use and any block type added later.
    #[serde(other)]
    Other,
}

/// Token counts billed for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
}

/// An error body: `{"type": "error", "error": {"type", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    #[serde(rename = "type")]
    pub kind: String,
    pub error: ErrorDetail,
}

/// The inside of an error body (`rate_limit_error`, `overloaded_error`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_documented_response_with_thinking() {
        let body = r#"{"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant",
          "model":"claude-sonnet-4-20250514",
          "content":[{"type":"thinking","thinking":"hmm","signature":"sig"},
                     {"type":"text","text":"Hi! My name is Claude."},
                     {"type":"tool_use","id":"t","name":"n","input":{}}],
          "stop_reason":"end_turn","stop_sequence":null,
          "usage":{"input_tokens":2095,"output_tokens":503,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}"#;
        let r: MessagesResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.content.len(), 3);
        assert!(matches!(&r.content[1], ContentBlock::Text { text } if text.starts_with("Hi!")));
        assert_eq!(r.content[2], ContentBlock::Other);
        assert_eq!(r.usage.input_tokens, 2095);
        assert_eq!(r.usage.output_tokens, 503);
    }

    #[test]
    fn request_puts_the_system_prompt_at_the_top() {
        let r = MessagesRequest {
            model: "claude-3-5-haiku-latest".into(),
            max_tokens: 64,
            system: Some("be brief".into()),
            messages: vec![Message {
                role: "user".into(),
                content: "hi".into(),
            }],
            temperature: None,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"model": "claude-3-5-haiku-latest", "max_tokens": 64,
                "system": "be brief", "messages": [{"role": "user", "content": "hi"}]})
        );
    }
}
