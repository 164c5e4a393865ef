//! Parity with the Python reference implementations (fixtures from
//! scripts/fixtures/model_parity.py).

use crate::support::*;
use atgen_core::GenerationParams;
use atgen_models::bert::BertEmbedder;
use atgen_models::CausalLm;

/// `mistral_swa` has a sliding window (4) shorter than every test sequence.
const FAMILIES: [&str; 5] = ["llama", "mistral", "mistral_swa", "qwen2", "qwen3"];

/// `fam`'s per-token log-probs of the fixture sequences (and their tokenization) against
/// transformers'.
// Python (transformers 4.51.3):
//   logits = model(torch.tensor([ids])).logits[0]; lp = logits.log_softmax(-1)
//   token_logprobs = [lp[j-1, ids[j]] for j in 1..len(ids)]
fn check_logprobs(lm: &CausalLm, fam: &str) -> TestResult {
    let r = reference(&format!("{fam}_reference.json"));
    for seq in r["sequences"].as_array().into_iter().flatten() {
        let input = ids(&seq["input_ids"]);
        let prompt = seq["prompt"].as_str().unwrap_or_default();
        assert_eq!(
            lm.encode(prompt)?,
            input,
            "{fam}: tokenization of {prompt:?}"
        );
        let ours = lm.sequence_logprobs(&input)?;
        let d = max_abs_diff(&ours, &floats(&seq["token_logprobs"]));
        assert!(d <= 1e-4, "{fam}: max |Δ log-prob| = {d}");
    }
    Ok(())
}

/// `fam`'s greedy generations of the fixture prompts, `batch` at a time (all at once: left
/// padding), against transformers' tokens and log-probs.
// Python: model.generate(left-padded batch, do_sample=False, max_new_tokens=12, output_logits=True)
fn check_greedy(lm: &CausalLm, fam: &str, batch: Option<usize>) -> TestResult {
    let r = reference(&format!("{fam}_reference.json"));
    let prompts: Vec<String> = r["sequences"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["prompt"].as_str().unwrap_or_default().to_string())
        .collect();
    let params = GenerationParams {
        max_new_tokens: 12,
        ..Default::default()
    };
    let batch = batch.unwrap_or(prompts.len());
    let out = lm.generate(&prompts, &params, batch)?;
    for (i, expected) in r["generation"]["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let g = &out[i][0];
        assert_eq!(
            g.token_ids,
            ids(&expected["token_ids"]),
            "{fam} prompt {i} batch {batch}"
        );
        let d = max_abs_diff(&g.logprobs, &floats(&expected["logprobs"]));
        assert!(d <= 1e-4, "{fam} prompt {i}: max |Δ log-prob| = {d}");
        assert_eq!(g.entropies.len(), g.token_ids.len());
    }
    Ok(())
}

#[test]
fn logprobs_match_transformers_for_every_family() -> TestResult {
    for fam in FAMILIES {
        check_logprobs(&CausalLm::load(&model_dir(fam), None, &test_device())?, fam)?;
    }
    Ok(())
}

#[test]
fn batched_greedy_generation_matches_transformers() -> TestResult {
    for fam in FAMILIES {
        let lm = CausalLm::load(&model_dir(fam), None, &test_device())?;
        // Batch of all prompts (left padding) and one at a time must both match.
        check_greedy(&lm, fam, None)?;
        check_greedy(&lm, fam, Some(1))?;
    }
    Ok(())
}

/// The portable path (no CPU kernel: what a CUDA GPU runs, op by op through candle) matches
/// transformers like the kernels do: log-probs within 1e-4, the same greedy tokens from a
/// left-padded batch.
#[test]
fn the_portable_path_a_gpu_runs_matches_transformers_too() -> TestResult {
    let probe = candle_core::Tensor::zeros(2, candle_core::DType::F32, &candle_core::Device::Cpu)?;
    assert!(atgen_models::kernels::supported(&[&probe]));
    atgen_models::kernels::portable(|| -> TestResult {
        assert!(!atgen_models::kernels::supported(&[&probe]), "kernels off");
        for fam in FAMILIES {
            let lm = CausalLm::load(&model_dir(fam), None, &test_device())?;
            check_logprobs(&lm, fam)?;
            check_greedy(&lm, fam, None)?;
        }
        Ok(())
    })
}

