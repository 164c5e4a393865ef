//! Aggregates over seeds: mean and standard deviation per round, area under
//! the learning curve, and the labels (or money) needed to reach random
//! sampling's final quality (the paper's sample-efficiency figure).

use super::CellResult;
use std::collections::{BTreeMap, BTreeSet};

/// Mean and std of a metric at one round across seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    pub round: usize,
    pub n_labeled: f64,
    pub cost: f64,
    pub mean: f64,
    pub std: f64,
    pub seeds: usize,
}

/// `(data, strategy, metric)`.
pub type CurveKey = (String, String, String);

/// `(n_labeled, cost, value)` of one seed at one round.
type SeedPoint = (f64, f64, f64);

/// `(data, strategy, metric) -> curve`.
#[derive(Debug, Clone, Default)]
pub struct Aggregate {
    pub curves: BTreeMap<CurveKey, Vec<CurvePoint>>,
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// Aggregates cell curves round by round (a round counts when at least one seed has it).
pub fn aggregate(results: &[CellResult]) -> Aggregate {
    let mut groups: BTreeMap<CurveKey, BTreeMap<usize, Vec<SeedPoint>>> = BTreeMap::new();
    for r in results {
        for p in &r.curve {
            for (metric, v) in &p.metrics {
                groups
                    .entry((r.data.clone(), r.strategy.clone(), metric.clone()))
                    .or_default()
                    .entry(p.round)
                    .or_default()
                    .push((p.n_labeled as f64, p.cost, *v));
            }
        }
    }
    let curves = groups
        .into_iter()
        .map(|(k, rounds)| {
            let curve = rounds
                .into_iter()
                .map(|(round, vals)| {
                    let (mean, std) = mean_std(&vals.iter().map(|v| v.2).collect::<Vec<_>>());
                    let n = vals.len() as f64;
                    CurvePoint {
                        round,
                        n_labeled: vals.iter().map(|v| v.0).sum::<f64>() / n,
                        cost: vals.iter().map(|v| v.1).sum::<f64>() / n,
                        mean,
                        std,
                        seeds: vals.len(),
                    }
                })
                .collect();
            (k, curve)
        })
        .collect();
    Aggregate { curves }
}

/// Area under the mean curve over labeled count, normalised by the labeled range (a mean level).
pub fn auc(curve: &[CurvePoint]) -> Option<f64> {
    let (first, last) = (curve.first()?, curve.last()?);
    let span = last.n_labeled - first.n_labeled;
    if curve.len() < 2 || span <= 0.0 {
        return Some(first.mean);
    }
    let area: f64 = curve
        .windows(2)
        .map(|w| (w[1].n_labeled - w[0].n_labeled) * (w[0].mean + w[1].mean) / 2.0)
        .sum();
    Some(area / span)
}

/// Whether a mean of `metric` is at least as good as `target`: at or below it for an
/// error rate (`wer`, `cer`), at or above it otherwise.
fn as_good(metric: &str, mean: f64, target: f64) -> bool {
    if atgen_metrics::lower_is_better(metric) {
        mean <= target
    } else {
        mean >= target
    }
}

/// Labels a strategy needs for its mean of `metric` to reach `target`, or `None` if it never does.
pub fn labels_to_reach(curve: &[CurvePoint], target: f64, metric: &str) -> Option<f64> {
    curve
        .iter()
        .find(|p| as_good(metric, p.mean, target))
        .map(|p| p.n_labeled)
}

/// Money a strategy spends before its mean of `metric` reaches `target`, or `None` if it never does.
pub fn cost_to_reach(curve: &[CurvePoint], target: f64, metric: &str) -> Option<f64> {
    curve
        .iter()
        .find(|p| as_good(metric, p.mean, target))
        .map(|p| p.cost)
}

impl Aggregate {
    /// `(data, metric)` pairs that have curves.
    pub fn plots(&self) -> Vec<(String, String)> {
        self.curves
            .keys()
            .map(|(d, _, m)| (d.clone(), m.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// The curves of `metric` on `data`, one per strategy.
    pub fn series(&self, data: &str, metric: &str) -> Vec<(&str, &[CurvePoint])> {
        self.curves
            .iter()
            .filter(|((d, _, m), _)| d == data && m == metric)
            .map(|((_, s, _), c)| (s.as_str(), c.as_slice()))
            .collect()
    }

    /// Whether any cell of `data` spent money (LLM labelling).
    pub fn spent_money(&self, data: &str) -> bool {
        self.curves
            .iter()
            .any(|((d, _, _), c)| d == data && c.iter().any(|p| p.cost > 0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: f64, mean: f64) -> CurvePoint {
        CurvePoint {
            round: 0,
            n_labeled: n,
            cost: 0.0,
            mean,
            std: 0.0,
            seeds: 1,
        }
    }

    #[test]
    fn auc_is_the_trapezoid_mean_level_and_reach_is_the_first_crossing() {
        let c = [p(10.0, 0.0), p(20.0, 1.0), p(30.0, 1.0)];
        // Area = 10 * 0.5 + 10 * 1.0 = 15 over a span of 20.
        assert!((auc(&c).unwrap_or(0.0) - 0.75).abs() < 1e-12);
        assert_eq!(labels_to_reach(&c, 0.9, "rouge1"), Some(20.0));
        assert_eq!(labels_to_reach(&c, 1.5, "rouge1"), None);
        let mut priced = c.to_vec();
        for (p, cost) in priced.iter_mut().zip([0.5, 1.0, 1.5]) {
            p.cost = cost;
        }
        assert_eq!(cost_to_reach(&priced, 0.9, "rouge1"), Some(1.0));
        assert_eq!(cost_to_reach(&priced, 1.5, "rouge1"), None);
        assert_eq!(mean_std(&[1.0, 3.0]), (2.0, 2f64.sqrt()));
    }

    #[test]
    fn an_error_rate_is_reached_when_it_falls_to_the_target() {
        let mut c = [p(10.0, 0.9), p(20.0, 0.5), p(30.0, 0.3)];
        for (p, cost) in c.iter_mut().zip([0.5, 1.0, 1.5]) {
            p.cost = cost;
        }
        assert_eq!(labels_to_reach(&c, 0.5, "wer"), Some(20.0));
        assert_eq!(labels_to_reach(&c, 0.1, "cer"), None);
        assert_eq!(cost_to_reach(&c, 0.4, "wer"), Some(1.5));
        // the same numbers as a higher-is-better score: the first point already reaches 0.5
        assert_eq!(labels_to_reach(&c, 0.5, "rouge1"), Some(10.0));
    }
}
