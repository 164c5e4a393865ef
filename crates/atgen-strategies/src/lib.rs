//! atgen-strategies: every query strategy of atgen, one file each, behind
//! one tagged config enum ([`StrategyConfig`]) and one constructor
//! ([`build`]).
//!
//! A strategy implements [`atgen_core::Strategy`]: it reads the unlabeled and
//! labeled examples and, through [`atgen_core::ModelOutputs`], the current
//! model's generations (with per-token log-probs and entropies) and sentence
//! embeddings, and returns up to `k` scored ids, best first. It decides; the
//! loop acts (labels, trains, caches model outputs).
//!
//! | family | strategies | needs a trained model |
//! | --- | --- | --- |
//! | uncertainty | [`RandomStrategy`], [`Nsp`], [`Msp`], [`Mte`], [`BleuVar`] | yes (random: no) |
//! | hybrid / frequency | [`TeDelfy`], [`NgfSmp`], [`Huds`] | TE-delfy, HUDS: yes; NGF-SMP: no |
//! | experimental design | [`Idds`], [`FacilityLocation`], [`GraphCut`], [`Coreset`] | no (embeddings only) |
//! | combined | [`Dual`] (IDDS + BLEUVar + random) | yes |
//! | external scorers | [`Hadas`], [`LdCal`] | yes, plus scorers |
//!
//! Selection never panics on bad input: `k` larger than the pool returns the
//! whole pool, an empty pool returns nothing, ragged embeddings are
//! [`StrategyError::DimMismatch`].
//!
//! ```
//! use atgen_core::{Example, SelectionContext, Strategy};
//! use atgen_strategies::{build, StrategyConfig};
//!
//! let cfg: StrategyConfig = serde_json::from_str(r#"{"type": "random", "seed": 3}"#).unwrap();
//! let mut s = build(&cfg).unwrap();
//! let pool: Vec<Example> = (0..5).map(|i| Example::new(format!("id{i}"), "text")).collect();
//! let mut ctx = SelectionContext { unlabeled: &pool, labeled: &[], iteration: 0, seed: 0, outputs: None };
//! assert_eq!(s.select(&mut ctx, 2).unwrap().len(), 2);
//! ```

// Tests assert with unwrap; library code never does (workspace lint).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bleu;
mod bleuvar;
mod common;
mod config;
mod coreset;
mod dual;
pub mod embeddings;
mod error;
mod facility_location;
mod graph_cut;
mod hadas;
mod huds;
mod idds;
mod knn;
mod ld_cal;
mod msp;
mod mte;
mod ngf_smp;
mod nsp;
mod random;
mod scorers;
mod te_delfy;
pub mod testing;
#[cfg(test)]
mod testutil;

pub use bleu::{sentence_bleu, SentenceSimilarity};
pub use bleuvar::BleuVar;
pub use common::{top_k, words};
pub use config::{build, build_with, AlConfig, ColdStart, Scorers, StrategyConfig};
pub use coreset::Coreset;
pub use dual::Dual;
pub use error::{Result, StrategyError};
pub use facility_location::{FacilityLocation, Optimizer};
pub use graph_cut::GraphCut;
pub use hadas::Hadas;
pub use huds::Huds;
pub use idds::Idds;
pub use ld_cal::LdCal;
pub use msp::Msp;
pub use mte::Mte;
pub use ngf_smp::NgfSmp;
pub use nsp::Nsp;
pub use random::RandomStrategy;
pub use scorers::{DifficultyJudge, PairScorer};
pub use te_delfy::TeDelfy;
