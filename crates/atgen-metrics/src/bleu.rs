//! BLEU identical to sacreBLEU 2.4.3 (`sacrebleu.metrics.bleu.BLEU`).
//!
//! Per segment: optional Python `str.lower()`, `rstrip()`, the tokenizer
//! ([`BleuTokenizer`]), whitespace split, n-grams of order 1..=4. With several
//! references the reference n-gram counts are the per-n-gram maximum over the
//! references, and the reference length is the one closest to the hypothesis
//! length (the shorter on ties). Corpus BLEU sums the segment statistics and
//! applies the smoothing once; sentence BLEU is the same on one segment with
//! `effective_order=True` (sacreBLEU's `sentence_bleu` default). Scores are on
//! sacreBLEU's 0-100 scale.
//!
//! ```
//! use atgen_metrics::bleu::{corpus_bleu, sentence_bleu, BleuConfig};
//! let cfg = BleuConfig::default();
//! let hyps = ["the cat sat on the mat".to_string()];
//! let refs = [vec!["the cat sat on the mat".to_string()]];
//! assert!((corpus_bleu(&hyps, &refs, &cfg).score - 100.0).abs() < 1e-9);
//! assert!((sentence_bleu(&hyps[0], &refs[0], &cfg).score - 100.0).abs() < 1e-9);
//! ```

pub use crate::bleu_tokenize::BleuTokenizer;
use crate::error::{MetricsError, Result};
use crate::pytext::{py_lower, py_rstrip, py_split};
use crate::score_segments;
use atgen_core::MetricValue;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::hash::Hash;

/// sacreBLEU's smoothing methods (Chen and Cherry, 2014).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Smoothing {
    /// No smoothing.
    #[serde(rename = "none")]
    None,
    /// Zero-match orders get `smooth_value` (default 0.1) matches.
    #[serde(rename = "floor")]
    Floor,
    /// Orders above 1 add `smooth_value` (default 1) to matches and totals.
    #[serde(rename = "add-k")]
    AddK,
    /// NIST geometric smoothing (mteval-v13a); sacreBLEU's default.
    #[default]
    #[serde(rename = "exp")]
    Exp,
}

impl Smoothing {
    fn default_value(self) -> f64 {
        match self {
            Smoothing::Floor => 0.1,
            Smoothing::AddK => 1.0,
            Smoothing::None | Smoothing::Exp => 0.0,
        }
    }
}

/// Settings of BLEU, named as sacreBLEU names them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BleuConfig {
    /// Tokenizer applied to hypotheses and references.
    pub tokenize: BleuTokenizer,
    /// Lowercase before tokenizing.
    pub lowercase: bool,
    /// Smoothing method (corpus and sentence).
    pub smooth_method: Smoothing,
    /// Value for `floor` and `add-k`; `None` takes sacreBLEU's default.
    pub smooth_value: Option<f64>,
    /// Highest n-gram order.
    pub max_ngram_order: usize,
    /// Effective order for corpus BLEU (sentence BLEU always uses it).
    pub effective_order: bool,
}

impl Default for BleuConfig {
    fn default() -> Self {
        BleuConfig {
            tokenize: BleuTokenizer::T13a,
            lowercase: false,
            smooth_method: Smoothing::Exp,
            smooth_value: None,
            max_ngram_order: 4,
            effective_order: false,
        }
    }
}

/// A BLEU score with its sufficient statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BleuScore {
    /// BLEU, 0-100.
    pub score: f64,
    /// Matched n-grams per order (after `add-k` smoothing).
    pub counts: Vec<f64>,
    /// Hypothesis n-grams per order (after `add-k` smoothing).
    pub totals: Vec<f64>,
    /// Modified precisions per order, 0-100.
    pub precisions: Vec<f64>,
    /// Brevity penalty.
    pub bp: f64,
    /// Hypothesis length in tokens.
    pub sys_len: u64,
    /// Reference length in tokens.
    pub ref_len: u64,
}

/// Segment statistics: `[hyp_len, ref_len, correct.., total..]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BleuStats {
    /// Hypothesis length.
    pub hyp_len: u64,
    /// Closest reference length.
    pub ref_len: u64,
    /// Clipped matches per order.
    pub correct: Vec<u64>,
    /// Hypothesis n-grams per order.
    pub total: Vec<u64>,
}

