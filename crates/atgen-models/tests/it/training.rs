//! Training really learns, every trainable weight gets a gradient, and
//! adapters round-trip through the PEFT format.

use crate::support::*;
use atgen_core::{GenerationParams, TrainExample};
use atgen_models::adapters::{PeftConfig, PeftKind};
use atgen_models::init::{init_model, TokenizerSource};
use atgen_models::rng::SeededRng;
use atgen_models::train::{evaluate_loss, fit, training_loss, TrainConfig};
use atgen_models::{peft, CausalLm, DecoderConfig, Family};

fn examples() -> Vec<TrainExample> {
    [
        ("The meeting is moved to", " Thursday at 3 pm"),
        ("How many clips did Natalia sell?", " #### 72"),
        ("Subject lines", " are generation tasks"),
        ("Active learning picks", " the few texts worth annotating"),
    ]
    .iter()
    .map(|(p, t)| TrainExample {
        prompt: p.to_string(),
        target: t.to_string(),
    })
    .collect()
}

fn quick(epochs: usize, lr: f64) -> TrainConfig {
    TrainConfig {
        epochs,
        learning_rate: lr,
        batch_size: 2,
        warmup_ratio: 0.0,
        progress: false,
        ..TrainConfig::paper()
    }
}

#[test]
fn every_trainable_weight_receives_a_gradient() -> TestResult {
    for kind in [
        PeftKind::Lora,
        PeftKind::Dora,
        PeftKind::Qlora,
        PeftKind::None,
    ] {
        let mut lm = CausalLm::load(&model_dir("qwen3"), None, &test_device())?;
        let cfg = PeftConfig {
            kind,
            r: 4,
            lora_dropout: 0.1,
            ..PeftConfig::default()
        };
        let vars = lm.attach_adapters(&cfg, 1)?;
        // One optimiser step so that B is non-zero and every path carries gradient.
        fit(&lm, &vars, &examples(), None, &quick(1, 1e-2))?;
        let grads = training_loss(&lm, &examples(), 3)?.backward()?;
        for (name, var) in &vars {
            let g = grads
                .get(var.as_tensor())
                .ok_or_else(|| format!("{kind:?}: no gradient for {name}"))?;
            let norm = g.sqr()?.sum_all()?.to_scalar::<f32>()?;
            assert!(norm > 0.0, "{kind:?}: zero gradient for {name}");
        }
        let expected_per_layer = match kind {
            PeftKind::Dora => 3 * 7,
            PeftKind::None => 0,
            _ => 2 * 7,
        };
        if kind != PeftKind::None {
            assert_eq!(
                vars.len(),
                2 * expected_per_layer,
                "{kind:?}: adapters on 7 modules x 2 layers"
            );
        }
    }
    Ok(())
}

/// Attaches rank-4 adapters of `kind` and trains 10 epochs at lr 1e-2: the loss before, the
/// report, the loss after.
fn train_rank4(
    lm: &mut CausalLm,
    kind: PeftKind,
) -> Result<(f64, atgen_core::TrainReport, f64), Box<dyn std::error::Error + Send + Sync>> {
    let before = evaluate_loss(lm, &examples(), 4)?;
    let cfg = PeftConfig {
        kind,
        r: 4,
        lora_alpha: 8.0,
        ..PeftConfig::default()
    };
    let vars = lm.attach_adapters(&cfg, 0)?;
    let report = fit(lm, &vars, &examples(), None, &quick(10, 1e-2))?;
    Ok((before, report, evaluate_loss(lm, &examples(), 4)?))
}

#[test]
fn lora_on_a_frozen_base_lowers_the_loss_and_leaves_the_base_alone() -> TestResult {
    let mut lm = CausalLm::load(&model_dir("qwen3"), None, &test_device())?;
    let base_before = lm.decoder.named_weights()?;
    let (before, report, after) = train_rank4(&mut lm, PeftKind::Lora)?;
    assert!(after < before * 0.7, "loss {before} -> {after}");
    assert!(report.steps == 20 && report.tokens_per_second > 0.0);
    for ((n, a), (_, b)) in base_before.iter().zip(lm.decoder.named_weights()?) {
        let d = (a - b)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert_eq!(d, 0.0, "frozen weight {n} changed");
    }
    Ok(())
}

