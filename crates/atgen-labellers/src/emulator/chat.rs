//! One chat request: parse, inject the queued fault, answer, bill.

use super::{error_body, json_reply, lock, Api, Fault, Reply, Shared};
use crate::wire::{anthropic, openai};

fn tokens(text: &str) -> u64 {
    text.chars().count().div_ceil(4) as u64 + 3
}

/// Answers one request body of `api`; `batch` bills it as a batch request.
pub(super) fn complete(api: Api, body: &str, shared: &Shared, batch: bool) -> Reply {
    // Parse and bill before any fault, as a provider that ran the request would.
    let parsed = match api {
        Api::OpenAi => serde_json::from_str::<openai::ChatCompletionRequest>(body)
            .map_err(|e| e.to_string())
            .and_then(|r| match (r.logprobs, r.top_logprobs) {
                (_, Some(k)) if k > 20 => Err(format!(
                    "Invalid 'top_logprobs': integer above maximum value. Expected a value <= 20, but got {k} instead."
                )),
                (Some(true), _) | (_, None) => Ok(r),
                (_, Some(_)) => {
                    Err("'logprobs' must be set to true when 'top_logprobs' is used".to_string())
                }
            })
            .map(|r| {
                let cap = r.max_completion_tokens.or(r.max_tokens).unwrap_or(4096);
                let top = (r.logprobs == Some(true)).then_some(r.top_logprobs.unwrap_or(0));
                let prompt: u64 = r.messages.iter().map(|m| tokens(&m.content)).sum();
                let last = r
                    .messages
                    .iter()
                    .rev()
                    .find(|m| m.role == "user")
                    .map(|m| m.content.clone());
                (r.model, prompt, cap, last, top)
            }),
        Api::Anthropic => serde_json::from_str::<anthropic::MessagesRequest>(body)
            .map(|r| {
                let prompt: u64 = r.messages.iter().map(|m| tokens(&m.content)).sum::<u64>()
                    + r.system.as_deref().map_or(0, tokens);
                let last = r
                    .messages
                    .iter()
                    .rev()
                    .find(|m| m.role == "user")
                    .map(|m| m.content.clone());
                (r.model, prompt, r.max_tokens, last, None)
            })
            .map_err(|e| e.to_string()),
    };
    let (model, prompt_tokens, cap, last, top) = match parsed {
        Ok(p) => p,
        Err(e) => return json_reply(400, error_body(api, "invalid_request_error", &e)),
    };
    let Some(last) = last else {
        return json_reply(
            400,
            error_body(api, "invalid_request_error", "no user message"),
        );
    };
    let fault = lock(&shared.faults).pop_front();
    match fault {
        Some(Fault::RateLimit { retry_after_s }) => {
            let mut r = json_reply(
                429,
                error_body(api, "rate_limit_error", "Rate limit reached"),
            );
            r.headers
                .push(("retry-after".into(), retry_after_s.to_string()));
            return r;
        }
        Some(Fault::ServerError) => {
            return json_reply(500, error_body(api, "api_error", "The server had an error"))
        }
        Some(Fault::BadParameter) => {
            return json_reply(
                400,
                error_body(
                    api,
                    "invalid_request_error",
                    "Unsupported value: 'temperature' does not support 0.0 with this model.",
                ),
            )
        }
        Some(Fault::BadRequest) => {
            return json_reply(
                400,
                error_body(api, "invalid_request_error", "prompt is too long"),
            )
        }
        Some(Fault::Slow(d)) => std::thread::sleep(d),
        Some(Fault::Malformed | Fault::Pass) | None => {}
    }
    let full = (lock(&shared.responder).clone())(&last);
    let words: Vec<&str> = full.split_whitespace().collect();
    let truncated = words.len() as u64 > u64::from(cap);
    let answer = if truncated {
        words[..cap as usize].join(" ")
    } else {
        full.clone()
    };
    let completion_tokens = (words.len() as u64).min(u64::from(cap));
    let billed = if batch {
        &shared.billed_batch
    } else {
        &shared.billed
    };
    lock(billed).push((prompt_tokens, completion_tokens));
    if fault == Some(Fault::Malformed) {
        return json_reply(200, "{\"id\": \"chatcmpl-emu\", \"choices\": [".into());
    }
    let logprobs = top.map(|k| openai::ChoiceLogprobs {
        content: Some(token_logprobs(&answer, k, &lock(&shared.logprobs).clone())),
        refusal: None,
    });
    let body = match api {
        Api::OpenAi => serde_json::to_string(&openai::ChatCompletionResponse {
            id: "chatcmpl-emu".into(),
            object: "chat.completion".into(),
            created: 1_700_000_000,
            model,
            choices: vec![openai::Choice {
                index: 0,
                message: openai::ResponseMessage {
                    role: "assistant".into(),
                    content: Some(answer),
                    refusal: None,
                    reasoning_content: None,
                },
                logprobs,
                finish_reason: Some(if truncated { "length" } else { "stop" }.into()),
            }],
            usage: Some(openai::Usage {
                prompt_tokens,
                completion_tokens,
                total_tokens: prompt_tokens + completion_tokens,
            }),
        }),
        Api::Anthropic => serde_json::to_string(&anthropic::MessagesResponse {
            id: "msg_emu".into(),
            kind: "message".into(),
            role: "assistant".into(),
            model,
            content: vec![anthropic::ContentBlock::Text { text: answer }],
            stop_reason: Some(if truncated { "max_tokens" } else { "end_turn" }.into()),
            stop_sequence: None,
            usage: anthropic::Usage {
                input_tokens: prompt_tokens,
                output_tokens: completion_tokens,
                cache_creation_input_tokens: Some(0),
                cache_read_input_tokens: Some(0),
            },
        }),
    };
    json_reply(200, body.unwrap_or_default())
}

