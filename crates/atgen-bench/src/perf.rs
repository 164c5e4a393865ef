//! `atgen bench --perf`: the side-by-side performance report in one run.
//!
//! Each section runs our side and, when the Python packages import, the
//! reference side, then writes both numbers, their ratio and the commands that
//! reproduce them. A reference side that cannot run is reported as skipped with
//! the reason (the import error). The report records the machine's load
//! average before and after, because on a shared machine that decides the
//! numbers more than anything else.
//!
//! * model engine: `atgen model bench` against `scripts/bench/torch_model_bench.py`
//!   (PyTorch + PEFT) on the same locally created model and tokenizer;
//! * metrics: ROUGE + BLEU (`atgen-metrics`) against `scripts/bench/metrics_python.py`
//!   (rouge-score + sacrebleu);
//! * selection: facility location against `scripts/bench/apricot_facility_location.py`
//!   (apricot-select), and facility location and graph cut at 10k and 100k against
//!   submodlib (`scripts/bench/submodlib_selection.py`, see `perf_submod`);
//! * selection: every strategy's time and peak memory at 10k and 100k (`perf_strategies`);
//! * selection: HUDS and TE-delfy against the original ATGen code
//!   (`scripts/bench/atgen_original_strategies.py`, `ATGEN_SRC`) on the same pool;
//! * the AL loop: time per phase and peak memory per round of a small `atgen run`.

use crate::{BenchError, Result};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// What to measure and where things are.
#[derive(Debug, Clone)]
pub struct PerfOptions {
    /// The `atgen` binary (for `model init`, `model bench` and `run`).
    pub atgen: PathBuf,
    /// The Python interpreter of the reference side.
    pub python: String,
    /// Repository root (holds `scripts/bench/` and `data/`).
    pub root: PathBuf,
    /// Scratch directory (model, run directories).
    pub work: PathBuf,
    /// Compute threads on both sides.
    pub threads: usize,
    /// Small sizes (seconds, for tests) instead of the documented ones.
    pub quick: bool,
    /// Sections to run (of [`SECTIONS`]); empty: all of them.
    pub only: Vec<String>,
    /// Device of both sides of the model-engine section and of the AL loop (`cpu` or
    /// `cuda:N`; resolve `auto` first: PyTorch has no such name).
    pub device: atgen_core::DeviceName,
}

/// The sections of the report, by the names `--perf-only` takes.
pub const SECTIONS: [&str; 4] = ["engine", "metrics", "selection", "loop"];

/// Sizes of one report.
struct Sizes {
    model_args: Vec<&'static str>,
    steps: usize,
    pairs: usize,
    repeats: usize,
    pool: usize,
    loop_overrides: Vec<&'static str>,
}

impl Sizes {
    fn of(quick: bool) -> Sizes {
        if quick {
            Sizes {
                model_args: vec![
                    "--hidden-size",
                    "64",
                    "--intermediate-size",
                    "128",
                    "--layers",
                    "1",
                    "--heads",
                    "2",
                    "--kv-heads",
                    "1",
                    "--vocab-size",
                    "512",
                ],
                steps: 1,
                pairs: 200,
                repeats: 1,
                pool: 300,
                loop_overrides: vec![
                    "al.init_query_size=4",
                    "al.query_size=4",
                    "al.num_iterations=1",
                    "data.test_subset_size=4",
                    "model.init.hidden_size=32",
                    "model.init.intermediate_size=64",
                    "model.init.layers=1",
                    "model.init.heads=2",
                    "model.init.kv_heads=1",
                    "model.init.vocab_size=300",
                    "model.init.pretrain_epochs=0",
                    "model.init.pretrain_texts=100",
                    "training.num_epochs=1",
                    "inference.max_new_tokens=4",
                ],
            }
        } else {
            Sizes {
                model_args: vec![
                    "--hidden-size",
                    "256",
                    "--intermediate-size",
                    "768",
                    "--layers",
                    "4",
                    "--heads",
                    "4",
                    "--kv-heads",
                    "2",
                    "--vocab-size",
                    "4096",
                ],
                steps: 5,
                pairs: 1200,
                repeats: 3,
                pool: 5000,
                loop_overrides: vec![],
            }
        }
    }
}

/// A shell-like rendering of a command, for the report.
pub(crate) fn shown(program: &str, args: &[String]) -> String {
    let mut s = program.to_string();
    for a in args {
        s.push(' ');
        if a.contains(' ') {
            let _ = write!(s, "'{a}'");
        } else {
            s.push_str(a);
        }
    }
    s
}

