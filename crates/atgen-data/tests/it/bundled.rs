//! Every bundled dataset loads through its shipped config, with the right references and a
//! prompt that renders.

use atgen_config::ConfigLoader;

fn load(data: &str, extra: &[&str]) -> atgen_data::Dataset {
    // The primary config trims the test split for the offline demo; these tests want it whole.
    let mut o = vec![
        format!("data={data}"),
        "data.test_subset_size=null".to_string(),
    ];
    o.extend(extra.iter().map(|s| s.to_string()));
    let cfg = ConfigLoader::new().load(&o).unwrap();
    atgen_data::load_dataset(&cfg.data).unwrap()
}

#[test]
fn gsm8k_targets_end_with_the_answer() {
    let ds = load("gsm8k", &[]);
    assert_eq!((ds.train.len(), ds.test.len()), (2000, 200));
    assert!(ds
        .test
        .iter()
        .all(|e| e.references.len() == 1 && e.references[0].contains("#### ")));
    assert_eq!(ds.train[0].id, "train-0");
    let p = ds.prompt.render_text(&ds.test[0]).unwrap();
    assert!(p.starts_with("You are a careful math tutor."), "{p}");
    assert!(p.contains(&ds.test[0].input));
    assert_eq!(ds.report.skipped_total(), 0);
}

#[test]
fn triviaqa_has_canonical_answer_then_aliases() {
    let ds = load("triviaqa", &[]);
    assert_eq!((ds.train.len(), ds.test.len()), (2000, 200));
    let ex = &ds.test[0];
    assert!(ex.references.len() > 1, "{ex:?}");
    assert!(ex.id.starts_with("tqa-dprtest-"));
    // Aliases are deduplicated and the canonical answer stays first.
    let mut seen = std::collections::HashSet::new();
    assert!(ex.references.iter().all(|r| seen.insert(r)));
}

#[test]
fn race_prompt_letters_the_options() {
    let ds = load("race", &[]);
    let ex = &ds.test[0];
    assert!(matches!(ex.references[0].as_str(), "A" | "B" | "C" | "D"));
    let p = ds.prompt.render(ex).unwrap();
    assert!(p.contains("\nA. ") && p.contains("\nD. "), "{p}");
    assert!(p.contains(&ex.fields["article"][..20]));
    let m = ds.prompt.messages(ex).unwrap();
    assert_eq!(m[0].role, "system");
}

#[test]
fn aeslc_test_rows_have_four_references() {
    let ds = load("aeslc", &[]);
    assert_eq!((ds.train.len(), ds.test.len()), (1200, 200));
    assert!(ds.test.iter().filter(|e| e.references.len() >= 2).count() > 150);
    assert!(ds.train.iter().all(|e| e.references.len() == 1));
}

#[test]
fn cmudict_words_have_every_pronunciation_as_a_reference() {
    let ds = load("cmudict", &[]);
    assert_eq!((ds.train.len(), ds.test.len()), (3000, 300));
    let arpabet = |p: &str| {
        p.split(' ').all(|ph| {
            !ph.is_empty()
                && ph
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
    };
    for ex in ds.train.iter().chain(&ds.test) {
        assert!(
            ex.input.chars().all(|c| c.is_ascii_lowercase()),
            "{}",
            ex.input
        );
        assert!(
            !ex.references.is_empty() && ex.references.iter().all(|r| arpabet(r)),
            "{ex:?}"
        );
    }
    assert!(
        ds.test.iter().any(|e| e.references.len() >= 2),
        "variants kept"
    );
    let ex = ds
        .test
        .iter()
        .find(|e| e.input == "abdominal")
        .expect("a known word");
    assert_eq!(ex.references[0], "AE0 B D AA1 M AH0 N AH0 L");
    assert_eq!(
        ds.prompt.render(ex).unwrap(),
        "Pronounce: abdominal\nPhonemes:"
    );
}

#[test]
fn subsets_few_shot_and_held_out_are_seeded() {
    let a = load(
        "gsm8k",
        &[
            "data.train_subset_size=0.05",
            "data.test_subset_size=20",
            "data.few_shot.count=2",
        ],
    );
    assert_eq!(
        (a.train.len(), a.test.len(), a.prompt.few_shot.len()),
        (100, 20, 2)
    );
    let b = load(
        "gsm8k",
        &[
            "data.train_subset_size=0.05",
            "data.test_subset_size=20",
            "data.few_shot.count=2",
        ],
    );
    assert_eq!(a.train, b.train);
    let shot_ids: Vec<&str> = a
        .prompt
        .few_shot
        .iter()
        .map(|(e, _)| e.id.as_str())
        .collect();
    assert!(a.train.iter().all(|e| !shot_ids.contains(&e.id.as_str())));
    let c = load(
        "gsm8k",
        &["data.train_subset_size=0.05", "data.subset_seed=7"],
    );
    assert_ne!(a.train, c.train);
    let h = load(
        "gsm8k",
        &["data.test_split=null", "data.held_out_fraction=0.1"],
    );
    assert!(h.report.held_out_test);
    assert_eq!((h.train.len(), h.test.len()), (1800, 200));
}
