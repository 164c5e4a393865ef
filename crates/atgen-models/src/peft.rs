//! PEFT formats: adapters as `adapter_config.json` + `adapter_model.safetensors`
//! with PEFT's tensor names (loadable by Python PEFT, and by vLLM for plain
//! LoRA: scripts/fixtures/vllm_lora_check.sh; vLLM refuses DoRA, which is
//! served merged), and merged checkpoints in Hugging Face layout.
//!
//! Tensor names: `base_model.model.<module>.lora_A.weight` `(r, in)`,
//! `…lora_B.weight` `(out, r)`, and for DoRA `…lora_magnitude_vector` `(out,)`.

use crate::adapters::{LoraWeights, PeftConfig, PeftKind};
use crate::load::{read_file, save};
use crate::{CausalLm, Error, Result};
use candle_core::{DType, Tensor, Var};
use serde_json::json;
use std::path::Path;

const PREFIX: &str = "base_model.model.";

/// Writes the model's adapters in PEFT format.
pub fn save_adapter(lm: &CausalLm, dir: &Path) -> Result<()> {
    let cfg = lm
        .peft
        .as_ref()
        .ok_or_else(|| Error::Invalid("the model has no adapters to save".into()))?;
    if cfg.kind == PeftKind::None {
        return Err(Error::Invalid(
            "full fine-tuning has no adapter: save the merged model instead".into(),
        ));
    }
    fs_err::create_dir_all(dir)?;
    let tensors: Vec<(String, Tensor)> = lm
        .trainable_vars()
        .into_iter()
        .map(|(n, v)| (format!("{PREFIX}{n}"), v.as_tensor().clone()))
        .collect();
    save(&tensors, &dir.join("adapter_model.safetensors"))?;
    let base = lm.files.as_ref().map(|f| f.dir.display().to_string());
    let config = json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base,
        "r": cfg.r,
        "lora_alpha": cfg.lora_alpha,
        "lora_dropout": cfg.lora_dropout,
        "target_modules": cfg.target_modules,
        "use_rslora": cfg.use_rslora,
        "use_dora": cfg.kind == PeftKind::Dora,
        "bias": "none",
        "fan_in_fan_out": false,
        "inference_mode": true,
        "init_lora_weights": true,
        "modules_to_save": null,
        "layers_to_transform": null,
        "layers_pattern": null,
        "rank_pattern": {},
        "alpha_pattern": {},
        "revision": null,
    });
    let text = serde_json::to_string_pretty(&config).map_err(|e| Error::Invalid(e.to_string()))?;
    fs_err::write(dir.join("adapter_config.json"), text)?;
    // Record QLoRA explicitly: PEFT's config has no field for the base's storage.
    if cfg.kind == PeftKind::Qlora {
        fs_err::write(dir.join("atgen_peft_kind.txt"), "qlora\n")?;
    }
    Ok(())
}

/// Reads `adapter_config.json` into a [`PeftConfig`].
pub fn read_adapter_config(dir: &Path) -> Result<PeftConfig> {
    let path = dir.join("adapter_config.json");
    if !path.is_file() {
        return Err(Error::MissingFile {
            path,
            hint: " (a PEFT adapter directory)".into(),
        });
    }
    let text = fs_err::read_to_string(&path)?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|source| Error::Json {
        path: path.clone(),
        source,
    })?;
    let field = |k: &str| v.get(k).cloned().unwrap_or(serde_json::Value::Null);
    if let Some(t) = field("peft_type").as_str().filter(|t| *t != "LORA") {
        return Err(Error::Config {
            key: "peft_type".into(),
            reason: format!("`{t}` adapters are not supported (LORA only)"),
        });
    }
    let r = field("r").as_u64().ok_or_else(|| Error::Config {
        key: "r".into(),
        reason: format!("missing in {}", path.display()),
    })?;
    let targets = match field("target_modules") {
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        serde_json::Value::String(s) => vec![s],
        _ => {
            return Err(Error::Config {
                key: "target_modules".into(),
                reason: format!("missing in {}", path.display()),
            })
        }
    };
    let qlora = dir.join("atgen_peft_kind.txt").is_file();
    let kind = match (field("use_dora").as_bool().unwrap_or(false), qlora) {
        (true, _) => PeftKind::Dora,
        (false, true) => PeftKind::Qlora,
        _ => PeftKind::Lora,
    };
    Ok(PeftConfig {
        kind,
        r: r as usize,
        lora_alpha: field("lora_alpha").as_f64().unwrap_or(8.0),
        lora_dropout: field("lora_dropout").as_f64().unwrap_or(0.0),
        target_modules: targets,
        use_rslora: field("use_rslora").as_bool().unwrap_or(false),
    })
}