/// Runs a command, returning its stdout, or an error naming it with stderr's last line.
fn run(program: &Path, args: &[String], threads: usize, cwd: &Path) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .map_err(|e| BenchError::File {
            path: program.to_path_buf(),
            reason: format!("could not start: {e}"),
        })?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last = crate::last_line(&err).unwrap_or("");
    Err(BenchError::Invalid(format!(
        "`{}` failed ({}): {last}",
        shown(&program.display().to_string(), args),
        out.status
    )))
}

/// `None` when the modules import, else why not (the import error).
pub(crate) fn python_missing(opts: &PerfOptions, modules: &str) -> Option<String> {
    let code = format!("import {modules}");
    match Command::new(&opts.python).args(["-c", &code]).output() {
        Err(e) => Some(format!("`{}` could not start: {e}", opts.python)),
        Ok(o) if o.status.success() => None,
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            Some(
                crate::last_line(&err)
                    .unwrap_or("import failed")
                    .to_string(),
            )
        }
    }
}

fn load_average() -> String {
    fs_err::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn num(v: &Value, key: &str) -> Result<f64> {
    v.get(key)
        .and_then(Value::as_f64)
        .ok_or_else(|| BenchError::Invalid(format!("benchmark output has no number `{key}`: {v}")))
}

/// `a / b` as `1.23x`, or `-` when either side is missing.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

fn cell(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// Writes the report to `out` and returns its text.
pub fn write_report(opts: &PerfOptions, out: &Path) -> Result<String> {
    let t0 = Instant::now();
    let before = load_average();
    fs_err::create_dir_all(&opts.work)?;
    let sizes = Sizes::of(opts.quick);
    let mut md = String::from("## Side by side, generated by `atgen bench --perf`\n\n");
    if let Some(bad) = opts.only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
        return Err(BenchError::Invalid(format!(
            "--perf-only: unknown section `{bad}` (known: {})",
            SECTIONS.join(", ")
        )));
    }
    let wanted = |name: &str| opts.only.is_empty() || opts.only.iter().any(|s| s == name);
    let mut sections = Vec::new();
    if wanted("engine") {
        sections.push(model_engine(opts, &sizes)?);
    }
    if wanted("metrics") {
        sections.push(metrics(opts, &sizes)?);
    }
    if wanted("selection") {
        sections.push(selection(opts, &sizes)?);
        sections.push(crate::perf_submod::section(opts)?);
        sections.push(crate::perf_strategies::section(opts)?);
        sections.push(atgen_selection(opts, &sizes)?);
    }
    if wanted("loop") {
        sections.push(al_loop(opts, &sizes)?);
    }
    let after = load_average();
    let run_line = format!(
        "atgen {} on {} core(s), {} compute thread(s) per side, device {}{}. Load average \
         (1/5/15 min) before: {before}; after: {after}. On a machine shared with other \
         processes the ratios move by up to 2x: read them with the load. Took {:.0} s; \
         reproduce it with `atgen bench --perf{}` from the repository root (each \
         section also lists the commands of its two sides).\n",
        env!("CARGO_PKG_VERSION"),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        opts.threads,
        opts.device,
        if opts.quick {
            ", quick sizes (--quick)"
        } else {
            ""
        },
        t0.elapsed().as_secs_f64(),
        perf_flags(opts)
    );
    if let Some(p) = out.parent() {
        fs_err::create_dir_all(p)?;
    }
    let existing = fs_err::read_to_string(out).unwrap_or_default();
    let block = match (opts.only.is_empty(), generated_block(&existing)) {
        (false, Some(old)) => {
            // Some sections only: each replaces its namesake in the page's block (the others
            // stay as their own run left them) and says which run it comes from.
            let note = format!("_This section alone: {}_\n", run_line.trim_end());
            let fresh: Vec<String> = sections
                .iter()
                .map(|s| match s.split_once("\n\n") {
                    Some((heading, rest)) => format!("{heading}\n\n{note}\n{rest}"),
                    None => s.clone(),
                })
                .collect();
            merge_sections(old, &fresh)
        }
        _ => {
            md.push_str(&run_line);
            md.push('\n');
            for s in sections {
                md.push_str(&s);
            }
            md
        }
    };
    fs_err::write(out, splice(&existing, &block))?;
    Ok(block)
}

/// The text between the page's markers, if it has them.
fn generated_block(page: &str) -> Option<&str> {
    let b = page.find(BEGIN)? + BEGIN.len();
    let e = page.find(END)?;
    (b <= e).then(|| page[b..e].trim_start_matches('\n'))
}

/// `block` with each of `fresh`'s `### ` sections replacing the one of the same heading, or,
/// when it has none, inserted after the last section replaced (at the end before any is).
fn merge_sections(block: &str, fresh: &[String]) -> String {
    let mut chunks: Vec<String> = Vec::new();
    for line in block.split_inclusive('\n') {
        match chunks.last_mut() {
            Some(c) if !line.starts_with("### ") => c.push_str(line),
            _ => chunks.push(line.to_string()),
        }
    }
    let heading = |s: &str| s.lines().next().unwrap_or_default().to_string();
    let mut cursor = chunks.len();
    for f in fresh {
        match chunks.iter().position(|c| heading(c) == heading(f)) {
            Some(i) => {
                chunks[i] = f.clone();
                cursor = i + 1;
            }
            None => {
                chunks.insert(cursor, f.clone());
                cursor += 1;
            }
        }
    }
    chunks.concat()
}

/// The flags that reproduce this report: `--quick`, `--perf-only ...`.
fn perf_flags(opts: &PerfOptions) -> String {
    let mut f = String::new();
    if opts.quick {
        f.push_str(" --quick");
    }
    if !opts.only.is_empty() {
        let _ = write!(f, " --perf-only {}", opts.only.join(","));
    }
    if opts.device != atgen_core::DeviceName::Cpu {
        let _ = write!(f, " --perf-device {}", opts.device);
    }
    f
}

/// Marks the generated part of a hand-written page.
pub const BEGIN: &str = "<!-- generated by `atgen bench --perf`: begin -->";
/// Ends the generated part.
pub const END: &str = "<!-- generated by `atgen bench --perf`: end -->";

/// `page` with the text between [`BEGIN`] and [`END`] replaced by `generated`
/// (the page's own analysis around it is kept); the generated text alone, between
/// the markers, when the page has none.
pub fn splice(page: &str, generated: &str) -> String {
    let block = format!("{BEGIN}\n{generated}{END}\n");
    match (page.find(BEGIN), page.find(END)) {
        (Some(b), Some(e)) if b < e => {
            format!(
                "{}{block}{}",
                &page[..b],
                page[e + END.len()..].trim_start_matches('\n')
            )
        }
        _ => block,
    }
}

fn model_engine(opts: &PerfOptions, sizes: &Sizes) -> Result<String> {
    let data = opts.root.join("data/aeslc/train.jsonl");
    let corpus = opts.work.join("bench-corpus.txt");
    let mut text = String::new();
    for line in fs_err::read_to_string(&data)?.lines() {
        let v: Value = serde_json::from_str(line).map_err(|e| BenchError::File {
            path: data.clone(),
            reason: e.to_string(),
        })?;
        for k in ["email_body", "subject_line"] {
            text.push_str(v[k].as_str().unwrap_or_default());
            text.push('\n');
        }
    }
    fs_err::write(&corpus, text)?;
    let model = opts.work.join("bench-model");
    let mut init: Vec<String> = ["model", "init", "--arch", "qwen3"]
        .iter()
        .chain(sizes.model_args.iter())
        .map(|s| s.to_string())
        .collect();
    init.extend([
        "--train-tokenizer".into(),
        corpus.display().to_string(),
        "--out".into(),
        model.display().to_string(),
    ]);
    run(&opts.atgen, &init, opts.threads, &opts.root)?;
    let bench: Vec<String> = vec![
        "model".into(),
        "bench".into(),
        "--model".into(),
        model.display().to_string(),
        "--steps".into(),
        sizes.steps.to_string(),
        "--device".into(),
        opts.device.to_string(),
    ];
    let ours: Value = serde_json::from_str(&run(&opts.atgen, &bench, opts.threads, &opts.root)?)
        .map_err(|e| BenchError::Invalid(format!("atgen model bench output: {e}")))?;
    let script = "scripts/bench/torch_model_bench.py";
    let py_args: Vec<String> = vec![
        script.into(),
        model.display().to_string(),
        "--threads".into(),
        opts.threads.to_string(),
        "--steps".into(),
        sizes.steps.to_string(),
        "--device".into(),
        opts.device.to_string(),
    ];
    let theirs = match python_missing(opts, "torch, transformers, peft") {
        Some(why) => Err(why),
        None => run(Path::new(&opts.python), &py_args, opts.threads, &opts.root)
            .and_then(|s| {
                serde_json::from_str::<Value>(&s)
                    .map_err(|e| BenchError::Invalid(format!("{script} output: {e}")))
            })
            .map_err(|e| e.to_string()),
    };
    let mut md =
        String::from("### Model engine: training and generation against PyTorch + PEFT\n\n");
    let _ = writeln!(
        md,
        "A Qwen3-shaped model created locally (`{}`), LoRA r = 16 on all projections, batch 16, \
         {} timed training steps after a warm-up, then greedy generation of 32 tokens per row \
         with per-token log-probs and entropies.\n",
        sizes.model_args.join(" "),
        sizes.steps
    );
    md.push_str(
        "| side | train tok/s | generated tok/s | peak RSS MiB |\n| --- | ---: | ---: | ---: |\n",
    );
    let (ot, og) = (
        num(&ours, "train_tokens_per_s")?,
        num(&ours, "generate_tokens_per_s")?,
    );
    let _ = writeln!(
        md,
        "| atgen | {ot:.0} | {og:.0} | {} |",
        cell(ours.get("peak_rss_mib").and_then(Value::as_f64), 0)
    );
    let (tt, tg) = match &theirs {
        Ok(v) => {
            let (tt, tg) = (
                num(v, "train_tokens_per_s")?,
                num(v, "generate_tokens_per_s")?,
            );
            let _ = writeln!(
                md,
                "| PyTorch {} + PEFT | {tt:.0} | {tg:.0} | {} |",
                v["torch"].as_str().unwrap_or("?"),
                cell(v.get("peak_rss_mib").and_then(Value::as_f64), 0)
            );
            (Some(tt), Some(tg))
        }
        Err(why) => {
            let _ = writeln!(md, "| PyTorch + PEFT | skipped | skipped | |");
            let _ = writeln!(md, "\nReference side skipped: {why}\n");
            (None, None)
        }
    };
    let _ = writeln!(
        md,
        "| **ratio atgen / PyTorch** | **{}** | **{}** | |\n",
        ratio(Some(ot), tt),
        ratio(Some(og), tg)
    );
    let _ = writeln!(
        md,
        "```\n{}\nRAYON_NUM_THREADS={} {}\n{}\n```\n",
        shown("atgen", &init),
        opts.threads,
        shown("atgen", &bench),
        shown(&opts.python, &py_args)
    );
    Ok(md)
}

/// `time <name> ...: <first> s <best> s` lines of the metrics benchmarks.
fn seconds(out: &str, name: &str) -> Option<f64> {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("time {name}")))?;
    let rest = line.split_once(':')?.1;
    // Python prints one number (best); Rust prints first and best: take the last.
    rest.split_whitespace()
        .rev()
        .find_map(|w| w.parse::<f64>().ok())
}

