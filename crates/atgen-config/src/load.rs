//! From command-line words to a validated [`Config`]: compose, override, interpolate,
//! deserialise with key-naming errors, validate.

use crate::compose::compose;
use crate::error::{closest, ConfigError, Result, Suggestion};
use crate::interp::resolve;
use crate::overrides::Override;
use crate::schema::Config;
use crate::source::ConfigSources;
use serde_norway::Value;
use std::path::PathBuf;

/// Name of the primary config when neither `--config-name` nor `ATGEN_CONFIG_NAME` is given.
pub const DEFAULT_CONFIG_NAME: &str = "config";

/// Environment variable naming the primary config.
pub const CONFIG_NAME_ENV: &str = "ATGEN_CONFIG_NAME";

/// Builds a [`Config`] the way `atgen run` does.
///
/// ```
/// let cfg = atgen_config::ConfigLoader::new()
///     .load(&["data=gsm8k", "al.query_size=0.01", "model.checkpoint=Qwen/Qwen3-0.6B"])
///     .unwrap();
/// assert_eq!(cfg.al.query_size, atgen_config::Size::Fraction(0.01));
/// ```
#[derive(Debug, Clone)]
pub struct ConfigLoader {
    sources: ConfigSources,
    config_name: Option<String>,
}

impl Default for ConfigLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigLoader {
    /// The embedded configs; the primary config from `ATGEN_CONFIG_NAME` or `config`.
    pub fn new() -> Self {
        ConfigLoader {
            sources: ConfigSources::embedded(),
            config_name: None,
        }
    }

    /// Uses these sources instead of the embedded ones.
    pub fn with_sources(mut self, sources: ConfigSources) -> Self {
        self.sources = sources;
        self
    }

    /// Adds a user config directory (`--config-dir`) that takes precedence over the embedded one.
    pub fn with_config_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.sources = self.sources.with_dir(dir);
        self
    }

    /// Sets the primary config (`--config-name`), beating `ATGEN_CONFIG_NAME`.
    pub fn with_config_name(mut self, name: impl Into<String>) -> Self {
        self.config_name = Some(name.into());
        self
    }

    /// The config sources in use.
    pub fn sources(&self) -> &ConfigSources {
        &self.sources
    }

    /// The primary config name in effect.
    pub fn config_name(&self) -> String {
        pick_config_name(
            self.config_name.as_deref(),
            std::env::var(CONFIG_NAME_ENV).ok(),
        )
    }

    /// Composed, overridden and interpolated tree, before schema checks.
    pub fn compose<S: AsRef<str>>(&self, overrides: &[S]) -> Result<Value> {
        self.compose_with(overrides, None)
    }

    /// Like [`ConfigLoader::compose`], with `extra` (a mapping, e.g. the web app's form values)
    /// merged over the overridden tree before interpolation, so `${data.dataset}` sees it.
    pub fn compose_with<S: AsRef<str>>(
        &self,
        overrides: &[S],
        extra: Option<Value>,
    ) -> Result<Value> {
        let overrides = overrides
            .iter()
            .map(|o| Override::parse(o.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let base = serde_norway::to_value(Config::default()).unwrap_or(Value::Null);
        let mut composed = compose(&self.sources, &self.config_name(), &overrides, base)?;
        if let Some(extra) = extra {
            crate::compose::merge(&mut composed, extra);
        }
        resolve(&composed)
    }

    /// The validated configuration.
    pub fn load<S: AsRef<str>>(&self, overrides: &[S]) -> Result<Config> {
        let cfg = from_value(self.compose(overrides)?)?;
        cfg.validate()?;
        Ok(cfg)
    }
}

/// `--config-name` beats `ATGEN_CONFIG_NAME`, which beats [`DEFAULT_CONFIG_NAME`].
fn pick_config_name(explicit: Option<&str>, env: Option<String>) -> String {
    explicit
        .map(str::to_string)
        .or(env.filter(|s| !s.is_empty()))
        .unwrap_or_else(|| DEFAULT_CONFIG_NAME.into())
}

/// Deserialises a resolved tree into [`Config`]; errors name the full dotted key and suggest
/// the closest valid one. Does not run [`Config::validate`].
pub fn from_value(value: Value) -> Result<Config> {
    if let Some(key) = find_missing(&value, "") {
        return Err(ConfigError::MissingValue { key });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string().replace('[', ".").replace(']', "");
        let message = e.inner().to_string();
        if let Some(unknown) = backticked(&message)
            .first()
            .filter(|_| message.starts_with("unknown field"))
        {
            let expected = backticked(&message)[1..].to_vec();
            let parent = path
                .strip_suffix(unknown.as_str())
                .unwrap_or(&path)
                .trim_end_matches('.');
            let join = |k: &str| {
                if parent.is_empty() {
                    k.to_string()
                } else {
                    format!("{parent}.{k}")
                }
            };
            let Suggestion(s) = closest(unknown, expected.iter().map(String::as_str));
            return ConfigError::UnknownKey {
                key: join(unknown),
                suggestion: Suggestion(s.map(|s| join(&s))),
            };
        }
        if message.starts_with("unknown variant") {
            let words = backticked(&message);
            if let Some((bad, expected)) = words.split_first() {
                let Suggestion(s) = closest(bad, expected.iter().map(String::as_str));
                let hint = s
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                return ConfigError::WrongType {
                    key: path,
                    message: format!("`{bad}` is not one of {}{hint}", expected.join(", ")),
                };
            }
        }
        ConfigError::WrongType {
            key: if path == "." { String::new() } else { path },
            message: strip_position(&message),
        }
    })
}

