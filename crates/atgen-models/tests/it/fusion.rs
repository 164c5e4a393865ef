//! Fused q/k/v and gate/up projections at inference: the same numbers as the
//! separate projections, dropped while adapters are attached, back after merging.

use crate::support::*;
use atgen_core::GenerationParams;
use atgen_models::adapters::PeftConfig;
use atgen_models::CausalLm;
use candle_core::{DType, Device};

fn unfused(lm: &CausalLm) -> atgen_models::Result<CausalLm> {
    let mut plain = lm.clone();
    let _ = plain.decoder.linears_mut()?;
    Ok(plain)
}

#[test]
fn fused_projections_give_the_same_logprobs_and_tokens() -> TestResult {
    // qwen2 has q/k/v biases (fused too), qwen3 per-head norms; bf16 takes the
    // non-kernel path.
    for (family, dtype, tol) in [
        ("qwen2", DType::F32, 1e-5),
        ("qwen3", DType::F32, 1e-5),
        ("llama", DType::BF16, 0.05),
    ] {
        let fused = CausalLm::load(&model_dir(family), Some(dtype), &Device::Cpu)?;
        assert!(
            fused.decoder.is_fused(),
            "{family}: not fused after loading"
        );
        let plain = unfused(&fused)?;
        assert!(!plain.decoder.is_fused());
        let ids = fused.encode("The meeting is moved to Thursday at noon")?;
        let d = max_abs_diff(
            &fused.sequence_logprobs(&ids)?,
            &plain.sequence_logprobs(&ids)?,
        );
        assert!(d <= tol, "{family} {dtype:?}: max |Δ log-prob| {d}");
        let prompts = [
            "Hello there".to_string(),
            "A longer prompt than that".into(),
        ];
        let params = GenerationParams {
            max_new_tokens: 6,
            ..Default::default()
        };
        if dtype != DType::F32 {
            continue; // bf16 rounding may flip a near tie
        }
        let a = fused.generate(&prompts, &params, 2)?;
        let b = plain.generate(&prompts, &params, 2)?;
        for (x, y) in a.iter().flatten().zip(b.iter().flatten()) {
            assert_eq!(x.token_ids, y.token_ids, "{family} {dtype:?}");
        }
    }
    Ok(())
}

#[test]
fn adapters_unfuse_and_merging_fuses_again() -> TestResult {
    let mut lm = CausalLm::load(&model_dir("qwen3"), None, &Device::Cpu)?;
    let ids = lm.encode("Natalia sold clips to 48 of her friends")?;
    let vars = lm.attach_adapters(&PeftConfig::default(), 7)?;
    assert!(!lm.decoder.is_fused());
    assert!(lm
        .decoder
        .linears()
        .iter()
        .all(|(_, l)| l.base_weight().is_ok_and(|w| w.is_contiguous())));
    // Move the adapters off zero so the merge changes the weights.
    for (_, v) in &vars {
        v.set(&(v.as_tensor() + 0.05)?)?;
    }
    let adapted = lm.sequence_logprobs(&ids)?;
    lm.merge_adapters()?;
    assert!(lm.decoder.is_fused());
    let merged = lm.sequence_logprobs(&ids)?;
    let d = max_abs_diff(&adapted, &merged);
    assert!(d < 1e-4, "merged vs adapter: max |Δ log-prob| {d}");
    let plain = unfused(&lm)?;
    assert!(max_abs_diff(&merged, &plain.sequence_logprobs(&ids)?) < 1e-5);
    Ok(())
}