impl BleuStats {
    fn zeros(order: usize) -> Self {
        BleuStats {
            hyp_len: 0,
            ref_len: 0,
            correct: vec![0; order],
            total: vec![0; order],
        }
    }

    fn add(&mut self, o: &BleuStats) {
        self.hyp_len += o.hyp_len;
        self.ref_len += o.ref_len;
        for (a, b) in self.correct.iter_mut().zip(&o.correct) {
            *a += b;
        }
        for (a, b) in self.total.iter_mut().zip(&o.total) {
            *a += b;
        }
    }
}

fn preprocess(text: &str, cfg: &BleuConfig) -> String {
    if cfg.lowercase {
        cfg.tokenize.tokenize(py_rstrip(&py_lower(text)))
    } else {
        cfg.tokenize.tokenize(py_rstrip(text))
    }
}

/// An n-gram of up to four token ids packed into one integer. Ids are stored
/// plus one, so an n-gram never collides with a shorter one; ids count the
/// distinct tokens of one segment, far below `u32::MAX`.
fn packed(w: &[u32]) -> u128 {
    w.iter()
        .fold(0u128, |k, &id| (k << 32) | (u128::from(id) + 1))
}

/// Adds the clipped matches and totals of `hyp` against `refs` to `st`.
fn count_matches<'a, K: Hash + Eq>(
    hyp: &'a [u32],
    refs: &'a [Vec<u32>],
    st: &mut BleuStats,
    key: impl Fn(&'a [u32]) -> K,
) {
    let order = st.correct.len();
    let cap = |len: usize| len * order.min(len.max(1));
    let longest_ref = refs.iter().map(Vec::len).max().unwrap_or(0);
    let mut ref_ngrams: FxHashMap<K, u64> =
        FxHashMap::with_capacity_and_hasher(cap(longest_ref), Default::default());
    let mut one: FxHashMap<K, u64> = FxHashMap::default();
    for (i, r) in refs.iter().enumerate() {
        // The first reference's counts are the running maximum as they are.
        let target = if i == 0 { &mut ref_ngrams } else { &mut one };
        for n in 1..=order.min(r.len()) {
            for w in r.windows(n) {
                *target.entry(key(w)).or_insert(0) += 1;
            }
        }
        for (g, c) in one.drain() {
            let e = ref_ngrams.entry(g).or_insert(0);
            *e = (*e).max(c);
        }
    }
    let mut h: FxHashMap<K, u64> =
        FxHashMap::with_capacity_and_hasher(hyp.len(), Default::default());
    for n in 1..=order.min(hyp.len()) {
        h.clear();
        for w in hyp.windows(n) {
            *h.entry(key(w)).or_insert(0) += 1;
        }
        for (g, &c) in &h {
            st.total[n - 1] += c;
            if let Some(&r) = ref_ngrams.get(g) {
                st.correct[n - 1] += c.min(r);
            }
        }
    }
}

/// `_get_closest_ref_len`: the closest length, the shorter one on ties.
fn closest_ref_len(hyp_len: u64, ref_lens: &[u64]) -> u64 {
    let mut best: Option<(u64, u64)> = None; // (diff, len)
    for &r in ref_lens {
        let diff = hyp_len.abs_diff(r);
        best = match best {
            Some((d, l)) if diff > d || (diff == d && r >= l) => Some((d, l)),
            _ => Some((diff, r)),
        };
    }
    best.map_or(0, |(_, l)| l)
}

