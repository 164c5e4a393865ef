//! Shared helpers: fixture paths and comparisons.

use std::path::PathBuf;

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

pub fn model_dir(family: &str) -> String {
    fixtures().join("models").join(family).display().to_string()
}

pub fn reference(name: &str) -> serde_json::Value {
    let path = fixtures().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_f64())
                .map(|x| x as f32)
                .collect()
        })
        .unwrap_or_default()
}

pub fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_u64())
                .map(|x| x as u32)
                .collect()
        })
        .unwrap_or_default()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// all-MiniLM-L6-v2 fetched by `scripts/fetch-test-assets` (run by `scripts/test`).
pub fn minilm_dir() -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache/test-assets/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} missing: run scripts/fetch-test-assets",
        dir.display()
    );
    dir
}

/// The device the parity and training tests run on: `ATGEN_TEST_DEVICE` (`cpu` when unset);
/// `ATGEN_TEST_DEVICE=cuda` with `--features cuda` runs them on a GPU (docs/GPU.md).
pub fn test_device() -> candle_core::Device {
    let name = std::env::var("ATGEN_TEST_DEVICE").unwrap_or_else(|_| "cpu".into());
    let name: atgen_core::DeviceName = name
        .parse()
        .unwrap_or_else(|e| panic!("ATGEN_TEST_DEVICE: {e}"));
    atgen_models::device::open(name, "ATGEN_TEST_DEVICE").unwrap_or_else(|e| panic!("{e}"))
}
