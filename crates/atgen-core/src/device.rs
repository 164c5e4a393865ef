//! Which device a model runs on, as users write it: `auto`, `cpu`, `cuda` or `cuda:N`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A device named in a config or on the command line. Opening it is the model crate's job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceName {
    /// The first CUDA GPU when this build has CUDA and one is present, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// The CUDA GPU with this ordinal (`cuda` is `cuda:0`).
    Cuda(usize),
}

/// A device name that is none of `auto`, `cpu`, `cuda`, `cuda:N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown device `{0}` (expected `auto`, `cpu`, `cuda` or `cuda:N`)")]
pub struct UnknownDevice(pub String);

impl FromStr for DeviceName {
    type Err = UnknownDevice;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "auto" => Ok(DeviceName::Auto),
            "cpu" => Ok(DeviceName::Cpu),
            "cuda" => Ok(DeviceName::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceName::Cuda)
                .ok_or_else(|| UnknownDevice(s.to_string())),
        }
    }
}

impl fmt::Display for DeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceName::Auto => f.write_str("auto"),
            DeviceName::Cpu => f.write_str("cpu"),
            DeviceName::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl Serialize for DeviceName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_print_and_round_trip_through_serde() -> Result<(), serde_json::Error> {
        for (text, name) in [
            ("auto", DeviceName::Auto),
            ("cpu", DeviceName::Cpu),
            ("cuda", DeviceName::Cuda(0)),
            ("cuda:3", DeviceName::Cuda(3)),
        ] {
            assert_eq!(text.parse::<DeviceName>(), Ok(name));
            let json = serde_json::to_string(&name)?;
            assert_eq!(serde_json::from_str::<DeviceName>(&json)?, name);
        }
        assert_eq!(DeviceName::Cuda(0).to_string(), "cuda:0");
        for bad in ["", "tpu", "cuda:", "cuda:x", "cuda:-1", "CPU0"] {
            let err = bad.parse::<DeviceName>().err().map(|e| e.to_string());
            assert_eq!(
                err,
                Some(format!(
                    "unknown device `{bad}` (expected `auto`, `cpu`, `cuda` or `cuda:N`)"
                ))
            );
        }
        let err = serde_json::from_str::<DeviceName>("\"metal\"").err();
        assert!(
            err.is_some_and(|e| e.to_string().contains("unknown device `metal`")),
            "metal is no device name"
        );
        Ok(())
    }
}
