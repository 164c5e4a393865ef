//! atgen-core: the data model of active learning for text generation and the
//! traits that every other crate implements.
//!
//! ```text
//!                       atgen-cli (binary `atgen`)
//!      ┌──────────┬───────────┼────────────┬────────────┬──────────┐
//! atgen-models  atgen-strategies  atgen-metrics  atgen-labellers  atgen-server
//!   (candle)       (plain math)    (plain text)     (HTTP)          (axum)
//!      └──────────┴───────────┬────────────┴────────────┴──────────┘
//!                         atgen-core
//! ```
//!
//! The core knows no ML framework: model outputs cross it as plain vectors
//! ([`Generation`], [`TargetScore`], embeddings as `Vec<f32>`), so a strategy
//! can be tested with hand-made numbers and the acquisition model can be
//! candle in-process or a remote OpenAI-compatible server.
//!
//! ```
//! use atgen_core::{Example, Generation};
//! let ex = Example::new("q1", "What is 2+2?").with_reference("4");
//! assert_eq!(ex.references, vec!["4".to_string()]);
//! let g = Generation { text: "4".into(), token_ids: vec![7], logprobs: vec![-0.1], entropies: vec![0.3] };
//! assert!((g.mean_logprob().unwrap() + 0.1).abs() < 1e-6);
//! ```

mod device;
mod error;
mod example;
mod model;
mod traits;

pub use device::{DeviceName, UnknownDevice};
pub use error::{BoxError, Error, Result};
pub use example::{Example, ExampleId};
pub use model::{Generation, GenerationParams, ScoredId, TargetScore, TrainExample, TrainReport};
pub use traits::{
    Embedder, Generator, LabelOutcome, Labeller, LoopState, Metric, MetricDetails, MetricValue,
    ModelOutputs, Scorer, SelectionContext, StopCriterion, StopDecision, Strategy, Trainer,
};
