//! `atgen eval`: metrics over a predictions file, the same code the loop uses.

use crate::args::EvalArgs;
use anyhow::{Context, Result};
use atgen_metrics::MetricConfig;

pub fn run(args: &EvalArgs) -> Result<()> {
    let names: Vec<&str> = args
        .metrics
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    let mut metrics = atgen_metrics::build_metrics(&names)?;
    for spec in &args.metric_specs {
        let cfg: MetricConfig = serde_json::from_str(spec)
            .with_context(|| format!("--metric-spec {spec}: not a metric config"))?;
        metrics.push(cfg.build()?);
    }
    let records = atgen_metrics::read_jsonl(&args.input)?;
    let report = atgen_metrics::evaluate(&records, &metrics, args.per_example.is_some())?;
    if let (Some(path), Some(rows)) = (&args.per_example, &report.rows) {
        crate::jsonl::write(Some(path), rows)?;
    }
    println!("{}", serde_json::to_string_pretty(&report.corpus)?);
    Ok(())
}
