//! atgen-data: datasets for atgen.
//!
//! Reads JSONL, JSON (an array, or `{split: [...]}`), CSV/TSV and Parquet (record API, no Arrow)
//! from local files, from a folder of `<split>.<ext>` files (shards such as
//! `train-00000-of-00002.parquet` are concatenated), from Hugging Face hub datasets (downloaded
//! into the standard hub cache unless `HF_HUB_OFFLINE` is set; `HF_ENDPOINT`, `HF_HUB_CACHE`,
//! `HF_HOME` and `HF_TOKEN` honoured; script datasets through the hub's Parquet conversion at
//! `refs/convert/parquet`), or from the subsets bundled
//! in the binary (`bundled:gsm8k`, ...). Rows become [`atgen_core::Example`]s through a column
//! mapping: the output column is `references[0]` (the training target), a references column
//! (string or list) adds accepted alternatives, all other columns land in `fields` for prompt
//! templates. Bad rows are errors naming file and line, or are skipped and counted in the
//! [`LoadReport`] with `skip_bad_rows`.
//!
//! ```
//! // The primary config trims the test split for the offline demo; load it whole.
//! let cfg = atgen_config::ConfigLoader::new()
//!     .load(&["data=gsm8k", "data.test_subset_size=null"])
//!     .unwrap();
//! let ds = atgen_data::load_dataset(&cfg.data).unwrap();
//! assert_eq!((ds.train.len(), ds.test.len()), (2000, 200));
//! let prompt = ds.prompt.render(&ds.test[0]).unwrap();
//! assert!(prompt.contains(&ds.test[0].input));
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod bundled;
mod columns;
mod error;
mod hub;
mod hub_fetch;
mod parquet;
mod progress;
mod prompt;
mod read;
mod source;
mod subset;

pub use bundled::bundled_names;
pub use columns::ColumnMap;
pub use error::{DataError, FileReport, LoadReport, Result, SkippedRow};
pub use hub::{HubCache, DEFAULT_ENDPOINT, PARQUET_REVISION};
pub use prompt::{Message, Prompt};
pub use read::{FileData, Format, Row};
pub use source::DataSource;
pub use subset::{hold_out, sample_indices, subset};

#[doc(hidden)]
pub use parquet::write_test_parquet;

use atgen_config::DataConfig;
use atgen_core::Example;
use read::Sink;
use source::SplitData;
use std::path::{Path, PathBuf};

/// A loaded dataset: the pool, the test set, and the prompt to render them with.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Unlabeled pool (references kept for the golden labeller).
    pub train: Vec<Example>,
    /// Test examples.
    pub test: Vec<Example>,
    /// Template, system prompt and few-shot demonstrations.
    pub prompt: Prompt,
    /// What was read and skipped.
    pub report: LoadReport,
}

/// Where relative paths and hub datasets are looked up.
#[derive(Debug, Clone)]
pub struct LoadContext {
    /// Base of relative paths (the working directory by default).
    pub base_dir: PathBuf,
    /// The local Hugging Face cache.
    pub hub: HubCache,
}

impl Default for LoadContext {
    fn default() -> Self {
        LoadContext {
            base_dir: PathBuf::from("."),
            hub: HubCache::from_env(),
        }
    }
}

/// Loads a dataset as configured, relative to the working directory, hub cache from the env.
pub fn load_dataset(cfg: &DataConfig) -> Result<Dataset> {
    load_dataset_with(cfg, &LoadContext::default())
}