fn metrics(opts: &PerfOptions, sizes: &Sizes) -> Result<String> {
    let data = opts.root.join("data/aeslc/train.jsonl");
    let (ours, ours_out) = crate::perf_metrics::time(&data, sizes.pairs, sizes.repeats)?;
    let script = "scripts/bench/metrics_python.py";
    let py_args: Vec<String> = vec![
        script.into(),
        "data/aeslc/train.jsonl".into(),
        sizes.pairs.to_string(),
        sizes.repeats.to_string(),
    ];
    let theirs = match python_missing(opts, "rouge_score, sacrebleu") {
        Some(why) => Err(why),
        None => run(Path::new(&opts.python), &py_args, 1, &opts.root).map_err(|e| e.to_string()),
    };
    let mut md = String::from("### Metrics: ROUGE + BLEU against rouge-score + sacrebleu\n\n");
    let _ = writeln!(
        md,
        "ROUGE-1/2/L/Lsum with the Porter stemmer per pair, corpus BLEU and sentence BLEU per pair, \
         on the first {} rows of the bundled `data/aeslc/train.jsonl` (prediction: the first 15 \
         words of the body; reference: the subject line); best of {}. Both sides print the same \
         scores: ours `{}`.\n",
        sizes.pairs,
        sizes.repeats,
        ours_out.trim()
    );
    md.push_str("| side | ROUGE s | corpus BLEU s | sentence BLEU s | total s |\n| --- | ---: | ---: | ---: | ---: |\n");
    let _ = writeln!(
        md,
        "| atgen | {:.4} | {:.4} | {:.4} | {:.4} |",
        ours[0],
        ours[1],
        ours[2],
        ours[0] + ours[1] + ours[2]
    );
    let their_total = match &theirs {
        Ok(out) => {
            let t = [
                seconds(out, "rouge"),
                seconds(out, "corpus BLEU"),
                seconds(out, "sentence BLEU"),
            ];
            let total = t.iter().copied().sum::<Option<f64>>();
            let _ = writeln!(
                md,
                "| rouge-score + sacrebleu | {} | {} | {} | {} |",
                cell(t[0], 4),
                cell(t[1], 4),
                cell(t[2], 4),
                cell(total, 4)
            );
            total
        }
        Err(why) => {
            let _ = writeln!(md, "| rouge-score + sacrebleu | skipped | | | |");
            let _ = writeln!(md, "\nReference side skipped: {why}\n");
            None
        }
    };
    let _ = writeln!(
        md,
        "| **speed-up of atgen** | | | | **{}** |\n",
        ratio(their_total, Some(ours[0] + ours[1] + ours[2]))
    );
    let _ = writeln!(
        md,
        "```\ncargo run --release -p atgen-metrics --example bench_metrics -- data/aeslc/train.jsonl {} {}\n{}\n```\n",
        sizes.pairs,
        sizes.repeats,
        shown(&opts.python, &py_args)
    );
    Ok(md)
}

