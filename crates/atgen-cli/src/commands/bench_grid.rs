//! `atgen bench`: a grid of AL runs and its report (see `atgen_bench`).

use crate::args::BenchGridArgs;
use anyhow::{Context, Result};
use atgen_bench::perf::{write_report, PerfOptions};
use atgen_bench::presets::{preset, Preset};
use atgen_bench::{default_jobs, run_grid, BenchSpec, Subprocess};
use atgen_config::ConfigLoader;

/// The grid: the preset's (or the defaults), with the command line's lists and overrides on top.
fn spec(args: &BenchGridArgs, jobs: usize) -> Result<BenchSpec> {
    let p = match &args.preset {
        Some(name) => preset(name)?,
        None => Preset {
            description: String::new(),
            datasets: vec!["cmudict".into()],
            strategies: ["random", "huds", "idds", "facility_location", "nsp"]
                .map(String::from)
                .to_vec(),
            seeds: vec![0, 1, 2],
            overrides: Vec::new(),
            dataset_overrides: Default::default(),
        },
    };
    let mut overrides = p.overrides;
    overrides.extend(args.overrides.iter().cloned());
    Ok(BenchSpec {
        datasets: args.data.clone().unwrap_or(p.datasets),
        strategies: args.strategies.clone().unwrap_or(p.strategies),
        seeds: args.seeds.clone().unwrap_or(p.seeds),
        overrides,
        dataset_overrides: p.dataset_overrides,
        out: args.out.clone(),
        jobs,
    })
}

pub fn run(args: &BenchGridArgs) -> Result<()> {
    let mut loader = ConfigLoader::new();
    if let Some(d) = &args.config_dir {
        loader = loader.with_config_dir(d);
    }
    let cores = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(default_jobs);
    if args.perf {
        return perf(args, cores);
    }
    let jobs = args.jobs.unwrap_or(cores).max(1);
    let spec = spec(args, jobs)?;
    let runner = Subprocess {
        program: std::env::current_exe().context("locating the atgen binary")?,
        config_dir: args.config_dir.clone(),
        base_dir: std::path::PathBuf::from("."),
        threads: (cores / jobs).max(1),
    };
    eprintln!(
        "{} cells, {jobs} at a time, {} compute thread(s) each",
        spec.datasets.len() * spec.strategies.len() * spec.seeds.len(),
        runner.threads
    );
    let cells = run_grid(&spec, &loader, &runner.base_dir, &runner)?;
    eprintln!(
        "{} cells; report: {}",
        cells.len(),
        args.out.join("report.md").display()
    );
    Ok(())
}

/// `atgen bench --perf`: the performance page, from the repository root.
fn perf(args: &BenchGridArgs, cores: usize) -> Result<()> {
    let root = std::path::PathBuf::from(".");
    for need in ["scripts/bench", "data/aeslc/train.jsonl"] {
        anyhow::ensure!(
            root.join(need).exists(),
            "atgen bench --perf: `{need}` not found; run it from the repository root"
        );
    }
    let opts = PerfOptions {
        atgen: std::env::current_exe().context("locating the atgen binary")?,
        python: args.python.clone(),
        root,
        work: args.out.join("perf-work"),
        threads: cores,
        quick: args.quick,
        only: args.perf_only.clone(),
        device: resolved(args.perf_device)?,
    };
    write_report(&opts, &args.perf_out)?;
    eprintln!("performance report: {}", args.perf_out.display());
    Ok(())
}

/// `auto` made concrete (`cuda:0` or `cpu`), so both sides of a comparison get the same device.
fn resolved(device: atgen_core::DeviceName) -> Result<atgen_core::DeviceName> {
    let opened = atgen_models::device::open(device, "--perf-device")?;
    Ok(atgen_models::device::describe(&opened).parse()?)
}