/// Loads a PEFT adapter onto the model (replacing any adapters it has).
/// The weights become trainable variables, so training can continue from them.
pub fn load_adapter(lm: &mut CausalLm, dir: &Path) -> Result<Vec<(String, Var)>> {
    let cfg = read_adapter_config(dir)?;
    let file = dir.join("adapter_model.safetensors");
    if !file.is_file() {
        return Err(Error::MissingFile {
            path: file,
            hint: String::new(),
        });
    }
    let tensors = read_file(&file, lm.device())?;
    let get = |name: &str| {
        // PEFT writes `base_model.model.<module>...`; accept names with the adapter name too.
        tensors
            .get(&format!("{PREFIX}{name}"))
            .or_else(|| {
                tensors.get(&format!(
                    "{PREFIX}{}",
                    name.replace(".weight", ".default.weight")
                ))
            })
            .map(|t| t.to_dtype(DType::F32))
            .transpose()
    };
    let mut used = 0;
    for (name, lin) in lm.decoder.linears_mut()? {
        if cfg.kind == PeftKind::Qlora && name != "lm_head" {
            lin.quantize_base()?;
        }
        let (Some(a), Some(b)) = (
            get(&format!("{name}.lora_A.weight"))?,
            get(&format!("{name}.lora_B.weight"))?,
        ) else {
            lin.set_adapter(None);
            continue;
        };
        let (out_dim, in_dim) = lin.dims();
        if a.dims() != [cfg.r, in_dim] || b.dims() != [out_dim, cfg.r] {
            return Err(Error::Tensor {
                name: format!("{PREFIX}{name}.lora_A/B"),
                path: file.clone(),
                reason: format!(
                    "shapes {:?}/{:?} do not fit a ({out_dim}, {in_dim}) layer with r={}",
                    a.dims(),
                    b.dims(),
                    cfg.r
                ),
            });
        }
        let magnitude = if cfg.kind == PeftKind::Dora {
            let m =
                get(&format!("{name}.lora_magnitude_vector"))?.ok_or_else(|| Error::Tensor {
                    name: format!("{PREFIX}{name}.lora_magnitude_vector"),
                    path: file.clone(),
                    reason: "missing from a DoRA adapter".into(),
                })?;
            Some(Var::from_tensor(&m)?)
        } else {
            None
        };
        lin.set_adapter(Some(LoraWeights {
            a: Var::from_tensor(&a)?,
            b: Var::from_tensor(&b)?,
            magnitude,
            scaling: cfg.scaling(),
            dropout: cfg.lora_dropout,
        }));
        used += 1;
    }
    if used == 0 {
        return Err(Error::Tensor {
            name: "lora_A / lora_B".into(),
            path: file,
            reason: "no adapter tensor matches a layer of this model".into(),
        });
    }
    lm.peft = Some(cfg);
    Ok(lm.trainable_vars())
}

/// Writes the model (adapters merged in) as a Hugging Face checkpoint that
/// transformers loads: config.json, model.safetensors, tokenizer files.
pub fn save_merged(lm: &CausalLm, dir: &Path) -> Result<()> {
    let mut merged = lm.clone();
    merged.merge_adapters()?;
    fs_err::create_dir_all(dir)?;
    let weights: Vec<(String, Tensor)> = merged
        .decoder
        .named_weights()?
        .into_iter()
        .map(|(n, t)| Ok((n, t.to_dtype(DType::F32)?)))
        .collect::<Result<_>>()?;
    save(&weights, &dir.join("model.safetensors"))?;
    let mut cfg = merged.decoder.config().clone();
    cfg.torch_dtype = Some("float32".into());
    crate::init::write_config(&cfg, dir)?;
    lm.tokenizer
        .inner()
        .save(dir.join("tokenizer.json"), false)
        .map_err(Error::tokenizer)?;
    if let Some(tc) = lm.files.as_ref().and_then(|f| f.tokenizer_config.as_ref()) {
        let dest = dir.join("tokenizer_config.json");
        // Overwriting the model in place (same directory) must not truncate the source.
        if fs_err::canonicalize(tc).ok() != fs_err::canonicalize(&dest).ok() {
            fs_err::copy(tc, dest)?;
        }
    }
    Ok(())
}
