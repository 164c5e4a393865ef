//! `atgen model init`: a randomly initialised model written in Hugging Face
//! layout (config.json, model.safetensors, tokenizer.json,
//! tokenizer_config.json with a ChatML template), reproducible from a seed.
//!
//! The tokenizer is either copied from a given `tokenizer.json` or a byte-level
//! BPE trained on a text file with the tokenizers crate's trainer.

use crate::decoder::LINEAR_NAMES;
use crate::load::save;
use crate::rng::SeededRng;
use crate::{DecoderConfig, Error, Family, Result};
use candle_core::{Device, Tensor};
use std::path::{Path, PathBuf};

/// Special tokens of trained tokenizers: end of text, and ChatML turn markers.
pub const SPECIAL_TOKENS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// The ChatML template written for models we create.
pub const CHATML_TEMPLATE: &str = "{%- for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{%- endfor %}{%- if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{%- endif %}";

/// Where the tokenizer of a new model comes from.
#[derive(Debug, Clone)]
pub enum TokenizerSource {
    /// Copy an existing `tokenizer.json` (and `tokenizer_config.json` beside it, if any).
    Existing(PathBuf),
    /// Train a byte-level BPE of this vocabulary size on these text files, then add
    /// `added_tokens` to it as whole tokens (after the trained vocabulary).
    Train {
        files: Vec<PathBuf>,
        vocab_size: usize,
        added_tokens: Vec<String>,
    },
}

/// Trains a byte-level BPE tokenizer (GPT-2 / Qwen style) on text files and adds
/// `added` as whole tokens: each is matched in any text before BPE runs (as
/// `tokenizer.add_tokens` does in Python), so a task's symbols (ARPAbet phonemes,
/// say) are one token each even when the training text never contains them. A
/// token may start with a space (` AH0`) to carry the separator before it.
pub fn train_bpe(
    files: &[PathBuf],
    vocab_size: usize,
    added: &[String],
) -> Result<tokenizers::Tokenizer> {
    use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    use tokenizers::{AddedToken, TokenizerBuilder};
    for f in files {
        if !f.is_file() {
            return Err(Error::MissingFile {
                path: f.clone(),
                hint: " (tokenizer training text)".into(),
            });
        }
    }
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(vocab_size)
        .min_frequency(2)
        .show_progress(false)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .special_tokens(
            SPECIAL_TOKENS
                .iter()
                .map(|t| AddedToken::from(*t, true))
                .collect(),
        )
        .build();
    let mut tok = TokenizerBuilder::new()
        .with_model(BPE::default())
        .with_normalizer(None::<tokenizers::NormalizerWrapper>)
        .with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(false)))
        .with_post_processor(Some(ByteLevel::default().trim_offsets(false)))
        .with_decoder(Some(ByteLevel::default()))
        .build()
        .map_err(Error::tokenizer)?;
    let names = files
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    tok.train_from_files(&mut trainer, names)
        .map_err(Error::tokenizer)?;
    if let Some(bad) = added.iter().find(|t| t.trim().is_empty()) {
        return Err(Error::Tokenizer(format!(
            "added token {bad:?}: empty or only whitespace"
        )));
    }
    tok.add_tokens(added.iter().map(|t| AddedToken::from(t.clone(), false)))
        .map_err(Error::tokenizer)?;
    Ok(tok.into())
}