/// Statistics of one hypothesis against its references (`_compute_segment_statistics`).
pub fn segment_stats<S: AsRef<str>>(hyp: &str, refs: &[S], cfg: &BleuConfig) -> BleuStats {
    let order = cfg.max_ngram_order;
    let hyp = preprocess(hyp, cfg);
    let refs: Vec<String> = refs.iter().map(|r| preprocess(r.as_ref(), cfg)).collect();
    let mut vocab: FxHashMap<&str, u32> = FxHashMap::default();
    let hyp_ids: Vec<u32> = py_split(&hyp)
        .map(|t| {
            let next = vocab.len() as u32;
            *vocab.entry(t).or_insert(next)
        })
        .collect();
    let ref_ids: Vec<Vec<u32>> = refs
        .iter()
        .map(|r| {
            py_split(r)
                .map(|t| {
                    let next = vocab.len() as u32;
                    *vocab.entry(t).or_insert(next)
                })
                .collect()
        })
        .collect();
    let ref_lens: Vec<u64> = ref_ids.iter().map(|r| r.len() as u64).collect();
    let mut st = BleuStats::zeros(order);
    st.hyp_len = hyp_ids.len() as u64;
    st.ref_len = closest_ref_len(st.hyp_len, &ref_lens);
    if order <= 4 {
        count_matches(&hyp_ids, &ref_ids, &mut st, packed);
    } else {
        count_matches(&hyp_ids, &ref_ids, &mut st, |w| w);
    }
    st
}

fn my_log(x: f64) -> f64 {
    if x == 0.0 {
        -9_999_999_999.0
    } else {
        x.ln()
    }
}

/// `BLEU.compute_bleu`: the score from (summed) statistics.
pub fn compute_bleu(
    stats: &BleuStats,
    smooth_method: Smoothing,
    smooth_value: Option<f64>,
    effective_order: bool,
) -> BleuScore {
    let max_order = stats.correct.len();
    let smooth_value = smooth_value.unwrap_or(smooth_method.default_value());
    let (sys_len, ref_len) = (stats.hyp_len, stats.ref_len);
    let bp = if sys_len < ref_len {
        if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    let mut correct: Vec<f64> = stats.correct.iter().map(|&c| c as f64).collect();
    let mut total: Vec<f64> = stats.total.iter().map(|&c| c as f64).collect();
    let mut precisions = vec![0.0; max_order];
    let done = |score, correct, total, precisions| BleuScore {
        score,
        counts: correct,
        totals: total,
        precisions,
        bp,
        sys_len,
        ref_len,
    };
    if stats.correct.iter().all(|&c| c == 0) {
        return done(0.0, correct, total, precisions);
    }
    let mut smooth_mteval = 1.0;
    let mut eff_order = max_order;
    for n in 1..=max_order {
        if smooth_method == Smoothing::AddK && n > 1 {
            correct[n - 1] += smooth_value;
            total[n - 1] += smooth_value;
        }
        if total[n - 1] == 0.0 {
            break;
        }
        if effective_order {
            eff_order = n;
        }
        if correct[n - 1] == 0.0 {
            match smooth_method {
                Smoothing::Exp => {
                    smooth_mteval *= 2.0;
                    precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1]);
                }
                Smoothing::Floor => precisions[n - 1] = 100.0 * smooth_value / total[n - 1],
                Smoothing::None | Smoothing::AddK => {}
            }
        } else {
            precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
        }
    }
    let log_sum: f64 = precisions[..eff_order].iter().map(|&p| my_log(p)).sum();
    let score = bp * (log_sum / eff_order as f64).exp();
    done(score, correct, total, precisions)
}

/// `sacrebleu.corpus_bleu(hyps, refs)` with `refs[i]` the references of `hyps[i]`
/// (any number per example). Examples with no reference count a reference length of 0.
pub fn corpus_bleu(hyps: &[String], refs: &[Vec<String>], cfg: &BleuConfig) -> BleuScore {
    let total = hyps
        .par_iter()
        .zip(refs.par_iter())
        .map(|(h, r)| segment_stats(h, r, cfg))
        .reduce(
            || BleuStats::zeros(cfg.max_ngram_order),
            |mut a, b| {
                a.add(&b);
                a
            },
        );
    compute_bleu(
        &total,
        cfg.smooth_method,
        cfg.smooth_value,
        cfg.effective_order,
    )
}

/// `sacrebleu.sentence_bleu(hyp, refs)` (`use_effective_order=True`).
pub fn sentence_bleu<S: AsRef<str>>(hyp: &str, refs: &[S], cfg: &BleuConfig) -> BleuScore {
    let st = segment_stats(hyp, refs, cfg);
    compute_bleu(&st, cfg.smooth_method, cfg.smooth_value, true)
}

