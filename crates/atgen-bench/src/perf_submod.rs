//! `--perf` section: facility location and graph cut against submodlib
//! (`scripts/bench/submodlib_selection.py`) at pool sizes where a dense kernel
//! fits in memory and where it does not.
//!
//! Both sides select 1% of `atgen_strategies::testing::synthetic_pool` (unit
//! vectors of dimension 384), written once into `<work>/submodlib-pool-<n>/`
//! (`embeddings.f32`, row-major little-endian, and `meta.json`). Each case
//! pairs our mode with submodlib's: exact (all pairs) against submodlib's dense
//! kernel, our approximate k-NN graph against submodlib's exact sparse kernel
//! (`num_neighbors` = our `knn`). Graph cut has no sparse mode here: ours is
//! exact and linear in `n`, so at 100k it meets submodlib's sparse mode (a
//! different, k-NN-truncated function), the only one whose kernel fits.
//!
//! Time and peak memory: ours in this process, the peak reset through
//! `/proc/self/clear_refs` before each case (pool included, as on their side);
//! theirs in a child process, its own high-water mark. A reference case still
//! running after the time limit is killed and reported as `> limit`.

use crate::perf::{python_missing, ratio, shown, PerfOptions};
use crate::{BenchError, Result};
use atgen_strategies::testing::{context, synthetic_pool, FakeOutputs, SYNTHETIC_DIM};
use atgen_strategies::{build_with, Scorers, StrategyConfig};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The reference script.
const SCRIPT: &str = "scripts/bench/submodlib_selection.py";
/// Neighbours per point in the sparse modes (our `knn` default).
const KNN: usize = 20;

/// One comparison row.
struct Case {
    strategy: &'static str,
    n: usize,
    /// Our config beyond `type`.
    ours: Value,
    ours_mode: &'static str,
    /// submodlib's `mode`.
    theirs: &'static str,
}

fn cases(quick: bool) -> Vec<Case> {
    let (small, large) = if quick {
        (400, 1500)
    } else {
        (10_000, 100_000)
    };
    let dense = |n: usize| serde_json::json!({ "dense_max": n });
    let knn = serde_json::json!({ "dense_max": 0, "knn": KNN });
    let fl = "facility_location";
    let gc = "graph_cut";
    let none = serde_json::json!({});
    let case = |strategy, n, ours: &Value, ours_mode, theirs| Case {
        strategy,
        n,
        ours: ours.clone(),
        ours_mode,
        theirs,
    };
    vec![
        case(fl, small, &dense(small), "exact", "dense"),
        case(fl, small, &knn, "k-NN graph", "sparse"),
        case(gc, small, &none, "exact", "dense"),
        case(fl, large, &knn, "k-NN graph", "sparse"),
        case(gc, large, &none, "exact", "sparse"),
    ]
}

/// Seconds a reference case may run before it is stopped.
fn limit(quick: bool) -> Duration {
    Duration::from_secs(if quick { 60 } else { 300 })
}

/// What one side measured.
struct Measured {
    seconds: f64,
    peak_mib: f64,
    picks: Vec<usize>,
}

/// The reference side's outcome.
enum Theirs {
    Done(Measured),
    /// Killed at the limit; the high-water mark seen until then.
    TimedOut {
        peak_mib: f64,
    },
    Failed(String),
}

fn vm_hwm_mib(status: &str) -> Option<f64> {
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
}

fn own_peak_mib() -> f64 {
    fs_err::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| vm_hwm_mib(&s))
        .unwrap_or(f64::NAN)
}

/// Writes the pool's embeddings for the Python side (ids `e0..` in order).
fn write_pool(dir: &Path, n: usize, outputs: &FakeOutputs) -> Result<()> {
    fs_err::create_dir_all(dir)?;
    let mut bytes = Vec::with_capacity(n * SYNTHETIC_DIM * 4);
    for i in 0..n {
        let v = outputs
            .embeddings
            .get(&format!("e{i}"))
            .ok_or_else(|| BenchError::Invalid(format!("pool example e{i} has no embedding")))?;
        bytes.extend(v.iter().flat_map(|x| x.to_le_bytes()));
    }
    fs_err::write(dir.join("embeddings.f32"), bytes)?;
    let meta = serde_json::json!({ "n": n, "dim": SYNTHETIC_DIM });
    fs_err::write(dir.join("meta.json"), meta.to_string())?;
    Ok(())
}

