//! OpenAI Chat Completions (`POST /v1/chat/completions`).
//!
//! Reference: <https://platform.openai.com/docs/api-reference/chat/create>.

use serde::{Deserialize, Serialize};

/// Path of the endpoint, relative to a base URL ending in `/v1`.
pub const CHAT_COMPLETIONS_PATH: &str = "/chat/completions";

/// A request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    /// Legacy output cap, still the one most OpenAI-compatible servers read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Output cap including reasoning tokens; required by OpenAI's reasoning models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// A message of the conversation (`system`, `developer`, `user`, `assistant`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// A response body (`object: "chat.completion"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionResponse {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub model: String,
    pub choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One choice of a response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    #[serde(default)]
    pub index: u32,
    pub message: ResponseMessage,
    /// `stop`, `length`, `content_filter`, `tool_calls`.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The assistant's message; `content` is null when the model refused or called a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Reasoning text some OpenAI-compatible servers (vLLM, DeepSeek) return apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
}

/// Token counts billed for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

/// An error body: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

/// The inside of an error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
    /// A string at OpenAI (`rate_limit_exceeded`); a number at some compatible servers (vLLM).
    #[serde(default)]
    pub code: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_uses_the_api_field_names_and_omits_unset_caps() {
        let r = ChatCompletionRequest {
            model: "gpt-4o-mini".into(),
            messages: vec![ChatMessage {
                role: "user".into(),
                content: "hi".into(),
            }],
            max_tokens: None,
            max_completion_tokens: Some(16),
            temperature: Some(0.0),
            seed: None,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
                "max_completion_tokens": 16, "temperature": 0.0})
        );
    }

    #[test]
    fn parses_a_documented_response() {
        let body = r#"{"id":"chatcmpl-123","object":"chat.completion","created":1677652288,
          "model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb",
          "choices":[{"index":0,"message":{"role":"assistant","content":"Hello there","refusal":null},
            "logprobs":null,"finish_reason":"stop"}],
          "usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,
            "completion_tokens_details":{"reasoning_tokens":0}}}"#;
        let r: ChatCompletionResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.choices[0].message.content.as_deref(), Some("Hello there"));
        assert_eq!(r.usage.unwrap().prompt_tokens, 9);
        assert_eq!(r.usage.unwrap().completion_tokens, 12);
    }
}
