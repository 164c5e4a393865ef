//! Running a grid: plan the cells, run them `jobs` at a time, resume the
//! unfinished, skip the finished, and keep going when one fails.
//!
//! A cell whose model must first be created (`model.init` with no checkpoint
//! yet) runs before the other cells sharing that checkpoint, so parallel cells
//! never race to create the same model.

use crate::{BenchError, BenchSpec, CellResult, Result};
use atgen_config::ConfigLoader;
use atgen_engine::record::{RoundMetrics, RunRecord};
use atgen_engine::run_dir::RunDir;
use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

/// One cell of the grid.
#[derive(Debug, Clone)]
pub struct Cell {
    pub data: String,
    pub strategy: String,
    pub seed: u64,
    /// `<out>/<data>/<strategy>/seed<k>`: holds the run directory and `cell.log`.
    pub dir: PathBuf,
    /// The overrides that make this cell's config.
    pub overrides: Vec<String>,
}

impl Cell {
    fn label(&self) -> String {
        format!("{} / {} / seed {}", self.data, self.strategy, self.seed)
    }

    /// The log of the cell's runs (appended to on resume).
    pub fn log(&self) -> PathBuf {
        self.dir.join("cell.log")
    }
}

/// How a cell is run.
pub trait CellRunner: Sync {
    /// Runs the cell to the end, or resumes `resume` (its unfinished run directory).
    fn run(&self, cell: &Cell, resume: Option<&Path>) -> Result<()>;
}

/// Runs each cell as `<program> run [--config-dir D] OVERRIDES...` (or
/// `run --resume RUN_DIR ...`) in `base_dir`, its output going to the cell's
/// `cell.log`, with `threads` compute threads (`RAYON_NUM_THREADS`).
pub struct Subprocess {
    pub program: PathBuf,
    pub config_dir: Option<PathBuf>,
    pub base_dir: PathBuf,
    pub threads: usize,
}

impl CellRunner for Subprocess {
    fn run(&self, cell: &Cell, resume: Option<&Path>) -> Result<()> {
        fs_err::create_dir_all(&cell.dir)?;
        let log_path = cell.log();
        let log = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?
            .into_parts()
            .0;
        let mut cmd = Command::new(&self.program);
        cmd.current_dir(&self.base_dir)
            .arg("run")
            .env("RAYON_NUM_THREADS", self.threads.max(1).to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(d) = &self.config_dir {
            cmd.arg("--config-dir").arg(d);
        }
        if let Some(run) = resume {
            cmd.arg("--resume").arg(run);
        }
        cmd.args(&cell.overrides);
        let status = cmd.status().map_err(|e| BenchError::File {
            path: self.program.clone(),
            reason: format!("could not start: {e}"),
        })?;
        if status.success() {
            return Ok(());
        }
        let tail = fs_err::read_to_string(&log_path).unwrap_or_default();
        let last = crate::last_line(&tail).unwrap_or("no output");
        Err(BenchError::Invalid(format!(
            "exited with {status}: {last} (log: {})",
            log_path.display()
        )))
    }
}

/// The cells of a grid, in order (dataset, strategy, seed).
pub fn plan(spec: &BenchSpec) -> Result<Vec<Cell>> {
    if spec.datasets.is_empty() || spec.strategies.is_empty() || spec.seeds.is_empty() {
        return Err(BenchError::Invalid(
            "bench: give at least one dataset, strategy and seed".into(),
        ));
    }
    let mut cells = Vec::new();
    for data in &spec.datasets {
        for strategy in &spec.strategies {
            for &seed in &spec.seeds {
                let dir = spec
                    .out
                    .join(data)
                    .join(strategy)
                    .join(format!("seed{seed}"));
                let mut overrides = vec![
                    format!("data={data}"),
                    format!("al={strategy}"),
                    format!("seed={seed}"),
                ];
                if let Some(d) = spec.dataset_overrides.get(data) {
                    overrides.extend(d.iter().cloned());
                }
                overrides.extend(spec.overrides.iter().cloned());
                let parent = dir.parent().map(Path::to_path_buf).unwrap_or_default();
                overrides.push(format!("output_dir={}", parent.display()));
                overrides.push(format!("name=seed{seed}"));
                cells.push(Cell {
                    data: data.clone(),
                    strategy: strategy.clone(),
                    seed,
                    dir,
                    overrides,
                });
            }
        }
    }
    Ok(cells)
}

/// The run directory inside a cell, if one was started.
pub fn existing_run(cell: &Path) -> Option<PathBuf> {
    let mut runs: Vec<PathBuf> = fs_err::read_dir(cell)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("run.json").is_file())
        .collect();
    runs.sort();
    runs.pop()
}

