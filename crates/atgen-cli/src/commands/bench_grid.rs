//! `atgen bench`: a grid of AL runs and its report (see `atgen_engine::bench`).

use crate::args::BenchGridArgs;
use anyhow::Result;
use atgen_config::ConfigLoader;
use atgen_engine::bench::{run_grid, BenchSpec};
use atgen_engine::RunOptions;

pub fn run(args: &BenchGridArgs) -> Result<()> {
    let mut loader = ConfigLoader::new();
    if let Some(d) = &args.config_dir {
        loader = loader.with_config_dir(d);
    }
    let spec = BenchSpec {
        datasets: args.data.clone(),
        strategies: args.strategies.clone(),
        seeds: args.seeds.clone(),
        overrides: args.overrides.clone(),
        out: args.out.clone(),
    };
    let cells = run_grid(&spec, &loader, &RunOptions::default())?;
    eprintln!(
        "{} cells; report: {}",
        cells.len(),
        args.out.join("report.md").display()
    );
    Ok(())
}