/// The answer's tokens (each word with the whitespace before it) with their candidates.
fn token_logprobs(
    answer: &str,
    k: u32,
    candidates: &super::LogprobFn,
) -> Vec<openai::TokenLogprob> {
    let mut tokens: Vec<&str> = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (i, c) in answer.char_indices() {
        if c.is_whitespace() && in_word {
            tokens.push(&answer[start..i]);
            start = i;
        }
        in_word = !c.is_whitespace();
    }
    if start < answer.len() {
        tokens.push(&answer[start..]);
    }
    tokens
        .into_iter()
        .map(|t| {
            let mut cands = candidates(t);
            let logprob = cands
                .iter()
                .find(|(c, _)| c == t)
                .map_or(0.0, |(_, lp)| *lp);
            cands.sort_by(|a, b| b.1.total_cmp(&a.1));
            cands.truncate(k as usize);
            openai::TokenLogprob {
                token: t.to_string(),
                logprob,
                bytes: Some(t.as_bytes().to_vec()),
                top_logprobs: cands
                    .into_iter()
                    .map(|(token, logprob)| openai::TopLogprob {
                        bytes: Some(token.as_bytes().to_vec()),
                        token,
                        logprob,
                    })
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_tokens_keep_their_leading_whitespace_and_spell_the_answer() {
        let f: super::super::LogprobFn = std::sync::Arc::new(|t: &str| {
            vec![
                (t.to_string(), -0.5),
                ("x".into(), -0.1),
                ("y".into(), -3.0),
            ]
        });
        let toks = token_logprobs("Score: 4\nReason:  ok", 2, &f);
        let texts: Vec<&str> = toks.iter().map(|t| t.token.as_str()).collect();
        assert_eq!(texts, ["Score:", " 4", "\nReason:", "  ok"]);
        assert_eq!(texts.concat(), "Score: 4\nReason:  ok");
        // Most likely first, cut at k; the token's own logprob from its entry.
        assert_eq!(toks[1].logprob, -0.5);
        let top: Vec<&str> = toks[1]
            .top_logprobs
            .iter()
            .map(|a| a.token.as_str())
            .collect();
        assert_eq!(top, ["x", " 4"]);
    }
}
