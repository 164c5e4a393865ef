//! Checkpoint formats: sharded safetensors with an index, half-precision dtypes, and PEFT
//! adapter files as PEFT and vLLM read them.

use crate::support::*;
use atgen_core::{GenerationParams, TrainExample};
use atgen_models::adapters::PeftConfig;
use atgen_models::train::{fit, TrainConfig};
use atgen_models::{peft, CausalLm};
use candle_core::{DType, Device};
use std::collections::{BTreeSet, HashMap};

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

/// An rsLoRA adapter on some modules, trained a little so that B is not zero.
fn trained_rslora(
    dir: &std::path::Path,
) -> Result<(CausalLm, PeftConfig), Box<dyn std::error::Error + Send + Sync>> {
    let cfg = PeftConfig {
        r: 4,
        lora_alpha: 8.0,
        use_rslora: true,
        target_modules: ["q_proj", "v_proj", "down_proj"].map(String::from).to_vec(),
        ..PeftConfig::default()
    };
    let mut lm = CausalLm::load(&model_dir("qwen3"), None, &Device::Cpu)?;
    let vars = lm.attach_adapters(&cfg, 0)?;
    let examples = [
        ("The meeting is moved to", " Thursday at 3 pm"),
        ("Subject lines", " are generation tasks"),
    ]
    .map(|(p, t)| TrainExample {
        prompt: p.into(),
        target: t.into(),
    });
    let train = TrainConfig {
        epochs: 2,
        learning_rate: 2e-2,
        batch_size: 2,
        warmup_ratio: 0.0,
        progress: false,
        ..TrainConfig::paper()
    };
    fit(&lm, &vars, &examples, None, &train)?;
    peft::save_adapter(&lm, dir)?;
    Ok((lm, cfg))
}

/// scripts/fixtures/vllm_lora_check.py runs vLLM 0.7.3 on such files; this guards what it reads:
/// `r`, `lora_alpha`, `use_rslora` (vLLM's scaling), `use_dora`, `bias`, `modules_to_save`
/// (refused unless none), and `base_model.model.<module>.lora_{A,B}.weight` names.
#[test]
fn an_rslora_adapter_on_some_modules_keeps_its_scaling_and_the_names_vllm_parses() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (lm, cfg) = trained_rslora(dir.path())?;
    let text = std::fs::read_to_string(dir.path().join("adapter_config.json"))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    assert_eq!(json["peft_type"], "LORA");
    assert_eq!(json["r"], 4);
    assert_eq!(json["lora_alpha"], 8.0);
    assert_eq!(json["use_rslora"], true);
    assert_eq!(json["use_dora"], false);
    assert_eq!(json["bias"], "none");
    assert!(json["modules_to_save"].is_null());
    assert_eq!(
        json["target_modules"],
        serde_json::json!(["q_proj", "v_proj", "down_proj"])
    );
    assert_eq!(peft::read_adapter_config(dir.path())?, cfg);

    let tensors =
        candle_core::safetensors::load(dir.path().join("adapter_model.safetensors"), &Device::Cpu)?;
    let layers = lm.decoder.config().num_hidden_layers;
    let mut want = BTreeSet::new();
    for i in 0..layers {
        for m in ["self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"] {
            for ab in ["A", "B"] {
                want.insert(format!(
                    "base_model.model.model.layers.{i}.{m}.lora_{ab}.weight"
                ));
            }
        }
    }
    assert_eq!(tensors.keys().cloned().collect::<BTreeSet<_>>(), want);
    for (name, t) in &tensors {
        assert_eq!(t.dtype(), DType::F32, "{name}");
        let rank_dim = if name.contains(".lora_A.") { 0 } else { 1 };
        assert_eq!(t.dims()[rank_dim], 4, "{name}: {:?}", t.dims());
    }

    // Read back, the adapter scores as the trained model did (a lost `use_rslora` halves the update).
    let pairs = vec![(
        "Subject lines".to_string(),
        " are generation tasks".to_string(),
    )];
    let mut fresh = CausalLm::load(&model_dir("qwen3"), None, &Device::Cpu)?;
    peft::load_adapter(&mut fresh, dir.path())?;
    let (ours, theirs) = (lm.score(&pairs, 1)?, fresh.score(&pairs, 1)?);
    let base = CausalLm::load(&model_dir("qwen3"), None, &Device::Cpu)?.score(&pairs, 1)?;
    assert!(
        max_abs_diff(&ours[0].logprobs, &base[0].logprobs) > 1e-3,
        "the adapter must matter"
    );
    assert!(max_abs_diff(&ours[0].logprobs, &theirs[0].logprobs) < 1e-5);
    Ok(())
}
