//! Sentence splitting as NLTK's `PunktSentenceTokenizer` does it at run time
//! (nltk 3.9.1), which AlignScore uses through `sent_tokenize`.
//!
//! Punkt decides at each `.`, `?` or `!` followed by punctuation or by
//! whitespace and a token whether a sentence ends there, from the token
//! before it (an abbreviation? an initial? a number? an ellipsis?) and the
//! case of the token after it; closing quotes and brackets after the break
//! stay with the sentence they close. This module is that algorithm with our
//! own parameters: a list of English abbreviations (`punkt_abbrevs.txt`) and
//! no learned collocations, sentence starters or orthographic statistics.
//! NLTK's pretrained English model (`punkt_tab`, not available offline here)
//! knows more abbreviations and a few collocations, so rare cases such as an
//! unlisted abbreviation before a capitalised word split differently. The
//! parity test runs NLTK's tokenizer with exactly these parameters
//! (`scripts/fixtures/alignscore_golden.py`).

use crate::pytext::is_py_space;
use std::collections::HashSet;
use std::sync::OnceLock;

/// The abbreviations (lower case, without the final period) that do not end a sentence.
pub const ABBREVIATIONS: &str = include_str!("punkt_abbrevs.txt");

fn abbreviations() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        ABBREVIATIONS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Splits `text` into sentences (slices of it, untrimmed inside, as NLTK returns them).
pub fn sentences(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut slices = Vec::new();
    let mut last_break = 0;
    for m in end_contexts(&chars) {
        let context: String = chars[m.word_start..m.after_end].iter().collect();
        if contains_sentbreak(&context) {
            slices.push((last_break, m.end));
            last_break = m.next_tok.unwrap_or(m.end);
        }
    }
    let trimmed_len = text.trim_end_matches(is_py_space).chars().count();
    slices.push((last_break, trimmed_len));
    realign(&chars, &slices)
        .into_iter()
        .map(|(a, b)| chars[a..b].iter().collect())
        .collect()
}

/// A potential sentence end: the end character at `end - 1`, the start of the
/// word before it, the end of the token after it, and where that token starts
/// when whitespace separates them.
struct EndContext {
    word_start: usize,
    end: usize,
    after_end: usize,
    next_tok: Option<usize>,
}

/// Characters that cannot be inside a word (`?` and `!` included, `.` not).
fn is_non_word(c: char) -> bool {
    matches!(
        c,
        ')' | '"' | ';' | '}' | ']' | '*' | ':' | '@' | '\'' | '(' | '{' | '[' | '?' | '!'
    )
}

fn is_ascii_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Every `[.?!]` followed by a non-word character, or by whitespace and a token,
/// keeping only the last of several in one word (NLTK's `_match_potential_end_contexts`).
fn end_contexts(chars: &[char]) -> Vec<EndContext> {
    // Every candidate, with `word_start` still unknown.
    let mut raw = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        if !matches!(c, '.' | '?' | '!') {
            continue;
        }
        let Some(&next) = chars.get(i + 1) else {
            continue;
        };
        let mut cand = EndContext {
            word_start: 0,
            end: i + 1,
            after_end: i + 2,
            next_tok: None,
        };
        if is_py_space(next) {
            let mut j = i + 1;
            while j < chars.len() && is_py_space(chars[j]) {
                j += 1;
            }
            if j == chars.len() {
                continue;
            }
            let mut k = j;
            while k < chars.len() && !is_py_space(chars[k]) {
                k += 1;
            }
            cand.after_end = k;
            cand.next_tok = Some(j);
        } else if !is_non_word(next) {
            continue;
        }
        raw.push(cand);
    }
    // The word before each candidate starts after the last ASCII whitespace since the
    // previous candidate (else where that one's word started); a candidate followed by
    // another in the same word is dropped.
    let mut out: Vec<EndContext> = Vec::new();
    let mut prev: Option<EndContext> = None;
    let mut prev_word = (0usize, 0usize);
    for mut cand in raw {
        let start = cand.end - 1;
        let before = &chars[prev_word.1..start];
        // NLTK treats a whitespace at index 0 of `before` like no whitespace at all.
        let last_ws = before.iter().rposition(|&c| is_ascii_ws(c)).unwrap_or(0);
        cand.word_start = if last_ws > 0 {
            last_ws + prev_word.1 + 1
        } else {
            prev_word.0
        };
        if let Some(p) = prev.take() {
            if prev_word.1 <= cand.word_start {
                out.push(p);
            }
        }
        prev_word = (cand.word_start, start);
        prev = Some(cand);
    }
    out.extend(prev);
    out
}

