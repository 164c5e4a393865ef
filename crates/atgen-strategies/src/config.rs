//! The tagged strategy config, its constructor, and the `al:` config group
//! (strategy plus loop-level keys) as `configs/al/<name>.yaml` spell it.

use crate::bleu::SentenceSimilarity;
use crate::error::Result;
use crate::facility_location::Optimizer;
use crate::scorers::{DifficultyJudge, PairScorer};
use crate::{
    BleuVar, Coreset, Dual, FacilityLocation, GraphCut, Hadas, Huds, Idds, LdCal, Msp, Mte, NgfSmp,
    Nsp, RandomStrategy, TeDelfy,
};
use atgen_core::Strategy;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;

fn d_one() -> f64 {
    1.0
}
fn d_half() -> f64 {
    0.5
}
fn d_idds_lambda() -> f64 {
    0.667
}
fn d_samples() -> usize {
    crate::bleuvar::DEFAULT_NUM_SAMPLES
}
fn d_true() -> bool {
    true
}
fn d_max_n() -> usize {
    4
}
fn d_min_count() -> usize {
    2
}
fn d_epsilon() -> f64 {
    0.01
}
fn d_knn() -> usize {
    20
}
fn d_nprobe() -> usize {
    3
}
fn d_dense_max() -> usize {
    2048
}
fn d_hadas_w() -> [f64; 3] {
    [0.33; 3]
}
fn d_033() -> f64 {
    0.33
}
fn d_c0() -> f64 {
    0.3
}
fn d_t() -> usize {
    10
}
fn d_n_strata() -> usize {
    10
}

/// Every strategy and its parameters, with the paper's (or ATGen's) defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum StrategyConfig {
    /// Seeded uniform sampling.
    Random {
        /// Overrides the loop's seed.
        #[serde(default)]
        seed: Option<u64>,
    },
    /// Normalized sequence probability.
    Nsp {
        #[serde(default = "d_one")]
        length_penalty: f64,
    },
    /// Maximum sequence probability (least confidence).
    Msp {},
    /// Mean token entropy.
    Mte {},
    /// BLEU variance over sampled generations.
    Bleuvar {
        #[serde(default = "d_samples")]
        num_samples: usize,
    },
    /// Token entropy + decay logarithm frequency.
    TeDelfy {
        #[serde(default = "d_one")]
        lambda1: f64,
        #[serde(default = "d_one")]
        lambda2: f64,
    },
    /// N-gram frequency, sentence per phrase.
    NgfSmp {
        #[serde(default = "d_max_n")]
        max_n: usize,
        #[serde(default = "d_min_count")]
        min_count: usize,
    },
    /// Hybrid uncertainty-diversity sampling.
    Huds {
        #[serde(default = "d_n_strata")]
        n_strata: usize,
        #[serde(default = "d_half")]
        lambda: f64,
    },
    /// In-domain diversity sampling.
    Idds {
        #[serde(default = "d_idds_lambda")]
        lambda: f64,
        #[serde(default = "d_true")]
        normalize: bool,
    },
    /// Submodular facility location.
    FacilityLocation {
        #[serde(default)]
        optimizer: Optimizer,
        #[serde(default = "d_epsilon")]
        epsilon: f64,
        #[serde(default = "d_knn")]
        knn: usize,
        #[serde(default = "d_nprobe")]
        nprobe: usize,
        #[serde(default = "d_dense_max")]
        dense_max: usize,
        #[serde(default)]
        seed: Option<u64>,
    },
    /// Submodular graph cut.
    GraphCut {
        #[serde(default = "d_half")]
        lambda: f64,
    },
    /// k-center greedy.
    Coreset {
        #[serde(default = "d_true")]
        normalize: bool,
        #[serde(default)]
        seed: Option<u64>,
    },
    /// IDDS + BLEUVar + random.
    Dual {
        #[serde(default = "d_half")]
        p: f64,
        #[serde(default = "d_idds_lambda")]
        idds_lambda: f64,
        #[serde(default = "d_samples")]
        num_samples: usize,
        #[serde(default)]
        seed: Option<u64>,
    },
    /// Hallucination-diversity-aware sampling (needs three pair scorers).
    Hadas {
        #[serde(default = "d_hadas_w")]
        weights: [f64; 3],
        #[serde(default = "d_033")]
        lambda: f64,
    },
    /// LLM-determined curriculum AL (needs a difficulty judge).
    LdCal {
        #[serde(default = "d_c0")]
        initial_competence: f64,
        #[serde(default = "d_t")]
        curriculum_iterations: usize,
        #[serde(default = "d_one")]
        gamma: f64,
    },
}

/// How the initial labeled set is chosen for a strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColdStart {
    /// Uniformly at random (the strategy needs a trained model).
    Random,
    /// By the strategy itself (embeddings only, or the base model's outputs).
    Strategy,
}

