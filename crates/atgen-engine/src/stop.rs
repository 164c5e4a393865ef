//! Stopping criteria built from the `al` config. Each decides with a reason
//! that is recorded in `run.json`; the loop stops at the first that fires.

use atgen_config::{AlConfig, PerformanceMode};
use atgen_core::{LoopState, StopCriterion, StopDecision};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Stop after this many query iterations.
pub struct MaxIterations(pub usize);

impl StopCriterion for MaxIterations {
    fn check(&self, s: &LoopState) -> StopDecision {
        if s.iteration >= self.0 {
            StopDecision::Stop(format!("completed al.num_iterations = {}", self.0))
        } else {
            StopDecision::Continue
        }
    }
}

/// Stop once the money spent reaches the budget.
pub struct Budget(pub f64);

impl StopCriterion for Budget {
    fn check(&self, s: &LoopState) -> StopDecision {
        if s.cost >= self.0 {
            StopDecision::Stop(format!(
                "budget spent: {:.4} of al.budget = {}",
                s.cost, self.0
            ))
        } else {
            StopDecision::Continue
        }
    }
}

/// Stop once this many texts are labeled.
pub struct MaxLabeled(pub usize);

impl StopCriterion for MaxLabeled {
    fn check(&self, s: &LoopState) -> StopDecision {
        if s.n_labeled >= self.0 {
            StopDecision::Stop(format!(
                "{} texts labeled (al.max_labeled = {})",
                s.n_labeled, self.0
            ))
        } else {
            StopDecision::Continue
        }
    }
}

/// Stop when the metrics reach their thresholds (all of them, or any). An error
/// rate (`wer`, `cer`: [`atgen_metrics::lower_is_better`]) reaches its threshold
/// at or below it, every other metric at or above it.
pub struct RequiredPerformance {
    pub thresholds: BTreeMap<String, f64>,
    pub mode: PerformanceMode,
}

impl StopCriterion for RequiredPerformance {
    fn check(&self, s: &LoopState) -> StopDecision {
        let reached: Vec<&String> = self
            .thresholds
            .iter()
            .filter(|(m, t)| s.metrics.get(*m).is_some_and(|v| reached(m, *v, **t)))
            .map(|(m, _)| m)
            .collect();
        let done = match self.mode {
            PerformanceMode::All => reached.len() == self.thresholds.len(),
            PerformanceMode::Any => !reached.is_empty(),
        };
        if done && !self.thresholds.is_empty() {
            let parts: Vec<String> = reached
                .iter()
                .map(|m| format!("{m} = {:.4}", s.metrics[*m]))
                .collect();
            StopDecision::Stop(format!(
                "required performance reached: {}",
                parts.join(", ")
            ))
        } else {
            StopDecision::Continue
        }
    }
}

/// Whether `value` of metric `name` meets `threshold`, in the metric's direction.
fn reached(name: &str, value: f64, threshold: f64) -> bool {
    if atgen_metrics::lower_is_better(name) {
        value <= threshold
    } else {
        value >= threshold
    }
}

/// Stop when asked from outside: a signal handler's flag, or a `STOP` file in the run directory.
pub struct ExternalStop {
    pub flag: Arc<AtomicBool>,
    pub stop_file: PathBuf,
}

impl StopCriterion for ExternalStop {
    fn check(&self, _: &LoopState) -> StopDecision {
        if self.flag.load(Ordering::SeqCst) || self.stop_file.exists() {
            StopDecision::Stop("stopped by the user".into())
        } else {
            StopDecision::Continue
        }
    }
}

/// The criteria the config asks for. `MaxIterations` is always there.
pub fn criteria(al: &AlConfig, external: ExternalStop) -> Vec<Box<dyn StopCriterion>> {
    let mut out: Vec<Box<dyn StopCriterion>> = vec![
        Box::new(external),
        Box::new(MaxIterations(al.num_iterations)),
    ];
    if let Some(b) = al.budget {
        out.push(Box::new(Budget(b)));
    }
    if let Some(m) = al.max_labeled {
        out.push(Box::new(MaxLabeled(m)));
    }
    if !al.required_performance.is_empty() {
        out.push(Box::new(RequiredPerformance {
            thresholds: al.required_performance.clone(),
            mode: al.required_performance_mode,
        }));
    }
    out
}

/// The first criterion that fires, if any.
pub fn first_stop(criteria: &[Box<dyn StopCriterion>], state: &LoopState) -> Option<String> {
    criteria.iter().find_map(|c| match c.check(state) {
        StopDecision::Stop(r) => Some(r),
        StopDecision::Continue => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(iteration: usize, n_labeled: usize, cost: f64, metrics: &[(&str, f64)]) -> LoopState {
        LoopState {
            iteration,
            n_labeled,
            cost,
            metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            pool_left: 100,
        }
    }

    #[test]
    fn each_criterion_fires_at_its_threshold() {
        assert_eq!(
            MaxIterations(3).check(&state(2, 0, 0.0, &[])),
            StopDecision::Continue
        );
        assert!(matches!(
            MaxIterations(3).check(&state(3, 0, 0.0, &[])),
            StopDecision::Stop(_)
        ));
        assert!(matches!(
            Budget(1.0).check(&state(0, 0, 1.0, &[])),
            StopDecision::Stop(_)
        ));
        assert_eq!(
            Budget(1.0).check(&state(0, 0, 0.99, &[])),
            StopDecision::Continue
        );
        assert!(matches!(
            MaxLabeled(10).check(&state(0, 10, 0.0, &[])),
            StopDecision::Stop(_)
        ));
        let thresholds: BTreeMap<String, f64> =
            [("rouge1".to_string(), 0.3), ("bleu".to_string(), 10.0)].into();
        let all = RequiredPerformance {
            thresholds: thresholds.clone(),
            mode: PerformanceMode::All,
        };
        let any = RequiredPerformance {
            thresholds,
            mode: PerformanceMode::Any,
        };
        let s = state(1, 5, 0.0, &[("rouge1", 0.31), ("bleu", 9.0)]);
        assert_eq!(all.check(&s), StopDecision::Continue);
        assert!(matches!(any.check(&s), StopDecision::Stop(r) if r.contains("rouge1 = 0.3100")));
    }

    #[test]
    fn an_error_rate_threshold_is_reached_at_or_below_it() {
        let thresholds: BTreeMap<String, f64> =
            [("wer".to_string(), 0.2), ("rouge1".to_string(), 0.3)].into();
        let all = RequiredPerformance {
            thresholds,
            mode: PerformanceMode::All,
        };
        for (wer, rouge1, stops) in [
            (0.25, 0.5, false), // wer above its threshold: not reached
            (0.2, 0.3, true),   // both exactly at their thresholds
            (0.05, 0.31, true),
            (0.05, 0.29, false),
        ] {
            let s = state(1, 5, 0.0, &[("wer", wer), ("rouge1", rouge1)]);
            assert_eq!(
                matches!(all.check(&s), StopDecision::Stop(_)),
                stops,
                "wer {wer}, rouge1 {rouge1}"
            );
        }
        let cer = RequiredPerformance {
            thresholds: [("cer".to_string(), 0.1)].into(),
            mode: PerformanceMode::Any,
        };
        assert_eq!(
            cer.check(&state(1, 5, 0.0, &[("cer", 0.5)])),
            StopDecision::Continue
        );
        assert!(
            matches!(cer.check(&state(1, 5, 0.0, &[("cer", 0.08)])), StopDecision::Stop(r) if r.contains("cer = 0.0800"))
        );
    }
}
