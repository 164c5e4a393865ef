//! `atgen model bench`: training and generation throughput on synthetic
//! token sequences, for docs/PERFORMANCE.md (compare with
//! `scripts/bench/torch_model_bench.py` on the same model and thread count).

use crate::args::BenchArgs;
use anyhow::Result;
use atgen_core::{GenerationParams, TrainExample};
use atgen_models::adapters::PeftConfig;
use atgen_models::train::{fit, TrainConfig};
use serde_json::json;
use std::time::Instant;

/// A text whose tokenization is about `n` tokens (a rough word per token).
fn text_of(words: &[&str], n: usize, offset: usize) -> String {
    (0..n)
        .map(|i| words[(i * 7 + offset) % words.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let mut lm = super::load_model(&args.model)?;
    let words = [
        "the", "model", "learns", "a", "label", "for", "each", "text", "query", "pool", "of",
        "data",
    ];
    let b = args.model.batch_size;
    let train: Vec<TrainExample> = (0..b * (args.steps + 1))
        .map(|i| TrainExample {
            prompt: text_of(&words, args.prompt_tokens, i),
            target: text_of(&words, args.target_tokens, i + 3),
        })
        .collect();
    let peft = PeftConfig {
        kind: args.peft.parse()?,
        r: args.r,
        lora_alpha: args.r as f64,
        ..PeftConfig::default()
    };
    let vars = lm.attach_adapters(&peft, 0)?;
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: b,
        progress: false,
        early_stopping_patience: 0,
        ..TrainConfig::paper()
    };
    // Warm-up on one batch, then time the rest.
    fit(&lm, &vars, &train[..b], None, &cfg)?;
    let target_tokens: usize = train[b..]
        .iter()
        .map(|e| {
            lm.tokenizer
                .encode(&e.target, false)
                .map_or(0, |v| v.len() + 1)
        })
        .sum();
    let all_tokens: usize = train[b..]
        .iter()
        .map(|e| {
            lm.encode(&e.prompt).map_or(0, |v| v.len())
                + lm.tokenizer
                    .encode(&e.target, false)
                    .map_or(0, |v| v.len() + 1)
        })
        .sum();
    let t0 = Instant::now();
    fit(&lm, &vars, &train[b..], None, &cfg)?;
    let train_s = t0.elapsed().as_secs_f64();
    lm.merge_adapters()?;
    let prompts: Vec<String> = (0..b)
        .map(|i| text_of(&words, args.prompt_tokens, i))
        .collect();
    let params = GenerationParams {
        max_new_tokens: args.new_tokens,
        stop_token_ids: Vec::new(),
        ..Default::default()
    };
    let mut no_eos = lm.clone();
    no_eos.eos_ids.clear();
    no_eos.generate(
        &prompts[..1],
        &GenerationParams {
            max_new_tokens: 2,
            ..params.clone()
        },
        b,
    )?;
    let t0 = Instant::now();
    let out = no_eos.generate(&prompts, &params, b)?;
    let gen_s = t0.elapsed().as_secs_f64();
    let generated: usize = out.iter().flatten().map(|g| g.token_ids.len()).sum();
    let report = json!({
        "device": atgen_models::device::describe(lm.device()),
        "batch_size": b,
        "train_steps": args.steps,
        "train_seconds": train_s,
        "train_tokens_per_s": all_tokens as f64 / train_s,
        "train_target_tokens_per_s": target_tokens as f64 / train_s,
        "generate_seconds": gen_s,
        "generate_tokens_per_s": generated as f64 / gen_s,
        "generated_tokens": generated,
        "peak_rss_mib": atgen_engine::peak_rss_mib(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
