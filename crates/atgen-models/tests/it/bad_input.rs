//! Bad input gives an error naming the file, tensor or input; never a panic.

use crate::support::*;
use atgen_core::GenerationParams;
use atgen_models::CausalLm;
use candle_core::Device;
use std::path::Path;

/// A copy of the qwen3 fixture model that a test may damage.
fn copy_model(to: &Path) -> TestResult {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(model_dir("qwen3"))? {
        let e = e?;
        std::fs::copy(e.path(), to.join(e.file_name()))?;
    }
    Ok(())
}

fn load_err(dir: &Path) -> String {
    match CausalLm::load(&dir.display().to_string(), None, &Device::Cpu) {
        Ok(_) => "loaded".into(),
        Err(e) => e.to_string(),
    }
}

fn edit_config(dir: &Path, f: impl Fn(&mut serde_json::Value)) -> TestResult {
    let p = dir.join("config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p)?)?;
    f(&mut v);
    std::fs::write(p, v.to_string())?;
    Ok(())
}

#[test]
fn missing_directory_and_missing_config_are_named() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let e = load_err(&tmp.path().join("nope"));
    assert!(e.contains("nope"), "{e}");
    let e = load_err(tmp.path());
    assert!(e.contains("config.json"), "{e}");
    Ok(())
}

#[test]
fn unknown_architecture_is_named_with_the_supported_ones() -> TestResult {
    let tmp = tempfile::tempdir()?;
    copy_model(tmp.path())?;
    edit_config(tmp.path(), |v| {
        v["architectures"] = serde_json::json!(["GPT2LMHeadModel"]);
        v["model_type"] = serde_json::json!("gpt2");
    })?;
    let e = load_err(tmp.path());
    assert!(
        e.contains("GPT2LMHeadModel")
            && e.contains("Qwen3ForCausalLM")
            && e.contains("config.json"),
        "{e}"
    );
    Ok(())
}

#[test]
fn shape_mismatch_and_missing_tensor_name_the_tensor() -> TestResult {
    let tmp = tempfile::tempdir()?;
    copy_model(tmp.path())?;
    edit_config(tmp.path(), |v| {
        v["intermediate_size"] = serde_json::json!(48)
    })?;
    let e = load_err(tmp.path());
    assert!(
        e.contains("model.layers.0.mlp.gate_proj.weight") && e.contains("shape"),
        "{e}"
    );
    edit_config(tmp.path(), |v| {
        v["intermediate_size"] = serde_json::json!(64);
        v["num_hidden_layers"] = serde_json::json!(3);
    })?;
    let e = load_err(tmp.path());
    assert!(
        e.contains("model.layers.2.") && e.contains("missing"),
        "{e}"
    );
    Ok(())
}

#[test]
fn corrupt_safetensors_names_the_file() -> TestResult {
    let tmp = tempfile::tempdir()?;
    copy_model(tmp.path())?;
    let w = tmp.path().join("model.safetensors");
    let bytes = std::fs::read(&w)?;
    std::fs::write(&w, &bytes[..bytes.len() / 2])?;
    let e = load_err(tmp.path());
    assert!(e.contains("model.safetensors"), "{e}");
    std::fs::write(&w, b"not a safetensors file")?;
    let e = load_err(tmp.path());
    assert!(
        e.contains("corrupt safetensors") && e.contains("model.safetensors"),
        "{e}"
    );
    Ok(())
}

#[test]
fn a_prompt_longer_than_the_context_is_rejected_with_its_index() -> TestResult {
    let lm = CausalLm::load(&model_dir("qwen3"), None, &Device::Cpu)?;
    let long = "Active learning picks the few texts worth annotating. ".repeat(40);
    let e = lm
        .generate(
            &["short".into(), long.clone()],
            &GenerationParams::default(),
            4,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("input 1") && e.contains("context of 128"), "{e}");
    let e = lm
        .score(&[(long, "x".into())], 1)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("input 0"), "{e}");
    Ok(())
}

#[test]
fn an_adapter_that_does_not_fit_the_model_is_rejected() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let e = atgen_models::peft::read_adapter_config(tmp.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("adapter_config.json"), "{e}");
    // A config whose rank disagrees with the stored tensors.
    let src = fixtures().join("adapters").join("lora");
    for f in ["adapter_config.json", "adapter_model.safetensors"] {
        std::fs::copy(src.join(f), tmp.path().join(f))?;
    }
    let p = tmp.path().join("adapter_config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p)?)?;
    v["r"] = serde_json::json!(8);
    std::fs::write(&p, v.to_string())?;
    let mut lm = CausalLm::load(&model_dir("qwen3"), None, &Device::Cpu)?;
    let e = atgen_models::peft::load_adapter(&mut lm, tmp.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("lora_A") && e.contains("r=8"), "{e}");
    Ok(())
}

/// `lm_head` as a target of a model whose head is its input embedding is refused by name,
/// not silently skipped (the exported adapter would list a module it never trained).
#[test]
fn a_tied_head_as_an_adapter_target_is_refused() -> TestResult {
    use atgen_models::adapters::PeftConfig;
    let mut lm = CausalLm::load(&model_dir("qwen2"), None, &Device::Cpu)?;
    let cfg = PeftConfig {
        target_modules: ["q_proj", "lm_head"].map(String::from).to_vec(),
        ..PeftConfig::default()
    };
    let err = lm
        .attach_adapters(&cfg, 0)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("target_modules") && err.contains("`lm_head` is tied"),
        "{err}"
    );
    // An untied head takes an adapter.
    let mut lm = CausalLm::load(&model_dir("llama"), None, &Device::Cpu)?;
    let vars = lm.attach_adapters(&cfg, 0)?;
    assert!(
        vars.iter().any(|(n, _)| n.starts_with("lm_head.")),
        "{vars:?}"
    );
    Ok(())
}
