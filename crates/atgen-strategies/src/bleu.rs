//! The built-in sentence BLEU that [`crate::BleuVar`] uses when no sentence
//! similarity is injected.
//!
//! It reproduces the `pair_bleu` of the BLEUVar reference code (Tsvigun et
//! al., 2023, the code ATGen's BLEUVar calls): NLTK `corpus_bleu` on one
//! sentence pair with uniform 4-gram weights, the brevity penalty against the
//! single reference, and the Lin & Och (2004) "BLEUS" smoothing: unigram
//! precision unsmoothed, higher orders `(matches + 1) / (total + 1)`, and an
//! order longer than the hypothesis counts as precision 1. No unigram match
//! (or an empty hypothesis) gives 0.
//!
//! Tokenisation: whitespace split, then every character that is neither
//! alphanumeric nor `_` becomes its own token (close to NLTK's
//! `word_tokenize` on plain text; contractions such as `don't` and sentence
//! splitting differ, so parity with NLTK holds for plain word text). Case is
//! kept. The result is in `[0, 1]`.

use std::collections::HashMap;
use std::sync::Arc;

/// A sentence similarity `(hypothesis, reference) -> [0, 1]`, e.g. sacreBLEU
/// sentence BLEU / 100. Injected into [`crate::BleuVar`].
pub type SentenceSimilarity = Arc<dyn Fn(&str, &str) -> f64 + Send + Sync>;

const MAX_N: usize = 4;

/// Tokens of `text` as described in the module docs.
pub fn tokenize(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let mut start = None;
        for (i, c) in word.char_indices() {
            if c.is_alphanumeric() || c == '_' {
                start.get_or_insert(i);
            } else {
                if let Some(s) = start.take() {
                    out.push(&word[s..i]);
                }
                out.push(&word[i..i + c.len_utf8()]);
            }
        }
        if let Some(s) = start {
            out.push(&word[s..]);
        }
    }
    out
}

/// Pre-computed n-gram counts of one text, so a text compared against many
/// others is tokenised once.
#[derive(Debug, Clone)]
pub struct NgramStats {
    len: usize,
    counts: [HashMap<u128, u32>; MAX_N],
}

/// Maps tokens to small ids shared by all texts compared with each other.
#[derive(Debug, Default)]
pub struct Interner<'a> {
    ids: HashMap<&'a str, u32>,
}

impl<'a> Interner<'a> {
    /// Id of `tok`, assigning a new one when unseen.
    pub fn id(&mut self, tok: &'a str) -> u32 {
        let next = self.ids.len() as u32;
        *self.ids.entry(tok).or_insert(next)
    }
}

impl NgramStats {
    /// Counts the n-grams (n = 1..4) of `text`.
    pub fn new<'a>(text: &'a str, interner: &mut Interner<'a>) -> Self {
        let ids: Vec<u32> = tokenize(text).into_iter().map(|t| interner.id(t)).collect();
        let mut counts: [HashMap<u128, u32>; MAX_N] = Default::default();
        for (n, map) in counts.iter_mut().enumerate() {
            for w in ids.windows(n + 1) {
                let key = w.iter().fold(0u128, |acc, &t| (acc << 32) | t as u128);
                *map.entry(key).or_insert(0) += 1;
            }
        }
        NgramStats {
            len: ids.len(),
            counts,
        }
    }

    /// Smoothed sentence BLEU of `self` (hypothesis) against `reference`.
    pub fn bleu(&self, reference: &NgramStats) -> f64 {
        let hyp_len = self.len;
        if hyp_len == 0 {
            return 0.0;
        }
        let mut log_sum = 0.0;
        for n in 0..MAX_N {
            let matches: u32 = self.counts[n]
                .iter()
                .map(|(g, &c)| c.min(reference.counts[n].get(g).copied().unwrap_or(0)))
                .sum();
            let total = hyp_len.saturating_sub(n).max(1) as f64;
            let p = if n == 0 {
                if matches == 0 {
                    return 0.0;
                }
                matches as f64 / total
            } else if hyp_len < n + 1 {
                1.0
            } else {
                (matches as f64 + 1.0) / (total + 1.0)
            };
            log_sum += p.ln() / MAX_N as f64;
        }
        let bp = if hyp_len > reference.len {
            1.0
        } else {
            (1.0 - reference.len as f64 / hyp_len as f64).exp()
        };
        bp * log_sum.exp()
    }
}

/// Smoothed sentence BLEU in `[0, 1]` of `hypothesis` against `reference`.
pub fn sentence_bleu(hypothesis: &str, reference: &str) -> f64 {
    let mut interner = Interner::default();
    let h = NgramStats::new(hypothesis, &mut interner);
    let r = NgramStats::new(reference, &mut interner);
    h.bleu(&r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenize_splits_punctuation() {
        assert_eq!(
            tokenize("Hi, there!  a_b"),
            vec!["Hi", ",", "there", "!", "a_b"]
        );
    }

    #[test]
    fn identical_is_one_and_disjoint_is_zero() {
        assert!(
            (sentence_bleu("the cat sat on the mat", "the cat sat on the mat") - 1.0).abs() < 1e-12
        );
        assert_eq!(sentence_bleu("a b c", "d e f"), 0.0);
        assert_eq!(sentence_bleu("", "d e f"), 0.0);
        // Orders longer than the hypothesis count as 1: one-token exact match.
        assert!((sentence_bleu("cat", "cat") - 1.0).abs() < 1e-12);
    }

    #[test]
    fn hand_computed_partial_match() {
        // hyp = "the cat sat", ref = "the cat sat down" (4 tokens)
        // p1 = 3/3, p2 = (2+1)/(2+1) = 1, p3 = (1+1)/(1+1) = 1,
        // p4: hyp_len 3 < 4 -> 1; BP = exp(1 - 4/3).
        let expected = (1.0f64 - 4.0 / 3.0).exp();
        assert!((sentence_bleu("the cat sat", "the cat sat down") - expected).abs() < 1e-12);
        // hyp = "a b a b", ref = "a b": p1 = 2/4 (clipped), p2 = (1+1)/(3+1),
        // p3 = (0+1)/(2+1), p4 = (0+1)/(1+1); hyp longer than ref -> BP 1.
        let p: f64 = [0.5f64, 0.5, 1.0 / 3.0, 0.5]
            .iter()
            .map(|v| v.ln() / 4.0)
            .sum();
        assert!((sentence_bleu("a b a b", "a b") - p.exp()).abs() < 1e-12);
    }
}
