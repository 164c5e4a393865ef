//! Hand-made model outputs, for tests, examples and benchmarks: a
//! [`ModelOutputs`] that serves stored generations and embeddings by id, and
//! the fixtures built around it (strategy names, contexts, scorers).

use crate::{DifficultyJudge, PairScorer, Scorers};
use atgen_core::{Error, Example, Generation, ModelOutputs, Result, SelectionContext};
use std::collections::HashMap;
use std::sync::Arc;

/// The `type` of every strategy config, in the order of the crate docs' table.
pub const ALL_STRATEGIES: [&str; 15] = [
    "random",
    "nsp",
    "msp",
    "mte",
    "bleuvar",
    "te_delfy",
    "ngf_smp",
    "huds",
    "idds",
    "facility_location",
    "graph_cut",
    "coreset",
    "dual",
    "hadas",
    "ld_cal",
];

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

/// Embedding dimension of [`synthetic_pool`].
pub const SYNTHETIC_DIM: usize = 384;

/// The seeded benchmark pool of `n` examples: inputs of 12 words from a
/// 2,000-word vocabulary, unit embeddings of dimension [`SYNTHETIC_DIM`], and
/// `samples` generations of 8 tokens each with random log-probs and entropies
/// (the first is the greedy one). The draw order is fixed, so the same `n`
/// gives the same pool in every benchmark that uses it.
pub fn synthetic_pool(n: usize, samples: usize) -> (Vec<Example>, FakeOutputs) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let mut out = FakeOutputs::default();
    let mut examples = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("e{i}");
        let input: Vec<String> = (0..12)
            .map(|_| format!("w{}", rng.random_range(0..2000)))
            .collect();
        examples.push(Example::new(id.clone(), input.join(" ")));
        let mut v: Vec<f32> = (0..SYNTHETIC_DIM)
            .map(|_| rng.random::<f32>() - 0.5)
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        out.embeddings.insert(id.clone(), v);
        let gens: Vec<Generation> = (0..samples)
            .map(|_| {
                let toks: Vec<String> = (0..8)
                    .map(|_| format!("w{}", rng.random_range(0..30)))
                    .collect();
                Generation {
                    text: toks.join(" "),
                    token_ids: (0..8).collect(),
                    logprobs: (0..8).map(|_| -rng.random::<f32>() * 3.0).collect(),
                    entropies: (0..8).map(|_| rng.random::<f32>() * 4.0).collect(),
                }
            })
            .collect();
        out.generations.insert(id, gens);
    }
    (examples, out)
}

/// A selection context at iteration 0 over hand-made outputs (or none).
pub fn context<'a>(
    unlabeled: &'a [Example],
    labeled: &'a [Example],
    seed: u64,
    outputs: Option<&'a mut FakeOutputs>,
) -> SelectionContext<'a> {
    SelectionContext {
        unlabeled,
        labeled,
        iteration: 0,
        seed,
        outputs: outputs.map(|o| o as &mut dyn ModelOutputs),
    }
}

/// External scorers for HADAS (`pair` as all three of its scorers) and LD-CAL
/// (`difficulty`); BLEUVar keeps its built-in similarity.
pub fn scorers(pair: Arc<dyn PairScorer>, difficulty: Arc<dyn DifficultyJudge>) -> Scorers {
    Scorers {
        entailment: Some(pair.clone()),
        discourse: Some(pair.clone()),
        verifiability: Some(pair),
        difficulty: Some(difficulty),
        similarity: None,
    }
}
