//! The crate's error type: every variant names the file, override or dotted key at fault.

use std::fmt;

/// A closest valid key or option, shown as "did you mean ...".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion(pub Option<String>);

impl fmt::Display for Suggestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(s) => write!(f, "; did you mean `{s}`?"),
            None => Ok(()),
        }
    }
}

/// Errors of composing, overriding, resolving or validating a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No config file of that name in any config directory.
    #[error("config `{name}` not found (searched: {})", searched.join(", "))]
    ConfigNotFound { name: String, searched: Vec<String> },
    /// A config group has no such option.
    #[error("config group `{group}` has no option `{option}` (available: {}){suggestion}", available.join(", "))]
    UnknownOption {
        group: String,
        option: String,
        available: Vec<String>,
        suggestion: Suggestion,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A config file is not valid YAML, or has a malformed `defaults` list.
    #[error("invalid YAML in {file}: {message}")]
    Yaml { file: String, message: String },
    /// A command-line override does not follow Hydra's grammar.
    #[error("cannot parse override `{input}`: {message}")]
    OverrideSyntax { input: String, message: String },
    /// `a.b=v` for a key that does not exist (Hydra needs `+a.b=v` to add).
    #[error("cannot override `{key}`: no such key (to add it use `+{key}=...`){suggestion}")]
    OverrideMissingKey { key: String, suggestion: Suggestion },
    /// `+a.b=v` for a key that already exists (use `a.b=v` or `++a.b=v`).
    #[error("cannot add `{key}`: it already exists (use `{key}=...` or `++{key}=...`)")]
    OverrideKeyExists { key: String },
    /// `~a.b` for a key that does not exist.
    #[error("cannot delete `{key}`: no such key{suggestion}")]
    DeleteMissingKey { key: String, suggestion: Suggestion },
    /// A key not in the schema.
    #[error("unknown config key `{key}`{suggestion}")]
    UnknownKey { key: String, suggestion: Suggestion },
    /// A value of the wrong type.
    #[error("config key `{key}`: {message}")]
    WrongType { key: String, message: String },
    /// A required value (`???` or a required field left empty) was not given.
    #[error("missing value for config key `{key}`: set it with `{key}=...`")]
    MissingValue { key: String },
    /// `${...}` could not be resolved.
    #[error("cannot resolve interpolation in `{key}`: {message}")]
    Interpolation { key: String, message: String },
    /// Interpolations refer to each other in a loop.
    #[error("interpolation cycle: {}", chain.join(" -> "))]
    InterpolationCycle { chain: Vec<String> },
    /// A value is out of its allowed range or inconsistent with another.
    #[error("invalid value for config key `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, ConfigError>;

impl ConfigError {
    /// Shorthand for [`ConfigError::Invalid`].
    pub fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a plausible typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Suggestion {
    let best = candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .min_by_key(|(d, c)| (*d, c.len()));
    Suggestion(match best {
        Some((d, c)) if d <= (word.len().max(c.len()) / 2).max(2) => Some(c.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_and_rejects_strangers() {
        let keys = ["al.query_size", "al.init_query_size", "al.budget"];
        assert_eq!(
            closest("al.qury_size", keys).0.as_deref(),
            Some("al.query_size")
        );
        assert_eq!(closest("zzzzzzzzzzzzzzzzzzzzzz", keys).0, None);
    }

    #[test]
    fn messages_name_the_key() {
        let e = ConfigError::UnknownKey {
            key: "al.qury_size".into(),
            suggestion: Suggestion(Some("al.query_size".into())),
        };
        assert_eq!(
            e.to_string(),
            "unknown config key `al.qury_size`; did you mean `al.query_size`?"
        );
    }
}
