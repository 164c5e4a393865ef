//! The whole-layer training kernel (`kernels::decoder_layer`) gives the same
//! loss and adapter gradients as the op-by-op graph, for every family
//! (biases, head norms, sliding window), partial target modules and QLoRA,
//! on a padded batch with random non-zero adapters; and it steps aside for
//! DoRA, dropout and full fine-tuning.

use crate::support::*;
use atgen_core::TrainExample;
use atgen_models::adapters::{PeftConfig, PeftKind};
use atgen_models::linear::ForwardCtx;
use atgen_models::rng::SeededRng;
use atgen_models::train::training_loss_in;
use atgen_models::CausalLm;
use candle_core::{Device, Tensor, Var};

fn batch() -> Vec<TrainExample> {
    [
        (
            "The meeting is moved to",
            " Thursday at 3 pm, said the note",
        ),
        ("How many clips did Natalia sell?", " #### 72"),
        ("Subject", " are generation tasks with long answers"),
    ]
    .iter()
    .map(|(p, t)| TrainExample {
        prompt: p.to_string(),
        target: t.to_string(),
    })
    .collect()
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Loss and every variable's gradient through the kernel, op by op, and through the portable
/// path a GPU runs (no CPU kernel at all, [`atgen_models::kernels::portable`]); all three must
/// agree to 1e-4 relative to the largest gradient of each variable.
fn compare(lm: &CausalLm, vars: &[(String, Var)], what: &str) -> TestResult {
    let mut kernel = ForwardCtx::training(5);
    let mut reference = ForwardCtx::training(5);
    reference.op_by_op = true;
    let mut portable_ctx = ForwardCtx::training(5);
    let lk = training_loss_in(lm, &batch(), &mut kernel)?;
    let lr = training_loss_in(lm, &batch(), &mut reference)?;
    let lp = atgen_models::kernels::portable(|| training_loss_in(lm, &batch(), &mut portable_ctx))?;
    let b = lr.to_scalar::<f32>()?;
    for (side, l) in [("kernel", &lk), ("portable", &lp)] {
        let a = l.to_scalar::<f32>()?;
        assert!(
            (a - b).abs() <= 1e-5 * b.abs(),
            "{what}: {side} loss {a} vs {b}"
        );
    }
    let (gk, gr, gp) = (lk.backward()?, lr.backward()?, lp.backward()?);
    for (name, var) in vars {
        let r = gr
            .get(var.as_tensor())
            .ok_or_else(|| format!("{what}: no reference gradient for {name}"))?;
        let r = values(r);
        let scale = r.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{what}: zero gradient for {name}");
        for (side, grads) in [("kernel", &gk), ("portable", &gp)] {
            let g = grads
                .get(var.as_tensor())
                .ok_or_else(|| format!("{what}: no {side} gradient for {name}"))?;
            let d = max_abs_diff(&values(g), &r);
            assert!(
                d <= 1e-4 * scale,
                "{what}: {side} {name} differs by {d} (scale {scale})"
            );
        }
    }
    Ok(())
}

/// Adapters with random `B` (PEFT starts it at zero, which would hide `∂A`).
fn randomize(vars: &[(String, Var)]) -> TestResult {
    let mut rng = SeededRng::new(11);
    for (name, v) in vars {
        if name.contains("lora_B") {
            v.set(&rng.normal(v.as_tensor().dims(), 0.2, &Device::Cpu)?)?;
        }
    }
    Ok(())
}

type Trainable = (CausalLm, Vec<(String, Var)>);

fn load(
    family: &str,
    cfg: &PeftConfig,
) -> Result<Trainable, Box<dyn std::error::Error + Send + Sync>> {
    let mut lm = CausalLm::load(&model_dir(family), None, &Device::Cpu)?;
    let vars = lm.attach_adapters(cfg, 1)?;
    randomize(&vars)?;
    Ok((lm, vars))
}

fn lora(r: usize) -> PeftConfig {
    PeftConfig {
        kind: PeftKind::Lora,
        r,
        lora_alpha: 2.0 * r as f64,
        lora_dropout: 0.0,
        ..PeftConfig::default()
    }
}

#[test]
fn layer_kernel_matches_the_op_by_op_graph_for_every_family() -> TestResult {
    for family in ["qwen2", "qwen3", "llama", "mistral_swa"] {
        let (lm, vars) = load(family, &lora(4))?;
        let layers = lm.decoder.config().num_hidden_layers;
        assert_eq!(lm.decoder.layer_kernel_layers()?, layers, "{family}");
        compare(&lm, &vars, family)?;
    }
    Ok(())
}

#[test]
fn layer_kernel_matches_with_some_target_modules_rslora_and_qlora() -> TestResult {
    let partial = PeftConfig {
        target_modules: vec!["q_proj".into(), "v_proj".into(), "down_proj".into()],
        use_rslora: true,
        ..lora(3)
    };
    let (lm, vars) = load("qwen3", &partial)?;
    assert_eq!(lm.decoder.layer_kernel_layers()?, 2);
    compare(&lm, &vars, "q/v/down with rsLoRA")?;
    let qlora = PeftConfig {
        kind: PeftKind::Qlora,
        ..lora(4)
    };
    let (lm, vars) = load("qwen2", &qlora)?;
    assert_eq!(lm.decoder.layer_kernel_layers()?, 2);
    compare(&lm, &vars, "qlora")
}

#[test]
fn layer_kernel_steps_aside_for_dora_dropout_and_full_fine_tuning() -> TestResult {
    for cfg in [
        PeftConfig {
            kind: PeftKind::Dora,
            ..lora(4)
        },
        PeftConfig {
            lora_dropout: 0.1,
            ..lora(4)
        },
        PeftConfig {
            kind: PeftKind::None,
            ..lora(4)
        },
    ] {
        let mut lm = CausalLm::load(&model_dir("qwen3"), None, &Device::Cpu)?;
        lm.attach_adapters(&cfg, 1)?;
        assert_eq!(lm.decoder.layer_kernel_layers()?, 0, "{:?}", cfg.kind);
    }
    Ok(())
}