fn selection(opts: &PerfOptions, sizes: &Sizes) -> Result<String> {
    let n = sizes.pool;
    let ours = crate::perf_metrics::facility_location_seconds(n)?;
    let script = "scripts/bench/apricot_facility_location.py";
    let py_args: Vec<String> = vec![script.into(), n.to_string()];
    let theirs = match python_missing(opts, "apricot, numpy") {
        Some(why) => Err(why),
        None => run(Path::new(&opts.python), &py_args, opts.threads, &opts.root)
            .map_err(|e| e.to_string())
            .and_then(|s| {
                s.trim()
                    .lines()
                    .last()
                    .and_then(|l| l.split_whitespace().last())
                    .and_then(|v| v.parse::<f64>().ok())
                    .ok_or_else(|| format!("{script} printed no time: {s}"))
            }),
    };
    let mut md = String::from("### Selection: facility location against apricot\n\n");
    let _ = writeln!(
        md,
        "Exact (all-pairs) facility location with lazy greedy selecting 1% of {n} non-negative \
         unit vectors of dimension 384 (cosine similarity computed on both sides, apricot timed \
         after its numba warm-up). submodlib is compared in the next section.\n"
    );
    md.push_str("| side | seconds |\n| --- | ---: |\n");
    let _ = writeln!(md, "| atgen | {ours:.3} |");
    let theirs = match theirs {
        Ok(t) => {
            let _ = writeln!(md, "| apricot-select | {t:.3} |");
            Some(t)
        }
        Err(why) => {
            let _ = writeln!(md, "| apricot-select | skipped |");
            let _ = writeln!(md, "\nReference side skipped: {why}\n");
            None
        }
    };
    let _ = writeln!(
        md,
        "| **speed-up of atgen** | **{}** |\n",
        ratio(theirs, Some(ours))
    );
    let _ = writeln!(
        md,
        "```\nBENCH_NONNEG=1 cargo run --release -p atgen-strategies --example bench_strategies -- \\\n    {n} facility_location '{{\"dense_max\": {n}}}'\n{}\n```\n",
        shown(&opts.python, &py_args)
    );
    Ok(md)
}