// Python (transformers 4.51.3, eager attention, sliding_window=4):
//   t_ids = tok(target) + [eos]; lp = model(prompt_ids + t_ids).logits.log_softmax(-1)
//   mean_nll = -mean(lp[n - 1 + k, t] for k, t in enumerate(t_ids))
#[test]
fn the_training_loss_applies_mistrals_sliding_window() -> TestResult {
    let lm = CausalLm::load(&model_dir("mistral_swa"), None, &test_device())?;
    assert_eq!(lm.decoder.sliding_window(), Some(4));
    let r = reference("mistral_swa_reference.json");
    for pair in r["train_pairs"].as_array().into_iter().flatten() {
        let example = atgen_core::TrainExample {
            prompt: pair["prompt"].as_str().unwrap_or_default().into(),
            target: pair["target"].as_str().unwrap_or_default().into(),
        };
        let loss = atgen_models::train::training_loss(&lm, &[example], 0)?.to_scalar::<f32>()?;
        let expected = pair["mean_nll"].as_f64().unwrap_or_default() as f32;
        assert!(
            (loss - expected).abs() <= 1e-4,
            "loss {loss} vs transformers {expected}"
        );
    }
    // Qwen2 configs carry a `sliding_window` that Qwen2 does not apply here.
    let qwen2 = CausalLm::load(&model_dir("qwen2"), None, &test_device())?;
    assert_eq!(qwen2.decoder.sliding_window(), None);
    Ok(())
}

