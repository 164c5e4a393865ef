//! `atgen bench`: a small grid end to end (parallel cells, resumable, a failing
//! cell reported without losing the others), with its report and plots.

use crate::support::*;
use std::path::Path;

const GRID: [&str; 11] = [
    "model=toy",
    "al.init_query_size=4",
    "al.query_size=4",
    "al.num_iterations=2",
    "data.test_subset_size=null",
    "training.num_epochs=1",
    "training.batch_size=4",
    "training.lr=0.01",
    "inference.max_new_tokens=4",
    "--config-dir",
    "conf",
];

fn run_bench(ws: &Workspace, data: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "bench",
        "--data",
        data,
        "--strategies",
        "random,msp",
        "--seeds",
        "0,1",
        "--out",
        "bench",
    ];
    args.extend(GRID);
    args.extend(extra);
    run_in(ws.path(), &args)
}

fn png_size(p: &Path) -> Result<(u32, u32), Box<dyn std::error::Error>> {
    let b = std::fs::read(p)?;
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{}", p.display());
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    Ok((be(16), be(20)))
}

#[test]
fn a_grid_runs_every_cell_once_in_parallel_and_reports_curves_auc_and_efficiency() -> TestResult {
    let ws = Workspace::new()?;
    let o = run_bench(&ws, "toy", &["--jobs", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("4 cells, 2 at a time"), "{err}");
    // One line when a cell starts and one when it ends, never interleaved mid-line.
    assert_eq!(err.matches(": done in ").count(), 4, "{err}");
    let bench = ws.path().join("bench");
    for s in ["random", "msp"] {
        for seed in [0, 1] {
            let cell = bench.join("toy").join(s).join(format!("seed{seed}"));
            let runs: Vec<_> = std::fs::read_dir(&cell)?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .collect();
            assert_eq!(runs.len(), 1, "{}", cell.display());
            // Each cell's own output went to its log, not to the terminal.
            let log = std::fs::read_to_string(cell.join("cell.log"))?;
            assert!(log.contains("run directory:"), "{log}");
        }
    }
    let report = std::fs::read_to_string(bench.join("report.md"))?;
    assert!(report.contains("## toy: exact_match"), "{report}");
    assert!(
        report.contains("| random | 12 |") && report.contains("| msp | 12 |"),
        "{report}"
    );
    assert!(
        report.contains("labels to reach random's final"),
        "{report}"
    );
    // Golden labels cost nothing: no money section.
    assert!(!report.contains("money"), "{report}");
    assert_eq!(png_size(&bench.join("toy_exact_match.png"))?, (800, 500));
    let svg = std::fs::read_to_string(bench.join("toy_exact_match.svg"))?;
    assert!(
        svg.starts_with("<svg")
            && svg.contains("\nrandom\n</text>")
            && svg.contains("\nmsp\n</text>"),
        "{svg}"
    );
    // A second invocation recomputes nothing: no new run directories, same report.
    let o = run_bench(&ws, "toy", &["--jobs", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o).matches("done already").count(), 4);
    assert_eq!(std::fs::read_to_string(bench.join("report.md"))?, report);
    Ok(())
}

#[test]
fn a_failing_cell_is_reported_and_the_others_are_kept_then_retried_on_rerun() -> TestResult {
    let ws = Workspace::new()?;
    // `late` points at a file that does not exist yet: its cells fail when they load data.
    std::fs::write(
        ws.path().join("conf/data/late.yaml"),
        "dataset: late.jsonl\ntest_file: test.jsonl\ninput_column: text\noutput_column: label\nid_column: id\n\
         prompt_template: \"Reverse: {text} =>\"\nmetrics:\n  - exact_match\n",
    )?;
    let o = run_bench(&ws, "toy,late", &["--jobs", "2"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("4 of 8 cells failed"), "{err}");
    assert!(err.contains("late / random / seed 0:"), "{err}");
    assert!(err.contains("late.jsonl"), "the cause is named: {err}");
    assert!(err.contains("cell.log"), "the log is named: {err}");
    let report = std::fs::read_to_string(ws.path().join("bench/report.md"))?;
    assert!(report.contains("## toy: exact_match"), "{report}");
    assert!(!report.contains("## late"), "{report}");
    // Provide the data: the re-run runs only the failed cells.
    std::fs::copy(ws.path().join("pool.jsonl"), ws.path().join("late.jsonl"))?;
    let o = run_bench(&ws, "toy,late", &["--jobs", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.matches("done already").count(), 4, "{err}");
    assert_eq!(err.matches(": done in ").count(), 4, "{err}");
    let report = std::fs::read_to_string(ws.path().join("bench/report.md"))?;
    assert!(report.contains("## late: exact_match"), "{report}");
    Ok(())
}

#[test]
fn an_unknown_preset_is_a_clear_error() {
    let ws = Workspace::new().unwrap_or_else(|e| panic!("{e}"));
    let o = run_in(ws.path(), &["bench", "--preset", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(
            "bench preset `nope`: unknown (known: paper, offline, aeslc-tiny, race-tiny)"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn perf_writes_every_section_into_the_marked_block_and_names_skipped_reference_sides() -> TestResult
{
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tmp = tempfile::tempdir()?;
    let page = tmp.path().join("PERFORMANCE.md");
    std::fs::write(
        &page,
        "# Perf\n\nhand-written analysis\n\n<!-- generated by `atgen bench --perf`: begin -->\nold\n<!-- generated by `atgen bench --perf`: end -->\n",
    )?;
    let out = tmp.path().join("work");
    let o = atgen()
        .current_dir(&root)
        .args([
            "bench",
            "--perf",
            "--quick",
            "--python",
            "/nonexistent/python3",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--perf-out")
        .arg(&page)
        .output()?;
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(&page)?;
    assert!(md.starts_with("# Perf\n\nhand-written analysis\n"), "{md}");
    assert!(!md.contains("\nold\n"), "{md}");
    for section in [
        "### Model engine",
        "### Metrics",
        "### Selection: facility location against apricot",
        "### Selection: facility location and graph cut against submodlib",
        "### Selection: every strategy at 10k and 100k",
        "### Selection: HUDS and TE-delfy against the original ATGen code",
        "### AL loop",
        "Load average (1/5/15 min) before:",
    ] {
        assert!(md.contains(section), "{section} missing: {md}");
    }
    // Our side ran and produced numbers; each reference side says why it was skipped.
    assert!(md.contains("| atgen | "), "{md}");
    assert_eq!(
        md.matches("Reference side skipped: `/nonexistent/python3` could not start")
            .count(),
        5,
        "{md}"
    );
    // submodlib rows: our side measured, theirs skipped, for both strategies and modes.
    let submod: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| facility_location | ") || l.starts_with("| graph_cut | "))
        .filter(|l| l.contains(" | skipped | "))
        .collect();
    assert_eq!(submod.len(), 5, "{md}");
    // Every strategy has a timed row at both sizes.
    for name in ["random", "idds", "coreset", "hadas", "ld_cal"] {
        let rows = md
            .lines()
            .filter(|l| {
                l.starts_with(&format!("| {name} | ")) || l.starts_with(&format!("| **{name}** | "))
            })
            .count();
        assert_eq!(rows, 2, "{name}: {md}");
    }
    // Both ATGen strategies timed on our side, their side marked skipped.
    for row in ["| huds | ", "| te_delfy | "] {
        // (the every-strategy section has a `| huds | ` row too: find the ATGen one)
        let skipped = md
            .lines()
            .any(|l| l.starts_with(row) && l.contains(" | skipped | **-** |"));
        assert!(skipped, "{row}: {md}");
    }
    assert!(md.contains("| 0 | "), "AL loop rounds: {md}");
    Ok(())
}

#[test]
fn perf_only_runs_the_named_sections_and_rejects_unknown_ones() -> TestResult {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tmp = tempfile::tempdir()?;
    let page = tmp.path().join("PERFORMANCE.md");
    let perf = |only: &str| {
        atgen()
            .current_dir(&root)
            .args([
                "bench",
                "--perf",
                "--quick",
                "--python",
                "/nonexistent/python3",
            ])
            .args(["--perf-only", only])
            .arg("--out")
            .arg(tmp.path().join("work"))
            .arg("--perf-out")
            .arg(&page)
            .output()
    };
    let o = perf("selection")?;
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(&page)?;
    assert!(md.contains("### Selection: facility location and graph cut against submodlib"));
    assert!(
        !md.contains("### Model engine") && !md.contains("### AL loop"),
        "{md}"
    );
    assert!(
        md.contains("`atgen bench --perf --quick --perf-only selection`"),
        "{md}"
    );
    let o = perf("selection,gpu")?;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("unknown section `gpu` (known: engine, metrics, selection, loop)"),
        "{}",
        stderr(&o)
    );
    // A GPU comparison asked of a build without CUDA stops before running anything.
    let o = atgen()
        .current_dir(&root)
        .args(["bench", "--perf", "--quick", "--perf-only", "engine"])
        .args(["--perf-device", "cuda"])
        .arg("--out")
        .arg(tmp.path().join("work-gpu"))
        .arg("--perf-out")
        .arg(&page)
        .output()?;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--perf-device `cuda:0`: this build of atgen has no CUDA support"),
        "{}",
        stderr(&o)
    );
    assert!(!tmp.path().join("work-gpu").exists(), "nothing ran");
    Ok(())
}
