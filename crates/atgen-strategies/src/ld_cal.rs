//! `ld_cal`: LLM-determined curriculum active learning.
//!
//! * Paper: Li, Zhang, Wang, Tan, Kosugi & Okumura (2024), "Active Learning
//!   for Abstractive Text Summarization via LLM-Determined Curriculum and
//!   Certainty Gain Maximization", Findings of EMNLP (2024.findings-emnlp.523).
//!   ATGen 0.1.0 does not implement it. Only the abstract was available while
//!   this was written: an LLM rates each instance's difficulty, training goes
//!   from easier to harder instances, and "Certainty Gain Maximization"
//!   selects instances whose distribution aligns with the overall
//!   distribution. Every formula below is this crate's reading and must be
//!   checked against the paper before results are reported as LD-CAL.
//! * Curriculum: difficulties `r(x)` from a [`DifficultyJudge`] (higher =
//!   harder); at iteration `t` the competence is
//!   `c(t) = min(1, sqrt(c0² + (1 - c0²) t / T))` (Platanios et al., 2019,
//!   root schedule; `c0 = 0.3`, `T = 10`), and only the `⌈c(t)·n⌉` easiest
//!   unlabeled examples (at least `k`) are candidates.
//! * Certainty gain (greedy, `k` steps): `g(x) = ũ(x) + γ (mean_{U} cos(x, ·)
//!   - mean_{L ∪ S} cos(x, ·))`, where `ũ` is the model's uncertainty (NSP,
//!   minus the mean token log-prob of the greedy generation) min-max scaled
//!   to `[0, 1]` over the candidates, the bracket is the kernel-herding step
//!   that moves the labeled embedding mean toward the pool's (0 for the `L`
//!   term while `L ∪ S` is empty), `S` the picks so far, `γ = 1`. Reported
//!   score = `g` at the time of the pick.
//! * Needs a model: yes (uncertainty) plus a difficulty judge (constructor
//!   error otherwise) and embeddings. Cold start: random.

use crate::common::{generations, has_work, pool_and_labeled_embeddings, ranked_ids, top_k};
use crate::embeddings::Matrix;
use crate::error::{invalid, Result, StrategyError};
use crate::scorers::DifficultyJudge;
use atgen_core::{Example, ScoredId, SelectionContext, Strategy};
use std::sync::Arc;

/// LLM-determined curriculum + certainty gain.
#[derive(Clone)]
pub struct LdCal {
    judge: Arc<dyn DifficultyJudge>,
    initial_competence: f64,
    curriculum_iterations: usize,
    gamma: f64,
}

impl std::fmt::Debug for LdCal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdCal")
            .field("initial_competence", &self.initial_competence)
            .field("curriculum_iterations", &self.curriculum_iterations)
            .field("gamma", &self.gamma)
            .finish()
    }
}

impl LdCal {
    /// `judge` is required; `c0 ∈ (0, 1]`, `γ >= 0`.
    pub fn new(
        judge: Option<Arc<dyn DifficultyJudge>>,
        initial_competence: f64,
        curriculum_iterations: usize,
        gamma: f64,
    ) -> Result<Self> {
        let judge = judge.ok_or(StrategyError::MissingScorer {
            strategy: "ld_cal",
            scorer: "difficulty_judge",
        })?;
        if !(initial_competence > 0.0 && initial_competence <= 1.0) {
            return Err(invalid("ld_cal", "initial_competence", "must be in (0, 1]"));
        }
        if !(gamma.is_finite() && gamma >= 0.0) {
            return Err(invalid("ld_cal", "gamma", "must be finite and >= 0"));
        }
        Ok(LdCal {
            judge,
            initial_competence,
            curriculum_iterations,
            gamma,
        })
    }

    /// Competence `c(t)` in `(0, 1]`.
    pub fn competence(&self, iteration: usize) -> f64 {
        if self.curriculum_iterations == 0 {
            return 1.0;
        }
        let c0 = self.initial_competence;
        let t = iteration as f64 / self.curriculum_iterations as f64;
        (c0 * c0 + (1.0 - c0 * c0) * t).sqrt().min(1.0)
    }

    /// Candidate indices: the easiest `max(⌈c·n⌉, k)`.
    pub fn candidates(&self, difficulty: &[f64], iteration: usize, k: usize) -> Vec<usize> {
        let n = difficulty.len();
        let m = ((self.competence(iteration) * n as f64).ceil() as usize)
            .max(k)
            .min(n);
        let neg: Vec<f64> = difficulty.iter().map(|d| -d).collect();
        top_k(&neg, m)
    }

