//! Secrets (API keys, tokens) that never print, and redaction of free-form config trees.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_norway::Value;
use std::fmt;

/// What a redacted secret prints as.
pub const REDACTED: &str = "***";

/// A secret string: `Display`, `Debug` and `Serialize` all show `***`; [`Secret::expose`] reads it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

/// An API key; an alias of [`Secret`].
pub type ApiKey = Secret;

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself; call only where it is sent to its destination.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Whether a key names a secret: `api_key`, `*_api_key`, `token`, `*_token`, `password`,
/// `*_password`, `secret`, `*_secret` (case-insensitive).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["api_key", "token", "password", "secret"]
        .iter()
        .any(|s| k == *s || k.ends_with(&format!("_{s}")))
}

/// Replaces, anywhere in the tree, every non-null value under a secret key with `***`.
pub fn redact_value(value: &mut Value) {
    match value {
        Value::Mapping(m) => {
            for (k, v) in m.iter_mut() {
                let secret = k.as_str().is_some_and(is_secret_key);
                if secret && !v.is_null() {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact_value(v);
                }
            }
        }
        Value::Sequence(s) => s.iter_mut().for_each(redact_value),
        Value::Tagged(t) => redact_value(&mut t.value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("sk-live-123");
        assert_eq!(format!("{s}"), "***");
        assert!(!format!("{s:?}").contains("sk-"));
        assert_eq!(serde_norway::to_string(&s).unwrap().trim(), "'***'");
        assert_eq!(s.expose(), "sk-live-123");
    }

    #[test]
    fn redacts_nested_free_form_maps() {
        let mut v: Value = serde_norway::from_str(
            "a: {api_key: k, hf_token: t, keep: 1, list: [{password: p}], secret: s, none: ~}\nb: {api_key: null}",
        )
        .unwrap();
        redact_value(&mut v);
        let out = serde_norway::to_string(&v).unwrap();
        for leaked in [": k\n", ": t\n", ": p\n", ": s\n"] {
            assert!(!out.contains(leaked), "{out}");
        }
        assert!(out.contains("keep: 1"));
        assert!(out.contains("api_key: null"));
    }

    #[test]
    fn secret_key_names() {
        assert!(is_secret_key("api_key"));
        assert!(is_secret_key("HF_TOKEN"));
        assert!(is_secret_key("openai_api_key"));
        assert!(!is_secret_key("max_tokens"));
        assert!(!is_secret_key("tokenizer"));
    }
}
