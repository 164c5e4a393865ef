//! Checkpoint formats: sharded safetensors with an index, and half-precision dtypes.

use crate::support::*;
use atgen_core::GenerationParams;
use atgen_models::CausalLm;
use candle_core::{DType, Device};
use std::collections::HashMap;

#[test]
fn a_sharded_checkpoint_loads_like_the_single_file() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let src = std::path::PathBuf::from(model_dir("qwen2"));
    for f in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(src.join(f), tmp.path().join(f))?;
    }
    let tensors = candle_core::safetensors::load(src.join("model.safetensors"), &Device::Cpu)?;
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    let (a, b) = names.split_at(names.len() / 2);
    let mut weight_map = serde_json::Map::new();
    for (file, part) in [
        ("model-00001-of-00002.safetensors", a),
        ("model-00002-of-00002.safetensors", b),
    ] {
        let shard: HashMap<String, candle_core::Tensor> = part
            .iter()
            .map(|n| ((*n).clone(), tensors[*n].clone()))
            .collect();
        candle_core::safetensors::save(&shard, tmp.path().join(file))?;
        for n in part {
            weight_map.insert((*n).clone(), serde_json::Value::String(file.into()));
        }
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
    std::fs::write(
        tmp.path().join("model.safetensors.index.json"),
        index.to_string(),
    )?;
    let single = CausalLm::load(&model_dir("qwen2"), None, &Device::Cpu)?;
    let sharded = CausalLm::load(&tmp.path().display().to_string(), None, &Device::Cpu)?;
    let ids = single.encode("The meeting is moved to Thursday")?;
    assert_eq!(
        single.sequence_logprobs(&ids)?,
        sharded.sequence_logprobs(&ids)?
    );
    Ok(())
}

#[test]
fn bf16_and_f16_weights_stay_close_to_f32() -> TestResult {
    let f32m = CausalLm::load(&model_dir("llama"), Some(DType::F32), &Device::Cpu)?;
    let ids = f32m.encode("How many clips did Natalia sell altogether in April and May?")?;
    let reference = f32m.sequence_logprobs(&ids)?;
    for dtype in [DType::BF16, DType::F16] {
        let m = CausalLm::load(&model_dir("llama"), Some(dtype), &Device::Cpu)?;
        assert_eq!(m.dtype(), dtype);
        let d = max_abs_diff(&m.sequence_logprobs(&ids)?, &reference);
        assert!(d > 0.0 && d < 0.15, "{dtype:?}: max |Δ log-prob| {d}");
    }
    Ok(())
}

/// A left-padded batch in bf16/f16 (a GPU's usual dtype): padding rows, whose every key is
/// masked, must not turn the batch's scores NaN, and each row decodes as it does alone.
#[test]
fn half_precision_batches_with_padding_stay_finite() -> TestResult {
    let prompts = [
        "Hi".to_string(),
        "How many clips did Natalia sell altogether in April and May?".to_string(),
    ];
    let params = GenerationParams {
        max_new_tokens: 6,
        ..Default::default()
    };
    for dtype in [DType::BF16, DType::F16] {
        let m = CausalLm::load(&model_dir("llama"), Some(dtype), &Device::Cpu)?;
        let batched = m.generate(&prompts, &params, 2)?;
        let alone = m.generate(&prompts, &params, 1)?;
        for (b, a) in batched.iter().flatten().zip(alone.iter().flatten()) {
            assert!(
                b.logprobs.iter().chain(&b.entropies).all(|x| x.is_finite()),
                "{dtype:?}: {:?} {:?}",
                b.logprobs,
                b.entropies
            );
            assert_eq!(b.token_ids, a.token_ids, "{dtype:?}");
        }
    }
    Ok(())
}
