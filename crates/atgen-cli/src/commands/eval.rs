//! `atgen eval`: metrics over a predictions file, the same code the loop uses.

use crate::args::EvalArgs;
use anyhow::Result;

pub fn run(args: &EvalArgs) -> Result<()> {
    let names: Vec<&str> = args
        .metrics
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    let report = atgen_metrics::eval_file(&args.input, &names, args.per_example.is_some())?;
    if let (Some(path), Some(rows)) = (&args.per_example, &report.rows) {
        crate::jsonl::write(Some(path), rows)?;
    }
    println!("{}", serde_json::to_string_pretty(&report.corpus)?);
    Ok(())
}