/// Parses YAML text (e.g. a saved run config) into a validated [`Config`].
pub fn from_yaml_str(text: &str) -> Result<Config> {
    let value: Value = serde_norway::from_str(text).map_err(|e| ConfigError::Yaml {
        file: "<string>".into(),
        message: e.to_string(),
    })?;
    let cfg = from_value(resolve(&value)?)?;
    cfg.validate()?;
    Ok(cfg)
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn strip_position(s: &str) -> String {
    s.split(" at line ").next().unwrap_or(s).to_string()
}

/// The first key whose value is Hydra's missing marker `???`.
fn find_missing(v: &Value, prefix: &str) -> Option<String> {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::String(s) if s == "???" => Some(prefix.to_string()),
        Value::Mapping(m) => m
            .iter()
            .find_map(|(k, v)| find_missing(v, &join(k.as_str().unwrap_or("?")))),
        Value::Sequence(s) => s
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_missing(v, &join(&i.to_string()))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Config> {
        from_value(serde_norway::from_str(yaml).unwrap())
    }

    #[test]
    fn unknown_key_names_full_path_and_suggests() {
        let e = parse("al: {qury_size: 3}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown config key `al.qury_size`; did you mean `al.query_size`?"
        );
        let e = parse("model: {peft: {rr: 3}}").unwrap_err();
        assert!(
            e.to_string()
                .contains("`model.peft.rr`; did you mean `model.peft.r`"),
            "{e}"
        );
        let e = parse("dta: {}").unwrap_err();
        assert!(e.to_string().contains("`dta`; did you mean `data`"), "{e}");
    }

    #[test]
    fn wrong_types_and_variants_name_the_key() {
        let e = parse("training: {batch_size: many}").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("config key `training.batch_size`: invalid type"),
            "{e}"
        );
        let e = parse("model: {peft: {kind: loraa}}").unwrap_err();
        assert!(e.to_string().contains("model.peft.kind"), "{e}");
        assert!(e.to_string().contains("did you mean `lora`"), "{e}");
        let e = parse("data: {few_shot: {examples: [{input: a, outptu: b}]}}").unwrap_err();
        assert!(
            e.to_string().contains("data.few_shot.examples.0.outptu"),
            "{e}"
        );
    }

    #[test]
    fn config_name_precedence() {
        assert_eq!(pick_config_name(Some("a"), Some("b".into())), "a");
        assert_eq!(pick_config_name(None, Some("b".into())), "b");
        assert_eq!(pick_config_name(None, Some(String::new())), "config");
        assert_eq!(pick_config_name(None, None), "config");
    }

    #[test]
    fn missing_marker_is_reported() {
        let e = parse("model: {checkpoint: '???'}").unwrap_err();
        assert!(
            matches!(e, ConfigError::MissingValue { ref key } if key == "model.checkpoint"),
            "{e}"
        );
    }
}
