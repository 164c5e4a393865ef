//! chrF and chrF++ identical to sacreBLEU 2.4.3 (`sacrebleu.metrics.chrf.CHRF`).
//!
//! Character n-grams of order 1..=`char_order` over Unicode code points, with
//! whitespace removed (Python `''.join(s.split())`); chrF++ adds word n-grams
//! of order 1..=`word_order` over words whose one leading or trailing ASCII
//! punctuation character is split off (sacreBLEU's `_remove_punctuation`).
//! With several references, the one with the best sentence-level F-score is
//! kept (the first on ties). Corpus chrF sums the kept statistics; the score
//! averages precision and recall over the orders that have both hypothesis and
//! reference n-grams (sacreBLEU's default, `eps_smoothing=False`), then takes
//! F-beta. Scores are on the 0-100 scale.

use crate::error::{MetricsError, Result};
use crate::pytext::{py_lower, py_split};
use crate::score_segments;
use atgen_core::MetricValue;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::hash::Hash;

/// Settings of chrF, named as sacreBLEU names them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChrfConfig {
    /// Character n-gram order (6).
    pub char_order: usize,
    /// Word n-gram order: 0 for chrF, 2 for chrF++.
    pub word_order: usize,
    /// Recall weight (2).
    pub beta: u32,
    /// Lowercase before extracting n-grams.
    pub lowercase: bool,
    /// Keep whitespace inside character n-grams.
    pub whitespace: bool,
    /// chrF++.py-style epsilon smoothing instead of effective order.
    pub eps_smoothing: bool,
}

impl Default for ChrfConfig {
    fn default() -> Self {
        ChrfConfig {
            char_order: 6,
            word_order: 0,
            beta: 2,
            lowercase: false,
            whitespace: false,
            eps_smoothing: false,
        }
    }
}

impl ChrfConfig {
    /// chrF++ (word order 2).
    pub fn plus_plus() -> Self {
        ChrfConfig {
            word_order: 2,
            ..ChrfConfig::default()
        }
    }

    fn order(&self) -> usize {
        self.char_order + self.word_order
    }
}

/// Per order `[n_hyp, n_ref, n_match]`, char orders first.
pub type ChrfStats = Vec<[u64; 3]>;

fn counts<T: Hash + Eq>(items: &[T], n: usize) -> FxHashMap<&[T], u64> {
    let mut m = FxHashMap::default();
    if n > 0 && items.len() >= n {
        for w in items.windows(n) {
            *m.entry(w).or_insert(0) += 1;
        }
    }
    m
}

fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation()
}

/// sacreBLEU's `_remove_punctuation`.
fn words(sent: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for w in py_split(sent) {
        let mut it = w.char_indices();
        let first = it.next();
        let second = it.next();
        match (first, second) {
            (Some(_), None) => out.push(w),
            (Some((_, c0)), Some((i1, _))) => {
                let (last_i, last) = w.char_indices().next_back().unwrap_or((0, c0));
                if is_punct(last) {
                    out.extend([&w[..last_i], &w[last_i..]]);
                } else if is_punct(c0) {
                    out.extend([&w[..i1], &w[i1..]]);
                } else {
                    out.push(w);
                }
            }
            (None, _) => {}
        }
    }
    out
}

/// The n-gram source of one segment: its characters and its words.
struct Segment<'a> {
    chars: Vec<char>,
    words: Vec<&'a str>,
}

impl<'a> Segment<'a> {
    fn new(text: &'a str, cfg: &ChrfConfig) -> Self {
        let chars = if cfg.whitespace {
            text.chars().collect()
        } else {
            py_split(text).flat_map(str::chars).collect()
        };
        let words = if cfg.word_order > 0 {
            words(text)
        } else {
            Vec::new()
        };
        Segment { chars, words }
    }
}

fn match_stats<T: Hash + Eq>(h: &FxHashMap<&[T], u64>, r: &FxHashMap<&[T], u64>) -> [u64; 3] {
    let mut hyp = 0;
    let mut matched = 0;
    for (g, &c) in h {
        hyp += c;
        if let Some(&rc) = r.get(g) {
            matched += c.min(rc);
        }
    }
    [
        if r.is_empty() { 0 } else { hyp },
        r.values().sum(),
        matched,
    ]
}

/// `CHRF._compute_f_score`, 0-100.
pub fn f_score(stats: &[[u64; 3]], cfg: &ChrfConfig) -> f64 {
    let eps = 1e-16;
    let factor = f64::from(cfg.beta).powi(2);
    let (mut score, mut avg_prec, mut avg_rec, mut eff) = (0.0, 0.0, 0.0, 0usize);
    for &[n_hyp, n_ref, n_match] in stats {
        let prec = if n_hyp > 0 {
            n_match as f64 / n_hyp as f64
        } else {
            eps
        };
        let rec = if n_ref > 0 {
            n_match as f64 / n_ref as f64
        } else {
            eps
        };
        let denom = factor * prec + rec;
        score += if denom > 0.0 {
            (1.0 + factor) * prec * rec / denom
        } else {
            eps
        };
        if n_hyp > 0 && n_ref > 0 {
            avg_prec += prec;
            avg_rec += rec;
            eff += 1;
        }
    }
    if cfg.eps_smoothing {
        return 100.0 * score / stats.len() as f64;
    }
    if eff == 0 {
        avg_prec = 0.0;
        avg_rec = 0.0;
    } else {
        avg_prec /= eff as f64;
        avg_rec /= eff as f64;
    }
    if avg_prec + avg_rec != 0.0 {
        let s = (1.0 + factor) * avg_prec * avg_rec / ((factor * avg_prec) + avg_rec);
        100.0 * s
    } else {
        0.0
    }
}

