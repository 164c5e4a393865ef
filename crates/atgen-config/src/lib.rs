//! atgen-config: Hydra-style configuration for atgen.
//!
//! A run's configuration is composed the way Hydra composes it, so the Python ATGen's users
//! type the same command lines:
//!
//! 1. the primary config (`configs/config.yaml`, or `--config-name` / `ATGEN_CONFIG_NAME`) lists
//!    `defaults`: one option per config group (`data/`, `al/`, `labeller/`, `model/`,
//!    `training/`, `inference/`, `evaluation/`) plus `_self_`;
//! 2. group overrides (`data=gsm8k`, `+group=x`, `~group`) change those picks, the chosen files
//!    are merged in order (mappings key by key, everything else replaced);
//! 3. value overrides apply in order: `a.b=v` (must exist), `+a.b=v` (must not), `++a.b=v`
//!    (either), `~a.b` (delete); values are Hydra primitives, quoted strings, `[lists]`, `{dicts}`;
//! 4. `${a.b}`, `${.sibling}`, `${oc.env:VAR,default}` are resolved, cycles reported;
//! 5. the tree is deserialised into [`Config`] (unknown keys and wrong types name the dotted key
//!    and suggest the closest valid one) and validated.
//!
//! The repository's `configs/` is embedded at build time, so an installed binary needs no
//! checkout; `--config-dir` adds directories that take precedence.
//!
//! ```
//! use atgen_config::{ConfigLoader, LabellerKind};
//! let cfg = ConfigLoader::new()
//!     .load(&["data=gsm8k", "al=huds", "labeller=api_llm", "labeller.parameters.model=gpt-4.1",
//!             "labeller.api_key=sk-secret", "model.checkpoint=Qwen/Qwen3-0.6B"])
//!     .unwrap();
//! assert_eq!(cfg.labeller.kind, LabellerKind::ApiLlm);
//! assert!(!cfg.to_yaml_redacted().contains("sk-secret"));
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod compose;
mod error;
mod interp;
mod load;
mod overrides;
mod reference;
mod schema;
mod secret;
mod source;

pub use compose::{all_keys, lookup, merge};
pub use error::{ConfigError, Result, Suggestion};
pub use interp::resolve;
pub use load::{from_value, from_yaml_str, ConfigLoader, CONFIG_NAME_ENV, DEFAULT_CONFIG_NAME};
pub use overrides::{parse_value, Override, OverrideKind};
pub use reference::config_reference;
pub use schema::{
    AlConfig, Config, DataConfig, Dtype, EvaluationConfig, FewShot, FewShotExample,
    InferenceConfig, InferenceFramework, LabellerConfig, LabellerKind, ModelConfig, ModelInit,
    PeftConfig, PeftKind, PerformanceMode, Price, Size, Spec, TrainingConfig,
};
pub use secret::{is_secret_key, redact_value, ApiKey, Secret, REDACTED};
pub use source::ConfigSources;

/// Re-exported so callers can hold config trees without naming the YAML crate.
pub use serde_norway::{Mapping, Value};
