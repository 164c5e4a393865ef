//! Reading weights from safetensors files (single or sharded).

use crate::decoder::WeightSource;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Tensors of one or more safetensors files, converted to one dtype.
#[derive(Debug)]
pub struct SafetensorsSource {
    tensors: HashMap<String, (Tensor, PathBuf)>,
    dtype: DType,
}

impl SafetensorsSource {
    /// Reads every file; errors name the file at fault.
    pub fn open(files: &[PathBuf], dtype: DType, device: &Device) -> Result<Self> {
        let mut tensors = HashMap::new();
        for f in files {
            let loaded = read_file(f, device)?;
            tensors.extend(loaded.into_iter().map(|(k, v)| (k, (v, f.clone()))));
        }
        Ok(SafetensorsSource { tensors, dtype })
    }

    /// Names of all tensors.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.tensors.keys()
    }

    fn origin(&self) -> PathBuf {
        self.tensors
            .values()
            .next()
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    }
}

/// Reads one safetensors file into named tensors.
pub fn read_file(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    let bytes = fs_err::read(path)?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| Error::Safetensors {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let t = candle_core::safetensors::Load::load(&view, device).map_err(|e| Error::Tensor {
            name: name.clone(),
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        out.insert(name, t);
    }
    Ok(out)
}

impl WeightSource for SafetensorsSource {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let (t, path) = self.tensors.get(name).ok_or_else(|| Error::Tensor {
            name: name.into(),
            path: self.origin(),
            reason: "missing from the checkpoint".into(),
        })?;
        if t.dims() != shape {
            return Err(Error::Tensor {
                name: name.into(),
                path: path.clone(),
                reason: format!(
                    "shape {:?} does not match the config's {:?}",
                    t.dims(),
                    shape
                ),
            });
        }
        Ok(t.to_dtype(self.dtype)?)
    }

    fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}

/// Weight source over in-memory tensors (random init, tests).
#[derive(Debug, Default)]
pub struct MapSource(pub HashMap<String, Tensor>);

impl WeightSource for MapSource {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.0.get(name).ok_or_else(|| Error::Tensor {
            name: name.into(),
            path: PathBuf::from("<memory>"),
            reason: "missing".into(),
        })?;
        if t.dims() != shape {
            return Err(Error::Tensor {
                name: name.into(),
                path: PathBuf::from("<memory>"),
                reason: format!("shape {:?} expected {:?}", t.dims(), shape),
            });
        }
        Ok(t.clone())
    }

    fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// Parses a dtype name (`f32`, `float32`, `bf16`, `bfloat16`, `f16`, `float16`, `auto`).
pub fn parse_dtype(s: &str) -> Result<Option<DType>> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "auto" => None,
        "f32" | "float32" | "float" => Some(DType::F32),
        "bf16" | "bfloat16" => Some(DType::BF16),
        "f16" | "float16" | "half" => Some(DType::F16),
        other => {
            return Err(Error::Invalid(format!(
                "unknown dtype `{other}` (f32, bf16, f16 or auto)"
            )))
        }
    })
}

/// Writes named tensors to a safetensors file.
pub fn save(tensors: &[(String, Tensor)], path: &Path) -> Result<()> {
    let map: HashMap<String, Tensor> = tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.clone()))
        .collect();
    candle_core::safetensors::save(&map, path).map_err(|e| Error::Safetensors {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}
