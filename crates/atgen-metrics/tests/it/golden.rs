//! Parity with rouge-score 0.1.2 and sacrebleu 2.4.3 on `metrics_golden.json`.
//!
//! The fixture was produced by `scripts/fixtures/metrics_golden.py`, e.g. per example
//! ```python
//! RougeScorer(["rouge1","rouge2","rougeL","rougeLsum"], use_stemmer=True).score_multi(refs, pred)
//! sacrebleu.sentence_bleu(pred, refs, smooth_method="floor").score
//! sacrebleu.sentence_chrf(pred, refs, word_order=2).score
//! ```
//! and per group `sacrebleu.corpus_bleu(hyps, ref_streams, **kw).score`, `CHRF(...).corpus_score`.

use crate::{f, fixture, s, strings, Mismatches};
use atgen_metrics::bleu::{
    compute_bleu, corpus_bleu, segment_stats, BleuConfig, BleuTokenizer, Smoothing,
};
use atgen_metrics::chrf::{corpus_chrf, sentence_chrf, ChrfConfig};
use atgen_metrics::exact_match::normalize_answer;
use atgen_metrics::rouge::{RougeScorer, RougeScores};
use atgen_metrics::{build_metrics, MetricConfig};
use serde_json::Value;

const TOL: f64 = 1e-6;

struct Example {
    group: String,
    prediction: String,
    references: Vec<String>,
    raw: Value,
}

fn examples(fx: &Value) -> Vec<Example> {
    fx["examples"]
        .as_array()
        .expect("examples")
        .iter()
        .map(|e| Example {
            group: s(&e["group"]),
            prediction: s(&e["prediction"]),
            references: strings(&e["references"]),
            raw: e.clone(),
        })
        .collect()
}

fn bleu_cfg(key: &str) -> (BleuConfig, bool) {
    let mut c = BleuConfig::default();
    let mut eff = true; // sentence_bleu's default
    match key {
        "exp" => {}
        "floor" => c.smooth_method = Smoothing::Floor,
        "floor_0.3" => {
            c.smooth_method = Smoothing::Floor;
            c.smooth_value = Some(0.3);
        }
        "add-k" => c.smooth_method = Smoothing::AddK,
        "add-k_2" => {
            c.smooth_method = Smoothing::AddK;
            c.smooth_value = Some(2.0);
        }
        "none" => c.smooth_method = Smoothing::None,
        "exp_tok_none" => c.tokenize = BleuTokenizer::None,
        "exp_lowercase" => c.lowercase = true,
        "exp_intl" => c.tokenize = BleuTokenizer::Intl,
        "exp_no_eff" => eff = false,
        "exp_eff" => c.effective_order = true,
        other => panic!("fixture has an unknown BLEU setting {other}"),
    }
    (c, eff)
}

#[test]
fn rouge_matches_rouge_score_per_example() {
    let fx = fixture("metrics_golden.json");
    let exs = examples(&fx);
    assert!(exs.len() > 500);
    let mut mm = Mismatches::default();
    for (variant, stem) in [("stem", true), ("nostem", false)] {
        let scorer = RougeScorer::new(stem);
        for (i, ex) in exs.iter().enumerate() {
            let got: RougeScores = scorer.score_multi(&ex.references, &ex.prediction);
            let want = &ex.raw["rouge"][variant];
            for (ty, sc) in [
                ("rouge1", got.rouge1),
                ("rouge2", got.rouge2),
                ("rougeL", got.rouge_l),
                ("rougeLsum", got.rouge_lsum),
            ] {
                for (k, part, value) in [
                    (0, "P", sc.precision),
                    (1, "R", sc.recall),
                    (2, "F", sc.fmeasure),
                ] {
                    let what = || {
                        format!(
                            "#{i} ({}) {variant} {ty} {part}: {:?}",
                            ex.group, ex.prediction
                        )
                    };
                    mm.close(what, value, f(&want[ty][k]), TOL);
                }
            }
        }
    }
    mm.assert_none("ROUGE");
}

#[test]
fn sentence_bleu_and_chrf_match_sacrebleu() {
    let fx = fixture("metrics_golden.json");
    let mut mm = Mismatches::default();
    let mut tok_bad = Vec::new();
    for (i, ex) in examples(&fx).iter().enumerate() {
        let settings = ex.raw["sentence_bleu"].as_object().expect("sentence_bleu");
        for (key, want) in settings {
            let (cfg, eff) = bleu_cfg(key);
            let st = segment_stats(&ex.prediction, &ex.references, &cfg);
            let got = compute_bleu(&st, cfg.smooth_method, cfg.smooth_value, eff).score;
            let what = || {
                format!(
                    "#{i} ({}) sentence BLEU {key}: {:?}",
                    ex.group, ex.prediction
                )
            };
            mm.close(what, got, f(want), TOL);
        }
        for (key, cfg) in [
            ("sentence_chrf", ChrfConfig::default()),
            ("sentence_chrf++", ChrfConfig::plus_plus()),
        ] {
            let got = sentence_chrf(&ex.prediction, &ex.references, &cfg);
            let what = || format!("#{i} ({}) {key}: {:?}", ex.group, ex.prediction);
            mm.close(what, got, f(&ex.raw[key]), TOL);
        }
        let rstripped = ex
            .prediction
            .trim_end_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c));
        let tok = BleuTokenizer::T13a.tokenize(rstripped);
        if tok != s(&ex.raw["tok13a"]) {
            tok_bad.push(format!(
                "#{i}: got {tok:?}, want {:?}",
                s(&ex.raw["tok13a"])
            ));
        }
    }
    assert!(
        tok_bad.is_empty(),
        "13a tokenization differs:\n{}",
        tok_bad.join("\n")
    );
    mm.assert_none("sentence BLEU / chrF");
}

