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
    /// Return the log-probability of each output token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    /// With `logprobs`: also the `k` (0..=20) most likely tokens at each position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
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
    /// Present (possibly null) when the request asked for `logprobs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<ChoiceLogprobs>,
    /// `stop`, `length`, `content_filter`, `tool_calls`.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// `choices[].logprobs`: one entry per output token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceLogprobs {
    #[serde(default)]
    pub content: Option<Vec<TokenLogprob>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Vec<TokenLogprob>>,
}

/// One output token, its log-probability and the most likely alternatives at its position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f64,
    /// UTF-8 bytes of the token (null for tokens without a byte form).
    #[serde(default)]
    pub bytes: Option<Vec<u8>>,
    #[serde(default)]
    pub top_logprobs: Vec<TopLogprob>,
}

/// One alternative of `top_logprobs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopLogprob {
    pub token: String,
    pub logprob: f64,
    #[serde(default)]
    pub bytes: Option<Vec<u8>>,
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
            logprobs: None,
            top_logprobs: None,
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

    #[test]
    fn parses_documented_logprobs() {
        let body = r#"{"id":"c","object":"chat.completion","created":1,"model":"m",
          "choices":[{"index":0,"message":{"role":"assistant","content":"4"},
            "logprobs":{"content":[{"token":"4","logprob":-0.25,"bytes":[52],
              "top_logprobs":[{"token":"4","logprob":-0.25,"bytes":[52]},
                              {"token":"3","logprob":-1.5,"bytes":[51]}]}],"refusal":null},
            "finish_reason":"stop"}],
          "usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}"#;
        let r: ChatCompletionResponse = serde_json::from_str(body).unwrap();
        let lp = r.choices[0]
            .logprobs
            .as_ref()
            .unwrap()
            .content
            .as_ref()
            .unwrap();
        assert_eq!(lp[0].token, "4");
        assert_eq!(lp[0].top_logprobs[1].token, "3");
        assert_eq!(lp[0].top_logprobs[1].logprob, -1.5);
    }
}
