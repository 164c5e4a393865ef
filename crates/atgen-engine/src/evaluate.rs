//! Evaluation of the current model on the test split with the configured metrics.

use crate::local_model::LocalModel;
use crate::prompting::Prompter;
use crate::Result;
use atgen_core::{Example, GenerationParams, Metric};
use serde::Serialize;
use std::collections::BTreeMap;

/// One test example's generation, as written to `generations.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct GenerationRow {
    pub id: String,
    pub prediction: String,
    pub references: Vec<String>,
    pub mean_logprob: Option<f64>,
    /// Text a metric reports per example, e.g. an LLM judge's `judge_faithfulness_reason`.
    #[serde(flatten)]
    pub details: BTreeMap<String, String>,
}

/// Corpus metrics and per-example generations.
pub struct Evaluation {
    pub metrics: BTreeMap<String, f64>,
    pub rows: Vec<GenerationRow>,
}

/// Generates greedily for every test example and scores the predictions.
pub fn evaluate(
    model: &LocalModel,
    prompter: &Prompter,
    test: &[Example],
    metrics: &[Box<dyn Metric>],
    params: &GenerationParams,
) -> Result<Evaluation> {
    let prompts = prompter.render_all(model.lm(), test)?;
    let greedy = GenerationParams {
        num_samples: 1,
        temperature: 0.0,
        ..params.clone()
    };
    let outs = model.generate(&prompts, &greedy)?;
    let predictions: Vec<String> = outs
        .iter()
        .map(|g| {
            g.first()
                .map(|x| x.text.trim().to_string())
                .unwrap_or_default()
        })
        .collect();
    let references: Vec<Vec<String>> = test.iter().map(|e| e.references.clone()).collect();
    let sources: Vec<String> = test.iter().map(|e| e.input.clone()).collect();
    let mut values = BTreeMap::new();
    let mut details = vec![BTreeMap::new(); test.len()];
    for m in metrics {
        for v in m.compute(&predictions, &references, &sources)? {
            values.insert(v.name, v.corpus);
        }
        let per_example = m.take_details().map(|d| d.per_example).unwrap_or_default();
        if per_example.len() == test.len() {
            for (row, fields) in details.iter_mut().zip(per_example) {
                for (k, text) in fields {
                    row.insert(format!("{}_{k}", m.name()), text);
                }
            }
        }
    }
    let rows = test
        .iter()
        .zip(predictions)
        .zip(&outs)
        .zip(details)
        .map(|(((e, p), g), details)| GenerationRow {
            id: e.id.clone(),
            prediction: p,
            references: e.references.clone(),
            mean_logprob: g.first().and_then(|x| x.mean_logprob()),
            details,
        })
        .collect();
    Ok(Evaluation {
        metrics: values,
        rows,
    })
}
