//! Model outputs for strategies, from one cache per round: every generation
//! and embedding is computed once, whichever strategy (or part of a hybrid)
//! asks first. Embeddings from a fixed sentence encoder live for the whole run.

use crate::local_model::LocalModel;
use crate::prompting::Prompter;
use atgen_core::{Error, Example, ExampleId, Generation, GenerationParams, ModelOutputs, Result};
use atgen_models::bert::BertEmbedder;
use std::collections::HashMap;

/// Where embeddings come from.
pub enum EmbedderChoice<'a> {
    /// The acquisition model's mean-pooled hidden states (change every round).
    Model,
    /// A sentence-transformers encoder (fixed for the run).
    Encoder(&'a BertEmbedder),
}

/// Per-round outputs of the acquisition model.
pub struct OutputsCache<'a> {
    pub model: &'a LocalModel,
    pub prompter: &'a Prompter,
    pub params: GenerationParams,
    pub embedder: EmbedderChoice<'a>,
    /// Run-wide embedding cache (used with a fixed encoder).
    pub run_embeddings: &'a mut HashMap<ExampleId, Vec<f32>>,
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
        run_embeddings: &'a mut HashMap<ExampleId, Vec<f32>>,
    ) -> Self {
        OutputsCache {
            model,
            prompter,
            params,
            embedder,
            run_embeddings,
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
        let cache = match self.embedder {
            EmbedderChoice::Model => &mut self.round_embeddings,
            EmbedderChoice::Encoder(_) => &mut *self.run_embeddings,
        };
        let missing: Vec<&Example> = examples
            .iter()
            .filter(|e| !cache.contains_key(&e.id))
            .collect();
        if !missing.is_empty() {
            let texts: Vec<String> = missing.iter().map(|e| e.input.clone()).collect();
            let vecs = match self.embedder {
                EmbedderChoice::Model => self.model.embed(&texts).map_err(backend)?,
                EmbedderChoice::Encoder(enc) => enc.embed(&texts, 64).map_err(Error::backend)?,
            };
            for (e, v) in missing.iter().zip(vecs) {
                cache.insert(e.id.clone(), v);
            }
        }
        Ok(examples.iter().map(|e| cache[&e.id].clone()).collect())
    }
}
