//! Counting prompt tokens for cost estimates: OpenAI's own tokenizers (`o200k_base`,
//! `cl100k_base`, from tiktoken-rs, which embeds OpenAI's published BPE files) where the model
//! name says which one the provider uses, and the conservative bytes-based count
//! ([`crate::budget::estimate_prompt_tokens`]) for everything else (Anthropic publishes no
//! tokenizer; an OpenAI-compatible server may run any model).
//!
//! Only `--estimate-cost` uses the exact count: the hard budget keeps reserving by bytes,
//! which is an upper bound for any tokenizer and so never lets a run cross its budget.

use crate::budget::estimate_prompt_tokens;
use crate::settings::Provider;

/// Tokens OpenAI adds per chat message and per request (its cookbook's figures for the
/// gpt-4o and gpt-4 families: 3 per message, 3 to prime the reply).
const CHAT_TOKENS_PER_MESSAGE: u64 = 3;
const CHAT_TOKENS_PER_REQUEST: u64 = 3;

/// How prompt tokens are counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PromptTokenCounter {
    /// OpenAI's `o200k_base` (gpt-4o, gpt-4.1, gpt-4.5, gpt-5, o1, o3, o4 families).
    O200kBase,
    /// OpenAI's `cl100k_base` (gpt-4, gpt-3.5-turbo).
    Cl100kBase,
    /// One token per this many UTF-8 bytes, plus framing: an upper bound.
    Bytes(f64),
}

impl PromptTokenCounter {
    /// The counter for a model of a provider: OpenAI's tokenizer when the model name (after
    /// any `org/` prefix, as OpenRouter writes `openai/gpt-4o`) is an OpenAI model whose
    /// tokenizer is public, the bytes count otherwise.
    pub fn for_model(provider: Provider, model: &str, bytes_per_token: f64) -> Self {
        let name = model
            .rsplit('/')
            .next()
            .unwrap_or(model)
            .to_ascii_lowercase();
        let openai_name = provider == Provider::Openai || model.starts_with("openai/");
        let family = |prefixes: &[&str]| {
            prefixes
                .iter()
                .any(|p| name == *p || name.starts_with(&format!("{p}-")))
        };
        if provider == Provider::Anthropic || !(openai_name || provider_hosts_openai(&name)) {
            return PromptTokenCounter::Bytes(bytes_per_token);
        }
        if family(&[
            "gpt-4o",
            "chatgpt-4o",
            "gpt-4.1",
            "gpt-4.5",
            "gpt-5",
            "o1",
            "o3",
            "o4",
        ]) || name.starts_with("gpt-5")
            || name.starts_with("o4-mini")
        {
            PromptTokenCounter::O200kBase
        } else if family(&["gpt-4", "gpt-3.5-turbo", "gpt-35-turbo"]) {
            PromptTokenCounter::Cl100kBase
        } else {
            PromptTokenCounter::Bytes(bytes_per_token)
        }
    }

    /// What the estimate says it used.
    pub fn describe(&self) -> String {
        match self {
            PromptTokenCounter::O200kBase => "o200k_base (OpenAI's tokenizer)".into(),
            PromptTokenCounter::Cl100kBase => "cl100k_base (OpenAI's tokenizer)".into(),
            PromptTokenCounter::Bytes(b) => format!(
                "bytes / {b} plus framing (conservative: no public tokenizer for this model)"
            ),
        }
    }

    /// Tokens of `text` alone (no framing), e.g. an expected answer.
    pub fn count_text(&self, text: &str) -> u64 {
        match self {
            PromptTokenCounter::O200kBase => tiktoken_rs::o200k_base_singleton()
                .encode_ordinary(text)
                .len() as u64,
            PromptTokenCounter::Cl100kBase => tiktoken_rs::cl100k_base_singleton()
                .encode_ordinary(text)
                .len() as u64,
            PromptTokenCounter::Bytes(b) => (text.len() as f64 / b.max(1.0)).ceil() as u64,
        }
    }

    /// Prompt tokens of a chat request made of `messages` (their contents), framing included.
    pub fn count_prompt<'a>(&self, messages: impl IntoIterator<Item = &'a str>) -> u64 {
        match self {
            PromptTokenCounter::Bytes(b) => estimate_prompt_tokens(messages, *b),
            _ => {
                messages
                    .into_iter()
                    .map(|m| self.count_text(m) + CHAT_TOKENS_PER_MESSAGE)
                    .sum::<u64>()
                    + CHAT_TOKENS_PER_REQUEST
            }
        }
    }
}

/// An OpenAI model name seen through a router or proxy (`gpt-4o` at an OpenAI-compatible URL
/// is OpenAI's model, served by OpenAI or Azure).
fn provider_hosts_openai(name: &str) -> bool {
    name.starts_with("gpt-") || name.starts_with("chatgpt-") || {
        let mut c = name.chars();
        c.next() == Some('o') && c.next().is_some_and(|d| d.is_ascii_digit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_models_get_their_tokenizer_others_the_bytes_bound() {
        use PromptTokenCounter::*;
        let c = |p, m| PromptTokenCounter::for_model(p, m, 3.0);
        assert_eq!(c(Provider::Openai, "gpt-4.1"), O200kBase);
        assert_eq!(c(Provider::Openai, "gpt-4o-mini-2024-07-18"), O200kBase);
        assert_eq!(c(Provider::Openai, "o3-mini"), O200kBase);
        assert_eq!(c(Provider::Openai, "gpt-5-nano"), O200kBase);
        assert_eq!(c(Provider::Openai, "gpt-4-0613"), Cl100kBase);
        assert_eq!(c(Provider::Openai, "gpt-3.5-turbo"), Cl100kBase);
        assert_eq!(c(Provider::OpenaiCompatible, "openai/gpt-4o"), O200kBase);
        assert_eq!(c(Provider::Openai, "gpt-test"), Bytes(3.0));
        assert_eq!(
            c(Provider::OpenaiCompatible, "Qwen/Qwen2.5-7B-Instruct"),
            Bytes(3.0)
        );
        assert_eq!(c(Provider::Anthropic, "claude-sonnet-4-5"), Bytes(3.0));
    }

    #[test]
    fn counts_match_openais_published_encodings() {
        // OpenAI cookbook, "How to count tokens with tiktoken": "tiktoken is great!".
        let cl = tiktoken_rs::cl100k_base_singleton().encode_ordinary("tiktoken is great!");
        assert_eq!(cl, [83, 1609, 5963, 374, 2294, 0]);
        let o = tiktoken_rs::o200k_base_singleton().encode_ordinary("tiktoken is great!");
        assert_eq!(o, [83, 8251, 2488, 382, 2212, 0]);
        let p = PromptTokenCounter::O200kBase;
        assert_eq!(p.count_text("tiktoken is great!"), 6);
        // Two messages of 6 tokens: 2 x (6 + 3) + 3.
        assert_eq!(
            p.count_prompt(["tiktoken is great!", "tiktoken is great!"]),
            21
        );
        // The bytes bound is never below the exact count.
        let b = PromptTokenCounter::Bytes(3.0);
        assert!(b.count_prompt(["tiktoken is great!"]) >= p.count_prompt(["tiktoken is great!"]));
    }
}
