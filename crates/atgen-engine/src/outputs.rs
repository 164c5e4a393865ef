//! Model outputs for strategies, from one cache per round: every generation
//! and embedding is computed once, whichever strategy (or part of a hybrid)
//! asks first. Embeddings from a fixed sentence encoder live for the whole run.

use crate::embedding_cache::EmbeddingCache;
use crate::local_model::LocalModel;
use crate::prompting::Prompter;
use atgen_core::{Error, Example, ExampleId, Generation, GenerationParams, ModelOutputs, Result};
use atgen_models::bert::BertEmbedder;
use std::collections::HashMap;

/// Where embeddings come from.
pub enum EmbedderChoice<'a> {
    /// The acquisition model's mean-pooled hidden states (change every round).
    Model,
    /// A sentence-transformers encoder (fixed), with its on-disk cache.
    Encoder(&'a BertEmbedder, &'a mut EmbeddingCache),
}

/// Per-round outputs of the acquisition model.
pub struct OutputsCache<'a> {
    pub model: &'a LocalModel,
    pub prompter: &'a Prompter,
    pub params: GenerationParams,
    pub embedder: EmbedderChoice<'a>,
    generations: HashMap<(ExampleId, usize), Vec<Generation>>,
    round_embeddings: HashMap<ExampleId, Vec<f32>>,
}

impl<'a> OutputsCache<'a> {
    /// An empty cache for one round.
    pub fn new(
        model: &'a LocalModel,
        prompter: &'a Prompter,
        params: GenerationParams,
        embedder: EmbedderChoice<'a>,
    ) -> Self {
        OutputsCache {
            model,
            prompter,
            params,
            embedder,
            generations: HashMap::new(),
            round_embeddings: HashMap::new(),
        }
    }
}

fn backend(e: crate::EngineError) -> Error {
    Error::backend(e)
}

impl ModelOutputs for OutputsCache<'_> {
    fn generations(
        &mut self,
        examples: &[Example],
        num_samples: usize,
    ) -> Result<Vec<Vec<Generation>>> {
        let n = num_samples.max(1);
        let missing: Vec<&Example> = examples
            .iter()
            .filter(|e| !self.generations.contains_key(&(e.id.clone(), n)))
            .collect();
        if !missing.is_empty() {
            let lm = self.model.lm();
            let prompts: Vec<String> = missing
                .iter()
                .map(|e| self.prompter.render(lm, e))
                .collect::<crate::Result<_>>()
                .map_err(backend)?;
            // Several samples mean stochastic decoding (BLEUVar and the like); one means greedy.
            let temperature = if n > 1 {
                self.params.temperature.max(1.0)
            } else {
                self.params.temperature
            };
            let params = GenerationParams {
                num_samples: n,
                temperature,
                ..self.params.clone()
            };
            let outs = self.model.generate(&prompts, &params).map_err(backend)?;
            for (e, g) in missing.iter().zip(outs) {
                self.generations.insert((e.id.clone(), n), g);
            }
        }
        Ok(examples
            .iter()
            .map(|e| self.generations[&(e.id.clone(), n)].clone())
            .collect())
    }

    fn embeddings(&mut self, examples: &[Example]) -> Result<Vec<Vec<f32>>> {
        match &mut self.embedder {
            EmbedderChoice::Model => {
                let missing: Vec<&Example> = examples
                    .iter()
                    .filter(|e| !self.round_embeddings.contains_key(&e.id))
                    .collect();
                let bar = embedding_bar(missing.len());
                for chunk in missing.chunks(EMBED_CHUNK) {
                    let texts: Vec<String> = chunk.iter().map(|e| e.input.clone()).collect();
                    for (e, v) in chunk.iter().zip(self.model.embed(&texts).map_err(backend)?) {
                        self.round_embeddings.insert(e.id.clone(), v);
                    }
                    bar.inc(chunk.len() as u64);
                }
                bar.finish_and_clear();
                Ok(examples
                    .iter()
                    .map(|e| self.round_embeddings[&e.id].clone())
                    .collect())
            }
            EmbedderChoice::Encoder(enc, cache) => {
                let mut missing: Vec<&str> = examples
                    .iter()
                    .map(|e| e.input.as_str())
                    .filter(|t| cache.get(t).is_none())
                    .collect();
                missing.sort_unstable();
                missing.dedup();
                let bar = embedding_bar(missing.len());
                for chunk in missing.chunks(EMBED_CHUNK) {
                    let texts: Vec<String> = chunk.iter().map(|t| t.to_string()).collect();
                    let vecs = enc.embed(&texts, 64).map_err(Error::backend)?;
                    let items: Vec<(&str, Vec<f32>)> = chunk.iter().copied().zip(vecs).collect();
                    cache.insert_many(&items).map_err(backend)?;
                    bar.inc(chunk.len() as u64);
                }
                bar.finish_and_clear();
                examples
                    .iter()
                    .map(|e| {
                        cache.get(&e.input).cloned().ok_or_else(|| {
                            Error::invalid("embeddings", format!("no embedding for `{}`", e.id))
                        })
                    })
                    .collect()
            }
        }
    }
}

/// Texts embedded (and, for an encoder, persisted) between progress updates.
const EMBED_CHUNK: usize = 256;

/// A bar for embedding `n` texts (hidden for a few chunks' worth, and when stderr is not a
/// terminal).
fn embedding_bar(n: usize) -> indicatif::ProgressBar {
    if n <= 2 * EMBED_CHUNK {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(n as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("embedding {bar:30} {pos}/{len} [{elapsed}<{eta}]")
    {
        bar.set_style(style);
    }
    bar
}