/// Best-reference statistics of one hypothesis (`_compute_segment_statistics`).
pub fn segment_stats<S: AsRef<str>>(hyp: &str, refs: &[S], cfg: &ChrfConfig) -> ChrfStats {
    let lower = |s: &str| {
        if cfg.lowercase {
            py_lower(s)
        } else {
            s.to_string()
        }
    };
    let hyp = lower(hyp);
    let h = Segment::new(&hyp, cfg);
    let h_chars: Vec<_> = (1..=cfg.char_order).map(|n| counts(&h.chars, n)).collect();
    let h_words: Vec<_> = (1..=cfg.word_order).map(|n| counts(&h.words, n)).collect();
    let mut best: (f64, ChrfStats) = (-1.0, Vec::new());
    for r in refs {
        let r = lower(r.as_ref());
        let rs = Segment::new(&r, cfg);
        let mut stats = Vec::with_capacity(cfg.order());
        for (n, hc) in (1..=cfg.char_order).zip(&h_chars) {
            stats.push(match_stats(hc, &counts(&rs.chars, n)));
        }
        for (n, hw) in (1..=cfg.word_order).zip(&h_words) {
            stats.push(match_stats(hw, &counts(&rs.words, n)));
        }
        let f = f_score(&stats, cfg);
        if f > best.0 {
            best = (f, stats);
        }
    }
    if best.1.is_empty() {
        best.1 = vec![[0; 3]; cfg.order()];
    }
    best.1
}

fn sum_stats(all: &[ChrfStats], order: usize) -> ChrfStats {
    let mut total = vec![[0u64; 3]; order];
    for s in all {
        for (t, x) in total.iter_mut().zip(s) {
            for k in 0..3 {
                t[k] += x[k];
            }
        }
    }
    total
}

/// `sacrebleu.corpus_chrf` (with this config), `refs[i]` the references of `hyps[i]`.
pub fn corpus_chrf(hyps: &[String], refs: &[Vec<String>], cfg: &ChrfConfig) -> f64 {
    let all: Vec<ChrfStats> = hyps
        .par_iter()
        .zip(refs.par_iter())
        .map(|(h, r)| segment_stats(h, r, cfg))
        .collect();
    f_score(&sum_stats(&all, cfg.order()), cfg)
}

/// `sacrebleu.sentence_chrf` (with this config).
pub fn sentence_chrf<S: AsRef<str>>(hyp: &str, refs: &[S], cfg: &ChrfConfig) -> f64 {
    f_score(&segment_stats(hyp, refs, cfg), cfg)
}

/// chrF / chrF++ as a [`Metric`]: corpus chrF, and sentence chrF per example.
#[derive(Debug, Clone)]
pub struct Chrf {
    name: String,
    config: ChrfConfig,
}

impl Chrf {
    /// A chrF metric reporting under `name` (e.g. `chrf` or `chrf++`).
    pub fn new(name: impl Into<String>, config: ChrfConfig) -> Result<Self> {
        if config.order() == 0 {
            return Err(MetricsError::invalid_config(
                "chrf",
                "char_order",
                "char_order + word_order must be at least 1",
            ));
        }
        if config.beta > 1000 {
            return Err(MetricsError::invalid_config(
                "chrf",
                "beta",
                "must be at most 1000",
            ));
        }
        Ok(Chrf {
            name: name.into(),
            config,
        })
    }

    fn scores(&self, predictions: &[String], references: &[Vec<String>]) -> Result<MetricValue> {
        let cfg = &self.config;
        let all = score_segments(predictions, references, "chrf", |h, r| {
            segment_stats(h, r, cfg)
        })?;
        Ok(MetricValue {
            name: self.name.clone(),
            corpus: f_score(&sum_stats(&all, cfg.order()), cfg),
            per_example: all.iter().map(|s| f_score(s, cfg)).collect(),
            higher_is_better: true,
        })
    }
}

single_value_metric!(Chrf);

#[cfg(test)]
mod tests {
    use super::*;

    // Python (sacrebleu 2.4.3):
    // >>> sacrebleu.sentence_chrf('The cat is on the mat.', ['The cat sat on the mat.']).score
    // 64.58166836671698
    // >>> sacrebleu.sentence_chrf('The cat is on the mat.', ['The cat sat on the mat.'], word_order=2).score
    // 67.49301221379969
    #[test]
    fn matches_sacrebleu_examples() {
        let (h, r) = ("The cat is on the mat.", ["The cat sat on the mat."]);
        let c = sentence_chrf(h, &r, &ChrfConfig::default());
        assert!((c - CHRF_EXAMPLE).abs() < 1e-9, "{c}");
        let c = sentence_chrf(h, &r, &ChrfConfig::plus_plus());
        assert!((c - CHRFPP_EXAMPLE).abs() < 1e-9, "{c}");
    }
    const CHRF_EXAMPLE: f64 = 64.58166836671698;
    const CHRFPP_EXAMPLE: f64 = 67.49301221379969;

    #[test]
    fn remove_punctuation_like_sacrebleu() {
        // CHRF()._remove_punctuation('(hi) a, .b x é!')
        assert_eq!(
            words("(hi) a, .b x é!"),
            ["(hi", ")", "a", ",", ".", "b", "x", "é", "!"]
        );
    }

    #[test]
    fn empty_inputs_score_zero() {
        assert_eq!(sentence_chrf("", &[""], &ChrfConfig::default()), 0.0);
        let none: [&str; 0] = [];
        assert_eq!(sentence_chrf("abc", &none, &ChrfConfig::default()), 0.0);
    }
}
