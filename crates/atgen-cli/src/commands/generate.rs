//! `atgen generate`: batched generation with per-token scores.

use crate::args::GenerateArgs;
use crate::jsonl;
use anyhow::Result;
use atgen_core::GenerationParams;
use serde_json::json;

pub fn run(args: &GenerateArgs) -> Result<()> {
    let lm = super::load_model(&args.model)?;
    let lines = jsonl::read(&args.input)?;
    let mut prompts = Vec::with_capacity(lines.len());
    for l in &lines {
        let p = jsonl::string_field(&args.input, l, &["prompt"])?;
        let system = jsonl::optional_string(&args.input, l, "system")?;
        prompts.push(lm.format_prompt(&p, system.as_deref(), args.chat)?);
    }
    let params = GenerationParams {
        max_new_tokens: args.max_new_tokens,
        temperature: args.temperature,
        top_p: args.top_p,
        top_k: args.top_k,
        num_samples: args.num_samples,
        seed: args.seed,
        stop: args.stop.clone(),
        stop_token_ids: Vec::new(),
    };
    let outputs = lm.generate(&prompts, &params, args.model.batch_size)?;
    let mut rows = Vec::new();
    for (i, samples) in outputs.iter().enumerate() {
        for (s, g) in samples.iter().enumerate() {
            rows.push(json!({
                "index": i,
                "sample": s,
                "text": g.text,
                "token_ids": g.token_ids,
                "logprobs": g.logprobs,
                "entropies": g.entropies,
            }));
        }
    }
    jsonl::write(args.out.as_deref(), &rows)
}