impl StrategyConfig {
    /// The config's `type` name.
    pub fn name(&self) -> &'static str {
        match self {
            StrategyConfig::Random { .. } => "random",
            StrategyConfig::Nsp { .. } => "nsp",
            StrategyConfig::Msp {} => "msp",
            StrategyConfig::Mte {} => "mte",
            StrategyConfig::Bleuvar { .. } => "bleuvar",
            StrategyConfig::TeDelfy { .. } => "te_delfy",
            StrategyConfig::NgfSmp { .. } => "ngf_smp",
            StrategyConfig::Huds { .. } => "huds",
            StrategyConfig::Idds { .. } => "idds",
            StrategyConfig::FacilityLocation { .. } => "facility_location",
            StrategyConfig::GraphCut { .. } => "graph_cut",
            StrategyConfig::Coreset { .. } => "coreset",
            StrategyConfig::Dual { .. } => "dual",
            StrategyConfig::Hadas { .. } => "hadas",
            StrategyConfig::LdCal { .. } => "ld_cal",
        }
    }

    /// The cold start the strategy's paper (or ATGen) uses.
    pub fn cold_start(&self) -> ColdStart {
        match self {
            StrategyConfig::Random { .. }
            | StrategyConfig::NgfSmp { .. }
            | StrategyConfig::Huds { .. }
            | StrategyConfig::Idds { .. }
            | StrategyConfig::FacilityLocation { .. }
            | StrategyConfig::GraphCut { .. }
            | StrategyConfig::Coreset { .. } => ColdStart::Strategy,
            _ => ColdStart::Random,
        }
    }
}

/// External components some strategies need; the lead wires real ones.
#[derive(Clone, Default)]
pub struct Scorers {
    /// Sentence similarity for BLEUVar / DUAL (default: built-in BLEU).
    pub similarity: Option<SentenceSimilarity>,
    /// HADAS semantic-frame scorer (entailment probability).
    pub entailment: Option<Arc<dyn PairScorer>>,
    /// HADAS discourse scorer.
    pub discourse: Option<Arc<dyn PairScorer>>,
    /// HADAS content-verifiability scorer.
    pub verifiability: Option<Arc<dyn PairScorer>>,
    /// LD-CAL difficulty judge.
    pub difficulty: Option<Arc<dyn DifficultyJudge>>,
}

/// Builds a strategy with no external scorers (HADAS and LD-CAL fail).
pub fn build(config: &StrategyConfig) -> Result<Box<dyn Strategy>> {
    build_with(config, &Scorers::default())
}

/// Builds a strategy, taking the scorers it needs from `scorers`.
pub fn build_with(config: &StrategyConfig, scorers: &Scorers) -> Result<Box<dyn Strategy>> {
    use StrategyConfig as C;
    Ok(match config.clone() {
        C::Random { seed } => Box::new(RandomStrategy::new(seed)),
        C::Nsp { length_penalty } => Box::new(Nsp::new(length_penalty)?),
        C::Msp {} => Box::new(Msp),
        C::Mte {} => Box::new(Mte),
        C::Bleuvar { num_samples } => {
            Box::new(BleuVar::new(num_samples, scorers.similarity.clone())?)
        }
        C::TeDelfy { lambda1, lambda2 } => Box::new(TeDelfy::new(lambda1, lambda2)?),
        C::NgfSmp { max_n, min_count } => Box::new(NgfSmp::new(max_n, min_count)?),
        C::Huds { n_strata, lambda } => Box::new(Huds::new(n_strata, lambda)?),
        C::Idds { lambda, normalize } => Box::new(Idds::new(lambda, normalize)?),
        C::FacilityLocation {
            optimizer,
            epsilon,
            knn,
            nprobe,
            dense_max,
            seed,
        } => Box::new(FacilityLocation::new(
            optimizer, epsilon, knn, nprobe, dense_max, seed,
        )?),
        C::GraphCut { lambda } => Box::new(GraphCut::new(lambda)?),
        C::Coreset { normalize, seed } => Box::new(Coreset::new(normalize, seed)),
        C::Dual {
            p,
            idds_lambda,
            num_samples,
            seed,
        } => Box::new(Dual::new(
            Idds::new(idds_lambda, true)?,
            BleuVar::new(num_samples, scorers.similarity.clone())?,
            p,
            seed,
        )?),
        C::Hadas { weights, lambda } => Box::new(Hadas::new(
            [
                scorers.entailment.clone(),
                scorers.discourse.clone(),
                scorers.verifiability.clone(),
            ],
            weights,
            lambda,
        )?),
        C::LdCal {
            initial_competence,
            curriculum_iterations,
            gamma,
        } => Box::new(LdCal::new(
            scorers.difficulty.clone(),
            initial_competence,
            curriculum_iterations,
            gamma,
        )?),
    })
}

/// A count of examples or a fraction of the pool (ATGen accepts both).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Amount {
    /// An absolute number of examples.
    Count(u64),
    /// A fraction of the unlabeled pool, in `(0, 1]`.
    Fraction(f64),
}

impl Amount {
    /// The number of examples for a pool of `n`.
    pub fn resolve(&self, n: usize) -> usize {
        match *self {
            Amount::Count(c) => (c as usize).min(n),
            Amount::Fraction(f) => ((n as f64 * f) as usize).min(n),
        }
    }
}

