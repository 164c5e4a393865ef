//! sacreBLEU 2.4.3's tokenizers: `13a` (its default, mteval-v13a), `intl`
//! (mteval-v14 international) and `none`.
//!
//! `13a` is hand-written rather than run through a regex engine: each of
//! sacreBLEU's four substitutions matches exactly two characters (or one), so
//! a left-to-right scan that consumes a matched pair reproduces `re.sub`'s
//! leftmost, non-overlapping matching exactly, at a fraction of the cost.

use crate::pytext::py_split;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// Which tokenizer BLEU applies before counting n-grams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum BleuTokenizer {
    /// `13a`: mteval-v13a, sacreBLEU's default.
    #[default]
    #[serde(rename = "13a")]
    T13a,
    /// `intl`: mteval-v14 international (Unicode punctuation and symbols).
    #[serde(rename = "intl")]
    Intl,
    /// `none`: the text as given (split on whitespace only).
    #[serde(rename = "none")]
    None,
}

impl BleuTokenizer {
    /// Tokenizes one line; the result's tokens are separated by single spaces.
    pub fn tokenize(self, line: &str) -> String {
        match self {
            BleuTokenizer::T13a => tokenize_13a(line),
            BleuTokenizer::Intl => tokenize_intl(line),
            BleuTokenizer::None => line.to_string(),
        }
    }

    /// sacreBLEU's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            BleuTokenizer::T13a => "13a",
            BleuTokenizer::Intl => "intl",
            BleuTokenizer::None => "none",
        }
    }
}

/// `[\{-\~\[-\` -\&\(-\+\:-\@\/]`: ASCII punctuation except `'`, `,`, `-`, `.`.
fn is_13a_punct(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// One pass of `re.sub(r'(A)(B)', repl, s)` for single-character classes `A`, `B`.
fn sub_pairs(
    s: &[u8],
    first: impl Fn(u8) -> bool,
    second: impl Fn(u8) -> bool,
    emit: impl Fn(&mut Vec<u8>, u8, u8),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + s.len() / 4);
    let mut i = 0;
    while i < s.len() {
        if i + 1 < s.len() && first(s[i]) && second(s[i + 1]) {
            emit(&mut out, s[i], s[i + 1]);
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// sacreBLEU's `Tokenizer13a()(line)`.
///
/// Works on UTF-8 bytes: every pattern's fixed characters are ASCII and
/// `[^0-9]` accepts any byte of a multi-byte character, so a match consumes
/// the same text as on code points, and spaces are only inserted next to
/// ASCII characters, i.e. at character boundaries.
pub fn tokenize_13a(line: &str) -> String {
    let mut line = std::borrow::Cow::Borrowed(line);
    if line.contains("<skipped>") {
        line = line.replace("<skipped>", "").into();
    }
    if line.contains('\n') {
        line = line.replace("-\n", "").replace('\n', " ").into();
    }
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .into();
    }
    // f' {line} ', then `([\{-\~\[-\` -\&\(-\+\:-\@\/])` -> ` \1 `.
    let mut s: Vec<u8> = Vec::with_capacity(line.len() + 16);
    s.push(b' ');
    for &c in line.as_bytes() {
        if c.is_ascii() && is_13a_punct(char::from(c)) {
            s.extend([b' ', c, b' ']);
        } else {
            s.push(c);
        }
    }
    s.push(b' ');
    let digit = |c: u8| c.is_ascii_digit();
    let dot_comma = |c: u8| c == b'.' || c == b',';
    // `([^0-9])([\.,])` -> `\1 \2 `
    let s = sub_pairs(
        &s,
        |c| !digit(c),
        dot_comma,
        |o, a, b| o.extend([a, b' ', b, b' ']),
    );
    // `([\.,])([^0-9])` -> ` \1 \2`
    let s = sub_pairs(
        &s,
        dot_comma,
        |c| !digit(c),
        |o, a, b| o.extend([b' ', a, b' ', b]),
    );
    // `([0-9])(-)` -> `\1 \2 `
    let s = sub_pairs(
        &s,
        digit,
        |c| c == b'-',
        |o, a, b| o.extend([a, b' ', b, b' ']),
    );
    match String::from_utf8(s) {
        Ok(s) => join_split(&s),
        // Unreachable (spaces go only at character boundaries); kept panic-free.
        Err(e) => join_split(&String::from_utf8_lossy(e.as_bytes())),
    }
}

/// `' '.join(line.split())`.
fn join_split(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, t) in py_split(s).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(t);
    }
    out
}

#[allow(clippy::expect_used)] // constant patterns, checked by the tests
static INTL: LazyLock<[(Regex, &str); 3]> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).expect("valid intl pattern");
    [
        (re(r"(\P{N})(\p{P})"), "${1} ${2} "),
        (re(r"(\p{P})(\P{N})"), " ${1} ${2}"),
        (re(r"(\p{S})"), " ${1} "),
    ]
});

/// sacreBLEU's `TokenizerV14International()(line)`. Unicode property tables
/// come from the `regex` crate and may differ from Python `regex`'s for
/// characters assigned in recent Unicode versions.
pub fn tokenize_intl(line: &str) -> String {
    let mut s = line.to_string();
    for (re, rep) in INTL.iter() {
        s = re.replace_all(&s, *rep).into_owned();
    }
    join_split(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Python (sacrebleu 2.4.3):
    // >>> from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a; t = Tokenizer13a()
    #[test]
    fn matches_13a() {
        let cases = [
            (
                "Hello, world. It's 3.14, 1,000 and 5-6!",
                "Hello , world . It's 3.14 , 1,000 and 5 - 6 !",
            ),
            (
                "a.., b.,c (x) [y] {z} \"q\" $5 &amp; &lt;",
                "a . . , b . , c ( x ) [ y ] { z } \" q \" $ 5 & <",
            ),
            ("e-mail re-send 2-3 <skipped> x", "e-mail re-send 2 - 3 x"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(tokenize_13a(input), want, "13a({input:?})");
        }
    }

    // >>> from sacrebleu.tokenizers.tokenizer_intl import TokenizerV14International
    #[test]
    fn matches_intl() {
        assert_eq!(
            tokenize_intl("Hello, world. 3.14 €5 «quote»"),
            "Hello , world . 3.14 € 5 « quote »"
        );
    }
}
