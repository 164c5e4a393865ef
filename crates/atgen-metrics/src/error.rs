//! The crate's error type: every failure names what was wrong and where.

use std::path::PathBuf;

/// Errors from building metrics, scoring, and reading evaluation files.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A metric name that the registry does not know.
    #[error("unknown metric `{name}`{}", suggestion_text(.suggestion))]
    UnknownMetric {
        /// The name that was asked for.
        name: String,
        /// The closest valid name, when one is close enough.
        suggestion: Option<String>,
    },
    /// Two inputs that must be parallel have different lengths.
    #[error("{what}: expected {expected} items (one per prediction), got {got}")]
    LengthMismatch {
        /// Which input is off.
        what: &'static str,
        /// Number of predictions.
        expected: usize,
        /// Number of items given.
        got: usize,
    },
    /// An example has no reference, but the metric needs at least one.
    #[error("example {index} has no reference; {metric} needs at least one")]
    NoReferences {
        /// 0-based example index.
        index: usize,
        /// The metric that needs references.
        metric: &'static str,
    },
    /// A configuration value is out of range.
    #[error("invalid {metric} setting `{field}`: {reason}")]
    InvalidConfig {
        /// The metric.
        metric: &'static str,
        /// The field at fault.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Reading an input file failed (the message carries the path, via `fs-err`).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A line of a JSONL file is not valid JSON.
    #[error("{}:{line}: malformed JSON: {message}", path.display())]
    MalformedJson {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A required field is absent from a JSONL record.
    #[error("{}:{line}: missing field `{field}`", path.display())]
    MissingField {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The field name.
        field: &'static str,
    },
    /// A field of a JSONL record has the wrong type or an invalid value.
    #[error("{}:{line}: field `{field}` must be {expected}, got {got}", path.display())]
    WrongType {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The field name.
        field: &'static str,
        /// What was expected.
        expected: &'static str,
        /// What was found (a JSON type name or a short description).
        got: String,
    },
    /// A metric failed while scoring.
    #[error("metric `{name}` failed: {source}")]
    Metric {
        /// The metric's name.
        name: String,
        /// What it reported.
        source: atgen_core::Error,
    },
    /// A JSONL file holds no record.
    #[error("{}: no records (the file is empty or holds only blank lines)", path.display())]
    EmptyInput {
        /// The file.
        path: PathBuf,
    },
}

impl MetricsError {
    /// [`MetricsError::InvalidConfig`] for `metric`'s `field`.
    pub(crate) fn invalid_config(
        metric: &'static str,
        field: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        MetricsError::InvalidConfig {
            metric,
            field,
            reason: reason.into(),
        }
    }
}

fn suggestion_text(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

impl From<MetricsError> for atgen_core::Error {
    fn from(e: MetricsError) -> Self {
        atgen_core::Error::backend(e)
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, MetricsError>;

/// Checks that `references` and (when non-empty) `sources` run parallel to `predictions`.
pub(crate) fn check_lengths(
    predictions: &[String],
    references: &[Vec<String>],
    sources: Option<&[String]>,
) -> Result<()> {
    if references.len() != predictions.len() {
        return Err(MetricsError::LengthMismatch {
            what: "references",
            expected: predictions.len(),
            got: references.len(),
        });
    }
    if let Some(sources) = sources {
        if sources.len() != predictions.len() {
            return Err(MetricsError::LengthMismatch {
                what: "sources",
                expected: predictions.len(),
                got: sources.len(),
            });
        }
    }
    Ok(())
}

/// Fails on the first example without a reference.
pub(crate) fn check_non_empty(references: &[Vec<String>], metric: &'static str) -> Result<()> {
    match references.iter().position(|r| r.is_empty()) {
        Some(index) => Err(MetricsError::NoReferences { index, metric }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_metric_message_suggests() {
        let e = MetricsError::UnknownMetric {
            name: "rouge1".into(),
            suggestion: Some("rouge".into()),
        };
        assert_eq!(
            e.to_string(),
            "unknown metric `rouge1`; did you mean `rouge`?"
        );
    }

    #[test]
    fn wrong_type_names_file_line_and_field() {
        let e = MetricsError::WrongType {
            path: "preds.jsonl".into(),
            line: 3,
            field: "prediction",
            expected: "a string",
            got: "number".into(),
        };
        assert_eq!(
            e.to_string(),
            "preds.jsonl:3: field `prediction` must be a string, got number"
        );
    }

    #[test]
    fn length_checks() {
        let p = vec!["a".to_string()];
        assert!(check_lengths(&p, &[], None).is_err());
        assert!(check_lengths(&p, &[vec!["b".into()]], Some(&[])).is_err());
        assert!(check_lengths(&p, &[vec!["b".into()]], None).is_ok());
        assert!(matches!(
            check_non_empty(&[vec![]], "bleu"),
            Err(MetricsError::NoReferences { index: 0, .. })
        ));
    }
}
