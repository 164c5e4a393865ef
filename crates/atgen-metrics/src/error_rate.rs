//! Word and character error rates (`wer`, `cer`) identical to jiwer 4.0.0
//! (`jiwer.wer`, `jiwer.cer` with their default transformations).
//!
//! * Tokens. Words as `jiwer.transformations.wer_default`: every run of two or
//!   more whitespace characters (Python's `\s`) becomes one space, the text is
//!   stripped, then split on the space character only, dropping empty parts. A
//!   *single* tab, newline or no-break space between two words is therefore
//!   not a separator (`"a\tb"` is one word), exactly as in jiwer. Characters as
//!   `cer_default`: the stripped text's Unicode code points, spaces included.
//!   With `lowercase: true`, Python's `str.lower()` comes first (jiwer's
//!   `ToLowerCase` in front of the default transformation).
//! * Distance: Levenshtein over tokens, every substitution, deletion and
//!   insertion costing 1 (jiwer counts S + D + I from rapidfuzz's optimal
//!   alignment, the same number).
//! * Per example: distance / reference tokens. A reference of no token scores
//!   its distance, i.e. the number of hypothesis tokens (jiwer returns the
//!   insertion count there, so an empty reference with an empty hypothesis
//!   scores 0).
//! * Corpus: the sum of distances over the sum of reference tokens (not the
//!   mean of the per-example rates), as `jiwer.wer(references, hypotheses)`.
//!   When the whole corpus has no reference token, jiwer returns the number of
//!   inserted tokens, and so do we: documented, not an error, so an evaluation
//!   never fails on it.
//! * Several references per example (jiwer takes one): the reference with the
//!   lowest per-example rate is kept, the first listed on ties; its distance
//!   and length enter the corpus sums. So a prediction is judged against the
//!   reference it is closest to relative to that reference's length.
//!
//! Rates are in [0, ∞): insertions can push them above 1. Lower is better
//! (`higher_is_better: false`). For space-separated phonemes (`AE1 B IY0`)
//! `wer` is the phoneme error rate of grapheme-to-phoneme conversion.
//!
//! ```
//! use atgen_metrics::error_rate::{word_tokens, levenshtein};
//! assert_eq!(word_tokens("  AE1  B IY0 "), ["AE1", "B", "IY0"]);
//! assert_eq!(word_tokens("a\tb"), ["a\tb"]); // one whitespace character does not split
//! assert_eq!(levenshtein(&["a", "b", "c"], &["a", "x", "c", "d"]), 2);
//! ```

use crate::error::Result;
use crate::pytext::{is_py_space, py_lower};
use crate::score_segments;
use atgen_core::MetricValue;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Settings of `wer` and `cer`; jiwer's defaults need none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ErrorRateConfig {
    /// Lowercase (Python `str.lower()`) prediction and references first.
    pub lowercase: bool,
}

/// What an error rate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Words (`wer`).
    Word,
    /// Unicode code points (`cer`).
    Char,
}

/// jiwer's `RemoveMultipleSpaces` + `Strip` + `ReduceToListOfListOfWords`.
pub fn word_tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    // Collapsing runs of >= 2 whitespace characters to one space, stripping, and
    // splitting on ' ' equals splitting at every such run and at every lone ' '.
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !is_py_space(c) {
            continue;
        }
        let mut end = i + c.len_utf8();
        let mut run = 1;
        while let Some(&(j, d)) = chars.peek() {
            if !is_py_space(d) {
                break;
            }
            end = j + d.len_utf8();
            run += 1;
            chars.next();
        }
        if run >= 2 || c == ' ' {
            out.push(&text[start..i]);
            start = end;
        }
    }
    out.push(&text[start..]);
    // A lone non-space whitespace character at either end is removed by `Strip`.
    out.retain(|w| !w.is_empty());
    if let Some(first) = out.first_mut() {
        *first = first.trim_start_matches(is_py_space);
    }
    if let Some(last) = out.last_mut() {
        *last = last.trim_end_matches(is_py_space);
    }
    out.retain(|w| !w.is_empty());
    out
}

/// jiwer's `Strip` + `ReduceToListOfListOfChars`: the code points of the stripped text.
pub fn char_tokens(text: &str) -> Vec<char> {
    text.trim_matches(is_py_space).chars().collect()
}

/// Cost of each edit; jiwer (rapidfuzz's uniform Levenshtein) weighs all three as 1.
const SUBSTITUTION: usize = 1;
const DELETION: usize = 1;
const INSERTION: usize = 1;

