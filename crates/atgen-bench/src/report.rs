//! `report.md` and its plots: per dataset and metric, each strategy's final
//! mean ± std, area under the learning curve, and the labels needed to reach
//! random sampling's final quality as a ratio to random's labels; when any
//! cell spent money (LLM labelling), the same against money spent.

use crate::aggregate::{aggregate, auc, cost_to_reach, labels_to_reach, Aggregate, CurvePoint};
use crate::plot::{self, Plot, XAxis};
use crate::{BenchSpec, CellResult, Result};

/// Writes `report.md` and the PNG + SVG plots into `spec.out`.
pub fn write_report(spec: &BenchSpec, results: &[CellResult]) -> Result<()> {
    fs_err::create_dir_all(&spec.out)?;
    let agg = aggregate(results);
    let mut md = String::from("# atgen bench report\n\n");
    md.push_str(&format!(
        "Grid: datasets {:?} x strategies {:?} x seeds {:?}; extra overrides: `{}`.\n",
        spec.datasets,
        spec.strategies,
        spec.seeds,
        spec.overrides.join(" ")
    ));
    for (data, o) in &spec.dataset_overrides {
        md.push_str(&format!("Overrides for {data}: `{}`.\n", o.join(" ")));
    }
    for (data, metric) in agg.plots() {
        let direction = if atgen_metrics::lower_is_better(&metric) {
            " (lower is better; so is a lower AUC)"
        } else {
            ""
        };
        md.push_str(&format!("\n## {data}: {metric}{direction}\n\n"));
        md.push_str(&labels_table(&agg, &data, &metric));
        let stem = format!("{}_{}", sanitize(&data), sanitize(&metric));
        let series = agg.series(&data, &metric);
        plot::write(
            &Plot {
                title: format!("{data} — {metric}"),
                metric: &metric,
                x: XAxis::Labels,
                series: series.clone(),
            },
            &spec.out,
            &stem,
        )?;
        md.push_str(&format!(
            "\n![{data} {metric} against labeled texts]({stem}.png) ([SVG]({stem}.svg))\n"
        ));
        if agg.spent_money(&data) {
            md.push_str(&format!("\n### {data}: {metric} against money spent\n\n"));
            md.push_str(&cost_table(&agg, &data, &metric));
            plot::write(
                &Plot {
                    title: format!("{data} — {metric} against money"),
                    metric: &metric,
                    x: XAxis::Cost,
                    series,
                },
                &spec.out,
                &format!("{stem}_cost"),
            )?;
            md.push_str(&format!(
                "\n![{data} {metric} against money spent]({stem}_cost.png) ([SVG]({stem}_cost.svg))\n"
            ));
        }
    }
    fs_err::write(spec.out.join("report.md"), md)?;
    Ok(())
}

/// Random sampling's final point on this dataset and metric, the target others must reach.
fn random_final<'a>(agg: &'a Aggregate, data: &str, metric: &str) -> Option<&'a CurvePoint> {
    agg.curves
        .get(&(data.to_string(), "random".into(), metric.to_string()))
        .and_then(|c| c.last())
}

/// `(reached at, ratio to random's)`, formatted; `-` where there is no random baseline.
fn reach(
    curve: &[CurvePoint],
    random: Option<&CurvePoint>,
    metric: &str,
    at: fn(&[CurvePoint], f64, &str) -> Option<f64>,
    of_random: fn(&CurvePoint) -> f64,
    digits: usize,
) -> (String, String) {
    let Some(r) = random else {
        return ("-".into(), "-".into());
    };
    match at(curve, r.mean, metric) {
        Some(v) if of_random(r) > 0.0 => {
            (format!("{v:.digits$}"), format!("{:.2}", v / of_random(r)))
        }
        Some(v) => (format!("{v:.digits$}"), "-".into()),
        None => ("not reached".into(), "-".into()),
    }
}

