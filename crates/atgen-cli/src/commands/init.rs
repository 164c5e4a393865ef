//! `atgen model init`: a random model in Hugging Face layout.

use crate::args::InitArgs;
use anyhow::{bail, Result};
use atgen_models::init::{init_model, TokenizerSource};
use atgen_models::{DecoderConfig, Family};

pub fn family(name: &str) -> Result<Family> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "qwen3" => Family::Qwen3,
        "qwen2" => Family::Qwen2,
        "llama" => Family::Llama,
        "mistral" => Family::Mistral,
        other => bail!("unknown --arch `{other}` (qwen3, qwen2, llama, mistral)"),
    })
}

pub fn run(args: &InitArgs) -> Result<()> {
    let fam = family(&args.arch)?;
    let mut cfg = DecoderConfig::tiny(fam, args.vocab_size);
    cfg.hidden_size = args.hidden_size;
    cfg.intermediate_size = args.intermediate_size;
    cfg.num_hidden_layers = args.layers;
    cfg.num_attention_heads = args.heads;
    cfg.num_key_value_heads = Some(args.kv_heads);
    cfg.head_dim = args
        .head_dim
        .or((fam == Family::Qwen3).then_some(args.hidden_size / args.heads.max(1)));
    cfg.max_position_embeddings = args.max_position_embeddings;
    cfg.rope_theta = args.rope_theta;
    let tok = match (&args.tokenizer, args.train_tokenizer.is_empty()) {
        (Some(p), _) => TokenizerSource::Existing(p.clone()),
        (None, false) => TokenizerSource::Train {
            files: args.train_tokenizer.clone(),
            vocab_size: args.vocab_size,
            added_tokens: args.add_tokens.clone(),
        },
        (None, true) => bail!("give --tokenizer tokenizer.json or --train-tokenizer text-file"),
    };
    let cfg = init_model(cfg, &tok, args.seed, &args.out)?;
    eprintln!(
        "wrote {} ({}, vocab {}, {} layers, hidden {})",
        args.out.display(),
        fam.architecture(),
        cfg.vocab_size,
        cfg.num_hidden_layers,
        cfg.hidden_size
    );
    Ok(())
}