/// Random weights for a config, drawn from a seeded generator
/// (normal with `initializer_range` std, norms at 1, biases at 0, as transformers does).
pub fn random_weights(
    cfg: &DecoderConfig,
    seed: u64,
    device: &Device,
) -> Result<Vec<(String, Tensor)>> {
    let family = cfg.family()?;
    let std = cfg.initializer_range.unwrap_or(0.02);
    let mut rng = SeededRng::new(seed);
    let (h, hd, nh, nkv, inter) = (
        cfg.hidden_size,
        cfg.head_dim(),
        cfg.num_attention_heads,
        cfg.num_kv_heads(),
        cfg.intermediate_size,
    );
    let mut out = vec![(
        "model.embed_tokens.weight".to_string(),
        rng.normal(&[cfg.vocab_size, h], std, device)?,
    )];
    for i in 0..cfg.num_hidden_layers {
        let p = format!("model.layers.{i}");
        let shapes = [
            [nh * hd, h],
            [nkv * hd, h],
            [nkv * hd, h],
            [h, nh * hd],
            [inter, h],
            [inter, h],
            [h, inter],
        ];
        for (name, shape) in LINEAR_NAMES.iter().zip(shapes) {
            out.push((
                format!("{p}.{name}.weight"),
                rng.normal(&shape, std, device)?,
            ));
            let biased = match *name {
                "self_attn.o_proj" => cfg.o_bias(),
                n if n.starts_with("self_attn.") => cfg.qkv_bias(),
                _ => false,
            };
            if biased {
                out.push((
                    format!("{p}.{name}.bias"),
                    Tensor::zeros(shape[0], candle_core::DType::F32, device)?,
                ));
            }
        }
        for norm in ["input_layernorm", "post_attention_layernorm"] {
            out.push((
                format!("{p}.{norm}.weight"),
                Tensor::ones(h, candle_core::DType::F32, device)?,
            ));
        }
        if family == Family::Qwen3 {
            for norm in ["q_norm", "k_norm"] {
                out.push((
                    format!("{p}.self_attn.{norm}.weight"),
                    Tensor::ones(hd, candle_core::DType::F32, device)?,
                ));
            }
        }
    }
    out.push((
        "model.norm.weight".into(),
        Tensor::ones(h, candle_core::DType::F32, device)?,
    ));
    if !cfg.tie_word_embeddings {
        out.push((
            "lm_head.weight".into(),
            rng.normal(&[cfg.vocab_size, h], std, device)?,
        ));
    }
    Ok(out)
}

/// Writes `config.json`.
pub fn write_config(cfg: &DecoderConfig, dir: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(cfg).map_err(|e| Error::Invalid(e.to_string()))?;
    fs_err::write(dir.join("config.json"), text)?;
    Ok(())
}

/// Creates a random model directory; returns its config (vocab size set from the tokenizer).
pub fn init_model(
    mut cfg: DecoderConfig,
    tokenizer: &TokenizerSource,
    seed: u64,
    out: &Path,
) -> Result<DecoderConfig> {
    fs_err::create_dir_all(out)?;
    let tok = match tokenizer {
        TokenizerSource::Existing(path) => {
            let tok = tokenizers::Tokenizer::from_file(path)
                .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
            let cfg_path = path.with_file_name("tokenizer_config.json");
            if cfg_path.is_file() {
                fs_err::copy(&cfg_path, out.join("tokenizer_config.json"))?;
            }
            tok
        }
        TokenizerSource::Train {
            files,
            vocab_size,
            added_tokens,
        } => train_bpe(files, *vocab_size, added_tokens)?,
    };
    tok.save(out.join("tokenizer.json"), false)
        .map_err(Error::tokenizer)?;
    if !out.join("tokenizer_config.json").is_file() {
        let tc = serde_json::json!({
            "bos_token": null,
            "eos_token": "<|im_end|>",
            "pad_token": "<|endoftext|>",
            "chat_template": CHATML_TEMPLATE,
            "model_max_length": cfg.max_position_embeddings,
            "tokenizer_class": "PreTrainedTokenizerFast",
            "clean_up_tokenization_spaces": false,
        });
        fs_err::write(out.join("tokenizer_config.json"), tc.to_string())?;
    }
    cfg.vocab_size = tok.get_vocab_size(true);
    let ids: Vec<u32> = ["<|im_end|>", "<|endoftext|>"]
        .iter()
        .filter_map(|t| tok.token_to_id(t))
        .collect();
    if !ids.is_empty() && cfg.eos_token_id.is_none() {
        cfg.eos_token_id = Some(crate::config::TokenIds::Many(ids));
    }
    if cfg.pad_token_id.is_none() {
        cfg.pad_token_id = tok.token_to_id("<|endoftext|>");
    }
    cfg.validate()?;
    let weights = random_weights(&cfg, seed, &Device::Cpu)?;
    save(&weights, &out.join("model.safetensors"))?;
    write_config(&cfg, out)?;
    Ok(cfg)
}
