//! The engine's hooks for the web app: a caller-supplied human labeller (handed each round's
//! whole query, with the model's drafts), progress events, and pause.
#![allow(clippy::unwrap_used)]

use atgen_core::{Example, LabelOutcome, Labeller};
use atgen_engine::{RunEvent, RunOptions, MODEL_DRAFT_FIELD};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Labels by reversing the words, and records each batch it was handed.
struct Reverser(Arc<Mutex<Vec<Vec<Example>>>>);

impl Labeller for Reverser {
    fn label(&mut self, batch: &[Example]) -> atgen_core::Result<Vec<LabelOutcome>> {
        self.0.lock().unwrap().push(batch.to_vec());
        Ok(batch
            .iter()
            .map(|e| LabelOutcome {
                id: e.id.clone(),
                label: Some(e.input.split(' ').rev().collect::<Vec<_>>().join(" ")),
                cost: 0.0,
                note: None,
            })
            .collect())
    }
}

fn config(dir: &std::path::Path) -> atgen_config::Config {
    let rows: String = (0..30)
        .map(|k| {
            let l = ["a", "b", "c", "d", "e"];
            format!(
                "{{\"id\": \"r{k}\", \"text\": \"{} {}\", \"label\": \"{} {}\"}}\n",
                l[k % 5],
                l[k / 5 % 5],
                l[k / 5 % 5],
                l[k % 5]
            )
        })
        .collect();
    std::fs::write(dir.join("pool.jsonl"), rows).unwrap();
    atgen_config::ConfigLoader::new()
        .load(&[
            "~data",
            "data.dataset=pool.jsonl",
            "data.input_column=text",
            "data.output_column=label",
            "data.id_column=id",
            "data.prompt_template='Reverse: {text} =>'",
            "data.test_subset_size=4",
            "labeller=human",
            "model.checkpoint=tiny",
            "model.init.hidden_size=32",
            "model.init.intermediate_size=64",
            "model.init.layers=1",
            "model.init.heads=2",
            "model.init.kv_heads=1",
            "model.init.vocab_size=300",
            "model.init.pretrain_epochs=0",
            "training.num_epochs=1",
            "inference.max_new_tokens=4",
            "al.init_query_size=3",
            "al.query_size=2",
            "al.num_iterations=1",
            "output_dir=out",
        ])
        .unwrap()
}

#[test]
fn a_human_run_gets_whole_queries_with_drafts_reports_progress_and_pauses() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let batches = Arc::new(Mutex::new(Vec::new()));
    let events = Arc::new(Mutex::new(Vec::new()));
    let pause = Arc::new(AtomicBool::new(true));
    let opts = RunOptions {
        base_dir: dir.path().to_path_buf(),
        pause_flag: pause.clone(),
        human_labeller: Some({
            let b = batches.clone();
            Arc::new(move || Ok(Box::new(Reverser(b.clone())) as Box<dyn Labeller>))
        }),
        observer: Some({
            let (ev, pause) = (events.clone(), pause.clone());
            Arc::new(move |e: &RunEvent| {
                // The first pause (after round 0's query) is released by the observer itself.
                if matches!(e, RunEvent::Paused { .. }) {
                    pause.store(false, Ordering::SeqCst);
                }
                ev.lock().unwrap().push(format!("{e:?}"));
            })
        }),
        ..RunOptions::default()
    };
    let summary = atgen_engine::run(&cfg, &opts).unwrap();
    assert_eq!(summary.record.status, "completed");
    assert_eq!(summary.record.n_labeled, 5);
    // One call per round, with the whole query, each text carrying the model's draft.
    let batches = batches.lock().unwrap();
    assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 2]);
    assert!(batches
        .iter()
        .flatten()
        .all(|e| e.fields.contains_key(MODEL_DRAFT_FIELD)));
    let ev = events.lock().unwrap();
    let kinds: Vec<&str> = ev
        .iter()
        .map(|e| e.split([' ', '(', '{']).next().unwrap_or_default())
        .collect();
    // The whole pool comes first (the web app mirrors it), then the run directory.
    assert_eq!(kinds[..2], ["Pool", "Started"]);
    assert!(batches
        .iter()
        .flatten()
        .all(|e| ev[0].contains(&format!("{:?}", e.id))));
    assert_eq!(kinds.last(), Some(&"Ended"));
    assert!(ev.last().unwrap().contains("completed"));
    assert_eq!(
        kinds.iter().filter(|k| **k == "Paused").count(),
        1,
        "{ev:?}"
    );
    assert_eq!(kinds.iter().filter(|k| **k == "Round").count(), 2);
    let label_steps = ev.iter().filter(|e| e.ends_with("phase: Label }")).count();
    assert_eq!(label_steps, 2, "{ev:?}");
}

#[test]
fn without_the_web_app_a_human_run_is_refused_before_anything_is_spent() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let opts = RunOptions {
        base_dir: dir.path().to_path_buf(),
        ..RunOptions::default()
    };
    let e = atgen_engine::run(&cfg, &opts).err().unwrap().to_string();
    assert!(e.contains("needs the web app"), "{e}");
    assert!(!dir.path().join("out").exists());
}
