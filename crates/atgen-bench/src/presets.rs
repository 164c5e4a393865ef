//! Named grids (`atgen bench --preset NAME`): the paper's setups and the
//! offline one, as YAML files in `crates/atgen-bench/presets/` compiled into
//! the binary. A preset fixes datasets, strategies, seeds, overrides for every
//! cell and overrides per dataset; the command line can still replace the
//! lists and append overrides (which win).

use crate::{BenchError, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `(name, YAML)` of every preset.
const PRESETS: [(&str, &str); 4] = [
    ("paper", include_str!("../presets/paper.yaml")),
    ("offline", include_str!("../presets/offline.yaml")),
    ("aeslc-tiny", include_str!("../presets/aeslc-tiny.yaml")),
    ("race-tiny", include_str!("../presets/race-tiny.yaml")),
];

/// A named grid.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// One line for `--help` and the report.
    pub description: String,
    pub datasets: Vec<String>,
    pub strategies: Vec<String>,
    pub seeds: Vec<u64>,
    /// Overrides for every cell.
    #[serde(default)]
    pub overrides: Vec<String>,
    /// Overrides for the cells of one dataset (applied before `overrides`).
    #[serde(default)]
    pub dataset_overrides: BTreeMap<String, Vec<String>>,
}

/// The names of the presets.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

/// The preset called `name`.
pub fn preset(name: &str) -> Result<Preset> {
    let Some((_, yaml)) = PRESETS.iter().find(|(n, _)| *n == name) else {
        return Err(BenchError::Preset {
            name: name.into(),
            reason: format!("unknown (known: {})", names().join(", ")),
        });
    };
    let p: Preset = serde_norway::from_str(yaml).map_err(|e| BenchError::Preset {
        name: name.into(),
        reason: e.to_string(),
    })?;
    if let Some(d) = p.dataset_overrides.keys().find(|d| !p.datasets.contains(d)) {
        return Err(BenchError::Preset {
            name: name.into(),
            reason: format!("dataset_overrides names `{d}`, which is not in datasets"),
        });
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{grid::plan, BenchSpec};
    use atgen_config::{ConfigLoader, Size};

    fn spec(p: &Preset) -> BenchSpec {
        BenchSpec {
            datasets: p.datasets.clone(),
            strategies: p.strategies.clone(),
            seeds: p.seeds.clone(),
            overrides: p.overrides.clone(),
            dataset_overrides: p.dataset_overrides.clone(),
            out: "out".into(),
            jobs: 1,
        }
    }

    #[test]
    fn every_preset_parses_and_every_cell_config_resolves() -> Result<()> {
        let loader = ConfigLoader::new();
        for name in names() {
            let p = preset(name)?;
            for cell in plan(&spec(&p))? {
                loader.load(&cell.overrides)?;
            }
        }
        Ok(())
    }

    #[test]
    fn paper_preset_resolves_to_the_papers_setups() -> Result<()> {
        let p = preset("paper")?;
        assert_eq!(p.datasets, ["triviaqa", "gsm8k", "race", "aeslc"]);
        let loader = ConfigLoader::new();
        let cells = plan(&spec(&p))?;
        assert_eq!(cells.len(), 4 * 5 * 3);
        for cell in cells {
            let cfg = loader.load(&cell.overrides)?;
            let want = match cell.data.as_str() {
                "triviaqa" | "gsm8k" => Size::Fraction(0.01),
                _ => Size::Count(10),
            };
            assert_eq!(cfg.al.query_size, want, "{}", cell.data);
            assert_eq!(cfg.al.init_query_size, want, "{}", cell.data);
            // training=paper: the paper's Table 1.
            assert_eq!(cfg.training.num_epochs, 5);
            assert_eq!(cfg.training.batch_size, 16);
            assert!((cfg.training.lr - 3e-5).abs() < 1e-12);
            assert_eq!(cfg.training.early_stopping_patience, Some(5));
            assert_eq!(cfg.al.num_iterations, 5);
            assert_eq!(cfg.data.test_subset_size, None);
            assert!(
                cfg.model.init.is_none(),
                "a real checkpoint, not a tiny model"
            );
            assert_eq!(cfg.seed, cell.seed);
        }
        Ok(())
    }

    #[test]
    fn an_unknown_preset_names_the_known_ones() {
        let e = preset("papper").map(|_| ()).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("bench preset `papper`: unknown (known: paper, offline, aeslc-tiny, race-tiny)")
        );
    }
}
