//! Times the phases of one LoRA training step (forward, backward, optimizer).
//! `profile_train MODEL [op-by-op]`: the second argument trains through the
//! op-by-op graph instead of the whole-layer kernel, for a side-by-side.
use atgen_core::TrainExample;
use atgen_models::adapters::PeftConfig;
use atgen_models::linear::ForwardCtx;
use atgen_models::optim::{AdamW, AdamWParams};
use atgen_models::train::training_loss_in;
use atgen_models::CausalLm;
use std::time::Instant;

fn main() -> atgen_models::Result<()> {
    let model = std::env::args().nth(1).unwrap_or("/tmp/bench-model".into());
    atgen_models::memory::keep_freed_memory();
    let op_by_op = std::env::args().nth(2).as_deref() == Some("op-by-op");
    let mut lm = CausalLm::load(&model, None, &candle_core::Device::Cpu)?;
    let vars = lm.attach_adapters(&PeftConfig::default(), 0)?;
    let words = [
        "the", "model", "learns", "a", "label", "for", "each", "text", "query", "pool", "of",
        "data",
    ];
    let text = |n: usize, o: usize| {
        (0..n)
            .map(|i| words[(i * 7 + o) % 12])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let ex: Vec<TrainExample> = (0..16)
        .map(|i| TrainExample {
            prompt: text(32, i),
            target: text(32, i + 3),
        })
        .collect();
    let mut opt = AdamW::new(&vars, AdamWParams::default())?;
    for it in 0..6 {
        let t0 = Instant::now();
        let mut ctx = ForwardCtx::training(0);
        ctx.op_by_op = op_by_op;
        let loss = training_loss_in(&lm, &ex, &mut ctx)?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        let t2 = Instant::now();
        opt.accumulate(&grads, 1.0)?;
        opt.step(1e-3, Some(1.0))?;
        let t3 = Instant::now();
        println!(
            "{it}: loss {:.5} fwd {:.3} bwd {:.3} opt {:.3}",
            loss.to_scalar::<f32>()?,
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            (t3 - t2).as_secs_f64()
        );
    }
    Ok(())
}