// Python (sentence-transformers 3.3.1): SentenceTransformer(dir).encode(texts)
#[test]
fn minilm_embeddings_match_sentence_transformers() -> TestResult {
    let emb = BertEmbedder::load(&minilm_dir(), &test_device())?;
    let r = reference("minilm_reference.json");
    let texts: Vec<String> = r["texts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t.as_str().unwrap_or_default().to_string())
        .collect();
    let ours = emb.embed(&texts, 4)?;
    for (i, expected) in r["embeddings"].as_array().into_iter().flatten().enumerate() {
        let e = floats(expected);
        let dot: f32 = ours[i].iter().zip(&e).map(|(a, b)| a * b).sum();
        let na: f32 = ours[i].iter().map(|a| a * a).sum::<f32>().sqrt();
        let nb: f32 = e.iter().map(|a| a * a).sum::<f32>().sqrt();
        let cos = dot / (na * nb);
        assert!(cos >= 0.9999, "text {i}: cosine {cos}");
    }
    Ok(())
}

// Python (peft 0.15.2): PeftModel.from_pretrained(base, adapter_dir) log-probs of targets;
// the script also asserts atgen's merged export, loaded in transformers, gives the same.
#[test]
fn trained_adapters_match_peft() -> TestResult {
    let r = reference("peft_reference.json");
    for kind in ["lora", "dora"] {
        for merged in [false, true] {
            let lm = if merged {
                CausalLm::load(
                    &fixtures()
                        .join("adapters")
                        .join(format!("{kind}_merged"))
                        .display()
                        .to_string(),
                    None,
                    &test_device(),
                )?
            } else {
                let mut lm = CausalLm::load(&model_dir("qwen3"), None, &test_device())?;
                atgen_models::peft::load_adapter(&mut lm, &fixtures().join("adapters").join(kind))?;
                lm
            };
            for row in r[kind].as_array().into_iter().flatten() {
                let pair = (
                    row["prompt"].as_str().unwrap_or_default().to_string(),
                    row["target"].as_str().unwrap_or_default().to_string(),
                );
                let s = &lm.score(&[pair], 1)?[0];
                assert_eq!(s.token_ids, ids(&row["token_ids"]));
                let d = max_abs_diff(&s.logprobs, &floats(&row["logprobs"]));
                assert!(d <= 1e-4, "{kind} merged={merged}: max |Δ log-prob| = {d}");
            }
        }
    }
    Ok(())
}

// Python (transformers 4.51.3): BertForSequenceClassification(**tok(premises, hypotheses)).logits.softmax(-1)
#[test]
fn nli_cross_encoder_probabilities_match_transformers() -> TestResult {
    use atgen_models::bert::BertClassifier;
    let clf = BertClassifier::load(&fixtures().join("nli"), &test_device())?;
    assert_eq!(clf.labels(), ["contradiction", "entailment", "neutral"]);
    let r = reference("nli_reference.json");
    let pairs = r["pairs"].as_array().cloned().unwrap_or_default();
    let first: Vec<String> = pairs
        .iter()
        .map(|p| p[0].as_str().unwrap_or_default().to_string())
        .collect();
    let second: Vec<String> = pairs
        .iter()
        .map(|p| p[1].as_str().unwrap_or_default().to_string())
        .collect();
    let ours = clf.predict_pairs(&first, &second, 3)?;
    for (i, expected) in r["probs"].as_array().into_iter().flatten().enumerate() {
        let d = max_abs_diff(&ours[i], &floats(expected));
        assert!(d <= 1e-5, "pair {i}: max |Δp| = {d}");
    }
    Ok(())
}

// Python (scripts/fixtures/roberta_golden.py, transformers 4.51.3):
//   model.roberta(**tok(text)).last_hidden_state[0]
#[test]
fn roberta_hidden_states_match_transformers() -> TestResult {
    let enc = BertEmbedder::load(&fixtures().join("roberta_nli"), &test_device())?;
    let r = reference("roberta_reference.json");
    let rows = r["states"].as_array().cloned().unwrap_or_default();
    let texts: Vec<String> = rows
        .iter()
        .map(|s| s["text"].as_str().unwrap_or_default().to_string())
        .collect();
    // Batched together: the shorter texts are right-padded, as a real batch is.
    let ours = enc.token_states(&texts, None, 3)?;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(ours[i].0, ids(&row["ids"]), "tokens of {:?}", texts[i]);
        let expected: Vec<f32> = row["states"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(floats)
            .collect();
        let got: Vec<f32> = ours[i].1.iter().flatten().copied().collect();
        let d = max_abs_diff(&got, &expected);
        assert!(d <= 1e-4, "text {i}: max |Δh| = {d}");
    }
    Ok(())
}

// Python: RobertaForSequenceClassification(**tok(premises, hypotheses, padding=True)).logits.softmax(-1)
#[test]
fn roberta_nli_probabilities_match_transformers() -> TestResult {
    use atgen_models::classifier::SequenceClassifier;
    let clf = SequenceClassifier::load(&fixtures().join("roberta_nli"), &test_device())?;
    assert_eq!(clf.labels(), ["CONTRADICTION", "NEUTRAL", "ENTAILMENT"]);
    let r = reference("roberta_reference.json");
    let pairs = r["pairs"].as_array().cloned().unwrap_or_default();
    let side = |k: usize| -> Vec<String> {
        pairs
            .iter()
            .map(|p| p[k].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let ours = clf.predict_pairs(&side(0), &side(1), 3)?;
    for (i, expected) in r["probs"].as_array().into_iter().flatten().enumerate() {
        let d = max_abs_diff(&ours[i], &floats(expected));
        assert!(d <= 1e-5, "pair {i}: max |Δp| = {d}");
    }
    Ok(())
}

// Python (scripts/fixtures/deberta_golden.py, transformers 4.51.3):
//   DebertaV2ForSequenceClassification(**tok(premises, hypotheses, padding=True)).logits.softmax(-1)
//   and model.deberta(**tok(text)).last_hidden_state[0], for a v3-shaped and a v2-shaped config.
#[test]
fn deberta_v2_and_v3_match_transformers() -> TestResult {
    use atgen_models::classifier::SequenceClassifier;
    use atgen_models::deberta::DebertaEncoder;
    let r = reference("deberta_reference.json");
    let pairs = r["pairs"].as_array().cloned().unwrap_or_default();
    let side = |k: usize| -> Vec<String> {
        pairs
            .iter()
            .map(|p| p[k].as_str().unwrap_or_default().to_string())
            .collect()
    };
    for variant in ["deberta_v3", "deberta_v2"] {
        let dir = fixtures().join(variant);
        let v = &r["variants"][variant];
        let enc = DebertaEncoder::load(&dir, &test_device())?;
        let (ids_got, states) = enc.token_states(v["text"].as_str().unwrap_or_default())?;
        assert_eq!(ids_got, ids(&v["ids"]), "{variant}: tokens");
        let expected: Vec<f32> = v["hidden"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(floats)
            .collect();
        let got: Vec<f32> = states.into_iter().flatten().collect();
        let d = max_abs_diff(&got, &expected);
        assert!(d <= 1e-4, "{variant}: max |Δh| = {d}");
        let clf = SequenceClassifier::load(&dir, &test_device())?;
        assert_eq!(clf.labels(), ["entailment", "neutral", "contradiction"]);
        let ours = clf.predict_pairs(&side(0), &side(1), 4)?;
        for (i, expected) in v["probs"].as_array().into_iter().flatten().enumerate() {
            let d = max_abs_diff(&ours[i], &floats(expected));
            assert!(d <= 1e-5, "{variant} pair {i}: max |Δp| = {d}");
        }
    }
    Ok(())
}
