//! The counting behind [`crate::rouge`]: token ids per thread, n-gram overlap,
//! LCS, and summary-level union LCS, on token ids rather than strings.

use crate::porter;
use crate::pytext::py_lower;
use crate::rouge::Score;
use rustc_hash::FxHashMap;
use std::cell::RefCell;

/// Token -> id maps of one thread. Tokens are ids of their final (stemmed)
/// form, so `run` and `running` share an id under the stemmer. Ids are only
/// compared within one `score_multi` call, which never leaves its thread.
#[derive(Default)]
pub(crate) struct Vocab {
    raw: FxHashMap<Box<str>, Option<u32>>,
    finals: FxHashMap<String, u32>,
}

const VOCAB_CAP: usize = 1 << 20;

thread_local! {
    /// `[without stemmer, with stemmer]`.
    static VOCABS: RefCell<[Vocab; 2]> = RefCell::new(Default::default());
}

impl Vocab {
    /// Runs `f` with this thread's vocabulary for the given stemmer setting.
    pub(crate) fn with<R>(use_stemmer: bool, f: impl FnOnce(&mut Vocab) -> R) -> R {
        VOCABS.with(|v| {
            let mut v = v.borrow_mut();
            let vocab = &mut v[usize::from(use_stemmer)];
            if vocab.raw.len() >= VOCAB_CAP {
                vocab.raw.clear();
                vocab.finals.clear();
            }
            f(vocab)
        })
    }

    fn id(&mut self, token: &str, use_stemmer: bool) -> Option<u32> {
        if let Some(&id) = self.raw.get(token) {
            return id;
        }
        // rouge_score.tokenize: stem tokens longer than 3 characters, then
        // drop anything that is not `^[a-z0-9]+$`.
        let fin = if use_stemmer && token.len() > 3 {
            porter::stem(token)
        } else {
            token.to_string()
        };
        let valid = !fin.is_empty()
            && fin
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let id = valid.then(|| {
            let next = self.finals.len() as u32;
            *self.finals.entry(fin).or_insert(next)
        });
        self.raw.insert(token.into(), id);
        id
    }

    /// Token ids of `text` (rouge-score's tokenizer, then the stemmer).
    pub(crate) fn ids(&mut self, text: &str, use_stemmer: bool) -> Vec<u32> {
        let lowered;
        let text = if text.is_ascii() && !text.bytes().any(|b| b.is_ascii_uppercase()) {
            text
        } else {
            lowered = py_lower(text);
            &lowered
        };
        text.split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
            .filter(|t| !t.is_empty())
            .filter_map(|t| self.id(t, use_stemmer))
            .collect()
    }
}

/// Counts of the n-grams (n = 1 or 2) of `tokens`, each packed into a `u64`.
fn ngram_counts(tokens: &[u32], n: usize) -> FxHashMap<u64, u32> {
    debug_assert!((1..=2).contains(&n));
    let mut m = FxHashMap::with_capacity_and_hasher(tokens.len(), Default::default());
    if tokens.len() >= n {
        for w in tokens.windows(n) {
            let key = w.iter().fold(0u64, |k, &x| (k << 32) | u64::from(x));
            *m.entry(key).or_insert(0) += 1;
        }
    }
    m
}

/// ROUGE-N (`_score_ngrams`) for n = 1 or 2.
pub(crate) fn ngram_score(target: &[u32], prediction: &[u32], n: usize) -> Score {
    let t = ngram_counts(target, n);
    let p = ngram_counts(prediction, n);
    let overlap: u32 = t
        .iter()
        .map(|(g, &c)| c.min(p.get(g).copied().unwrap_or(0)))
        .sum();
    let t_total: u32 = t.values().sum();
    let p_total: u32 = p.values().sum();
    Score::new(
        overlap as f64 / p_total.max(1) as f64,
        overlap as f64 / t_total.max(1) as f64,
    )
}

/// Length of the LCS, in O(min) memory.
fn lcs_len(a: &[u32], b: &[u32]) -> usize {
    let mut prev = vec![0u32; b.len() + 1];
    let mut cur = vec![0u32; b.len() + 1];
    for &x in a {
        for (j, &y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()] as usize
}

/// ROUGE-L (`_score_lcs`).
pub(crate) fn lcs_score(target: &[u32], prediction: &[u32]) -> Score {
    if target.is_empty() || prediction.is_empty() {
        return Score::default();
    }
    let l = lcs_len(target, prediction) as f64;
    Score::new(l / prediction.len() as f64, l / target.len() as f64)
}

/// Marks in `hit` the indices of `r` on one LCS with `c`, chosen like
/// `rouge_scorer._backtrack_norec` (move left only when strictly better).
fn mark_lcs(r: &[u32], c: &[u32], table: &mut Vec<u32>, hit: &mut [bool]) {
    let cols = c.len() + 1;
    table.clear();
    table.resize((r.len() + 1) * cols, 0);
    for i in 1..=r.len() {
        for j in 1..=c.len() {
            table[i * cols + j] = if r[i - 1] == c[j - 1] {
                table[(i - 1) * cols + j - 1] + 1
            } else {
                table[(i - 1) * cols + j].max(table[i * cols + j - 1])
            };
        }
    }
    let (mut i, mut j) = (r.len(), c.len());
    while i > 0 && j > 0 {
        if r[i - 1] == c[j - 1] {
            hit[i - 1] = true;
            i -= 1;
            j -= 1;
        } else if table[i * cols + j - 1] > table[(i - 1) * cols + j] {
            j -= 1;
        } else {
            i -= 1;
        }
    }
}

/// ROUGE-Lsum (`_summary_level_lcs`).
pub(crate) fn summary_lcs_score(refs: &[Vec<u32>], cands: &[Vec<u32>]) -> Score {
    let m: usize = refs.iter().map(Vec::len).sum();
    let n: usize = cands.iter().map(Vec::len).sum();
    if refs.is_empty() || cands.is_empty() || m == 0 || n == 0 {
        return Score::default();
    }
    let mut cnt_r: FxHashMap<u32, u32> = FxHashMap::default();
    let mut cnt_c: FxHashMap<u32, u32> = FxHashMap::default();
    for &t in refs.iter().flatten() {
        *cnt_r.entry(t).or_insert(0) += 1;
    }
    for &t in cands.iter().flatten() {
        *cnt_c.entry(t).or_insert(0) += 1;
    }
    let mut hits = 0usize;
    let mut table = Vec::new();
    for r in refs {
        let mut hit = vec![false; r.len()];
        for c in cands {
            mark_lcs(r, c, &mut table, &mut hit);
        }
        for (&t, _) in r.iter().zip(&hit).filter(|(_, &h)| h) {
            let (Some(cc), Some(cr)) = (cnt_c.get_mut(&t), cnt_r.get_mut(&t)) else {
                continue;
            };
            if *cc > 0 && *cr > 0 {
                hits += 1;
                *cc -= 1;
                *cr -= 1;
            }
        }
    }
    Score::new(hits as f64 / n as f64, hits as f64 / m as f64)
}