/// The `al:` config group: a strategy plus the loop-level keys. In YAML the
/// keys sit side by side (`type: huds`, `lambda: 0.5`, `query_size: 0.01`).
#[derive(Debug, Clone, PartialEq)]
pub struct AlConfig {
    /// The strategy.
    pub strategy: StrategyConfig,
    /// Examples queried per iteration.
    pub query_size: Amount,
    /// Examples labeled before the first training.
    pub init_query_size: Amount,
    /// AL iterations after the initial one.
    pub num_iterations: usize,
    /// Random subsample of the pool scored per iteration (`None` = all).
    pub subsample_size: Option<Amount>,
    /// Money budget for labelling (`None` = unlimited).
    pub budget: Option<f64>,
}

const LOOP_KEYS: [&str; 5] = [
    "query_size",
    "init_query_size",
    "num_iterations",
    "subsample_size",
    "budget",
];

impl<'de> Deserialize<'de> for AlConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        let mut map = serde_json::Map::deserialize(d)?;
        let mut take = |k: &str| map.remove(k).filter(|v| !v.is_null());
        fn de<T: serde::de::DeserializeOwned, E: Error>(
            v: serde_json::Value,
        ) -> std::result::Result<T, E> {
            serde_json::from_value(v).map_err(E::custom)
        }
        let query_size = take("query_size")
            .map(de::<_, D::Error>)
            .transpose()?
            .unwrap_or(Amount::Fraction(0.01));
        let init_query_size = take("init_query_size")
            .map(de::<_, D::Error>)
            .transpose()?
            .unwrap_or(Amount::Fraction(0.01));
        let num_iterations = take("num_iterations")
            .map(de::<_, D::Error>)
            .transpose()?
            .unwrap_or(5);
        let subsample_size = take("subsample_size").map(de::<_, D::Error>).transpose()?;
        let budget = take("budget").map(de::<_, D::Error>).transpose()?;
        // `strategy: {type: ..., params}` (atgen-config's layout) or the strategy's keys inline.
        let strategy = match map.remove("strategy") {
            Some(nested) => {
                // Keys the AL loop reads beside the strategy (see atgen-config's `al` schema).
                for k in [
                    "scorers",
                    "embedder",
                    "max_labeled",
                    "required_performance",
                    "required_performance_mode",
                    "train_from_scratch",
                ] {
                    map.remove(k);
                }
                if let Some(k) = map.keys().next() {
                    return Err(D::Error::custom(format!(
                        "unknown key `{k}` beside `strategy`"
                    )));
                }
                de::<_, D::Error>(nested)?
            }
            None => de::<_, D::Error>(serde_json::Value::Object(map))?,
        };
        Ok(AlConfig {
            strategy,
            query_size,
            init_query_size,
            num_iterations,
            subsample_size,
            budget,
        })
    }
}

impl Serialize for AlConfig {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut v = serde_json::to_value(&self.strategy).map_err(S::Error::custom)?;
        let loop_vals = [
            serde_json::to_value(self.query_size),
            serde_json::to_value(self.init_query_size),
            serde_json::to_value(self.num_iterations),
            serde_json::to_value(self.subsample_size),
            serde_json::to_value(self.budget),
        ];
        if let Some(m) = v.as_object_mut() {
            for (k, val) in LOOP_KEYS.iter().zip(loop_vals) {
                m.insert(k.to_string(), val.map_err(S::Error::custom)?);
            }
        }
        v.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_unknown_fields_and_missing_scorers() {
        let c: StrategyConfig = serde_json::from_str(r#"{"type": "huds"}"#).unwrap();
        assert_eq!(
            c,
            StrategyConfig::Huds {
                n_strata: 10,
                lambda: 0.5
            }
        );
        assert!(
            serde_json::from_str::<StrategyConfig>(r#"{"type": "huds", "lamda": 0.1}"#).is_err()
        );
        assert!(serde_json::from_str::<StrategyConfig>(r#"{"type": "nope"}"#).is_err());
        let h: StrategyConfig = serde_json::from_str(r#"{"type": "hadas"}"#).unwrap();
        assert!(matches!(
            build(&h),
            Err(crate::StrategyError::MissingScorer { .. })
        ));
        let bad: StrategyConfig =
            serde_json::from_str(r#"{"type": "idds", "lambda": 3.0}"#).unwrap();
        assert!(build(&bad).is_err());
    }

    #[test]
    fn al_config_splits_loop_keys() {
        let a: AlConfig = serde_json::from_str(
            r#"{"type": "idds", "lambda": 0.5, "query_size": 20, "budget": 3.5}"#,
        )
        .unwrap();
        assert_eq!(
            a.strategy,
            StrategyConfig::Idds {
                lambda: 0.5,
                normalize: true
            }
        );
        assert_eq!(a.query_size, Amount::Count(20));
        assert_eq!(a.init_query_size, Amount::Fraction(0.01));
        assert_eq!(a.budget, Some(3.5));
        assert_eq!(Amount::Fraction(0.01).resolve(1000), 10);
        let back: AlConfig = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(back, a);
        assert!(serde_json::from_str::<AlConfig>(r#"{"type": "idds", "query_sise": 20}"#).is_err());
    }
}