/// Where the unpacked `atgen==0.1.0` wheel is (`ATGEN_SRC`, else `/tmp/atgen_src`), or
/// why it cannot be used.
fn atgen_src() -> std::result::Result<PathBuf, String> {
    let dir = std::env::var_os("ATGEN_SRC")
        .map_or_else(|| PathBuf::from("/tmp/atgen_src"), PathBuf::from);
    let needed = ["huds.py", "te_delfy.py"].map(|f| dir.join("atgen/strategies").join(f));
    match needed.iter().find(|p| !p.is_file()) {
        None => Ok(dir),
        Some(p) => Err(format!(
            "{} not found (set ATGEN_SRC to the unpacked atgen==0.1.0 wheel: \
             `pip download atgen==0.1.0 --no-deps -d /tmp/atgen && unzip -o /tmp/atgen/*.whl -d /tmp/atgen_src`)",
            p.display()
        )),
    }
}

/// `<strategy> <n> <seconds>` lines of the ATGen script, in [`perf_atgen::STRATEGIES`] order.
fn strategy_seconds(out: &str) -> std::result::Result<[f64; 2], String> {
    let mut secs = [0.0; 2];
    for (name, slot) in crate::perf_atgen::STRATEGIES.iter().zip(secs.iter_mut()) {
        *slot = out
            .lines()
            .find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some(*name)).then(|| w.nth(1)?.parse::<f64>().ok())?
            })
            .ok_or_else(|| format!("no time for {name} in: {}", out.trim()))?;
    }
    Ok(secs)
}

