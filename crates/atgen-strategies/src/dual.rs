//! `dual`: IDDS, then BLEUVar among the IDDS picks, then random.
//!
//! * Paper: Giouroukis, Gidiotis & Tsoumakas (2025), "DUAL: Diversity and
//!   Uncertainty Active Learning for Text Summarization" (arXiv 2503.00867).
//!   Follows ATGen 0.1.0's definition (`strategies/dual.py`):
//!   1. IDDS selects `k` candidates (here all `k`; ATGen's IDDS stops after
//!      one, see [`crate::Idds`]);
//!   2. BLEUVar keeps the `max(1, ⌊k·p⌋)` most uncertain candidates, `p = 0.5`;
//!   3. the remaining `k - ⌊k·p⌋` come uniformly at random from the whole
//!      pool minus the BLEUVar picks (so they may include IDDS candidates).
//! * Scores: BLEUVar picks carry their BLEUVar value (in `[0, 1]`), random
//!   picks carry `-1` (they are listed after the BLEUVar picks).
//! * Needs a model: yes (BLEUVar samples). Cold start: random.

use crate::bleuvar::BleuVar;
use crate::common::{query_embeddings, sample_texts, top_k};
use crate::error::{invalid, Result};
use crate::idds::Idds;
use crate::random::RandomStrategy;
use atgen_core::{Example, ScoredId, SelectionContext, Strategy};
use std::collections::HashSet;

/// IDDS + BLEUVar + random.
#[derive(Debug, Clone)]
pub struct Dual {
    idds: Idds,
    bleuvar: BleuVar,
    p: f64,
    seed: Option<u64>,
}

impl Dual {
    /// `p ∈ [0, 1]`.
    pub fn new(idds: Idds, bleuvar: BleuVar, p: f64, seed: Option<u64>) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(invalid("dual", "p", "must be in [0, 1]"));
        }
        Ok(Dual {
            idds,
            bleuvar,
            p,
            seed,
        })
    }

    /// Number of BLEUVar picks for a query of `k`.
    pub fn n_uncertain(&self, k: usize) -> usize {
        ((k as f64 * self.p).floor() as usize).max(1).min(k)
    }

    fn run(&self, ctx: &mut SelectionContext<'_>, k: usize) -> Result<Vec<ScoredId>> {
        let Some((u, l)) = query_embeddings(ctx, "dual", k)? else {
            return Ok(Vec::new());
        };
        let pool = ctx.unlabeled;
        let cand: Vec<usize> = self.idds.rank(&u, &l, k).into_iter().map(|p| p.0).collect();
        let cand_ex: Vec<Example> = cand.iter().map(|&i| pool[i].clone()).collect();
        let texts = sample_texts(ctx, "dual", &cand_ex, self.bleuvar.num_samples())?;
        let bv = self.bleuvar.scores(&texts);
        let kk = k.min(pool.len());
        let n_bv = self.n_uncertain(kk).min(cand.len());
        let mut out: Vec<ScoredId> = top_k(&bv, n_bv)
            .into_iter()
            .map(|c| ScoredId {
                id: pool[cand[c]].id.clone(),
                score: bv[c],
            })
            .collect();
        let chosen: HashSet<&str> = out.iter().map(|s| s.id.as_str()).collect();
        let rest: Vec<usize> = (0..pool.len())
            .filter(|&i| !chosen.contains(pool[i].id.as_str()))
            .collect();
        let seed = self.seed.unwrap_or(ctx.seed);
        let (picks, _) = RandomStrategy::sample(rest.len(), kk - out.len(), seed, ctx.iteration);
        out.extend(picks.into_iter().map(|r| ScoredId {
            id: pool[rest[r]].id.clone(),
            score: -1.0,
        }));
        Ok(out)
    }
}

impl Strategy for Dual {
    fn name(&self) -> &str {
        "dual"
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
    use crate::testutil::{ctx, gen, pool, FakeOutputs};

    #[test]
    fn bleuvar_half_then_random_fill_without_duplicates() {
        let p = pool(6);
        let agree = vec![gen("same words", &[], &[]), gen("same words", &[], &[])];
        let mut samples = vec![agree.clone(); 6];
        samples[1] = vec![gen("one thing", &[], &[]), gen("other stuff", &[], &[])];
        let emb: Vec<Vec<f32>> = (0..6).map(|i| vec![1.0, i as f32 * 0.1]).collect();
        let mut out = FakeOutputs::sampled(samples).with_embeddings("e", emb);
        let mut d = Dual::new(
            Idds::new(0.667, true).unwrap(),
            BleuVar::new(2, None).unwrap(),
            0.5,
            Some(1),
        )
        .unwrap();
        assert_eq!(d.n_uncertain(4), 2);
        assert_eq!(d.n_uncertain(1), 1);
        let picks = d.select(&mut ctx(&p, Some(&mut out)), 4).unwrap();
        assert_eq!(picks.len(), 4);
        let ids: HashSet<_> = picks.iter().map(|s| s.id.clone()).collect();
        assert_eq!(ids.len(), 4);
        // e1 disagrees with itself; IDDS (λ = 0.667) puts the central e1..e4 among its 4 picks.
        assert_eq!(picks[0].id, "e1");
        assert_eq!(picks[3].score, -1.0);
    }
}
