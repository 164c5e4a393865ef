//! The command line from the ATGen paper must parse, compose, resolve and validate.

use atgen_config::{ConfigLoader, LabellerKind, Size};

const PAPER: &[&str] = &[
    "data=gsm8k",
    "al.init_query_size=0.01",
    "al.query_size=0.01",
    "al.num_iterations=20",
    "al=huds",
    "evaluation.additional_metrics=[]",
    "labeller=api_llm",
    "labeller.parameters.model=gpt-4.1",
    "labeller.parameters.max_tokens=4096",
    "al.budget=100",
    "labeller.price.input_per_1m=2",
    "labeller.price.output_per_1m=8",
    "labeller.api_key=sk-...",
];

#[test]
fn paper_example_resolves() {
    let cfg = ConfigLoader::new().load(PAPER).unwrap();
    assert_eq!(cfg.data.dataset.as_deref(), Some("bundled:gsm8k"));
    assert_eq!(cfg.data.input_column, "question");
    assert_eq!(cfg.al.strategy.kind, "huds");
    assert_eq!(cfg.al.init_query_size, Size::Fraction(0.01));
    assert_eq!(cfg.al.query_size, Size::Fraction(0.01));
    assert_eq!(cfg.al.num_iterations, 20);
    assert_eq!(cfg.al.budget, Some(100.0));
    assert!(cfg.evaluation.additional_metrics.is_empty());
    assert_eq!(cfg.labeller.kind, LabellerKind::ApiLlm);
    assert_eq!(
        cfg.labeller
            .parameters
            .get("model")
            .and_then(|v| v.as_str()),
        Some("gpt-4.1")
    );
    assert_eq!(
        cfg.labeller
            .parameters
            .get("max_tokens")
            .and_then(|v| v.as_u64()),
        Some(4096)
    );
    assert_eq!(cfg.labeller.price.input_per_1m, 2.0);
    assert_eq!(cfg.labeller.price.output_per_1m, 8.0);
    assert_eq!(cfg.labeller.api_key.as_ref().unwrap().expose(), "sk-...");
    // evaluation.metrics interpolates the task's metrics.
    assert_eq!(cfg.evaluation.metrics[0].kind, "exact_match");
    assert_eq!(
        cfg.evaluation.metrics[0]
            .params
            .get("extractor")
            .and_then(|v| v.as_str()),
        Some("gsm8k")
    );
    // data.subset_seed is `${seed}`.
    assert_eq!(cfg.data.subset_seed, cfg.seed);
}

#[test]
fn saved_config_redacts_the_key_and_round_trips() {
    let cfg = ConfigLoader::new().load(PAPER).unwrap();
    let yaml = cfg.to_yaml_redacted();
    assert!(!yaml.contains("sk-..."), "{yaml}");
    assert!(yaml.contains("api_key: '***'"), "{yaml}");
    assert!(!format!("{cfg:?}").contains("sk-..."));
    let back = atgen_config::from_yaml_str(&yaml).unwrap();
    assert_eq!(back.al, cfg.al);
    assert_eq!(back.data, cfg.data);
}

#[test]
fn every_data_option_composes_and_validates() {
    let loader = ConfigLoader::new();
    for data in ["aeslc", "gsm8k", "triviaqa", "race"] {
        let cfg = loader.load(&[format!("data={data}")]).unwrap();
        assert_eq!(
            cfg.data.dataset.as_deref(),
            Some(format!("bundled:{data}").as_str())
        );
        assert!(!cfg.evaluation.metrics.is_empty(), "{data}");
        assert!(cfg.data.prompt_template.contains("{text}"), "{data}");
    }
}

#[test]
fn every_embedded_group_option_loads() {
    let loader = ConfigLoader::new();
    let sources = loader.sources().clone();
    for group in sources.groups() {
        for option in sources.options(&group) {
            let pick = format!("{group}={option}");
            match loader.load(&[pick.as_str()]) {
                Ok(_) => {}
                // A local labeller needs its checkpoint.
                Err(atgen_config::ConfigError::MissingValue { key })
                    if pick == "labeller=local_llm" && key == "labeller.parameters.checkpoint" => {}
                Err(e) => panic!("{pick}: {e}"),
            }
        }
    }
}

/// The offline default (no arguments): CMUdict grapheme-to-phoneme with the tiny model whose
/// tokenizer gets the 84 ARPAbet symbols whole, continuing each round; picking another
/// training option (the paper's) drops the continuation with the rest of `training=tiny-cmudict`.
#[test]
fn the_offline_default_is_cmudict_and_other_training_options_drop_its_continuation() {
    let loader = ConfigLoader::new();
    let cfg = loader.load::<&str>(&[]).unwrap();
    assert_eq!(cfg.data.dataset.as_deref(), Some("bundled:cmudict"));
    assert_eq!(cfg.data.input_column, "word");
    assert_eq!(
        cfg.data.references_column.as_deref(),
        Some("pronunciations")
    );
    let init = cfg.model.init.as_ref().expect("a tiny model is created");
    assert_eq!(init.added_tokens.len(), 84);
    assert!(init.added_tokens.iter().all(|t| t.starts_with(' ')
        && t.trim()
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())));
    assert!(init.added_tokens.contains(&" AH0".to_string()));
    assert_eq!(cfg.training.num_epochs, 10);
    assert!(!cfg.al.train_from_scratch, "rounds continue the last model");
    assert_eq!(cfg.al.query_size, Size::Count(100));
    let paper = loader.load(&["training=paper"]).unwrap();
    assert!(paper.al.train_from_scratch, "the paper retrains each round");
    assert_eq!(paper.training.num_epochs, 5);
}