fn atgen_selection(opts: &PerfOptions, sizes: &Sizes) -> Result<String> {
    let n = sizes.pool;
    let pool_dir = opts.work.join("atgen-strategies-pool");
    let ours = crate::perf_atgen::selection_seconds(n, &pool_dir)?;
    let script = "scripts/bench/atgen_original_strategies.py";
    let py_args: Vec<String> = vec![script.into(), pool_dir.display().to_string()];
    let theirs = match python_missing(opts, "numpy, torch, nltk") {
        Some(why) => Err(why),
        None => atgen_src().and_then(|src| {
            let out = Command::new(&opts.python)
                .args(&py_args)
                .current_dir(&opts.root)
                .env("ATGEN_SRC", &src)
                .env("RAYON_NUM_THREADS", opts.threads.to_string())
                .output()
                .map_err(|e| format!("`{}` could not start: {e}", opts.python))?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                let last = crate::last_line(&err).unwrap_or("");
                return Err(format!("{script} failed ({}): {last}", out.status));
            }
            strategy_seconds(&stdout)
        }),
    };
    let k = (n / 100).max(1);
    let mut md =
        String::from("### Selection: HUDS and TE-delfy against the original ATGen code\n\n");
    let _ = writeln!(
        md,
        "HUDS and TE-delfy selecting {k} of {n} examples (nothing labeled yet) from the \
         `bench_strategies` pool: 12-word inputs, unit embeddings of dimension 384, one \
         8-token generation with log-probs and entropies each, written once and read by both \
         sides. The reference side runs atgen==0.1.0's own `huds` and `te_delfy` functions \
         (parsed from the wheel, `ATGEN_SRC`) with only the model calls replaced by the given \
         numbers (mean NLL, mean token entropy). NSP is left out: without the model it is one \
         argsort. The pool directory in the second command is written by `atgen bench --perf`.\n"
    );
    md.push_str("| strategy | atgen s | ATGen 0.1.0 s | speed-up of atgen |\n| --- | ---: | ---: | ---: |\n");
    let why = theirs.as_ref().err().cloned();
    let theirs = theirs.ok();
    for (i, name) in crate::perf_atgen::STRATEGIES.iter().enumerate() {
        let t = theirs.map(|t| t[i]);
        let _ = writeln!(
            md,
            "| {name} | {:.3} | {} | **{}** |",
            ours[i],
            t.map_or("skipped".into(), |t| format!("{t:.3}")),
            ratio(t, Some(ours[i]))
        );
    }
    if let Some(why) = why {
        let _ = writeln!(md, "\nReference side skipped: {why}");
    }
    let _ = writeln!(
        md,
        "\n```\ncargo run --release -p atgen-strategies --example bench_strategies -- {n} huds,te_delfy\nATGEN_SRC=/tmp/atgen_src {}\n```\n",
        shown(&opts.python, &py_args)
    );
    Ok(md)
}

