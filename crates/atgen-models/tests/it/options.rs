//! Options that change numbers: rsLoRA scaling, gradient accumulation, seeded creation.

use crate::support::*;
use atgen_core::TrainExample;
use atgen_models::adapters::PeftConfig;
use atgen_models::init::{init_model, TokenizerSource};
use atgen_models::train::{fit, TrainConfig};
use atgen_models::{CausalLm, DecoderConfig, Family};
use candle_core::Device;

#[test]
fn rslora_scales_by_alpha_over_sqrt_r() {
    let plain = PeftConfig {
        r: 16,
        lora_alpha: 16.0,
        ..PeftConfig::default()
    };
    let rs = PeftConfig {
        use_rslora: true,
        ..plain.clone()
    };
    assert_eq!(plain.scaling(), 1.0);
    assert_eq!(rs.scaling(), 4.0);
}

fn same_length_examples() -> Vec<TrainExample> {
    ["alpha", "beta", "gamma", "delta"]
        .iter()
        .map(|w| TrainExample {
            prompt: format!("Say {w}:"),
            target: " ok".into(),
        })
        .collect()
}

fn weights_after(cfg: &TrainConfig) -> Result<Vec<f32>, Box<dyn std::error::Error + Send + Sync>> {
    let mut lm = CausalLm::load(&model_dir("qwen3"), None, &Device::Cpu)?;
    let vars = lm.attach_adapters(
        &PeftConfig {
            r: 4,
            ..PeftConfig::default()
        },
        0,
    )?;
    fit(&lm, &vars, &same_length_examples(), None, cfg)?;
    let mut out = Vec::new();
    for (_, v) in &vars {
        out.extend(v.as_tensor().flatten_all()?.to_vec1::<f32>()?);
    }
    Ok(out)
}

#[test]
fn two_accumulated_micro_batches_equal_one_batch_of_both() -> TestResult {
    // Same-length examples so the per-micro-batch mean equals the whole-batch token mean.
    let base = TrainConfig {
        epochs: 1,
        learning_rate: 1e-2,
        warmup_ratio: 0.0,
        progress: false,
        seed: 9,
        ..TrainConfig::paper()
    };
    let whole = weights_after(&TrainConfig {
        batch_size: 4,
        gradient_accumulation_steps: 1,
        ..base.clone()
    })?;
    let accumulated = weights_after(&TrainConfig {
        batch_size: 2,
        gradient_accumulation_steps: 2,
        ..base.clone()
    })?;
    let different = weights_after(&TrainConfig {
        batch_size: 2,
        gradient_accumulation_steps: 1,
        ..base
    })?;
    assert!(
        max_abs_diff(&whole, &accumulated) < 1e-5,
        "accumulation must match the large batch"
    );
    assert!(
        max_abs_diff(&whole, &different) > 1e-4,
        "two steps must differ from one"
    );
    Ok(())
}

#[test]
fn model_init_is_reproducible_from_its_seed() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let corpus = tmp.path().join("c.txt");
    std::fs::write(
        &corpus,
        "active learning for text generation picks texts to label\n".repeat(30),
    )?;
    let make = |name: &str, seed: u64| {
        let out = tmp.path().join(name);
        let tok = TokenizerSource::Train {
            files: vec![corpus.clone()],
            vocab_size: 300,
            added_tokens: vec![],
        };
        init_model(DecoderConfig::tiny(Family::Llama, 300), &tok, seed, &out).map(|_| out)
    };
    let (a, b, c) = (make("a", 1)?, make("b", 1)?, make("c", 2)?);
    let read = |p: &std::path::Path| std::fs::read(p.join("model.safetensors"));
    assert_eq!(read(&a)?, read(&b)?, "same seed, same weights");
    assert_ne!(read(&a)?, read(&c)?, "another seed, other weights");
    assert_eq!(
        std::fs::read(a.join("tokenizer.json"))?,
        std::fs::read(b.join("tokenizer.json"))?
    );
    Ok(())
}

#[test]
fn added_tokens_are_whole_tokens_that_decode_back_with_their_spaces() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let corpus = tmp.path().join("c.txt");
    std::fs::write(&corpus, "abbie\nabsolve\nalloy\n".repeat(20))?;
    let added: Vec<String> = ["AE1", " AE1", " B", " IY0", "B"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let tok = atgen_models::init::train_bpe(std::slice::from_ref(&corpus), 280, &added)?;
    let enc = tok.encode("AE1 B IY0", false).map_err(|e| e.to_string())?;
    let ids = enc.get_ids();
    let pieces: Vec<u32> = [" AE1", " B", " IY0", "AE1"]
        .iter()
        .map(|t| tok.token_to_id(t).ok_or(format!("{t} missing")))
        .collect::<Result<_, _>>()?;
    assert_eq!(ids, [pieces[3], pieces[1], pieces[2]], "one id per phoneme");
    let bpe = tok.get_vocab_size(false);
    // `B` is a byte of the base alphabet already: it keeps its id, the other four are new.
    assert_eq!(tok.get_vocab_size(true), bpe + 4);
    assert!(tok.token_to_id("B").is_some_and(|b| (b as usize) < bpe));
    assert!(
        ids.iter().all(|&i| i as usize >= bpe),
        "added after the BPE"
    );
    assert_eq!(
        tok.decode(ids, false).map_err(|e| e.to_string())?,
        "AE1 B IY0"
    );
    // Lower-case input words are not split by the upper-case symbols.
    let word = tok.encode("abbie", false).map_err(|e| e.to_string())?;
    assert!(word.get_ids().iter().all(|&i| (i as usize) < bpe));
    let blank = atgen_models::init::train_bpe(&[corpus], 280, &[" ".to_string()]);
    assert!(blank.is_err(), "a blank token is refused");
    Ok(())
}