fn finished(run: &Path) -> Result<bool> {
    let record: RunRecord = RunDir::open(run)?.read_json(&run.join("run.json"))?;
    Ok(record.status == "completed" || record.status == "stopped")
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

/// What happened to one cell.
enum Outcome {
    Done(PathBuf),
    Failed(String),
}

/// Runs (or resumes) every cell `spec.jobs` at a time, then writes the report
/// from the cells that finished. Returns every finished cell's curve, or, when
/// any cell failed, an error listing them (after the report is written).
pub fn run_grid(
    spec: &BenchSpec,
    loader: &ConfigLoader,
    base_dir: &Path,
    runner: &dyn CellRunner,
) -> Result<Vec<CellResult>> {
    let cells = plan(spec)?;
    // Resolve every config first: a typo fails before anything runs.
    let mut creators = Vec::new();
    let mut to_create = BTreeSet::new();
    for (i, cell) in cells.iter().enumerate() {
        let cfg = loader.load(&cell.overrides)?;
        if cfg.model.init.is_some() {
            let ckpt = base_dir.join(cfg.model.checkpoint.clone().unwrap_or_default());
            if !ckpt.join("config.json").is_file() && to_create.insert(ckpt) {
                creators.push(i);
            }
        }
    }
    let total = cells.len();
    let outcomes: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..total).map(|_| None).collect());
    let rest: Vec<usize> = (0..total).filter(|i| !creators.contains(i)).collect();
    // Cells that create a shared model first, then everything else.
    for wave in [creators, rest] {
        let queue = Mutex::new(wave.into_iter().collect::<VecDeque<_>>());
        std::thread::scope(|s| {
            for _ in 0..spec.jobs.max(1) {
                s.spawn(|| loop {
                    let next = queue.lock().map(|mut q| q.pop_front()).ok().flatten();
                    let Some(i) = next else { break };
                    let outcome = run_cell(&cells[i], i + 1, total, runner);
                    if let Ok(mut o) = outcomes.lock() {
                        o[i] = Some(outcome);
                    }
                });
            }
        });
    }
    let outcomes = outcomes
        .into_inner()
        .map_err(|_| BenchError::Invalid("a bench worker panicked".into()))?;
    let mut results = Vec::new();
    let mut failed = Vec::new();
    for (cell, outcome) in cells.iter().zip(outcomes) {
        match outcome {
            Some(Outcome::Done(run)) => results.push(CellResult {
                data: cell.data.clone(),
                strategy: cell.strategy.clone(),
                seed: cell.seed,
                curve: read_curve(&run)?,
            }),
            Some(Outcome::Failed(e)) => failed.push(format!("{}: {e}", cell.label())),
            None => failed.push(format!("{}: not run", cell.label())),
        }
    }
    crate::write_report(spec, &results)?;
    if failed.is_empty() {
        Ok(results)
    } else {
        Err(BenchError::Invalid(format!(
            "{} of {total} cells failed (the report covers the others; re-run to retry them):\n  {}",
            failed.len(),
            failed.join("\n  ")
        )))
    }
}

/// Runs, resumes or skips one cell, printing one line when it starts and one when it ends.
fn run_cell(cell: &Cell, k: usize, total: usize, runner: &dyn CellRunner) -> Outcome {
    let label = format!("[{k}/{total}] {}", cell.label());
    let resume = match existing_run(&cell.dir) {
        Some(run) => match finished(&run) {
            Ok(true) => {
                eprintln!("{label}: done already");
                return Outcome::Done(run);
            }
            Ok(false) => Some(run),
            Err(e) => return Outcome::Failed(e.to_string()),
        },
        None => None,
    };
    eprintln!(
        "{label}: {} (log: {})",
        if resume.is_some() {
            "resuming"
        } else {
            "started"
        },
        cell.log().display()
    );
    let t0 = Instant::now();
    let result = runner.run(cell, resume.as_deref()).and_then(|()| {
        let run = existing_run(&cell.dir).ok_or_else(|| BenchError::File {
            path: cell.dir.clone(),
            reason: "the run left no run directory".into(),
        })?;
        if finished(&run)? {
            Ok(run)
        } else {
            Err(BenchError::File {
                path: run.join("run.json"),
                reason: "the run ended without completing (see run.json)".into(),
            })
        }
    });
    match result {
        Ok(run) => {
            eprintln!("{label}: done in {:.1} s", t0.elapsed().as_secs_f64());
            Outcome::Done(run)
        }
        Err(e) => {
            eprintln!(
                "{label}: FAILED after {:.1} s: {e}",
                t0.elapsed().as_secs_f64()
            );
            Outcome::Failed(e.to_string())
        }
    }
}