/// BLEU as a [`Metric`]: corpus BLEU, and sentence BLEU per example.
#[derive(Debug, Clone)]
pub struct Bleu {
    name: String,
    config: BleuConfig,
}

impl Bleu {
    /// A BLEU metric reporting under `name` (e.g. `bleu` or `sacrebleu`).
    pub fn new(name: impl Into<String>, config: BleuConfig) -> Result<Self> {
        if config.max_ngram_order == 0 {
            return Err(MetricsError::invalid_config(
                "bleu",
                "max_ngram_order",
                "must be at least 1",
            ));
        }
        if config
            .smooth_value
            .is_some_and(|v| !v.is_finite() || v < 0.0)
        {
            return Err(MetricsError::invalid_config(
                "bleu",
                "smooth_value",
                "must be a finite number >= 0",
            ));
        }
        Ok(Bleu {
            name: name.into(),
            config,
        })
    }

    fn scores(&self, predictions: &[String], references: &[Vec<String>]) -> Result<MetricValue> {
        let cfg = &self.config;
        let stats = score_segments(predictions, references, "bleu", |h, r| {
            segment_stats(h, r, cfg)
        })?;
        let mut total = BleuStats::zeros(cfg.max_ngram_order);
        for s in &stats {
            total.add(s);
        }
        let per_example = stats
            .iter()
            .map(|s| compute_bleu(s, cfg.smooth_method, cfg.smooth_value, true).score)
            .collect();
        let corpus = compute_bleu(
            &total,
            cfg.smooth_method,
            cfg.smooth_value,
            cfg.effective_order,
        )
        .score;
        Ok(MetricValue {
            name: self.name.clone(),
            corpus,
            per_example,
            higher_is_better: true,
        })
    }
}

single_value_metric!(Bleu);

#[cfg(test)]
mod tests {
    use super::*;
    use atgen_core::Metric;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    // Python (sacrebleu 2.4.3):
    // >>> sacrebleu.sentence_bleu('The cat is on the mat.', ['The cat sat on the mat.']).score
    // 48.892302243490086
    // >>> sacrebleu.corpus_bleu(['The cat is on the mat.', 'hello there'],
    // ...     [['The cat sat on the mat.', 'hello there general kenobi']]).score
    // 40.19480958339268
    #[test]
    fn matches_sacrebleu_examples() {
        let cfg = BleuConfig::default();
        let b = sentence_bleu("The cat is on the mat.", &["The cat sat on the mat."], &cfg);
        assert!((b.score - 48.892302243490086).abs() < 1e-9, "{}", b.score);
        let c = corpus_bleu(
            &s(&["The cat is on the mat.", "hello there"]),
            &[
                s(&["The cat sat on the mat."]),
                s(&["hello there general kenobi"]),
            ],
            &cfg,
        );
        assert!((c.score - 40.19480958339268).abs() < 1e-9, "{}", c.score);
    }

    #[test]
    fn closest_ref_len_prefers_shorter_on_ties() {
        assert_eq!(closest_ref_len(5, &[7, 3, 6]), 6);
        assert_eq!(closest_ref_len(5, &[7, 3]), 3);
        assert_eq!(closest_ref_len(5, &[]), 0);
    }

    #[test]
    fn no_match_scores_zero_and_empty_is_safe() {
        let cfg = BleuConfig::default();
        assert_eq!(sentence_bleu("", &[""], &cfg).score, 0.0);
        assert_eq!(sentence_bleu("a b", &["c d"], &cfg).score, 0.0);
    }

    #[test]
    fn metric_validates_config_and_inputs() {
        let cfg = BleuConfig {
            max_ngram_order: 0,
            ..BleuConfig::default()
        };
        assert!(Bleu::new("bleu", cfg).is_err());
        let m = Bleu::new("bleu", BleuConfig::default()).expect("valid");
        assert!(m.compute(&s(&["a"]), &[vec![]], &[]).is_err());
        let v = m
            .compute(&s(&["a b c d"]), &[s(&["a b c d"])], &[])
            .expect("ok");
        assert!((v[0].corpus - 100.0).abs() < 1e-9);
        assert_eq!(v[0].per_example.len(), 1);
    }
}