#[test]
fn corpus_bleu_and_chrf_match_sacrebleu() {
    let fx = fixture("metrics_golden.json");
    let exs = examples(&fx);
    let corpus = fx["corpus"].as_object().expect("corpus");
    let mut mm = Mismatches::default();
    for (group, want) in corpus {
        let sel: Vec<&Example> = exs
            .iter()
            .filter(|e| group == "all" || &e.group == group)
            .collect();
        assert!(!sel.is_empty(), "group {group}");
        let hyps: Vec<String> = sel.iter().map(|e| e.prediction.clone()).collect();
        let refs: Vec<Vec<String>> = sel.iter().map(|e| e.references.clone()).collect();
        for (key, w) in want["bleu"].as_object().expect("bleu") {
            let (cfg, _) = bleu_cfg(key);
            let got = corpus_bleu(&hyps, &refs, &cfg).score;
            mm.close(|| format!("{group} corpus BLEU {key}"), got, f(w), TOL);
        }
        let chrf = [
            ("chrf", ChrfConfig::default()),
            ("chrf++", ChrfConfig::plus_plus()),
            (
                "chrf_lowercase",
                ChrfConfig {
                    lowercase: true,
                    ..ChrfConfig::default()
                },
            ),
            (
                "chrf_whitespace",
                ChrfConfig {
                    whitespace: true,
                    ..ChrfConfig::default()
                },
            ),
            (
                "chrf_eps",
                ChrfConfig {
                    eps_smoothing: true,
                    ..ChrfConfig::default()
                },
            ),
        ];
        for (key, cfg) in chrf {
            let got = corpus_chrf(&hyps, &refs, &cfg);
            mm.close(|| format!("{group} corpus {key}"), got, f(&want[key]), TOL);
        }
    }
    mm.assert_none("corpus BLEU / chrF");
}

/// The registry's metrics report the same numbers as the functions above.
#[test]
fn registry_metrics_report_reference_values() {
    let fx = fixture("metrics_golden.json");
    let exs = examples(&fx);
    let hyps: Vec<String> = exs.iter().map(|e| e.prediction.clone()).collect();
    let refs: Vec<Vec<String>> = exs.iter().map(|e| e.references.clone()).collect();
    let mut mm = Mismatches::default();
    for m in build_metrics(&[
        "rouge",
        "rouge_nostem",
        "bleu",
        "chrf",
        "chrf++",
        "relaxed_exact_match",
    ])
    .expect("builds")
    {
        for v in m.compute(&hyps, &refs, &[]).expect("scores") {
            assert_eq!(v.per_example.len(), exs.len(), "{}", v.name);
            let want_corpus = match v.name.as_str() {
                "bleu" => Some(f(&fx["corpus"]["all"]["bleu"]["exp"])),
                "chrf" | "chrf++" => Some(f(&fx["corpus"]["all"][&v.name])),
                _ => None,
            };
            if let Some(w) = want_corpus {
                mm.close(|| format!("corpus {}", v.name), v.corpus, w, TOL);
            }
            for (i, (ex, &got)) in exs.iter().zip(&v.per_example).enumerate() {
                let want = match v.name.as_str() {
                    "bleu" => f(&ex.raw["sentence_bleu"]["exp"]),
                    "chrf" => f(&ex.raw["sentence_chrf"]),
                    "chrf++" => f(&ex.raw["sentence_chrf++"]),
                    "relaxed_exact_match" => f(&ex.raw["squad_em"]),
                    name => {
                        let (variant, ty) = match name.strip_suffix("_nostem") {
                            Some(ty) => ("nostem", ty),
                            None => ("stem", name),
                        };
                        f(&ex.raw["rouge"][variant][ty][2])
                    }
                };
                mm.close(|| format!("#{i} {}", v.name), got, want, TOL);
            }
        }
    }
    mm.assert_none("registry metrics");
}

#[test]
fn squad_normalisation_matches_the_official_script() {
    let fx = fixture("metrics_golden.json");
    let mut mm = Mismatches::default();
    for ex in examples(&fx) {
        let np = normalize_answer(&ex.prediction);
        let got = ex.references.iter().any(|r| normalize_answer(r) == np);
        let what = || format!("relaxed EM {:?} vs {:?}", ex.prediction, ex.references);
        mm.close(
            what,
            if got { 1.0 } else { 0.0 },
            f(&ex.raw["squad_em"]),
            0.0,
        );
    }
    mm.assert_none("SQuAD EM");
    // A config round trip leaves the metric the same.
    let cfg = MetricConfig::from_name("relaxed_exact_match").expect("known");
    assert_eq!(cfg.build().expect("builds").name(), "relaxed_exact_match");
}