/// The labels table of one dataset and metric.
pub fn labels_table(agg: &Aggregate, data: &str, metric: &str) -> String {
    let mut md = String::from(
        "| strategy | final labels | final mean ± std | AUC | labels to reach random's final | ratio to random |\n\
         | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let random = random_final(agg, data, metric);
    for (strategy, curve) in agg.series(data, metric) {
        let Some(last) = curve.last() else { continue };
        let (at, ratio) = reach(curve, random, metric, labels_to_reach, |p| p.n_labeled, 0);
        md.push_str(&format!(
            "| {strategy} | {:.0} | {:.4} ± {:.4} | {:.4} | {at} | {ratio} |\n",
            last.n_labeled,
            last.mean,
            last.std,
            auc(curve).unwrap_or(f64::NAN)
        ));
    }
    md
}

/// The money table of one dataset and metric (LLM labelling).
pub fn cost_table(agg: &Aggregate, data: &str, metric: &str) -> String {
    let mut md = String::from(
        "| strategy | final money | money to reach random's final | ratio to random |\n\
         | --- | ---: | ---: | ---: |\n",
    );
    let random = random_final(agg, data, metric);
    for (strategy, curve) in agg.series(data, metric) {
        let Some(last) = curve.last() else { continue };
        let (at, ratio) = reach(curve, random, metric, cost_to_reach, |p| p.cost, 4);
        md.push_str(&format!(
            "| {strategy} | {:.4} | {at} | {ratio} |\n",
            last.cost
        ));
    }
    md
}

/// A file-name-safe form of a dataset or metric name.
pub fn sanitize(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use atgen_engine::record::RoundMetrics;
    use std::collections::BTreeMap;

    /// One seed's curve: `(n_labeled, cost, rouge1)` per round.
    fn cell(strategy: &str, seed: u64, points: &[(usize, f64, f64)]) -> CellResult {
        CellResult {
            data: "aeslc".into(),
            strategy: strategy.into(),
            seed,
            curve: points
                .iter()
                .enumerate()
                .map(|(round, &(n, cost, v))| RoundMetrics {
                    round,
                    n_labeled: n,
                    cost,
                    metrics: BTreeMap::from([("rouge1".to_string(), v)]),
                    train: Default::default(),
                })
                .collect(),
        }
    }

    #[test]
    fn report_numbers_match_hand_computed_means_auc_and_ratios() -> Result<()> {
        // random: seeds reach (0.1, 0.3) -> mean 0.2 at 10 labels, (0.3, 0.5) -> 0.4 at 20.
        // huds:   (0.3, 0.5) -> 0.4 at 10 labels, (0.5, 0.5) -> 0.5 at 20.
        // Money: random 1.0 then 2.0; huds 1.5 then 3.0 (dearer texts).
        let cells = [
            cell("random", 0, &[(10, 1.0, 0.1), (20, 2.0, 0.3)]),
            cell("random", 1, &[(10, 1.0, 0.3), (20, 2.0, 0.5)]),
            cell("huds", 0, &[(10, 1.5, 0.3), (20, 3.0, 0.5)]),
            cell("huds", 1, &[(10, 1.5, 0.5), (20, 3.0, 0.5)]),
        ];
        let dir = tempfile::tempdir()?;
        let spec = BenchSpec {
            datasets: vec!["aeslc".into()],
            strategies: vec!["random".into(), "huds".into()],
            seeds: vec![0, 1],
            overrides: vec![],
            dataset_overrides: Default::default(),
            out: dir.path().to_path_buf(),
            jobs: 1,
        };
        write_report(&spec, &cells)?;
        let md = fs_err::read_to_string(dir.path().join("report.md"))?;
        // std of (0.1, 0.3) = sqrt(0.02) = 0.1414; of (0.3, 0.5) likewise; of (0.5, 0.5) = 0.
        // AUC (trapezoid / span): random (0.2 + 0.4) / 2 = 0.3, huds (0.4 + 0.5) / 2 = 0.45.
        // huds reaches random's final 0.4 with 10 labels (ratio 10 / 20 = 0.50) and
        // 1.5 money (ratio 1.5 / 2.0 = 0.75).
        assert!(
            md.contains("| huds | 20 | 0.5000 ± 0.0000 | 0.4500 | 10 | 0.50 |"),
            "{md}"
        );
        assert!(
            md.contains("| random | 20 | 0.4000 ± 0.1414 | 0.3000 | 20 | 1.00 |"),
            "{md}"
        );
        assert!(md.contains("| huds | 3.0000 | 1.5000 | 0.75 |"), "{md}");
        assert!(md.contains("| random | 2.0000 | 2.0000 | 1.00 |"), "{md}");
        for f in [
            "aeslc_rouge1.png",
            "aeslc_rouge1.svg",
            "aeslc_rouge1_cost.png",
            "aeslc_rouge1_cost.svg",
        ] {
            assert!(dir.path().join(f).is_file(), "{f}");
            assert!(md.contains(f), "{f} not linked");
        }
        Ok(())
    }

    #[test]
    fn no_money_section_when_nothing_was_spent() -> Result<()> {
        let cells = [cell("random", 0, &[(10, 0.0, 0.1), (20, 0.0, 0.3)])];
        let dir = tempfile::tempdir()?;
        let spec = BenchSpec {
            datasets: vec!["aeslc".into()],
            strategies: vec!["random".into()],
            seeds: vec![0],
            overrides: vec![],
            dataset_overrides: Default::default(),
            out: dir.path().to_path_buf(),
            jobs: 1,
        };
        write_report(&spec, &cells)?;
        let md = fs_err::read_to_string(dir.path().join("report.md"))?;
        assert!(!md.contains("money"), "{md}");
        assert!(!dir.path().join("aeslc_rouge1_cost.png").exists());
        Ok(())
    }
}
