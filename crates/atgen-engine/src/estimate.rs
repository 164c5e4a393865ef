//! What a configuration would cost before any money is spent
//! (`atgen run --estimate-cost` or `labeller.dry_run=true`).
//!
//! Labels: the initial set plus `query_size` per iteration, capped by the pool
//! and `al.max_labeled`. Prompt tokens: counted over the rendered prompts of a
//! sample of the pool with the provider's tokenizer where it is public (OpenAI's
//! o200k/cl100k, chosen by model name), else with the labeller's conservative
//! bytes-based bound; `prompt_token_counter` says which. Output tokens:
//! `max_tokens` for the worst case, and the mean length of the pool's
//! references (same counter) as the expected case when the data has them. Batch mode applies its discount.
//! `al.budget` caps both figures, as it caps the run.

use crate::{EngineError, Result};
use atgen_config::{Config, LabellerKind};
use atgen_data::{load_dataset_with, LoadContext};
use atgen_labellers::settings::ApiSettings;
use atgen_labellers::tokens::PromptTokenCounter;
use serde::Serialize;
use std::path::Path;

/// A cost estimate.
#[derive(Debug, Clone, Serialize)]
pub struct CostEstimate {
    pub labeller: String,
    pub labels: usize,
    pub mean_prompt_tokens: f64,
    /// How prompt (and reference) tokens were counted.
    pub prompt_token_counter: String,
    pub max_output_tokens: u32,
    pub mean_reference_tokens: Option<f64>,
    pub batch: bool,
    /// Everything answered at `max_tokens` (what the hard budget reserves).
    pub worst_case_cost: f64,
    /// Answers as long as the data's references (when it has them).
    pub expected_cost: Option<f64>,
    /// The budget that caps both, if any.
    pub budget: Option<f64>,
}

/// Estimates the labelling cost of `cfg` (free labellers cost 0).
pub fn estimate_cost(cfg: &Config, base_dir: &Path) -> Result<CostEstimate> {
    let data = load_dataset_with(
        &cfg.data,
        &LoadContext {
            base_dir: base_dir.to_path_buf(),
            ..LoadContext::default()
        },
    )?;
    let pool = data.train.len();
    let al = &cfg.al;
    let mut labels =
        al.init_query_size.resolve(pool) + al.query_size.resolve(pool) * al.num_iterations;
    labels = labels.min(pool);
    if let Some(m) = al.max_labeled {
        labels = labels.min(m);
    }
    let name = format!("{:?}", cfg.labeller.kind).to_lowercase();
    if cfg.labeller.kind != LabellerKind::ApiLlm {
        return Ok(CostEstimate {
            labeller: name,
            labels,
            mean_prompt_tokens: 0.0,
            prompt_token_counter: "none (free labeller)".into(),
            max_output_tokens: 0,
            mean_reference_tokens: None,
            batch: false,
            worst_case_cost: 0.0,
            expected_cost: Some(0.0),
            budget: al.budget,
        });
    }
    // No key is needed to estimate.
    let s = ApiSettings::from_config(&cfg.labeller, |_| Some("estimate".into()), None)
        .map_err(|e| EngineError::Invalid(e.to_string()))?;
    let counter = PromptTokenCounter::for_model(s.provider, &s.model, s.bytes_per_token);
    let sample: Vec<_> = data.train.iter().take(1000).collect();
    let mut prompt_tokens = 0u64;
    for ex in &sample {
        let msgs = data.prompt.messages(ex)?;
        prompt_tokens += counter.count_prompt(
            s.system
                .iter()
                .map(String::as_str)
                .chain(msgs.iter().map(|m| m.content.as_str())),
        );
    }
    let mean_prompt = prompt_tokens as f64 / sample.len().max(1) as f64;
    let refs: Vec<&String> = sample.iter().filter_map(|e| e.references.first()).collect();
    let mean_ref = (!refs.is_empty()).then(|| {
        refs.iter()
            .map(|r| counter.count_text(r) as f64)
            .sum::<f64>()
            / refs.len() as f64
    });
    let prices = if s.batch {
        s.prices.discounted(s.batch_discount)
    } else {
        s.prices
    };
    let per_label = |output: f64| prices.cost(mean_prompt.round() as u64, output.round() as u64);
    let cap = |c: f64| al.budget.map_or(c, |b| c.min(b));
    Ok(CostEstimate {
        labeller: format!("api_llm ({}, {})", s.provider.name(), s.model),
        labels,
        mean_prompt_tokens: mean_prompt,
        prompt_token_counter: counter.describe(),
        max_output_tokens: s.max_tokens,
        mean_reference_tokens: mean_ref,
        batch: s.batch,
        worst_case_cost: cap(labels as f64 * per_label(s.max_tokens as f64)),
        expected_cost: mean_ref.map(|r| cap(labels as f64 * per_label(r.min(s.max_tokens as f64)))),
        budget: al.budget,
    })
}
