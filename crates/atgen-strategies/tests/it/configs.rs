//! Every `configs/al/<name>.yaml` parses as an `AlConfig` whose strategy
//! equals the config enum's defaults, and builds (given scorers).

use atgen_core::Example;
use atgen_strategies::{
    build, build_with, AlConfig, DifficultyJudge, PairScorer, Scorers, StrategyConfig,
};
use std::sync::Arc;

struct Flat;
impl DifficultyJudge for Flat {
    fn rate(&self, ex: &[Example]) -> atgen_core::Result<Vec<f64>> {
        Ok(vec![1.0; ex.len()])
    }
}

#[test]
fn every_al_config_parses_with_paper_defaults_and_builds() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/al");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).expect("configs/al") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let al: AlConfig =
            serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("stem")
            .to_string();
        assert_eq!(
            al.strategy.name(),
            stem,
            "{}: type must match the file name",
            path.display()
        );
        // The file spells out the defaults: parsing just the type gives the same config.
        let bare: StrategyConfig =
            serde_json::from_value(serde_json::json!({ "type": stem })).expect("bare");
        assert_eq!(al.strategy, bare, "{}: defaults drifted", path.display());
        assert_eq!(al.num_iterations, 5);
        let pair: Arc<dyn PairScorer> = Arc::new(|_: &str, _: &str| 0.5);
        let scorers = Scorers {
            entailment: Some(pair.clone()),
            discourse: Some(pair.clone()),
            verifiability: Some(pair),
            difficulty: Some(Arc::new(Flat)),
            similarity: None,
        };
        let s = build_with(&al.strategy, &scorers).expect("build");
        assert_eq!(s.name(), stem);
        names.push(stem);
    }
    names.sort();
    assert_eq!(names.len(), 15, "one config per strategy: {names:?}");
}

#[test]
fn unknown_key_in_yaml_is_rejected() {
    let err =
        serde_norway::from_str::<AlConfig>("type: idds\nlambda: 0.5\nlambdaa: 1\n").unwrap_err();
    assert!(err.to_string().contains("lambdaa"), "{err}");
    assert!(build(&StrategyConfig::LdCal {
        initial_competence: 0.3,
        curriculum_iterations: 10,
        gamma: 1.0
    })
    .is_err());
}
