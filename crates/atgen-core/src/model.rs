//! Plain-data model outputs: what a generator, scorer or trainer hands back.

use serde::{Deserialize, Serialize};

/// Decoding parameters for [`crate::Generator`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerationParams {
    /// Maximum number of tokens to generate per sample.
    pub max_new_tokens: usize,
    /// Sampling temperature; 0 means greedy decoding.
    pub temperature: f64,
    /// Nucleus sampling mass in (0, 1]; 1 disables it.
    pub top_p: f64,
    /// Keep only the k most likely tokens; 0 disables it.
    pub top_k: usize,
    /// Samples per prompt.
    pub num_samples: usize,
    /// Seed of the sampling RNG.
    pub seed: u64,
    /// Generation stops when one of these strings appears (it is cut from the text).
    pub stop: Vec<String>,
    /// Generation stops at one of these token ids (in addition to the model's EOS).
    pub stop_token_ids: Vec<u32>,
}

impl Default for GenerationParams {
    fn default() -> Self {
        GenerationParams {
            max_new_tokens: 64,
            temperature: 0.0,
            top_p: 1.0,
            top_k: 0,
            num_samples: 1,
            seed: 0,
            stop: Vec::new(),
            stop_token_ids: Vec::new(),
        }
    }
}

/// One generated sample with per-token scores under the raw model distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// Decoded text (stop strings removed).
    pub text: String,
    /// Generated token ids (the EOS / stop token excluded).
    pub token_ids: Vec<u32>,
    /// Log-probability of each chosen token under the untempered distribution.
    pub logprobs: Vec<f32>,
    /// Entropy (nats) of each step's full untempered distribution.
    pub entropies: Vec<f32>,
}

impl Generation {
    /// Mean token log-probability, `None` for an empty generation.
    pub fn mean_logprob(&self) -> Option<f64> {
        mean(&self.logprobs)
    }

    /// Mean token entropy, `None` for an empty generation.
    pub fn mean_entropy(&self) -> Option<f64> {
        mean(&self.entropies)
    }

    /// Sum of token log-probabilities (log of the sequence probability).
    pub fn sequence_logprob(&self) -> f64 {
        self.logprobs.iter().map(|&v| v as f64).sum()
    }
}

fn mean(v: &[f32]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64)
}

/// Per-token log-probs of a given target continuation (teacher forcing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetScore {
    /// Token ids of the target.
    pub token_ids: Vec<u32>,
    /// Log-prob of each target token given the prompt and the previous target tokens.
    pub logprobs: Vec<f32>,
}

/// A prompt and the answer the model must learn to produce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainExample {
    /// Full prompt text (template already applied).
    pub prompt: String,
    /// Target completion; only its tokens carry loss.
    pub target: String,
}

/// What a fine-tuning call reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Optimizer steps taken.
    pub steps: usize,
    /// Epochs completed.
    pub epochs: usize,
    /// Mean training loss of the last epoch.
    pub final_train_loss: f64,
    /// Best dev loss seen, when a dev split was given.
    pub best_dev_loss: Option<f64>,
    /// Whether early stopping ended training.
    pub early_stopped: bool,
    /// Target tokens processed per second of training.
    pub tokens_per_second: f64,
}

/// An example id with the score a strategy gave it (higher = more wanted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredId {
    /// The example.
    pub id: crate::ExampleId,
    /// Acquisition score; its scale is strategy-specific.
    pub score: f64,
}