/// Edits (substitutions, deletions of reference tokens, insertions of
/// hypothesis tokens) that turn `reference` into `hypothesis`.
pub fn levenshtein<T: PartialEq>(reference: &[T], hypothesis: &[T]) -> usize {
    // A shared prefix and suffix cost nothing; the matrix covers the middle only.
    let prefix = reference
        .iter()
        .zip(hypothesis)
        .take_while(|(a, b)| a == b)
        .count();
    let (r, h) = (&reference[prefix..], &hypothesis[prefix..]);
    let suffix = r
        .iter()
        .rev()
        .zip(h.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (r, h) = (&r[..r.len() - suffix], &h[..h.len() - suffix]);
    // row[j]: distance between the reference prefix so far and h[..j].
    let mut row: Vec<usize> = (0..=h.len()).map(|j| j * INSERTION).collect();
    for (i, rt) in r.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = (i + 1) * DELETION;
        for (j, ht) in h.iter().enumerate() {
            let substitute = diagonal + if rt == ht { 0 } else { SUBSTITUTION };
            let delete = row[j + 1] + DELETION;
            let insert = row[j] + INSERTION;
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(delete).min(insert);
        }
    }
    row[h.len()]
}

/// One example's edit count against the reference it was scored with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EditCount {
    /// Levenshtein distance in tokens.
    pub distance: usize,
    /// Tokens of the reference.
    pub reference_len: usize,
}

impl EditCount {
    /// `distance / reference_len`; the distance itself for an empty reference (as jiwer).
    pub fn rate(&self) -> f64 {
        if self.reference_len == 0 {
            self.distance as f64
        } else {
            self.distance as f64 / self.reference_len as f64
        }
    }
}

/// Corpus rate of several examples: summed distances over summed reference lengths
/// (the summed distance when no reference has a token, as jiwer).
pub fn corpus_rate(counts: &[EditCount]) -> f64 {
    let distance: usize = counts.iter().map(|c| c.distance).sum();
    let reference_len: usize = counts.iter().map(|c| c.reference_len).sum();
    EditCount {
        distance,
        reference_len,
    }
    .rate()
}

/// `wer` or `cer`.
#[derive(Debug, Clone)]
pub struct ErrorRate {
    name: String,
    unit: Unit,
    config: ErrorRateConfig,
}

impl ErrorRate {
    /// Word error rate, named `wer`.
    pub fn wer(config: ErrorRateConfig) -> Self {
        ErrorRate {
            name: "wer".into(),
            unit: Unit::Word,
            config,
        }
    }

    /// Character error rate, named `cer`.
    pub fn cer(config: ErrorRateConfig) -> Self {
        ErrorRate {
            name: "cer".into(),
            unit: Unit::Char,
            config,
        }
    }

    fn count(&self, reference: &str, hypothesis: &str) -> EditCount {
        let (reference, hypothesis): (Cow<str>, Cow<str>) = if self.config.lowercase {
            (py_lower(reference).into(), py_lower(hypothesis).into())
        } else {
            (reference.into(), hypothesis.into())
        };
        match self.unit {
            Unit::Word => {
                let r = word_tokens(&reference);
                EditCount {
                    distance: levenshtein(&r, &word_tokens(&hypothesis)),
                    reference_len: r.len(),
                }
            }
            Unit::Char => {
                let r = char_tokens(&reference);
                EditCount {
                    distance: levenshtein(&r, &char_tokens(&hypothesis)),
                    reference_len: r.len(),
                }
            }
        }
    }

    /// The count against the reference with the lowest rate (the first on ties).
    /// An empty `references` counts every hypothesis token against an empty reference.
    pub fn score_one<S: AsRef<str>>(&self, prediction: &str, references: &[S]) -> EditCount {
        let mut best: Option<EditCount> = None;
        for r in references {
            let c = self.count(r.as_ref(), prediction);
            if best.is_none_or(|b| c.rate() < b.rate()) {
                best = Some(c);
            }
        }
        best.unwrap_or_else(|| self.count("", prediction))
    }

    fn scores(&self, predictions: &[String], references: &[Vec<String>]) -> Result<MetricValue> {
        let metric = match self.unit {
            Unit::Word => "wer",
            Unit::Char => "cer",
        };
        let counts = score_segments(predictions, references, metric, |p, r| self.score_one(p, r))?;
        Ok(MetricValue {
            name: self.name.clone(),
            corpus: corpus_rate(&counts),
            per_example: counts.iter().map(EditCount::rate).collect(),
            higher_is_better: false,
        })
    }
}