    /// Greedy certainty-gain picks among `cand` (indices into `u`), given the
    /// candidates' raw uncertainties.
    pub fn certainty_gain(
        &self,
        u: &Matrix,
        l: &Matrix,
        cand: &[usize],
        unc: &[f64],
        k: usize,
    ) -> Vec<(usize, f64)> {
        let (u, l) = (u.normalized(), l.normalized());
        let (lo, hi) = unc
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let scaled: Vec<f64> = unc
            .iter()
            .map(|&v| if hi > lo { (v - lo) / (hi - lo) } else { 0.0 })
            .collect();
        let to32 = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        let n = u.rows() as f64;
        let pool_term: Vec<f64> = u
            .matvec(&to32(u.column_sums()))
            .into_iter()
            .map(|s| s as f64 / n)
            .collect();
        let mut lab_sum: Vec<f64> = if l.rows() > 0 {
            l.column_sums()
        } else {
            vec![0.0; u.dim()]
        };
        let mut n_lab = l.rows();
        let mut taken = vec![false; cand.len()];
        let mut out = Vec::new();
        for _ in 0..k.min(cand.len()) {
            let w = to32(lab_sum.clone());
            let mut best: Option<(usize, f64)> = None;
            for (c, &i) in cand.iter().enumerate() {
                if taken[c] {
                    continue;
                }
                let lab_term = if n_lab > 0 {
                    crate::embeddings::dot(u.row(i), &w) as f64 / n_lab as f64
                } else {
                    0.0
                };
                let g = scaled[c] + self.gamma * (pool_term[i] - lab_term);
                if best.is_none_or(|(_, b)| g > b) {
                    best = Some((c, g));
                }
            }
            let Some((c, g)) = best else { break };
            taken[c] = true;
            out.push((cand[c], g));
            lab_sum
                .iter_mut()
                .zip(u.row(cand[c]))
                .for_each(|(a, &v)| *a += v as f64);
            n_lab += 1;
        }
        out
    }

    fn run(&self, ctx: &mut SelectionContext<'_>, k: usize) -> Result<Vec<ScoredId>> {
        let pool = ctx.unlabeled;
        if !has_work(pool, k)? {
            return Ok(Vec::new());
        }
        let difficulty = self.judge.rate(pool)?;
        if difficulty.len() != pool.len() {
            return Err(StrategyError::LengthMismatch {
                what: "DifficultyJudge::rate",
                expected: pool.len(),
                got: difficulty.len(),
            });
        }
        let cand = self.candidates(&difficulty, ctx.iteration, k);
        let cand_ex: Vec<Example> = cand.iter().map(|&i| pool[i].clone()).collect();
        let gens = generations(ctx, "ld_cal", &cand_ex, 1)?;
        let unc: Vec<f64> = gens
            .iter()
            .map(|g| g.first().and_then(|g| g.mean_logprob()).map_or(0.0, |m| -m))
            .collect();
        let (u, l) = pool_and_labeled_embeddings(ctx, "ld_cal")?;
        Ok(ranked_ids(
            pool,
            self.certainty_gain(&u, &l, &cand, &unc, k),
        ))
    }
}

impl Strategy for LdCal {
    fn name(&self) -> &str {
        "ld_cal"
    }

    fn needs_model(&self) -> bool {
        true
    }

    fn select(
        &mut self,
        ctx: &mut SelectionContext<'_>,
        k: usize,
    ) -> atgen_core::Result<Vec<ScoredId>> {
        Ok(self.run(ctx, k)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct ByLength;
    impl DifficultyJudge for ByLength {
        fn rate(&self, ex: &[Example]) -> atgen_core::Result<Vec<f64>> {
            Ok(ex.iter().map(|e| e.input.len() as f64).collect())
        }
    }

    fn ld() -> LdCal {
        LdCal::new(Some(Arc::new(ByLength)), 0.5, 4, 1.0).unwrap()
    }

    #[test]
    fn competence_and_candidates_by_hand() {
        let l = ld();
        assert!((l.competence(0) - 0.5).abs() < 1e-12);
        // t = 2 of 4: sqrt(0.25 + 0.75 * 0.5) = sqrt(0.625).
        assert!((l.competence(2) - 0.625f64.sqrt()).abs() < 1e-12);
        assert_eq!(l.competence(9), 1.0);
        // 4 examples, c = 0.5 -> the 2 easiest; k = 3 widens to 3.
        assert_eq!(l.candidates(&[4.0, 1.0, 3.0, 2.0], 0, 1), vec![1, 3]);
        assert_eq!(l.candidates(&[4.0, 1.0, 3.0, 2.0], 0, 3), vec![1, 3, 2]);
        assert!(matches!(
            LdCal::new(None, 0.5, 4, 1.0),
            Err(StrategyError::MissingScorer { .. })
        ));
    }

    #[test]
    fn certainty_gain_by_hand() {
        // Unit vectors e0 = (1,0), e1 = (0,1), e2 = (1,0). Pool mean cos: e0: 2/3, e1: 1/3, e2: 2/3.
        // Uncertainties 0, 1, 0.5 -> scaled 0, 1, 0.5. First gains: 2/3, 4/3, 7/6 -> pick 1.
        // Then L = {e1}: e0: 0 + 2/3 - 0 = 2/3; e2: 0.5 + 2/3 - 0 = 7/6 -> pick 2.
        let u = Matrix::from_rows(&[vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 0.0]], None).unwrap();
        let r = ld().certainty_gain(&u, &Matrix::empty(2), &[0, 1, 2], &[0.0, 1.0, 0.5], 2);
        assert_eq!(r.iter().map(|p| p.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!((r[0].1 - 4.0 / 3.0).abs() < 1e-6 && (r[1].1 - 7.0 / 6.0).abs() < 1e-6);
    }
}
