//! `data`: where the dataset is, which columns hold what, and how prompts are built.

use super::{Size, Spec};
use crate::error::{ConfigError, Result};
use serde::{Deserialize, Serialize};

/// Dataset source, column mapping, prompt and subsets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// `bundled:<name>`, a local directory of `<split>.{jsonl,json,csv,parquet}` files, a local
    /// file, or a Hugging Face hub dataset id (`org/name` or `hf:org/name`).
    pub dataset: Option<String>,
    /// Hub revision (branch, tag or commit) when `dataset` is a hub id.
    pub revision: String,
    /// Hub dataset configuration (subset) name, e.g. `main` for `openai/gsm8k`.
    pub hub_config: Option<String>,
    /// A file holding the test split, overriding the one found through `dataset`.
    pub test_file: Option<String>,
    /// Name of the split used as the unlabeled pool.
    pub train_split: String,
    /// Name of the test split; `null` (or a missing split) holds out `held_out_fraction` of train.
    pub test_split: Option<String>,
    /// Fraction of the train split held out as test data when there is no test split.
    pub held_out_fraction: f64,
    /// Column with the input text (`{text}` in the prompt template).
    pub input_column: String,
    /// Column with the training target (the first reference).
    pub output_column: Option<String>,
    /// Column with further accepted references (a string or a list of strings, e.g. aliases).
    pub references_column: Option<String>,
    /// Column holding a stable example id; the row index is used when `null`.
    pub id_column: Option<String>,
    /// Prompt template: `{text}` is the input, `{column}` any column, `{column:lettered}` a list
    /// as `A. ..` lines, `{{`/`}}` literal braces.
    pub prompt_template: String,
    /// System prompt for chat models (`null` for none).
    pub system_prompt: Option<String>,
    /// Few-shot demonstrations put before each prompt.
    pub few_shot: FewShot,
    /// Size of the pool subset (count or fraction); `null` keeps the whole train split.
    pub train_subset_size: Option<Size>,
    /// Size of the test subset (count or fraction); `null` keeps the whole test split.
    pub test_subset_size: Option<Size>,
    /// Seed for subsets, held-out splits and few-shot sampling.
    pub subset_seed: u64,
    /// Skip (and count in the load report) malformed or empty rows instead of failing.
    pub skip_bad_rows: bool,
    /// The task's natural metrics (`evaluation.metrics` defaults to these).
    pub metrics: Vec<Spec>,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dataset: None,
            revision: "main".into(),
            hub_config: None,
            test_file: None,
            train_split: "train".into(),
            test_split: Some("test".into()),
            held_out_fraction: 0.1,
            input_column: "input".into(),
            output_column: Some("output".into()),
            references_column: None,
            id_column: None,
            prompt_template: "{text}".into(),
            system_prompt: None,
            few_shot: FewShot::default(),
            train_subset_size: None,
            test_subset_size: None,
            subset_seed: 42,
            skip_bad_rows: false,
            metrics: Vec::new(),
        }
    }
}

/// Few-shot demonstrations: given ones, and/or `count` drawn (seeded) from the train split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FewShot {
    /// Demonstrations drawn from the train split (and removed from the pool).
    pub count: usize,
    /// Demonstrations given in the config.
    pub examples: Vec<FewShotExample>,
    /// Text between demonstrations in plain-text prompts.
    pub separator: String,
}

impl Default for FewShot {
    fn default() -> Self {
        FewShot {
            count: 0,
            examples: Vec::new(),
            separator: "\n\n".into(),
        }
    }
}

/// One demonstration: an input (rendered with the prompt template) and its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FewShotExample {
    /// Input text.
    pub input: String,
    /// Expected output.
    pub output: String,
}

impl DataConfig {
    /// Checks required values and ranges.
    pub fn validate(&self) -> Result<()> {
        match &self.dataset {
            None => {
                return Err(ConfigError::MissingValue {
                    key: "data.dataset".into(),
                })
            }
            Some(d) if d.trim().is_empty() => {
                return Err(ConfigError::MissingValue {
                    key: "data.dataset".into(),
                })
            }
            _ => {}
        }
        if self.input_column.trim().is_empty() {
            return Err(ConfigError::MissingValue {
                key: "data.input_column".into(),
            });
        }
        if !(self.held_out_fraction > 0.0 && self.held_out_fraction < 1.0) {
            return Err(ConfigError::invalid(
                "data.held_out_fraction",
                format!("must be in (0, 1), got {}", self.held_out_fraction),
            ));
        }
        if let Some(s) = &self.train_subset_size {
            s.check("data.train_subset_size", false)?;
        }
        if let Some(s) = &self.test_subset_size {
            s.check("data.test_subset_size", false)?;
        }
        Ok(())
    }
}
