//! From domain messages to a provider's request, and from its response to text and usage.

use crate::settings::{ApiSettings, Provider, TokenField};
use crate::wire::{anthropic, openai};
use serde::{Deserialize, Serialize};

/// A chat message in atgen's terms (`system`, `user`, `assistant`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    /// A message of `role`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// A request ready to send: where, and the JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub url: String,
    pub body: String,
}

/// One output token with its log-probability and the most likely alternatives at its place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    pub token: String,
    pub logprob: f64,
    /// `(token, logprob)`, most likely first, as the server listed them.
    pub top: Vec<(String, f64)>,
}

/// What a successful response carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The assistant's text (reasoning blocks apart from the text are dropped).
    pub text: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The output hit `max_tokens`.
    pub truncated: bool,
    /// The model refused (OpenAI `refusal`); billed, but no label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Per output token, when they were asked for (`ApiSettings::top_logprobs`) and returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<TokenLogprob>>,
}

/// The provider-specific request for `messages`.
pub fn prepare(s: &ApiSettings, messages: &[ChatMessage]) -> Prepared {
    let mut all: Vec<ChatMessage> = Vec::with_capacity(messages.len() + 1);
    if let Some(sys) = s.system.as_ref().filter(|t| !t.is_empty()) {
        all.push(ChatMessage::new("system", sys.clone()));
    }
    all.extend(messages.iter().cloned());
    match s.provider {
        Provider::Openai | Provider::OpenaiCompatible => {
            let (max_tokens, max_completion_tokens) = match s.token_field {
                TokenField::MaxTokens => (Some(s.max_tokens), None),
                TokenField::MaxCompletionTokens => (None, Some(s.max_tokens)),
            };
            let req = openai::ChatCompletionRequest {
                model: s.model.clone(),
                messages: all
                    .into_iter()
                    .map(|m| openai::ChatMessage {
                        role: m.role,
                        content: m.content,
                    })
                    .collect(),
                max_tokens,
                max_completion_tokens,
                temperature: s.temperature,
                seed: s.seed,
                logprobs: s.top_logprobs.map(|_| true),
                top_logprobs: s.top_logprobs,
            };
            Prepared {
                url: format!("{}{}", s.base_url, openai::CHAT_COMPLETIONS_PATH),
                body: to_json(&req),
            }
        }
        Provider::Anthropic => {
            let system: Vec<String> = all
                .iter()
                .filter(|m| m.role == "system")
                .map(|m| m.content.clone())
                .collect();
            let req = anthropic::MessagesRequest {
                model: s.model.clone(),
                max_tokens: s.max_tokens,
                system: (!system.is_empty()).then(|| system.join("\n\n")),
                messages: all
                    .into_iter()
                    .filter(|m| m.role != "system")
                    .map(|m| anthropic::Message {
                        role: m.role,
                        content: m.content,
                    })
                    .collect(),
                temperature: s.temperature,
            };
            Prepared {
                url: format!("{}{}", s.base_url, anthropic::MESSAGES_PATH),
                body: to_json(&req),
            }
        }
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    // Plain structs of strings and numbers: serialization cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

/// Reads a 2xx body; `Err` describes what is malformed.
pub fn parse(provider: Provider, body: &str) -> Result<Reply, String> {
    match provider {
        Provider::Openai | Provider::OpenaiCompatible => {
            let r: openai::ChatCompletionResponse =
                serde_json::from_str(body).map_err(|e| format!("malformed response body: {e}"))?;
            let usage = r
                .usage
                .ok_or_else(|| "response has no `usage`: its cost is unknown".to_string())?;
            let choice = r
                .choices
                .into_iter()
                .next()
                .ok_or_else(|| "response has no choices".to_string())?;
            let logprobs = choice.logprobs.and_then(|l| l.content).map(|tokens| {
                tokens
                    .into_iter()
                    .map(|t| TokenLogprob {
                        token: t.token,
                        logprob: t.logprob,
                        top: t
                            .top_logprobs
                            .into_iter()
                            .map(|a| (a.token, a.logprob))
                            .collect(),
                    })
                    .collect()
            });
            Ok(Reply {
                text: choice.message.content.unwrap_or_default(),
                input_tokens: usage.prompt_tokens,
                output_tokens: usage.completion_tokens,
                truncated: choice.finish_reason.as_deref() == Some("length"),
                refusal: choice.message.refusal,
                logprobs,
            })
        }
        Provider::Anthropic => {
            let r: anthropic::MessagesResponse =
                serde_json::from_str(body).map_err(|e| format!("malformed response body: {e}"))?;
            let text: String = r
                .content
                .iter()
                .filter_map(|b| match b {
                    anthropic::ContentBlock::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            let input = anthropic_billed_input(
                r.usage.input_tokens,
                r.usage.cache_creation_input_tokens.unwrap_or(0),
                r.usage.cache_read_input_tokens.unwrap_or(0),
            );
            Ok(Reply {
                text,
                input_tokens: input,
                output_tokens: r.usage.output_tokens,
                truncated: r.stop_reason.as_deref() == Some("max_tokens"),
                refusal: (r.stop_reason.as_deref() == Some("refusal"))
                    .then(|| "the model refused".to_string()),
                logprobs: None,
            })
        }
    }
}

/// The human-readable message of an error body, whatever its provider.
pub fn error_message(body: &str) -> String {
    if let Ok(e) = serde_json::from_str::<anthropic::ErrorResponse>(body) {
        return format!("{}: {}", e.error.kind, e.error.message);
    }
    if let Ok(e) = serde_json::from_str::<openai::ErrorResponse>(body) {
        return e.error.message;
    }
    body.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use atgen_config::{LabellerConfig, LabellerKind, Secret};

    fn settings(params: &str) -> ApiSettings {
        let cfg = LabellerConfig {
            kind: LabellerKind::ApiLlm,
            parameters: serde_norway::from_str(params).unwrap(),
            api_key: Some(Secret::new("k")),
            ..LabellerConfig::default()
        };
        ApiSettings::from_config(&cfg, |_| None, None).unwrap()
    }

    #[test]
    fn anthropic_moves_system_messages_to_the_system_field() {
        let s = settings("{model: c, provider: anthropic, system: 'Be terse.', max_tokens: 9}");
        let p = prepare(
            &s,
            &[
                ChatMessage::new("system", "Task."),
                ChatMessage::new("user", "q"),
            ],
        );
        assert_eq!(p.url, "https://api.anthropic.com/v1/messages");
        let v: serde_json::Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(v["system"], "Be terse.\n\nTask.");
        assert_eq!(
            v["messages"],
            serde_json::json!([{"role": "user", "content": "q"}])
        );
        assert_eq!(v["max_tokens"], 9);
    }

    #[test]
    fn openai_uses_max_completion_tokens_and_compatible_servers_max_tokens() {
        let p = prepare(
            &settings("{model: g, max_tokens: 7}"),
            &[ChatMessage::new("user", "q")],
        );
        let v: serde_json::Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(v["max_completion_tokens"], 7);
        assert!(v.get("max_tokens").is_none());
        let p = prepare(
            &settings(
                "{model: g, max_tokens: 7, provider: openai_compatible, base_url: 'http://x/v1'}",
            ),
            &[ChatMessage::new("user", "q")],
        );
        assert_eq!(p.url, "http://x/v1/chat/completions");
        let v: serde_json::Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(v["max_tokens"], 7);
    }

    #[test]
    fn top_logprobs_are_requested_and_returned_for_openai_style_apis() {
        let mut s = settings("{model: g}");
        let p = prepare(&s, &[ChatMessage::new("user", "q")]);
        let v: serde_json::Value = serde_json::from_str(&p.body).expect("json");
        assert!(v.get("logprobs").is_none() && v.get("top_logprobs").is_none());
        s.top_logprobs = Some(7);
        let p = prepare(&s, &[ChatMessage::new("user", "q")]);
        let v: serde_json::Value = serde_json::from_str(&p.body).expect("json");
        assert_eq!(
            (v["logprobs"].clone(), v["top_logprobs"].clone()),
            (true.into(), 7.into())
        );
        let body = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"4"},
            "logprobs":{"content":[{"token":"4","logprob":-0.1,"bytes":[52],
              "top_logprobs":[{"token":"4","logprob":-0.1,"bytes":[52]},{"token":"5","logprob":-2.5,"bytes":null}]}]},
            "finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
        let r = parse(Provider::Openai, body).expect("parses");
        assert_eq!(
            r.logprobs,
            Some(vec![TokenLogprob {
                token: "4".into(),
                logprob: -0.1,
                top: vec![("4".into(), -0.1), ("5".into(), -2.5)],
            }])
        );
    }

    #[test]
    fn a_response_without_usage_is_malformed() {
        let body = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}]}"#;
        assert!(parse(Provider::Openai, body).unwrap_err().contains("usage"));
        assert!(parse(Provider::Anthropic, "{not json").is_err());
    }

    #[test]
    fn error_messages_of_both_providers() {
        assert_eq!(
            error_message(
                r#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#
            ),
            "Rate limit reached"
        );
        assert_eq!(
            error_message(
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            "overloaded_error: Overloaded"
        );
    }
}

/// Anthropic bills prompt-cache writes at 1.25x and reads at 0.1x the input
/// price: the equivalent count of full-price input tokens, rounded up.
pub fn anthropic_billed_input(input: u64, cache_writes: u64, cache_reads: u64) -> u64 {
    input + (cache_writes * 5).div_ceil(4) + cache_reads.div_ceil(10)
}

#[cfg(test)]
mod billing_tests {
    #[test]
    fn cache_writes_cost_more_and_reads_less() {
        assert_eq!(super::anthropic_billed_input(100, 0, 0), 100);
        assert_eq!(super::anthropic_billed_input(100, 40, 0), 150);
        assert_eq!(super::anthropic_billed_input(100, 0, 1000), 200);
        assert_eq!(super::anthropic_billed_input(0, 1, 1), 3);
    }
}