fn ours(
    case: &Case,
    outputs: &mut FakeOutputs,
    examples: &[atgen_core::Example],
) -> Result<Measured> {
    let mut raw = serde_json::json!({ "type": case.strategy });
    if let (Some(obj), Some(extra)) = (raw.as_object_mut(), case.ours.as_object()) {
        obj.extend(extra.clone());
    }
    let name = case.strategy;
    let cfg: StrategyConfig = serde_json::from_value(raw)
        .map_err(|e| BenchError::Invalid(format!("{name} config: {e}")))?;
    let mut s = build_with(&cfg, &Scorers::default())
        .map_err(|e| BenchError::Invalid(format!("{name}: {e}")))?;
    let k = (case.n / 100).max(1);
    // Peak from here on (Linux >= 4.0; otherwise the process's whole high-water mark).
    let _ = fs_err::write("/proc/self/clear_refs", "5");
    let t = Instant::now();
    let picked = s
        .select(&mut context(examples, &[], 0, Some(outputs)), k)
        .map_err(|e| BenchError::Invalid(format!("{name}: {e}")))?;
    let seconds = t.elapsed().as_secs_f64();
    let picks = picked
        .iter()
        .map(|p| {
            p.id.trim_start_matches('e')
                .parse::<usize>()
                .map_err(|_| BenchError::Invalid(format!("{name} picked unknown id {}", p.id)))
        })
        .collect::<Result<Vec<_>>>()?;
    if picks.len() != k {
        return Err(BenchError::Invalid(format!(
            "{name} picked {} of {k}",
            picks.len()
        )));
    }
    Ok(Measured {
        seconds,
        peak_mib: own_peak_mib(),
        picks,
    })
}

fn py_args(case: &Case, pool: &Path) -> Vec<String> {
    vec![
        SCRIPT.into(),
        pool.display().to_string(),
        case.strategy.into(),
        case.theirs.into(),
        KNN.to_string(),
    ]
}

fn theirs(opts: &PerfOptions, args: &[String]) -> Theirs {
    let mut child = match Command::new(&opts.python)
        .args(args)
        .current_dir(&opts.root)
        .env("OMP_NUM_THREADS", opts.threads.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Theirs::Failed(format!("`{}` could not start: {e}", opts.python)),
    };
    let status_path = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + limit(opts.quick);
    let mut peak = 0.0f64;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Theirs::TimedOut { peak_mib: peak };
            }
            Ok(None) => {
                if let Some(p) = std::fs::read_to_string(&status_path)
                    .ok()
                    .and_then(|s| vm_hwm_mib(&s))
                {
                    peak = peak.max(p);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Theirs::Failed(format!("waiting for the reference: {e}")),
        }
    }
    let out = match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => return Theirs::Failed(format!("reading the reference's output: {e}")),
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = crate::last_line(&err).unwrap_or("");
        return Theirs::Failed(format!("{} failed ({}): {last}", SCRIPT, out.status));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let parsed = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .and_then(|v| {
            Some(Measured {
                seconds: v.get("seconds")?.as_f64()?,
                peak_mib: v.get("peak_rss_mib")?.as_f64()?,
                picks: v
                    .get("picks")?
                    .as_array()?
                    .iter()
                    .filter_map(|p| p.as_u64().map(|p| p as usize))
                    .collect(),
            })
        });
    match parsed {
        Some(m) => Theirs::Done(m),
        None => Theirs::Failed(format!("{SCRIPT} printed no result: {}", stdout.trim())),
    }
}

/// "same order", or the share of our picks that submodlib also picked.
fn agreement(ours: &[usize], theirs: &[usize]) -> String {
    if ours == theirs {
        return "same picks, same order".into();
    }
    let set: std::collections::HashSet<_> = theirs.iter().collect();
    let common = ours.iter().filter(|p| set.contains(p)).count();
    format!("{common} of {} picks shared", ours.len())
}

