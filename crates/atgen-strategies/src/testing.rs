//! Hand-made model outputs, for tests, examples and benchmarks: a
//! [`ModelOutputs`] that serves stored generations and embeddings by id.

use atgen_core::{Error, Example, Generation, ModelOutputs, Result};
use std::collections::HashMap;

/// Serves fixed generations and embeddings keyed by example id.
#[derive(Debug, Clone, Default)]
pub struct FakeOutputs {
    /// Samples per example id (the first is the greedy one).
    pub generations: HashMap<String, Vec<Generation>>,
    /// Embedding per example id.
    pub embeddings: HashMap<String, Vec<f32>>,
    /// Number of `generations` calls served.
    pub generation_calls: usize,
}

impl FakeOutputs {
    /// One greedy generation for ids `e0, e1, ...` in order.
    pub fn greedy(gens: Vec<Generation>) -> Self {
        Self::sampled(gens.into_iter().map(|g| vec![g]).collect())
    }

    /// Several samples for ids `e0, e1, ...` in order.
    pub fn sampled(gens: Vec<Vec<Generation>>) -> Self {
        FakeOutputs {
            generations: gens
                .into_iter()
                .enumerate()
                .map(|(i, g)| (format!("e{i}"), g))
                .collect(),
            ..Default::default()
        }
    }

    /// Adds embeddings for the ids `{prefix}0, {prefix}1, ...`.
    pub fn with_embeddings(mut self, prefix: &str, rows: Vec<Vec<f32>>) -> Self {
        for (i, r) in rows.into_iter().enumerate() {
            self.embeddings.insert(format!("{prefix}{i}"), r);
        }
        self
    }
}

impl ModelOutputs for FakeOutputs {
    fn generations(
        &mut self,
        examples: &[Example],
        num_samples: usize,
    ) -> Result<Vec<Vec<Generation>>> {
        self.generation_calls += 1;
        examples
            .iter()
            .map(|ex| {
                let g = self.generations.get(&ex.id).ok_or_else(|| {
                    Error::MissingComponent(format!("generations of `{}`", ex.id))
                })?;
                Ok(g.iter().take(num_samples.max(1)).cloned().collect())
            })
            .collect()
    }

    fn embeddings(&mut self, examples: &[Example]) -> Result<Vec<Vec<f32>>> {
        examples
            .iter()
            .map(|ex| {
                self.embeddings
                    .get(&ex.id)
                    .cloned()
                    .ok_or_else(|| Error::MissingComponent(format!("embedding of `{}`", ex.id)))
            })
            .collect()
    }
}

/// A generation with the given text, log-probs and entropies (token ids 0..).
pub fn gen(text: &str, logprobs: &[f32], entropies: &[f32]) -> Generation {
    Generation {
        text: text.to_string(),
        token_ids: (0..logprobs.len() as u32).collect(),
        logprobs: logprobs.to_vec(),
        entropies: entropies.to_vec(),
    }
}

/// Examples `e0..e{n-1}` with input `text i`.
pub fn pool(n: usize) -> Vec<Example> {
    (0..n)
        .map(|i| Example::new(format!("e{i}"), format!("text {i}")))
        .collect()
}
