//! BART encoder-decoder against transformers' BartForConditionalGeneration on a tiny random
//! checkpoint (fixture from scripts/fixtures/bart_golden.py).

use crate::support::{fixtures, floats, ids, reference, TestResult};
use atgen_models::bart::{model_type, Seq2SeqLm};
use atgen_models::Error;
use candle_core::Device;

fn bart_dir() -> String {
    fixtures().join("bart").display().to_string()
}

fn pairs(r: &serde_json::Value) -> Vec<(String, String)> {
    r["pairs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let s = |i: usize| p[i].as_str().unwrap_or_default().to_string();
            (s(0), s(1))
        })
        .collect()
}

fn assert_rows(got: &[atgen_core::TargetScore], want: &serde_json::Value, what: &str) {
    let want = want.as_array().expect("rows");
    assert_eq!(got.len(), want.len(), "{what}: row count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.token_ids, ids(&w["ids"]), "{what}[{i}] token ids");
        let lp = floats(&w["logprobs"]);
        assert_eq!(g.logprobs.len(), lp.len(), "{what}[{i}] length");
        for (k, (a, b)) in g.logprobs.iter().zip(&lp).enumerate() {
            assert!((a - b).abs() <= 1e-4, "{what}[{i}][{k}]: {a} vs {b}");
        }
    }
}

// Python: log_softmax(model(src, attention_mask, labels=tgt).logits)[t, tgt[t]], padded batch.
#[test]
fn bart_target_logprobs_match_transformers_batched_and_one_by_one() -> TestResult {
    let r = reference("bart_reference.json");
    let mut lm = Seq2SeqLm::load(&bart_dir(), &Device::Cpu)?;
    lm.set_max_length(64)?;
    let p = pairs(&r);
    assert_rows(&lm.score(&p, 8)?, &r["batched"], "batched");
    assert_rows(&lm.score(&p, 1)?, &r["batched"], "unbatched");
    assert_rows(&lm.score(&p, 2)?, &r["batched"], "batches of 2");
    Ok(())
}

// Python: the tokenizer's max_length=12, truncation=True keeps <s> ... </s> within 12 tokens.
#[test]
fn bart_truncates_source_and_target_like_the_tokenizer() -> TestResult {
    let r = reference("bart_reference.json");
    let mut lm = Seq2SeqLm::load(&bart_dir(), &Device::Cpu)?;
    lm.set_max_length(12)?;
    assert_eq!(lm.max_length(), 12);
    assert_rows(
        &lm.score(&pairs(&r), 3)?,
        &r["truncated_to_12"],
        "truncated",
    );
    // The default (BARTScore's 1024) is capped by the 64-row position table.
    lm.set_max_length(1024)?;
    assert_eq!(lm.max_length(), 64);
    Ok(())
}

#[test]
fn bart_model_type_is_read_from_config() -> TestResult {
    assert_eq!(model_type(&bart_dir())?, "bart");
    let qwen = fixtures().join("models").join("qwen3");
    assert_eq!(model_type(&qwen.display().to_string())?, "qwen3");
    Ok(())
}

#[test]
fn bart_bad_directories_name_the_problem() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().display().to_string();
    let err = Seq2SeqLm::load(&dir, &Device::Cpu)
        .err()
        .expect("no config");
    assert!(
        matches!(&err, Error::MissingFile { path, .. } if path.ends_with("config.json")),
        "{err}"
    );

    // A causal LM is not a BART model.
    let qwen = fixtures()
        .join("models")
        .join("qwen3")
        .display()
        .to_string();
    let err = Seq2SeqLm::load(&qwen, &Device::Cpu)
        .err()
        .expect("not bart");
    assert!(
        matches!(&err, Error::UnsupportedArchitecture { found, .. } if found == "qwen3"),
        "{err}"
    );

    // Copy the fixture, then break one piece at a time.
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixtures().join("bart").join(f), tmp.path().join(f))?;
    }
    let config = std::fs::read_to_string(tmp.path().join("config.json"))?;
    std::fs::write(
        tmp.path().join("config.json"),
        config.replace("\"d_model\": 32", "\"d_model\": 48"),
    )?;
    let err = Seq2SeqLm::load(&dir, &Device::Cpu).err().expect("shape");
    assert!(matches!(&err, Error::Tensor { .. }), "{err}");
    assert!(err.to_string().contains("model.shared.weight"), "{err}");

    std::fs::write(
        tmp.path().join("config.json"),
        config.replace(
            "\"activation_function\": \"gelu\"",
            "\"activation_function\": \"swish\"",
        ),
    )?;
    let err = Seq2SeqLm::load(&dir, &Device::Cpu)
        .err()
        .expect("activation");
    assert!(err.to_string().contains("activation_function"), "{err}");

    std::fs::write(
        tmp.path().join("config.json"),
        config.replace("\"d_model\"", "\"dmodel\""),
    )?;
    let err = Seq2SeqLm::load(&dir, &Device::Cpu).err().expect("field");
    assert!(
        matches!(&err, Error::Json { .. }) && err.to_string().contains("d_model"),
        "{err}"
    );

    std::fs::write(tmp.path().join("config.json"), &config)?;
    std::fs::remove_file(tmp.path().join("tokenizer.json"))?;
    let err = Seq2SeqLm::load(&dir, &Device::Cpu)
        .err()
        .expect("tokenizer");
    assert!(
        matches!(&err, Error::MissingFile { path, .. } if path.ends_with("tokenizer.json")),
        "{err}"
    );
    let mut lm_err = Seq2SeqLm::load(&bart_dir(), &Device::Cpu)?;
    assert!(lm_err.set_max_length(1).is_err());
    Ok(())
}
