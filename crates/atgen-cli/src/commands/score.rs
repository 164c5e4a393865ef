//! `atgen score`: per-token log-probs of given targets.

use crate::args::ScoreArgs;
use crate::jsonl;
use anyhow::Result;
use serde_json::json;

pub fn run(args: &ScoreArgs) -> Result<()> {
    let lm = super::load_model(&args.model)?;
    let lines = jsonl::read(&args.input)?;
    let mut pairs = Vec::with_capacity(lines.len());
    for l in &lines {
        let prompt = jsonl::string_field(&args.input, l, &["prompt"])?;
        let target = jsonl::string_field(&args.input, l, &["target"])?;
        pairs.push((lm.format_prompt(&prompt, None, args.chat)?, target));
    }
    let scores = lm.score(&pairs, args.model.batch_size)?;
    let rows: Vec<_> = scores
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let sum: f64 = s.logprobs.iter().map(|&v| v as f64).sum();
            json!({"index": i, "token_ids": s.token_ids, "logprobs": s.logprobs, "sum_logprob": sum})
        })
        .collect();
    jsonl::write(args.out.as_deref(), &rows)
}
