//! AlignScore and its sentence splitter against the original algorithm in Python
//! (fixtures from scripts/fixtures/alignscore_golden.py).

use crate::fixture;
use atgen_core::Metric;
use atgen_metrics::alignscore::{AlignContext, AlignScore, AlignScoreConfig};
use atgen_metrics::{punkt, MetricConfig};
use std::path::PathBuf;

fn model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alignscore")
}

fn config(context: AlignContext) -> AlignScoreConfig {
    AlignScoreConfig {
        model: model_dir(),
        device: Default::default(),
        context,
        batch_size: 4,
    }
}

fn text(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

// Python (nltk 3.9.1): PunktSentenceTokenizer with params.abbrev_types = punkt_abbrevs.txt
#[test]
fn sentences_match_nltk_punkt_with_the_same_parameters() {
    let cases = fixture("punkt_reference.json");
    let cases = cases.as_array().expect("a list");
    assert!(cases.len() > 50);
    for case in cases {
        let want: Vec<String> = case["sentences"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        assert_eq!(
            punkt::sentences(&text(&case["text"])),
            want,
            "{}",
            case["text"]
        );
    }
}

// Python: the original Inferencer's nli_sp: chunks x claim sentences, tri-head P(aligned),
// max over chunks, mean over claim sentences (torch, tiny random model).
#[test]
fn alignscore_matches_the_original_algorithm_on_a_converted_tiny_model() {
    let r = fixture("alignscore_reference.json");
    let metric = AlignScore::new(config(AlignContext::Source)).expect("loads");
    let cases = r["cases"].as_array().cloned().unwrap_or_default();
    let contexts: Vec<String> = cases.iter().map(|c| text(&c["context"])).collect();
    let claims: Vec<String> = cases.iter().map(|c| text(&c["claim"])).collect();
    assert!(
        atgen_metrics::alignscore::chunks(&contexts[6]).len() > 1,
        "the long context is chunked"
    );
    let ours = metric.score_pairs(&contexts, &claims).expect("scores");
    for (i, c) in cases.iter().enumerate() {
        let want = c["score"].as_f64().expect("a score");
        assert!(
            (ours[i] - want).abs() <= 1e-5,
            "case {i}: ours {} vs {want}",
            ours[i]
        );
    }
    // The Metric interface: claim = prediction, context = source.
    let refs = vec![vec!["unused".to_string()]; claims.len()];
    let values = metric.compute(&claims, &refs, &contexts).expect("computes");
    assert_eq!(values[0].name, "alignscore");
    assert!(values[0].higher_is_better);
    assert_eq!(values[0].per_example, ours);
}

#[test]
fn all_three_heads_match() {
    use atgen_models::align::AlignModel;
    let r = fixture("alignscore_reference.json");
    let model = AlignModel::load(&model_dir(), &candle_core::Device::Cpu).expect("loads");
    assert_eq!(
        model.max_length(),
        40,
        "model_max_length from tokenizer_config.json"
    );
    let out = model
        .predict_pairs(
            &["The cat sat on the mat.".into()],
            &["An animal is on the mat.".into()],
            1,
        )
        .expect("predicts");
    let h = &r["heads"];
    assert!((out[0].reg as f64 - h["reg"].as_f64().unwrap_or(f64::NAN)).abs() < 1e-5);
    assert!((out[0].bin as f64 - h["bin"].as_f64().unwrap_or(f64::NAN)).abs() < 1e-5);
    for k in 0..3 {
        assert!((out[0].tri[k] as f64 - h["tri"][k].as_f64().unwrap_or(f64::NAN)).abs() < 1e-5);
    }
}

#[test]
fn reference_context_takes_the_best_reference_and_bad_setups_are_named() {
    let metric = AlignScore::new(config(AlignContext::Reference)).expect("loads");
    let preds = vec!["The cat sat on the mat.".to_string()];
    let a = "An animal is on the mat.".to_string();
    let b = "A man plays loud music in the house.".to_string();
    let single = |r: &str| {
        metric
            .score_pairs(&[r.to_string()], &preds)
            .expect("scores")[0]
    };
    let both = metric
        .compute(&preds, &[vec![a.clone(), b.clone()]], &[])
        .expect("computes");
    assert_eq!(both[0].per_example[0], single(&a).max(single(&b)));

    let by_source = AlignScore::new(config(AlignContext::Source)).expect("loads");
    let err = by_source
        .compute(&preds, &[vec![a]], &[])
        .expect_err("no sources")
        .to_string();
    assert!(
        err.contains("context: source") && err.contains("source"),
        "{err}"
    );

    let missing = AlignScore::new(AlignScoreConfig {
        model: "/no/such/alignscore".into(),
        device: Default::default(),
        context: AlignContext::Source,
        batch_size: 4,
    })
    .err()
    .expect("missing model")
    .to_string();
    assert!(missing.contains("/no/such/alignscore"), "{missing}");
    // A GPU in a build without CUDA: named, with the way to get one.
    if !atgen_models::device::cuda_built() {
        let gpu = AlignScore::new(AlignScoreConfig {
            device: atgen_core::DeviceName::Cuda(0),
            ..config(AlignContext::Source)
        })
        .err()
        .expect("no CUDA in this build")
        .to_string();
        assert!(
            gpu.contains("alignscore.device `cuda:0`") && gpu.contains("--features cuda"),
            "{gpu}"
        );
    }
    let by_name = atgen_metrics::build_metrics(&["alignscore"])
        .err()
        .expect("needs a model")
        .to_string();
    assert!(by_name.contains("convert_alignscore.py"), "{by_name}");
    let cfg: MetricConfig = serde_json::from_str(&format!(
        r#"{{"type": "alignscore", "model": {:?}, "context": "reference"}}"#,
        model_dir().display().to_string()
    ))
    .expect("parses");
    assert_eq!(cfg.build().expect("builds").name(), "alignscore");
}