#[test]
fn adapters_round_trip_through_peft_format_and_training_continues() -> TestResult {
    for kind in [PeftKind::Lora, PeftKind::Dora, PeftKind::Qlora] {
        let dir = tempfile::tempdir()?;
        let mut lm = CausalLm::load(&model_dir("qwen3"), None, &test_device())?;
        let vars = lm.attach_adapters(
            &PeftConfig {
                kind,
                r: 4,
                ..PeftConfig::default()
            },
            0,
        )?;
        fit(&lm, &vars, &examples(), None, &quick(2, 1e-2))?;
        peft::save_adapter(&lm, dir.path())?;
        let pairs: Vec<(String, String)> = examples()
            .iter()
            .map(|e| (e.prompt.clone(), e.target.clone()))
            .collect();
        let ours = lm.score(&pairs, 4)?;
        let mut fresh = CausalLm::load(&model_dir("qwen3"), None, &test_device())?;
        let vars2 = peft::load_adapter(&mut fresh, dir.path())?;
        assert_eq!(fresh.peft.as_ref().map(|p| p.kind), Some(kind));
        let theirs = fresh.score(&pairs, 4)?;
        for (a, b) in ours.iter().zip(&theirs) {
            assert!(
                max_abs_diff(&a.logprobs, &b.logprobs) < 1e-5,
                "{kind:?} round trip"
            );
        }
        let l0 = evaluate_loss(&fresh, &examples(), 4)?;
        fit(&fresh, &vars2, &examples(), None, &quick(2, 1e-2))?;
        assert!(
            evaluate_loss(&fresh, &examples(), 4)? < l0,
            "{kind:?}: continued training must keep learning"
        );
    }
    Ok(())
}

#[test]
fn qlora_stores_the_base_in_four_bits_and_stays_close_to_it() -> TestResult {
    let plain = CausalLm::load(&model_dir("qwen3"), None, &test_device())?;
    let mut q = plain.clone();
    q.attach_adapters(
        &PeftConfig {
            kind: PeftKind::Qlora,
            r: 4,
            ..PeftConfig::default()
        },
        0,
    )?;
    let pairs: Vec<(String, String)> = examples()
        .iter()
        .map(|e| (e.prompt.clone(), e.target.clone()))
        .collect();
    let (a, b) = (plain.score(&pairs, 4)?, q.score(&pairs, 4)?);
    let d = a
        .iter()
        .zip(&b)
        .map(|(x, y)| max_abs_diff(&x.logprobs, &y.logprobs))
        .fold(0.0, f32::max);
    assert!(
        d > 0.0 && d < 1.0,
        "NF4 base should be close to but not equal to f32: {d}"
    );
    Ok(())
}

#[test]
fn seeded_sampling_is_reproducible_and_independent_of_batch_size() -> TestResult {
    let lm = CausalLm::load(&model_dir("llama"), None, &test_device())?;
    let prompts = vec![
        "The meeting is".to_string(),
        "Subject lines".to_string(),
        "How many".to_string(),
    ];
    let p = GenerationParams {
        temperature: 1.0,
        top_p: 0.95,
        top_k: 50,
        num_samples: 3,
        seed: 7,
        max_new_tokens: 8,
        ..Default::default()
    };
    let a = lm.generate(&prompts, &p, 9)?;
    let b = lm.generate(&prompts, &p, 2)?;
    assert_eq!(a[0].len(), 3);
    for (x, y) in a.iter().flatten().zip(b.iter().flatten()) {
        assert_eq!(
            (&x.token_ids, &x.text),
            (&y.token_ids, &y.text),
            "same seed, other batch size"
        );
        // Scores may differ by float rounding between batch shapes, no more.
        assert!(
            max_abs_diff(&x.logprobs, &y.logprobs) < 1e-4
                && max_abs_diff(&x.entropies, &y.entropies) < 1e-4
        );
    }
    let c = lm.generate(
        &prompts,
        &GenerationParams {
            seed: 8,
            ..p.clone()
        },
        9,
    )?;
    assert_ne!(a, c, "another seed must sample differently");
    let stop = GenerationParams {
        stop: vec![" ".into()],
        temperature: 0.0,
        num_samples: 1,
        ..p
    };
    for g in lm.generate(&prompts, &stop, 4)?.iter().flatten() {
        assert!(
            !g.text.contains(' '),
            "stop string must be cut: {:?}",
            g.text
        );
    }
    Ok(())
}

/// A word-level tokenizer over letters, so the task is about learning, not tokenization.
fn letter_tokenizer(dir: &std::path::Path) -> TestResult {
    let mut vocab: Vec<String> = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>", "|"]
        .map(String::from)
        .to_vec();
    vocab.extend(('a'..='h').map(|c| c.to_string()));
    let map = vocab
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let model = tokenizers::models::wordlevel::WordLevel::builder()
        .vocab(map)
        .unk_token("<unk>".into())
        .build()?;
    let mut tok = tokenizers::Tokenizer::new(model);
    tok.with_pre_tokenizer(Some(
        tokenizers::pre_tokenizers::whitespace::WhitespaceSplit,
    ));
    tok.add_special_tokens(
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
            .map(|t| tokenizers::AddedToken::from(t, true)),
    )?;
    tok.save(dir.join("tokenizer.json"), false)?;
    Ok(())
}

