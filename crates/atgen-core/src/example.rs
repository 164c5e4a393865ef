//! One text of a dataset: its input, its references, and any extra columns.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Stable identifier of an example inside a run (row id of the source data).
pub type ExampleId = String;

/// A text to generate for, with zero or more reference outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// Stable id; used to join labels, queries and generations.
    pub id: ExampleId,
    /// The input text (before the prompt template is applied).
    pub input: String,
    /// Reference outputs (gold labels); empty for unlabeled pool texts.
    #[serde(default)]
    pub references: Vec<String>,
    /// Other columns of the source row, available to prompt templates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

impl Example {
    /// An example with no references.
    pub fn new(id: impl Into<ExampleId>, input: impl Into<String>) -> Self {
        Example {
            id: id.into(),
            input: input.into(),
            references: Vec::new(),
            fields: BTreeMap::new(),
        }
    }

    /// Adds a reference output.
    pub fn with_reference(mut self, reference: impl Into<String>) -> Self {
        self.references.push(reference.into());
        self
    }

    /// Adds an extra column.
    pub fn with_field(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.insert(key.into(), value.into());
        self
    }
}