single_value_metric!(ErrorRate);

#[cfg(test)]
mod tests {
    use super::*;
    use atgen_core::Metric;

    #[test]
    fn word_tokens_follow_jiwer_default() {
        // Python: jiwer.transformations.wer_default(s)[0]
        assert_eq!(word_tokens("   the   cat  "), ["the", "cat"]);
        assert_eq!(word_tokens("the\tcat"), ["the\tcat"]);
        assert_eq!(word_tokens("the\t\tcat"), ["the", "cat"]);
        assert_eq!(word_tokens("\tthe cat\n"), ["the", "cat"]);
        assert_eq!(
            word_tokens("a\u{a0}b \u{2003} c\u{1c}\u{1d}d"),
            ["a\u{a0}b", "c", "d"]
        );
        assert!(word_tokens("").is_empty());
        assert!(word_tokens(" \t ").is_empty());
        assert!(word_tokens("\t").is_empty());
    }

    #[test]
    fn char_tokens_strip_but_keep_inner_spaces() {
        assert_eq!(char_tokens(" a  é\t"), ['a', ' ', ' ', 'é']);
        assert!(char_tokens("\u{3000}").is_empty());
    }

    #[test]
    fn levenshtein_counts_each_edit_once() {
        assert_eq!(levenshtein::<&str>(&[], &[]), 0);
        assert_eq!(levenshtein(&["a"], &[]), 1);
        assert_eq!(levenshtein(&[], &["a", "b", "c"]), 3);
        assert_eq!(levenshtein(&["a", "b"], &["b", "a"]), 2);
        assert_eq!(
            levenshtein(
                &['k', 'i', 't', 't', 'e', 'n'],
                &['s', 'i', 't', 't', 'i', 'n', 'g']
            ),
            3
        );
        // insertions beyond the reference's end
        assert_eq!(levenshtein(&["x"], &["x", "y", "z", "w"]), 3);
    }

    #[test]
    fn the_reference_with_the_lowest_rate_is_kept() {
        let wer = ErrorRate::wer(ErrorRateConfig::default());
        // distance 1 against both; rates 1/4 and 1/2: the longer reference wins.
        let c = wer.score_one("a b c", &["a b", "a b c d"]);
        assert_eq!((c.distance, c.reference_len), (1, 4));
        // equal rates (1.0): the first listed is kept.
        let c = wer.score_one("five six", &["one two", "three four five"]);
        assert_eq!((c.distance, c.reference_len), (2, 2));
        // an empty reference with an empty prediction is exact.
        assert_eq!(wer.score_one("", &["x y", " "]).rate(), 0.0);
    }

    #[test]
    fn corpus_sums_distances_over_reference_words() {
        let wer = ErrorRate::wer(ErrorRateConfig::default());
        let v = wer
            .compute(
                &["AE1 B IY0".into(), "K".into(), "x y".into()],
                &[
                    vec!["AE1 B IY0".into()],
                    vec!["K Y UW1".into()],
                    vec!["".into()],
                ],
                &[],
            )
            .expect("scores");
        assert_eq!(v[0].name, "wer");
        assert!(!v[0].higher_is_better);
        assert_eq!(v[0].per_example, [0.0, 2.0 / 3.0, 2.0]);
        assert_eq!(v[0].corpus, 4.0 / 6.0); // (0 + 2 + 2) / (3 + 3 + 0), not the mean
        let none = wer
            .compute(
                &["a b".into(), "".into()],
                &[vec!["".into()], vec![" ".into()]],
                &[],
            )
            .expect("scores");
        assert_eq!(
            none[0].corpus, 2.0,
            "no reference word: jiwer's insertion count"
        );
        assert!(wer.compute(&["a".into()], &[vec![]], &[]).is_err());
    }

    #[test]
    fn lowercase_applies_python_lower_to_both_sides() {
        let cer = ErrorRate::cer(ErrorRateConfig { lowercase: true });
        assert_eq!(cer.score_one("ΣΑΣ", &["σας"]).distance, 0);
        let cer = ErrorRate::cer(ErrorRateConfig::default());
        assert_eq!(cer.score_one("ΣΑΣ", &["σας"]).distance, 3);
    }
}
