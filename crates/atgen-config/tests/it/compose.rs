//! Hydra semantics on a user config directory.

use atgen_config::{ConfigError, ConfigLoader, ConfigSources};
use std::fs;

fn user_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    fs::create_dir_all(p.join("data")).unwrap();
    fs::create_dir_all(p.join("extra")).unwrap();
    fs::write(
        p.join("data/mine.yaml"),
        "dataset: /tmp/x.jsonl\ninput_column: src\noutput_column: tgt\n",
    )
    .unwrap();
    fs::write(
        p.join("extra/global.yaml"),
        "# @package _global_\nname: from-extra\n",
    )
    .unwrap();
    fs::write(
        p.join("small.yaml"),
        "defaults:\n  - data: mine\n  - _self_\nname: small-${seed}\nseed: 3\nmodel: {checkpoint: m}\n",
    )
    .unwrap();
    tmp
}

#[test]
fn user_dir_config_name_and_group_options() {
    let tmp = user_dir();
    let loader = ConfigLoader::new()
        .with_config_dir(tmp.path())
        .with_config_name("small");
    let cfg = loader.load::<&str>(&[]).unwrap();
    assert_eq!(cfg.name, "small-3");
    assert_eq!(cfg.data.input_column, "src");
    // A user option of an embedded group.
    let cfg = ConfigLoader::new()
        .with_config_dir(tmp.path())
        .load(&["data=mine"])
        .unwrap();
    assert_eq!(cfg.data.output_column.as_deref(), Some("tgt"));
    // `+group=option` adds a group; `# @package _global_` merges at the root.
    let cfg = loader.load(&["+extra=global"]).unwrap();
    assert_eq!(cfg.name, "small-3"); // _self_ comes last and wins
}

#[test]
fn add_force_delete_and_their_errors() {
    let loader = ConfigLoader::new();
    let v = loader
        .compose(&[
            "+labeller.parameters.top_k=5",
            "++al.max_labeled=7",
            "~data.system_prompt",
        ])
        .unwrap();
    assert_eq!(
        atgen_config::lookup(&v, "labeller.parameters.top_k").and_then(|v| v.as_u64()),
        Some(5)
    );
    assert!(atgen_config::lookup(&v, "data.system_prompt").is_none());
    let e = loader.compose(&["al.qury_size=3"]).unwrap_err();
    assert!(
        matches!(e, ConfigError::OverrideMissingKey { ref key, .. } if key == "al.qury_size"),
        "{e}"
    );
    assert!(
        e.to_string().contains("did you mean `al.query_size`"),
        "{e}"
    );
    let e = loader.compose(&["+al.query_size=3"]).unwrap_err();
    assert!(matches!(e, ConfigError::OverrideKeyExists { .. }), "{e}");
    let e = loader.compose(&["~al.nope"]).unwrap_err();
    assert!(matches!(e, ConfigError::DeleteMissingKey { .. }), "{e}");
    let e = loader.load(&["data=gsm9k"]).unwrap_err();
    assert!(e.to_string().contains("did you mean `gsm8k`"), "{e}");
    let e = loader.load(&["+al.bogus=1"]).unwrap_err();
    assert_eq!(e.to_string(), "unknown config key `al.bogus`");
    let e = loader.load(&["al.query_size=1.5"]).unwrap_err();
    assert!(e.to_string().contains("al.query_size"), "{e}");
    let e = loader.load(&["training.lr=fast"]).unwrap_err();
    assert!(e.to_string().contains("training.lr"), "{e}");
}

#[test]
fn lists_dicts_interpolation_and_env() {
    let loader = ConfigLoader::new();
    let cfg = loader
        .load(&[
            "model.peft.target_modules=[q_proj,'v_proj']",
            "al.required_performance={rougeL: 0.4, rouge1: 0.5}",
            "al.required_performance_mode=any",
            "name=run-${al.num_iterations}-${oc.env:ATGEN_TEST_UNSET_VAR,x}",
            "data.test_subset_size=50",
        ])
        .unwrap();
    assert_eq!(cfg.model.peft.target_modules, ["q_proj", "v_proj"]);
    assert_eq!(cfg.al.required_performance["rougeL"], 0.4);
    assert_eq!(cfg.name, "run-8-x");
    let e = loader.load(&["name=${seed_}"]).unwrap_err();
    assert!(e.to_string().contains("seed_"), "{e}");
    let e = loader.load(&["+a.x=${a.y}", "+a.y=${a.x}"]).unwrap_err();
    assert!(matches!(e, ConfigError::InterpolationCycle { .. }), "{e}");
}

#[test]
fn missing_required_values_name_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("bare.yaml"), "model:\n  checkpoint: ???\n").unwrap();
    let loader = ConfigLoader::new()
        .with_sources(ConfigSources::empty().with_dir(tmp.path()))
        .with_config_name("bare");
    let e = loader.load::<&str>(&[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "missing value for config key `model.checkpoint`: set it with `model.checkpoint=...`"
    );
    let e = loader.load(&["model.checkpoint=m"]).unwrap_err();
    assert!(e.to_string().contains("`data.dataset`"), "{e}");
    let e = ConfigLoader::new()
        .with_config_name("nope")
        .load::<&str>(&[])
        .unwrap_err();
    assert!(matches!(e, ConfigError::ConfigNotFound { .. }), "{e}");
}