/// Moves closing quotes and brackets that open the next slice back to the previous one.
fn realign(chars: &[char], slices: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut shift = 0;
    for (i, &(start, stop)) in slices.iter().enumerate() {
        let s1 = (start + shift, stop);
        let Some(&(s2, _)) = slices.get(i + 1) else {
            if s1.0 < s1.1 {
                out.push(s1);
            }
            continue;
        };
        match boundary_realignment(&chars[s2..]) {
            Some((closers, whole)) => {
                out.push((s1.0, s2 + closers));
                shift = whole;
            }
            None => {
                shift = 0;
                if s1.0 < s1.1 {
                    out.push(s1);
                }
            }
        }
    }
    out
}

/// `["')\]}]+?(?:\s+|(?=--)|$)` (multi-line) at the start of `rest`: the length
/// of the closers (the match without its trailing whitespace) and of the match.
fn boundary_realignment(rest: &[char]) -> Option<(usize, usize)> {
    let is_closer = |c: char| matches!(c, '"' | '\'' | ')' | ']' | '}');
    let mut k = 0;
    while k < rest.len() && is_closer(rest[k]) {
        k += 1;
        // Lazy: the fewest closers after which the rest of the pattern matches.
        match rest.get(k) {
            None => return Some((k, k)),
            Some(&'\n') => {
                let mut e = k;
                while e < rest.len() && is_py_space(rest[e]) {
                    e += 1;
                }
                return Some((k, e));
            }
            Some(&c) if is_py_space(c) => {
                let mut e = k;
                while e < rest.len() && is_py_space(rest[e]) {
                    e += 1;
                }
                return Some((k, e));
            }
            Some(&'-') if rest.get(k + 1) == Some(&'-') => return Some((k, k)),
            _ => {}
        }
    }
    None
}

/// Punkt's word tokenizer: splits off punctuation other than periods.
fn word_tokens(s: &str) -> Vec<String> {
    let c: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut p = 0;
    while p < c.len() {
        if is_py_space(c[p]) {
            p += 1;
            continue;
        }
        let end = if let Some(n) = multi_char(&c, p) {
            p + n
        } else if !matches!(
            c[p],
            '(' | '"'
                | '`'
                | '{'
                | '['
                | ':'
                | ';'
                | '&'
                | '#'
                | '*'
                | '@'
                | ')'
                | '}'
                | ']'
                | '-'
                | ','
        ) {
            let mut q = p + 1;
            while !word_ends_at(&c, q) {
                q += 1;
            }
            q
        } else {
            p + 1
        };
        out.push(c[p..end].iter().collect());
        p = end;
    }
    out
}

fn word_ends_at(c: &[char], q: usize) -> bool {
    let Some(&ch) = c.get(q) else { return true };
    if is_py_space(ch) || is_non_word(ch) || multi_char(c, q).is_some() {
        return true;
    }
    ch == ','
        && match c.get(q + 1) {
            None => true,
            Some(&n) => is_py_space(n) || is_non_word(n) || multi_char(c, q + 1).is_some(),
        }
}

/// `-{2,}|\.{2,}|(?:\.\s){2,}\.` at `p`: the match length.
fn multi_char(c: &[char], p: usize) -> Option<usize> {
    let run = |ch: char| c[p..].iter().take_while(|&&x| x == ch).count();
    if run('-') >= 2 {
        return Some(run('-'));
    }
    if run('.') >= 2 {
        return Some(run('.'));
    }
    // ". . ." : k >= 2 pairs of (period, whitespace), then a period; greedy with backtracking.
    let mut pairs = 0;
    while c.get(p + 2 * pairs) == Some(&'.')
        && c.get(p + 2 * pairs + 1).is_some_and(|&x| is_py_space(x))
    {
        pairs += 1;
    }
    (2..=pairs)
        .rev()
        .find(|&k| c.get(p + 2 * k) == Some(&'.'))
        .map(|k| 2 * k + 1)
}

/// What the two annotation passes need to know about a token.
struct Token {
    text: String,
    sentbreak: bool,
    abbr: bool,
    ellipsis: bool,
}

