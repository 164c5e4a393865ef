//! atgen-models: the acquisition model of active learning, on candle.
//!
//! * [`CausalLm`] loads Llama / Mistral / Qwen2 / Qwen3 checkpoints in Hugging
//!   Face layout (or hub ids through the HF cache), generates in batches with
//!   per-token log-probs and entropies, and scores given targets.
//! * [`adapters`] wraps linear layers with LoRA, DoRA or QLoRA; [`train`]
//!   fine-tunes them (or every weight); [`peft`] reads and writes PEFT adapters
//!   and merged checkpoints.
//! * [`bert`] embeds sentences with BERT-family encoders (sentence-transformers
//!   layout), and causal LMs embed by mean-pooling hidden states; RoBERTa
//!   encoders load through the same code.
//! * [`classifier`] loads BERT/RoBERTa/DeBERTa-v2/v3 sequence classifiers (NLI
//!   cross-encoders; DeBERTa's disentangled attention is in [`deberta`]);
//!   [`align`] loads AlignScore's alignment model (RoBERTa + three heads).
//! * [`bart`] loads BART encoder-decoders and scores targets given sources
//!   (BARTScore's scorer).
//! * [`init`] creates random models for tests and offline demos.
//!
//! Why our own decoder rather than candle-transformers' models: training needs
//! differentiable norm/rope/softmax (candle's fused kernels have no backward),
//! adapters must wrap every projection, and batched generation needs per-row
//! positions for left padding. One implementation covers the four families.

pub mod adapters;
pub mod align;
pub mod bart;
pub mod bert;
pub mod classifier;
mod config;
pub mod deberta;
pub mod decoder;
pub mod device;
mod error;
pub mod fused;
pub mod generate;
pub mod hub;
pub mod init;
pub mod kernels;
pub mod linear;
mod lm;
pub mod load;
pub mod memory;
pub mod ops;
pub mod optim;
pub mod peft;
pub mod rng;
pub mod score;
pub mod tokenizer;
pub mod train;

pub use config::{DecoderConfig, Family, RopeScaling, TokenIds};
pub use error::{Error, Result};
pub use lm::{choose_dtype, CausalLm};
