//! `atgen run`: compose the config, then run (or resume) active learning.

use crate::args::RunArgs;
use anyhow::{Context, Result};
use atgen_config::ConfigLoader;
use atgen_engine::{Phase, RunOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// `ATGEN_CRASH_AFTER=<round>:<phase>` aborts the process after that step
/// (fault injection for resume tests).
fn crash_after() -> Result<Option<(usize, Phase)>> {
    let Ok(v) = std::env::var("ATGEN_CRASH_AFTER") else {
        return Ok(None);
    };
    let (round, phase) = v
        .split_once(':')
        .context("ATGEN_CRASH_AFTER must be <round>:<phase>")?;
    let phase = match phase {
        "query" => Phase::Query,
        "label" => Phase::Label,
        "train" => Phase::Train,
        "evaluate" => Phase::Evaluate,
        other => anyhow::bail!("ATGEN_CRASH_AFTER: unknown phase `{other}`"),
    };
    Ok(Some((
        round.parse().context("ATGEN_CRASH_AFTER round")?,
        phase,
    )))
}

pub fn run(args: &RunArgs) -> Result<()> {
    let mut loader = ConfigLoader::new();
    if let Some(d) = &args.config_dir {
        loader = loader.with_config_dir(d);
    }
    if let Some(n) = &args.config_name {
        loader = loader.with_config_name(n);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // First Ctrl-C: finish the current step and stop cleanly; the run can be resumed.
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nstopping after the current step (Ctrl-C again to abort)");
    })
    .context("installing the Ctrl-C handler")?;
    let opts = RunOptions {
        stop_flag: stop,
        crash_after: crash_after()?,
        ..RunOptions::default()
    };
    if let Some(dir) = &args.resume {
        let cfg = if args.overrides.is_empty() {
            None
        } else {
            Some(loader.load(&args.overrides)?)
        };
        atgen_engine::resume(dir, cfg.as_ref(), &opts)?;
        return Ok(());
    }
    let cfg = loader.load(&args.overrides)?;
    if args.cfg {
        print!("{}", cfg.to_yaml_redacted());
        return Ok(());
    }
    if args.estimate_cost || cfg.labeller.dry_run {
        let estimate = atgen_engine::estimate::estimate_cost(&cfg, &opts.base_dir)?;
        println!("{}", serde_json::to_string_pretty(&estimate)?);
        return Ok(());
    }
    let summary = atgen_engine::run(&cfg, &opts)?;
    eprintln!("run directory: {}", summary.dir.display());
    Ok(())
}