fn al_loop(opts: &PerfOptions, sizes: &Sizes) -> Result<String> {
    let out_dir = opts.work.join("loop");
    // The loop as the offline default ran it before CMUdict replaced it (AESLC, model=tiny,
    // 4 rounds of 20, retrained each round), so this section's numbers stay comparable.
    let mut args: Vec<String> = [
        "run",
        "data=aeslc",
        "model=tiny",
        "training=tiny",
        "al.init_query_size=20",
        "al.query_size=20",
        "al.num_iterations=4",
        "al.train_from_scratch=true",
        "data.test_subset_size=100",
        "inference.max_new_tokens=8",
    ]
    .map(String::from)
    .to_vec();
    args.extend(sizes.loop_overrides.iter().map(|s| s.to_string()));
    args.push(format!(
        "model.checkpoint={}",
        opts.work.join("loop-model").display()
    ));
    args.push(format!("output_dir={}", out_dir.display()));
    args.push("name=perf".into());
    args.push(format!("model.device={}", opts.device));
    let t0 = Instant::now();
    run(&opts.atgen, &args, opts.threads, &opts.root)?;
    let total = t0.elapsed().as_secs_f64();
    let run_dir =
        crate::grid::existing_run(&out_dir.join("perf")).ok_or_else(|| BenchError::File {
            path: out_dir.clone(),
            reason: "the run left no run directory".into(),
        })?;
    let mut md = String::from("### AL loop: time per phase and peak memory per round\n\n");
    let _ = writeln!(
        md,
        "One `atgen run` on the bundled AESLC subset with the offline tiny model (created and \
         pre-trained on first use, included in the total of {total:.1} s), random sampling, \
         golden labels. From each round's `iter_NNN/timings.json`.\n"
    );
    md.push_str("| round | query s | label s | train s | evaluate s | peak RSS MiB |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for round in 0.. {
        let p = run_dir
            .join(format!("iter_{round:03}"))
            .join("timings.json");
        if !p.is_file() {
            break;
        }
        let v: Value =
            serde_json::from_str(&fs_err::read_to_string(&p)?).map_err(|e| BenchError::File {
                path: p.clone(),
                reason: e.to_string(),
            })?;
        let g = |k: &str| cell(v.get(k).and_then(Value::as_f64), 3);
        let _ = writeln!(
            md,
            "| {round} | {} | {} | {} | {} | {} |",
            g("query_s"),
            g("label_s"),
            g("train_s"),
            g("evaluate_s"),
            cell(v.get("peak_rss_mib").and_then(Value::as_f64), 0)
        );
    }
    let _ = writeln!(md, "\n```\n{}\n```\n", shown("atgen", &args));
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_and_timing_lines_parse_as_the_benchmarks_print_them() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), "1.50x");
        assert_eq!(ratio(Some(3.0), None), "-");
        assert_eq!(ratio(None, Some(2.0)), "-");
        let rust = "time rouge (stemmer, 4 types)      :   0.0210 s   0.0190 s\n";
        assert_eq!(seconds(rust, "rouge"), Some(0.019));
        let py = "time corpus BLEU                :   0.5710 s\n";
        assert_eq!(seconds(py, "corpus BLEU"), Some(0.571));
        assert_eq!(seconds(py, "rouge"), None);
        let atgen = "huds 5000 0.25\nte_delfy 5000 1.5\n";
        assert_eq!(strategy_seconds(atgen), Ok([0.25, 1.5]));
        let err = strategy_seconds("huds 5000 0.25\n");
        assert!(
            matches!(&err, Err(e) if e.contains("no time for te_delfy")),
            "{err:?}"
        );
    }

    #[test]
    fn sections_run_alone_replace_their_namesakes_and_new_ones_follow_them() {
        let block = "## Side\n\nrun line\n\n### A\n\na1\n\n### B\n\nb1\n\n### C\n\nc1\n";
        let fresh = [
            "### B\n\nb2\n\n".to_string(),
            "### B2\n\nnew\n\n".to_string(),
        ];
        assert_eq!(
            merge_sections(block, &fresh),
            "## Side\n\nrun line\n\n### A\n\na1\n\n### B\n\nb2\n\n### B2\n\nnew\n\n### C\n\nc1\n"
        );
        let page = format!("intro\n{BEGIN}\n{block}{END}\n");
        assert_eq!(generated_block(&page), Some(block));
        assert_eq!(generated_block("no markers"), None);
    }

    #[test]
    fn the_generated_block_replaces_only_its_own_part_of_the_page() {
        let page = format!("# Perf\n\nanalysis\n\n{BEGIN}\nold\n{END}\n\nmore analysis\n");
        let new = splice(&page, "new\n");
        assert_eq!(
            new,
            format!("# Perf\n\nanalysis\n\n{BEGIN}\nnew\n{END}\nmore analysis\n")
        );
        assert_eq!(splice("", "x\n"), format!("{BEGIN}\nx\n{END}\n"));
    }
}
