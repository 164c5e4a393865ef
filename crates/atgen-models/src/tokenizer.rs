//! Tokenizer (`tokenizer.json` through the `tokenizers` crate) and chat
//! template (`tokenizer_config.json`'s `chat_template`, rendered with minijinja
//! in Python-compatible mode). Without a template, prompts are used as given.

use crate::{Error, Result};
use serde::Serialize;
use std::path::Path;

/// A chat message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Message text.
    pub content: String,
}

impl Message {
    /// A message with a role.
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Message {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// Tokenizer plus the special tokens and chat template of a model.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
    chat_template: Option<String>,
    bos_token: Option<String>,
    eos_token: Option<String>,
    pad_token: Option<String>,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("vocab_size", &self.inner.get_vocab_size(true))
            .field("chat_template", &self.chat_template.is_some())
            .finish()
    }
}

/// A special token in `tokenizer_config.json`: a string or `{"content": ...}`.
fn token_string(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(o) => o.get("content")?.as_str().map(String::from),
        _ => None,
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json` and, when given, `tokenizer_config.json`.
    pub fn from_files(tokenizer: &Path, config: Option<&Path>) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_file(tokenizer)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", tokenizer.display())))?;
        let mut tok = TextTokenizer::new(inner);
        if let Some(path) = config {
            let text = fs_err::read_to_string(path)?;
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|source| Error::Json {
                    path: path.to_path_buf(),
                    source,
                })?;
            tok.chat_template = match v.get("chat_template") {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                // A list of named templates: take "default".
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
                    .and_then(|t| t.get("template")?.as_str().map(String::from)),
                _ => None,
            };
            tok.bos_token = token_string(v.get("bos_token"));
            tok.eos_token = token_string(v.get("eos_token"));
            tok.pad_token = token_string(v.get("pad_token"));
        }
        Ok(tok)
    }

    /// Wraps a tokenizer with no template or special tokens.
    pub fn new(inner: tokenizers::Tokenizer) -> Self {
        TextTokenizer {
            inner,
            chat_template: None,
            bos_token: None,
            eos_token: None,
            pad_token: None,
        }
    }

    /// The wrapped tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Sets the chat template.
    pub fn set_chat_template(&mut self, template: Option<String>) {
        self.chat_template = template;
    }

    /// The chat template, if any.
    pub fn chat_template(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }

    /// Encodes text, adding the tokenizer's special tokens (e.g. BOS) as configured.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, add_special_tokens)
            .map_err(Error::tokenizer)?;
        Ok(enc.get_ids().to_vec())
    }

    /// Decodes ids, skipping special tokens.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner.decode(ids, true).map_err(Error::tokenizer)
    }

    /// Id of a token string, if it is in the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// EOS id from `tokenizer_config.json`.
    pub fn eos_id(&self) -> Option<u32> {
        self.eos_token.as_deref().and_then(|t| self.token_id(t))
    }

    /// Padding id: the pad token, else EOS, else 0.
    pub fn pad_id(&self) -> u32 {
        self.pad_token
            .as_deref()
            .and_then(|t| self.token_id(t))
            .or_else(|| self.eos_id())
            .unwrap_or(0)
    }

    /// Renders messages with the chat template (with the assistant turn opened).
    /// Without a template, the messages' contents are joined by blank lines.
    pub fn apply_chat_template(&self, messages: &[Message]) -> Result<String> {
        let Some(template) = &self.chat_template else {
            return Ok(messages
                .iter()
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>()
                .join("\n\n"));
        };
        // transformers compiles chat templates with trim_blocks and lstrip_blocks on.
        let mut env = minijinja::Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| Error::Template(e.to_string()))?;
        env.set_syntax(syntax);
        minijinja_contrib::add_to_environment(&mut env);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> std::result::Result<String, minijinja::Error> {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    msg,
                ))
            },
        );
        env.add_template("chat", template)
            .map_err(|e| Error::Template(e.to_string()))?;
        let tmpl = env
            .get_template("chat")
            .map_err(|e| Error::Template(e.to_string()))?;
        tmpl.render(minijinja::context! {
            messages => minijinja::Value::from(minijinja::value::Serde(messages)),
            add_generation_prompt => true,
            bos_token => self.bos_token.clone().unwrap_or_default(),
            eos_token => self.eos_token.clone().unwrap_or_default(),
        })
        .map_err(|e| Error::Template(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Result<TextTokenizer> {
        let vocab = [
            ("<unk>".to_string(), 0u32),
            ("a".into(), 1),
            ("b".into(), 2),
        ]
        .into_iter()
        .collect();
        let model = tokenizers::models::wordlevel::WordLevel::builder()
            .vocab(vocab)
            .unk_token("<unk>".into())
            .build()
            .map_err(Error::tokenizer)?;
        Ok(TextTokenizer::new(tokenizers::Tokenizer::new(model)))
    }

    #[test]
    fn renders_a_qwen_style_template_with_python_methods() -> Result<()> {
        let mut t = tiny()?;
        t.set_chat_template(Some(
            "{%- for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content.strip() }}<|im_end|>\n{%- endfor %}\
             {%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}"
                .into(),
        ));
        let s = t.apply_chat_template(&[
            Message::new("system", "Be brief."),
            Message::new("user", " 2+2? "),
        ])?;
        assert_eq!(s, "<|im_start|>system\nBe brief.<|im_end|><|im_start|>user\n2+2?<|im_end|><|im_start|>assistant");
        Ok(())
    }

    #[test]
    fn no_template_joins_contents() -> Result<()> {
        let t = tiny()?;
        assert_eq!(
            t.apply_chat_template(&[Message::new("user", "x"), Message::new("user", "y")])?,
            "x\n\ny"
        );
        Ok(())
    }
}
