//! `atgen bench`: a grid of datasets x strategies x seeds in the simulated AL
//! setup, each cell an ordinary run directory under
//! `<out>/<data>/<strategy>/seed<k>/`, resumable (a completed cell is never
//! recomputed, an interrupted one is resumed), then aggregated into
//! `report.md` (mean and std per round across seeds, area under the learning
//! curve, labels needed to reach random sampling's final quality) and one SVG
//! learning-curve plot per dataset and metric.

mod aggregate;
mod svg;

pub use aggregate::{aggregate, Aggregate, CurvePoint};

use crate::record::{RoundMetrics, RunRecord};
use crate::run_dir::RunDir;
use crate::{EngineError, Result, RunOptions};
use atgen_config::ConfigLoader;
use std::path::{Path, PathBuf};

/// The grid and where it goes.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    pub datasets: Vec<String>,
    pub strategies: Vec<String>,
    pub seeds: Vec<u64>,
    /// Overrides applied to every cell (after the grid's own).
    pub overrides: Vec<String>,
    pub out: PathBuf,
}

/// One cell's learning curve.
#[derive(Debug, Clone)]
pub struct CellResult {
    pub data: String,
    pub strategy: String,
    pub seed: u64,
    pub curve: Vec<RoundMetrics>,
}

fn cell_dir(out: &Path, data: &str, strategy: &str, seed: u64) -> PathBuf {
    out.join(data).join(strategy).join(format!("seed{seed}"))
}

/// The run directory inside a cell, if one was started.
fn existing_run(cell: &Path) -> Option<PathBuf> {
    let mut runs: Vec<PathBuf> = fs_err::read_dir(cell)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("run.json").is_file())
        .collect();
    runs.sort();
    runs.pop()
}

fn read_curve(run: &Path) -> Result<Vec<RoundMetrics>> {
    let dir = RunDir::open(run)?;
    let mut curve = Vec::new();
    for round in 0.. {
        let m = run.join(format!("iter_{round:03}")).join("metrics.json");
        if !m.is_file() {
            break;
        }
        curve.push(dir.read_json(&m)?);
    }
    Ok(curve)
}

/// Runs (or resumes) every cell, then writes the report. Returns every cell's curve.
pub fn run_grid(
    spec: &BenchSpec,
    loader: &ConfigLoader,
    opts: &RunOptions,
) -> Result<Vec<CellResult>> {
    if spec.datasets.is_empty() || spec.strategies.is_empty() || spec.seeds.is_empty() {
        return Err(EngineError::Invalid(
            "bench: give at least one dataset, strategy and seed".into(),
        ));
    }
    let mut results = Vec::new();
    let total = spec.datasets.len() * spec.strategies.len() * spec.seeds.len();
    let mut k = 0;
    for data in &spec.datasets {
        for strategy in &spec.strategies {
            for &seed in &spec.seeds {
                k += 1;
                let cell = cell_dir(&spec.out, data, strategy, seed);
                let mut overrides = vec![
                    format!("data={data}"),
                    format!("al={strategy}"),
                    format!("seed={seed}"),
                ];
                overrides.extend(spec.overrides.iter().cloned());
                overrides.push(format!(
                    "output_dir={}",
                    cell.parent()
                        .map(Path::to_path_buf)
                        .unwrap_or_default()
                        .display()
                ));
                overrides.push(format!("name=seed{seed}"));
                let cfg = loader.load(&overrides)?;
                let run = match existing_run(&cell) {
                    Some(run) => {
                        let record: RunRecord =
                            RunDir::open(&run)?.read_json(&run.join("run.json"))?;
                        if record.status != "completed" && record.status != "stopped" {
                            eprintln!("[{k}/{total}] {data} / {strategy} / seed {seed}: resuming");
                            crate::resume(&run, Some(&cfg), opts)?;
                        } else {
                            eprintln!(
                                "[{k}/{total}] {data} / {strategy} / seed {seed}: done already"
                            );
                        }
                        run
                    }
                    None => {
                        eprintln!("[{k}/{total}] {data} / {strategy} / seed {seed}");
                        crate::run(&cfg, opts)?.dir
                    }
                };
                results.push(CellResult {
                    data: data.clone(),
                    strategy: strategy.clone(),
                    seed,
                    curve: read_curve(&run)?,
                });
            }
        }
    }
    write_report(spec, &results)?;
    Ok(results)
}

/// Writes `report.md` and the SVG plots from cell results.
pub fn write_report(spec: &BenchSpec, results: &[CellResult]) -> Result<()> {
    fs_err::create_dir_all(&spec.out)?;
    let agg = aggregate(results);
    let mut md = String::from("# atgen bench report\n\n");
    md.push_str(&format!(
        "Grid: datasets {:?} x strategies {:?} x seeds {:?}; extra overrides: `{}`.\n\n",
        spec.datasets,
        spec.strategies,
        spec.seeds,
        spec.overrides.join(" ")
    ));
    md.push_str(&aggregate::markdown(&agg));
    for (data, metric) in agg.plots() {
        let file = format!("{}_{}.svg", sanitize(&data), sanitize(&metric));
        fs_err::write(
            spec.out.join(&file),
            svg::learning_curves(&agg, &data, &metric),
        )?;
        md.push_str(&format!("\n![{data} {metric}]({file})\n"));
    }
    fs_err::write(spec.out.join("report.md"), md)?;
    Ok(())
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