impl Token {
    fn period_final(&self) -> bool {
        self.text.ends_with('.')
    }
    fn first(&self) -> char {
        self.text.chars().next().unwrap_or(' ')
    }
    fn is_initial(&self) -> bool {
        let mut it = self.text.chars();
        matches!((it.next(), it.next(), it.next()), (Some(a), Some('.'), None) if is_letter(a))
    }
    fn is_number(&self) -> bool {
        is_numeric_token(&self.text.to_lowercase())
    }
}

fn is_letter(c: char) -> bool {
    (c.is_alphanumeric() && !c.is_numeric()) || c == '_'
}

/// `^-?[\.,]?\d[\d,\.-]*\.?$`
fn is_numeric_token(t: &str) -> bool {
    let mut s = t.strip_prefix('-').unwrap_or(t);
    s = s
        .strip_prefix('.')
        .or_else(|| s.strip_prefix(','))
        .unwrap_or(s);
    let mut chars = s.chars();
    if !chars.next().is_some_and(char::is_numeric) {
        return false;
    }
    chars.all(|c| c.is_numeric() || matches!(c, ',' | '.' | '-'))
}

/// Orthographic evidence that `tok` starts a sentence, without learned statistics:
/// `Some(false)` for punctuation and lower case, `None` ("unknown") otherwise.
fn ortho_says_starter(tok: &Token) -> Option<bool> {
    if ";:,.!?".contains(tok.text.as_str()) || tok.first().is_lowercase() {
        Some(false)
    } else {
        None
    }
}

/// Whether a sentence break is found before the last token of `context`.
fn contains_sentbreak(context: &str) -> bool {
    let abbrevs = abbreviations();
    let mut toks: Vec<Token> = word_tokens(context)
        .into_iter()
        .map(|text| Token {
            text,
            sentbreak: false,
            abbr: false,
            ellipsis: false,
        })
        .collect();
    // First pass: by the token alone.
    for t in &mut toks {
        if matches!(t.text.as_str(), "." | "?" | "!") {
            t.sentbreak = true;
        } else if t.text.len() >= 2 && t.text.chars().all(|c| c == '.') {
            t.ellipsis = true;
        } else if t.period_final() && !t.text.ends_with("..") {
            let stem = t.text[..t.text.len() - 1].to_lowercase();
            let last = stem.rsplit('-').next().unwrap_or_default();
            if abbrevs.contains(stem.as_str()) || abbrevs.contains(last) {
                t.abbr = true;
            } else {
                t.sentbreak = true;
            }
        }
    }
    // Second pass: initials and numbers before a lower-case word or punctuation
    // (or, for initials, a capitalised one) are not sentence ends.
    for i in 0..toks.len().saturating_sub(1) {
        let (a, b) = (&toks[i], &toks[i + 1]);
        if !a.period_final() {
            continue;
        }
        let initial = a.is_initial();
        if initial || a.is_number() {
            let starter = ortho_says_starter(b);
            let keep = starter == Some(false)
                || (starter.is_none() && initial && b.first().is_uppercase());
            if keep {
                toks[i].sentbreak = false;
                toks[i].abbr = true;
            }
        }
    }
    toks.iter()
        .take(toks.len().saturating_sub(1))
        .any(|t| t.sentbreak)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_periods_but_not_abbreviations_initials_or_lowercase_numbers() {
        let s =
            sentences("Dr. Smith went to Washington. He arrived at 3 p.m. on Jan. 5. It was cold!");
        assert_eq!(
            s,
            [
                "Dr. Smith went to Washington.",
                "He arrived at 3 p.m. on Jan. 5.",
                "It was cold!"
            ]
        );
        assert_eq!(
            sentences("J. K. Rowling wrote it. Yes."),
            ["J. K. Rowling wrote it.", "Yes."]
        );
    }

    #[test]
    fn closing_quotes_stay_with_their_sentence() {
        assert_eq!(
            sentences("He said \"stop.\" Then he left.  "),
            ["He said \"stop.\"", "Then he left."]
        );
        assert_eq!(sentences("(Sent1.) Sent2."), ["(Sent1.)", "Sent2."]);
    }

    #[test]
    fn repeated_marks_end_once_and_empty_text_has_no_sentence() {
        assert_eq!(
            sentences("Very bad acting!!! I promise."),
            ["Very bad acting!!!", "I promise."]
        );
        assert!(sentences("").is_empty());
        assert!(sentences("   ").is_empty());
        assert_eq!(sentences("no period at all"), ["no period at all"]);
    }
}