/// The section's Markdown.
pub fn section(opts: &PerfOptions) -> Result<String> {
    let missing = python_missing(opts, "submodlib, numpy, sklearn");
    let mut rows = String::new();
    let mut commands = Vec::new();
    let mut pools_done = std::collections::BTreeSet::new();
    let cases = cases(opts.quick);
    let mut pool: Option<(usize, Vec<atgen_core::Example>, FakeOutputs)> = None;
    for case in &cases {
        if pool.as_ref().is_none_or(|(n, _, _)| *n != case.n) {
            drop(pool.take()); // free the previous pool before drawing the next
            let (examples, outputs) = synthetic_pool(case.n, 1);
            pool = Some((case.n, examples, outputs));
        }
        let Some((_, examples, outputs)) = pool.as_mut() else {
            continue;
        };
        let dir = opts.work.join(format!("submodlib-pool-{}", case.n));
        if pools_done.insert(case.n) {
            write_pool(&dir, case.n, outputs)?;
        }
        let us = ours(case, outputs, examples)?;
        let args = py_args(case, &dir);
        commands.push(shown(&opts.python, &args));
        let them = match &missing {
            Some(why) => Theirs::Failed(why.clone()),
            None => theirs(opts, &args),
        };
        let lim = limit(opts.quick).as_secs();
        let (t_s, t_mib, speedup, agree) = match &them {
            Theirs::Done(m) => (
                format!("{:.2}", m.seconds),
                format!("{:.0}", m.peak_mib),
                format!("**{}**", ratio(Some(m.seconds), Some(us.seconds))),
                agreement(&us.picks, &m.picks),
            ),
            Theirs::TimedOut { peak_mib } => (
                format!("> {lim} (stopped)"),
                format!(">= {peak_mib:.0}"),
                format!("**> {}**", ratio(Some(lim as f64), Some(us.seconds))),
                "-".into(),
            ),
            Theirs::Failed(why) => ("skipped".into(), "-".into(), "**-**".into(), why.clone()),
        };
        let _ = writeln!(
            rows,
            "| {} | {} | {} | {:.2} | {:.0} | {} | {t_s} | {t_mib} | {speedup} | {agree} |",
            case.strategy, case.n, case.ours_mode, us.seconds, us.peak_mib, case.theirs,
        );
    }
    let mut md =
        String::from("### Selection: facility location and graph cut against submodlib\n\n");
    let _ = writeln!(
        md,
        "1% of the seeded `synthetic_pool` (unit vectors of dimension 384), cosine similarity, \
         on both sides lazy greedy for facility location and naive greedy for graph cut (lambda \
         = 0.5; with signed cosines it is not submodular, so lazy bounds could reorder picks). submodlib 0.0.3 (PyPI \
         `submodlib-py`): dense mode on a kernel from its `helper.create_kernel(method=\"sklearn\")`, \
         sparse mode with `num_neighbors = {KNN}` on the kernel its C++ builds from the data (exact \
         k-NN, all pairs). Ours: exact all-pairs facility location (`dense_max = n`), or its \
         approximate {KNN}-NN graph (inverted-file index), and exact graph cut (linear in n). Time \
         includes building the similarities; peak RSS is each process's high-water mark during \
         the case, the pool included. A reference case still running after {} s is stopped.\n",
        limit(opts.quick).as_secs()
    );
    md.push_str(
        "| strategy | n | atgen mode | atgen s | atgen peak MiB | submodlib mode | submodlib s | \
         submodlib peak MiB | speed-up of atgen | picks |\n\
         | --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | --- |\n",
    );
    md.push_str(&rows);
    if let Some(why) = &missing {
        let _ = writeln!(md, "\nReference side skipped: {why}");
    }
    let _ = writeln!(
        md,
        "\nThe pools are written by `atgen bench --perf` under its work directory; the reference \
         commands:\n\n```\n{}\n```\n",
        commands.join("\n")
    );
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_names_identical_orders_and_counts_shared_picks() {
        assert_eq!(agreement(&[3, 1, 2], &[3, 1, 2]), "same picks, same order");
        assert_eq!(agreement(&[3, 1, 2], &[1, 3, 9]), "2 of 3 picks shared");
    }

    #[test]
    fn high_water_mark_is_read_from_proc_status() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1024 kB\n";
        assert_eq!(vm_hwm_mib(status), Some(2.0));
        assert_eq!(vm_hwm_mib("Name:\tx\n"), None);
    }

    #[test]
    fn the_pool_file_holds_the_rows_in_id_order(
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let (_, outputs) = synthetic_pool(30, 1);
        write_pool(dir.path(), 30, &outputs)?;
        let bytes = fs_err::read(dir.path().join("embeddings.f32"))?;
        assert_eq!(bytes.len(), 30 * SYNTHETIC_DIM * 4);
        let row = |i: usize| -> Vec<f32> {
            bytes[i * SYNTHETIC_DIM * 4..(i + 1) * SYNTHETIC_DIM * 4]
                .chunks(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        assert_eq!(row(0), outputs.embeddings["e0"]);
        assert_eq!(row(29), outputs.embeddings["e29"]);
        let meta: Value =
            serde_json::from_str(&fs_err::read_to_string(dir.path().join("meta.json"))?)?;
        assert_eq!(meta, serde_json::json!({"n": 30, "dim": SYNTHETIC_DIM}));
        Ok(())
    }
}
