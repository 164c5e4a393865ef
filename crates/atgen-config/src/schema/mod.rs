//! The typed, resolved configuration: serde structs with defaults, unknown keys rejected,
//! validated once after deserialising.

mod data;
mod run;
mod train;

pub use data::{DataConfig, FewShot, FewShotExample};
pub use run::{AlConfig, LabellerConfig, LabellerKind, PerformanceMode, Price};
pub use train::{
    Dtype, EvaluationConfig, InferenceConfig, InferenceFramework, ModelConfig, ModelInit,
    PeftConfig, PeftKind, TrainingConfig,
};

use crate::error::{ConfigError, Result};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_norway::{Mapping, Value};
use std::fmt;

/// The whole resolved configuration of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Run name; the run directory is `<output_dir>/<name>/<timestamp>`.
    pub name: String,
    /// Global seed (sampling, subsets, strategies).
    pub seed: u64,
    /// Root folder of run directories.
    pub output_dir: String,
    /// Dataset, columns and prompt.
    pub data: DataConfig,
    /// Active-learning loop and strategy.
    pub al: AlConfig,
    /// Who labels the queried texts.
    pub labeller: LabellerConfig,
    /// Acquisition model and its adapter.
    pub model: ModelConfig,
    /// Fine-tuning hyper-parameters.
    pub training: TrainingConfig,
    /// Generation settings.
    pub inference: InferenceConfig,
    /// Metrics on the test split.
    pub evaluation: EvaluationConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: "atgen".into(),
            seed: 42,
            output_dir: "outputs".into(),
            data: DataConfig::default(),
            al: AlConfig::default(),
            labeller: LabellerConfig::default(),
            model: ModelConfig::default(),
            training: TrainingConfig::default(),
            inference: InferenceConfig::default(),
            evaluation: EvaluationConfig::default(),
        }
    }
}

impl Config {
    /// Checks ranges and consistency; the error names the dotted key.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(ConfigError::MissingValue { key: "name".into() });
        }
        self.data.validate()?;
        self.al.validate()?;
        self.labeller.validate()?;
        self.model.validate()?;
        self.training.validate()?;
        self.inference.validate()?;
        self.evaluation.validate()
    }

    /// The configuration as YAML with every secret replaced by `***` (also inside free-form
    /// maps such as `labeller.parameters`); this is what a run directory stores.
    pub fn to_yaml_redacted(&self) -> String {
        let mut v = serde_norway::to_value(self).unwrap_or(Value::Null);
        crate::secret::redact_value(&mut v);
        serde_norway::to_string(&v).unwrap_or_default()
    }
}

/// A number of examples: an integer is an absolute count, a number with a decimal point a
/// fraction of the pool in (0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Size {
    /// That many examples.
    Count(usize),
    /// That fraction of the pool.
    Fraction(f64),
}

impl Size {
    /// The count for a pool of `n` (fractions round up, so a positive fraction of a non-empty
    /// pool is at least 1), never more than `n`.
    pub fn resolve(&self, n: usize) -> usize {
        match *self {
            Size::Count(c) => c.min(n),
            Size::Fraction(f) => ((f * n as f64).ceil() as usize).min(n),
        }
    }

    /// Errors unless a fraction is in (0, 1] (and, when `allow_zero` is false, a count > 0).
    pub fn check(&self, key: &str, allow_zero: bool) -> Result<()> {
        match *self {
            Size::Count(0) if !allow_zero => Err(ConfigError::invalid(key, "must be > 0")),
            Size::Fraction(f) if !(f > 0.0 && f <= 1.0) => Err(ConfigError::invalid(
                key,
                format!("a fraction must be in (0, 1], got {f}"),
            )),
            _ => Ok(()),
        }
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match *self {
            Size::Count(c) => s.serialize_u64(c as u64),
            Size::Fraction(f) => s.serialize_f64(f),
        }
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count (integer >= 0) or a fraction in (0, 1] such as 0.01")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Size, E> {
                Ok(Size::Count(v as usize))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Size, E> {
                usize::try_from(v)
                    .map(Size::Count)
                    .map_err(|_| E::custom(format!("a size cannot be negative, got {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Size, E> {
                Ok(Size::Fraction(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A component chosen by name with free-form parameters: YAML `name` or `{type: name, ...}`.
/// Used for strategies and metrics; the implementing crate deserialises its own tagged enum
/// from [`Spec::to_value`] or with [`Spec::deserialize_into`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Spec {
    /// The component's name (`type` in YAML).
    pub kind: String,
    /// Every other key, as written.
    pub params: Mapping,
}

impl Spec {
    /// A spec with no parameters.
    pub fn new(kind: impl Into<String>) -> Self {
        Spec {
            kind: kind.into(),
            params: Mapping::new(),
        }
    }

    /// The spec as one YAML mapping with `type` first.
    pub fn to_value(&self) -> Value {
        let mut m = Mapping::new();
        m.insert("type".into(), Value::String(self.kind.clone()));
        for (k, v) in &self.params {
            m.insert(k.clone(), v.clone());
        }
        Value::Mapping(m)
    }

    /// Deserialises the spec (with its `type` tag) into a caller's config type.
    pub fn deserialize_into<T: serde::de::DeserializeOwned>(
        &self,
    ) -> std::result::Result<T, serde_norway::Error> {
        serde_norway::from_value(self.to_value())
    }
}

impl Serialize for Spec {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Spec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(kind) => Ok(Spec::new(kind)),
            Value::Mapping(mut m) => match m.remove("type") {
                Some(Value::String(kind)) => Ok(Spec { kind, params: m }),
                _ => Err(de::Error::custom(
                    "expected a name or a mapping with a string `type` key",
                )),
            },
            other => Err(de::Error::custom(format!(
                "expected a name or a mapping with `type`, got {other:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_is_count_or_fraction() {
        let s: Size = serde_norway::from_str("10").unwrap();
        assert_eq!(s, Size::Count(10));
        let s: Size = serde_norway::from_str("0.01").unwrap();
        assert_eq!(s, Size::Fraction(0.01));
        assert_eq!(s.resolve(7473), 75);
        assert_eq!(Size::Count(50).resolve(20), 20);
        assert!(Size::Fraction(1.5).check("k", false).is_err());
        assert!(Size::Fraction(0.0).check("k", false).is_err());
        assert!(Size::Count(0).check("k", false).is_err());
        assert!(Size::Count(0).check("k", true).is_ok());
        assert!(serde_norway::from_str::<Size>("-3").is_err());
        assert!(serde_norway::from_str::<Size>("ten").is_err());
    }

    #[test]
    fn spec_from_name_or_map() {
        let s: Spec = serde_norway::from_str("huds").unwrap();
        assert_eq!(s, Spec::new("huds"));
        let s: Spec = serde_norway::from_str("{type: huds, lambda: 0.5}").unwrap();
        assert_eq!(s.kind, "huds");
        assert_eq!(s.params.get("lambda"), Some(&Value::from(0.5)));
        assert_eq!(
            serde_norway::to_string(&s).unwrap(),
            "type: huds\nlambda: 0.5\n"
        );
        assert!(serde_norway::from_str::<Spec>("{lambda: 1}").is_err());
    }

    #[test]
    fn default_config_is_valid_except_required_values() {
        let e = Config::default().validate().unwrap_err();
        assert!(
            matches!(e, ConfigError::MissingValue { ref key } if key == "data.dataset"),
            "{e}"
        );
    }
}