/// Loads a dataset with an explicit context.
pub fn load_dataset_with(cfg: &DataConfig, ctx: &LoadContext) -> Result<Dataset> {
    let spec = cfg.dataset.as_deref().ok_or_else(|| DataError::Config {
        key: "data.dataset".into(),
        reason: "not set".into(),
    })?;
    let map = ColumnMap::from_config(cfg);
    let mut report = LoadReport::default();
    let source = DataSource::parse(spec, &ctx.base_dir)?;
    let splits = match &source {
        // A single file holds either several splits (a JSON object) or just the pool.
        DataSource::File(path) => single_file_splits(path, &cfg.train_split, cfg.skip_bad_rows)?,
        _ => {
            let mut wanted = vec![cfg.train_split.as_str()];
            if cfg.test_file.is_none() {
                wanted.extend(cfg.test_split.as_deref());
            }
            source::splits(
                &source,
                cfg.hub_config.as_deref(),
                &cfg.revision,
                &ctx.hub,
                &wanted,
            )?
        }
    };
    let available = || splits.keys().cloned().collect::<Vec<_>>();
    let train_data = splits
        .get(&cfg.train_split)
        .ok_or_else(|| DataError::MissingSplit {
            split: cfg.train_split.clone(),
            available: available(),
            source_name: spec.to_string(),
        })?;
    let mut train = read_split(
        train_data,
        &cfg.train_split,
        &map,
        cfg.skip_bad_rows,
        &mut report,
    )?;
    let test_data = match (&cfg.test_file, &cfg.test_split) {
        (Some(file), _) => Some(SplitData::Files(vec![ctx.base_dir.join(file)])),
        (None, Some(split)) => splits.get(split).cloned(),
        (None, None) => None,
    };
    let test_split = cfg.test_split.clone().unwrap_or_else(|| "test".into());
    let mut test = match test_data {
        Some(d) => read_split(&d, &test_split, &map, cfg.skip_bad_rows, &mut report)?,
        None => {
            report.held_out_test = true;
            let (rest, held) = hold_out(train, cfg.held_out_fraction, cfg.subset_seed);
            train = rest;
            held
        }
    };
    let mut prompt = Prompt::new(&cfg.prompt_template, &cfg.input_column)?;
    prompt.system = cfg.system_prompt.clone();
    prompt.separator = cfg.few_shot.separator.clone();
    for (i, shot) in cfg.few_shot.examples.iter().enumerate() {
        prompt.few_shot.push((
            Example::new(format!("few-shot-{i}"), shot.input.clone()),
            shot.output.clone(),
        ));
    }
    if cfg.few_shot.count > 0 {
        let idx = sample_indices(
            train.len(),
            cfg.few_shot.count,
            cfg.subset_seed.wrapping_add(1),
        );
        let (rest, shots) = subset::split_off(train, &idx);
        train = rest;
        for shot in shots {
            let answer = shot
                .references
                .first()
                .cloned()
                .ok_or_else(|| DataError::Config {
                    key: "data.few_shot.count".into(),
                    reason: format!("few-shot example `{}` has no reference", shot.id),
                })?;
            prompt.few_shot.push((shot, answer));
        }
    }
    train = subset(train, cfg.train_subset_size, cfg.subset_seed);
    test = subset(test, cfg.test_subset_size, cfg.subset_seed.wrapping_add(2));
    for ex in train.first().into_iter().chain(test.first()) {
        prompt.check(ex)?;
    }
    for (shot, _) in &prompt.few_shot {
        prompt.check(shot)?;
    }
    report.train_examples = train.len();
    report.test_examples = test.len();
    Ok(Dataset {
        train,
        test,
        prompt,
        report,
    })
}

fn single_file_splits(
    path: &Path,
    train_split: &str,
    skip: bool,
) -> Result<std::collections::BTreeMap<String, SplitData>> {
    let mut skipped = Vec::new();
    let data = read::read_file(path, skip, &mut skipped)?;
    let mut out = std::collections::BTreeMap::new();
    match data {
        FileData::Rows(_) => {
            out.insert(
                train_split.to_string(),
                SplitData::Files(vec![path.to_path_buf()]),
            );
        }
        FileData::Splits(m) => {
            for k in m.keys() {
                out.insert(
                    k.clone(),
                    SplitData::SplitOfFile(path.to_path_buf(), k.clone()),
                );
            }
        }
    }
    Ok(out)
}

fn read_split(
    data: &SplitData,
    split: &str,
    map: &ColumnMap,
    skip: bool,
    report: &mut LoadReport,
) -> Result<Vec<Example>> {
    let mut parts: Vec<(String, Vec<Row>, Vec<SkippedRow>)> = Vec::new();
    match data {
        SplitData::Files(paths) => {
            for p in paths {
                let mut skipped = Vec::new();
                let rows = match read::read_file(p, skip, &mut skipped)? {
                    FileData::Rows(r) => r,
                    FileData::Splits(mut m) => m.remove(split).unwrap_or_default(),
                };
                parts.push((p.display().to_string(), rows, skipped));
            }
        }
        SplitData::SplitOfFile(p, name) => {
            let mut skipped = Vec::new();
            let rows = match read::read_file(p, skip, &mut skipped)? {
                FileData::Rows(r) => r,
                FileData::Splits(mut m) => m.remove(name).unwrap_or_default(),
            };
            parts.push((format!("{}[{name}]", p.display()), rows, skipped));
        }
        SplitData::Embedded(name, bytes) => {
            let mut skipped = Vec::new();
            let mut sink = Sink {
                skip,
                skipped: &mut skipped,
                bar: indicatif::ProgressBar::hidden(),
            };
            let rows = match read::read_bytes(bytes, Format::Jsonl, name, &mut sink)? {
                FileData::Rows(r) => r,
                FileData::Splits(_) => Vec::new(),
            };
            parts.push((name.clone(), rows, skipped));
        }
    }
    let mut out = Vec::new();
    for (file, rows, mut skipped) in parts {
        let n_rows = rows.len() + skipped.len();
        let mut sink = Sink {
            skip,
            skipped: &mut skipped,
            bar: indicatif::ProgressBar::hidden(),
        };
        let exs = columns::to_examples(rows, map, &file, split, out.len(), &mut sink)?;
        report.files.push(FileReport {
            file,
            split: split.to_string(),
            rows: n_rows,
            examples: exs.len(),
            skipped,
        });
        out.extend(exs);
    }
    Ok(out)
}