fn reverse_task(rng: &mut SeededRng, n: usize) -> Vec<TrainExample> {
    (0..n)
        .map(|_| {
            let len = 3 + (rng.next_f64() * 3.0) as usize;
            let letters: Vec<String> = (0..len)
                .map(|_| ((b'a' + (rng.next_f64() * 8.0) as u8) as char).to_string())
                .collect();
            let rev: Vec<String> = letters.iter().rev().cloned().collect();
            TrainExample {
                prompt: format!("{} |", letters.join(" ")),
                target: rev.join(" "),
            }
        })
        .collect()
}

#[test]
fn a_model_trained_from_scratch_learns_to_reverse_strings() -> TestResult {
    let tmp = tempfile::tempdir()?;
    letter_tokenizer(tmp.path())?;
    let mut cfg = DecoderConfig::tiny(Family::Qwen3, 16);
    cfg.max_position_embeddings = 64;
    let out = tmp.path().join("model");
    init_model(
        cfg,
        &TokenizerSource::Existing(tmp.path().join("tokenizer.json")),
        5,
        &out,
    )?;
    let mut lm = CausalLm::load(&out.display().to_string(), None, &test_device())?;
    let vars = lm.attach_adapters(
        &PeftConfig {
            kind: PeftKind::None,
            ..PeftConfig::default()
        },
        0,
    )?;
    let mut rng = SeededRng::new(11);
    let train = reverse_task(&mut rng, 2000);
    let test = reverse_task(&mut rng, 100);
    let cfg = TrainConfig {
        epochs: 12,
        batch_size: 32,
        learning_rate: 3e-3,
        warmup_ratio: 0.05,
        progress: false,
        ..TrainConfig::paper()
    };
    fit(&lm, &vars, &train, None, &cfg)?;
    let prompts: Vec<String> = test.iter().map(|e| e.prompt.clone()).collect();
    let outs = lm.generate(
        &prompts,
        &GenerationParams {
            max_new_tokens: 8,
            ..Default::default()
        },
        50,
    )?;
    let correct = outs
        .iter()
        .zip(&test)
        .filter(|(g, e)| g[0].text.trim() == e.target)
        .count();
    assert!(correct >= 95, "exact match {correct}/100");
    Ok(())
}

#[test]
fn early_stopping_restores_the_best_dev_epoch() -> TestResult {
    let mut lm = CausalLm::load(&model_dir("qwen3"), None, &test_device())?;
    let vars = lm.attach_adapters(
        &PeftConfig {
            r: 4,
            ..PeftConfig::default()
        },
        0,
    )?;
    // The dev split asks for other answers to the same prompts: fitting the
    // training targets makes dev loss rise, so patience must end training.
    let dev: Vec<TrainExample> = examples()
        .iter()
        .zip(examples().iter().cycle().skip(1))
        .map(|(a, b)| TrainExample {
            prompt: a.prompt.clone(),
            target: b.target.clone(),
        })
        .collect();
    let cfg = TrainConfig {
        early_stopping_patience: 2,
        ..quick(30, 2e-2)
    };
    let report = fit(&lm, &vars, &examples(), Some(&dev), &cfg)?;
    assert!(report.early_stopped && report.epochs < 30, "{report:?}");
    let best = report.best_dev_loss.ok_or("no dev loss")?;
    let now = evaluate_loss(&lm, &dev, 4)?;
    assert!(
        (now - best).abs() < 1e-4,
        "restored weights give dev loss {now}, best was {best}"
    );
    Ok(())
}

/// A bf16 or f16 base (what `auto` picks on a GPU for such a checkpoint) trains its f32
/// adapters like an f32 base: a finite loss that falls.
#[test]
fn adapters_on_a_half_precision_base_learn_with_finite_losses() -> TestResult {
    use candle_core::DType;
    for dtype in [DType::BF16, DType::F16] {
        for kind in [PeftKind::Lora, PeftKind::Dora, PeftKind::Qlora] {
            let mut lm = CausalLm::load(&model_dir("qwen3"), Some(dtype), &test_device())?;
            let (before, report, after) = train_rank4(&mut lm, kind)?;
            assert!(
                before.is_finite() && report.final_train_loss.is_finite(),
                "{dtype:?} {kind:?}: loss {before} -> train {}",
                report.final_train_loss
            );
            assert!(
                after < before * 0.7,
                "{dtype:?} {kind:?}: loss {before} -> {after}"
            );
        }
    }
    Ok(())
}
