//! `atgen finetune`: LoRA / DoRA / QLoRA / full fine-tuning from JSONL.

use crate::args::FinetuneArgs;
use crate::jsonl;
use anyhow::{bail, Result};
use atgen_core::TrainExample;
use atgen_models::adapters::{PeftConfig, PeftKind};
use atgen_models::train::{fit, TrainConfig};
use atgen_models::{peft, CausalLm};
use std::path::Path;

fn read_examples(lm: &CausalLm, path: &Path, chat: bool) -> Result<Vec<TrainExample>> {
    jsonl::read(path)?
        .iter()
        .map(|l| {
            let prompt = jsonl::string_field(path, l, &["prompt", "input"])?;
            let target = jsonl::string_field(path, l, &["target", "output"])?;
            Ok(TrainExample {
                prompt: lm.format_prompt(&prompt, None, chat)?,
                target,
            })
        })
        .collect()
}

/// The preset with command-line overrides applied.
pub fn train_config(args: &FinetuneArgs) -> Result<TrainConfig> {
    let mut c = match args.preset.as_str() {
        "paper" => TrainConfig::paper(),
        other => bail!("unknown --preset `{other}` (paper)"),
    };
    c.epochs = args.epochs.unwrap_or(c.epochs);
    c.learning_rate = args.lr.unwrap_or(c.learning_rate);
    c.batch_size = args.train_batch_size.unwrap_or(c.batch_size);
    c.gradient_accumulation_steps = args
        .gradient_accumulation_steps
        .unwrap_or(c.gradient_accumulation_steps);
    c.warmup_ratio = args.warmup_ratio.unwrap_or(c.warmup_ratio);
    c.weight_decay = args.weight_decay.unwrap_or(c.weight_decay);
    c.max_grad_norm = args.max_grad_norm.unwrap_or(c.max_grad_norm);
    c.early_stopping_patience = args.patience.unwrap_or(c.early_stopping_patience);
    c.seed = args.seed;
    c.progress = !args.quiet;
    c.validate()?;
    Ok(c)
}

pub fn run(args: &FinetuneArgs) -> Result<()> {
    let cfg = train_config(args)?;
    let mut lm = super::load_model(&args.model)?;
    let kind: PeftKind = args.peft.parse()?;
    let vars = if args.model.adapter.is_some() {
        // Continue training the loaded adapter.
        if kind != PeftKind::None && lm.peft.as_ref().is_some_and(|p| p.kind != kind) {
            eprintln!(
                "note: continuing the loaded adapter's kind; --peft {} ignored",
                args.peft
            );
        }
        lm.trainable_vars()
    } else {
        let peft_cfg = PeftConfig {
            kind,
            r: args.r,
            lora_alpha: args.lora_alpha,
            lora_dropout: args.lora_dropout,
            target_modules: args.target_modules.clone(),
            use_rslora: args.use_rslora,
        };
        lm.attach_adapters(&peft_cfg, args.seed)?
    };
    let train = read_examples(&lm, &args.train, args.chat)?;
    let dev = args
        .dev
        .as_deref()
        .map(|d| read_examples(&lm, d, args.chat))
        .transpose()?;
    let report = fit(&lm, &vars, &train, dev.as_deref(), &cfg)?;
    if kind == PeftKind::None {
        peft::save_merged(&lm, &args.out)?;
    } else {
        peft::save_adapter(&lm, &args.out)?;
    }
    if let Some(m) = &args.merged_out {
        peft::save_merged(&lm, m)?;
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
