//! `atgen bench`: a small grid end to end, resumable, with its report and plots.

use crate::support::*;

#[test]
fn a_grid_runs_every_cell_once_and_reports_curves_auc_and_efficiency() -> TestResult {
    let ws = Workspace::new()?;
    let args = [
        "bench",
        "--config-dir",
        "conf",
        "--data",
        "toy",
        "--strategies",
        "random,msp",
        "--seeds",
        "0,1",
        "--out",
        "bench",
        "model=toy",
        "al.init_query_size=4",
        "al.query_size=4",
        "al.num_iterations=2",
        "data.test_subset_size=null",
        "training.num_epochs=1",
        "training.batch_size=4",
        "training.lr=0.01",
        "inference.max_new_tokens=4",
    ];
    let o = run_in(ws.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let bench = ws.path().join("bench");
    for s in ["random", "msp"] {
        for seed in [0, 1] {
            let cell = bench.join("toy").join(s).join(format!("seed{seed}"));
            let runs: Vec<_> = std::fs::read_dir(&cell)?.collect();
            assert_eq!(runs.len(), 1, "{}", cell.display());
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
    let svg = std::fs::read_to_string(bench.join("toy_exact_match.svg"))?;
    assert!(
        svg.starts_with("<svg") && svg.matches("class=\"strategy\"").count() == 2,
        "{svg}"
    );
    // A second invocation recomputes nothing: no new run directories, same report.
    let o = run_in(ws.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("done already"));
    for s in ["random", "msp"] {
        assert_eq!(
            std::fs::read_dir(bench.join("toy").join(s).join("seed0"))?.count(),
            1
        );
    }
    assert_eq!(std::fs::read_to_string(bench.join("report.md"))?, report);
    Ok(())
}
