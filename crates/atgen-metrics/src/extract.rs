//! Task answer extraction: the final number of a GSM8K solution and the option
//! letter of a RACE answer, so exact match can compare answers, not wording.
//!
//! * GSM8K: the first number after the last `####`; without one, the last
//!   number anywhere in the text. Thousands separators (`1,000`), a currency
//!   sign (`$5`, `-$5`, `$-5`), trailing units or words (`18 dollars`,
//!   `18.`), decimals (`5.00`) and negatives are handled; a `-` directly after
//!   a letter or digit is a hyphen (`5-6`), not a sign. Numbers compare with a
//!   relative tolerance of 1e-9, so `5.00` equals `5`.
//! * RACE: a letter A-D from `B`, `(c)`, `Answer: B`, `The answer is D.`,
//!   `B) Paris`, `option C`, or, last, a standalone capital `B`, `C`, `D`
//!   (or `A` when it is not the article of a following lowercase word).
//!
//! ```
//! use atgen_metrics::extract::{Answer, Extractor};
//! assert_eq!(Extractor::Gsm8k.extract("so 3 + 4 = 7\n#### 1,000"), Some(Answer::Number(1000.0)));
//! assert_eq!(Extractor::Race.extract("The answer is (c)."), Some(Answer::Letter('C')));
//! ```

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// Which task-specific extraction to apply before comparing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Extractor {
    /// Compare the texts themselves.
    #[default]
    None,
    /// Compare the final numbers of GSM8K solutions.
    Gsm8k,
    /// Compare RACE option letters.
    Race,
}

/// An extracted answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    /// A number (GSM8K).
    Number(f64),
    /// An option letter, upper case (RACE).
    Letter(char),
}

impl Answer {
    /// Whether two answers agree (numbers within a relative 1e-9).
    pub fn matches(&self, other: &Answer) -> bool {
        match (self, other) {
            (Answer::Number(a), Answer::Number(b)) => {
                (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
            }
            (Answer::Letter(a), Answer::Letter(b)) => a == b,
            _ => false,
        }
    }
}

impl Extractor {
    /// The answer in `text`, or `None` (always `None` for [`Extractor::None`]).
    pub fn extract(self, text: &str) -> Option<Answer> {
        match self {
            Extractor::None => None,
            Extractor::Gsm8k => gsm8k_number(text).map(Answer::Number),
            Extractor::Race => race_letter(text).map(Answer::Letter),
        }
    }
}

#[allow(clippy::expect_used)] // constant patterns, exercised by the tests
fn re(p: &str) -> Regex {
    Regex::new(p).expect("valid extraction pattern")
}

static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| re(r"(-)?\s?\$?\s?(-)?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"));

/// Every number of `text`, in order.
fn numbers(text: &str) -> Vec<f64> {
    let mut out = Vec::new();
    for cap in NUMBER.captures_iter(text) {
        let Some(whole) = cap.get(0) else { continue };
        let Some(digits) = cap.get(3) else { continue };
        let sign_ok = |m: regex::Match<'_>| {
            // A `-` right after a letter or digit is a hyphen ("5-6", "x-1").
            !text[..m.start()]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric)
        };
        let negative = cap
            .get(1)
            .is_some_and(|m| sign_ok(m) && m.start() == whole.start())
            || cap.get(2).is_some_and(sign_ok);
        let Ok(v) = digits.as_str().replace(',', "").parse::<f64>() else {
            continue;
        };
        out.push(if negative { -v } else { v });
    }
    out
}

/// The GSM8K final answer of `text`.
pub fn gsm8k_number(text: &str) -> Option<f64> {
    if let Some(pos) = text.rfind("####") {
        if let Some(&v) = numbers(&text[pos + 4..]).first() {
            return Some(v);
        }
    }
    numbers(text).last().copied()
}

static RACE_RULES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    vec![
        // The whole answer is a letter, maybe wrapped: "B", "(c)", "D.", "[A]".
        re(r"(?i)^\s*[\(\[]?\s*([a-d])\s*[\)\]]?\s*[\.:]?\s*$"),
        // "Answer: B", "the answer is (C)", "Correct answer would be option d".
        re(r"(?i)answer\s*(?:is|would be|will be|:)?\s*:?\s*(?:option\s*)?[\(\[]?([a-d])\b"),
        // "(c)" or "[C]" anywhere.
        re(r"(?i)[\(\[]\s*([a-d])\s*[\)\]]"),
        // "B) Paris", "C. Rome", "d: ..." at the start.
        re(r"(?i)^\s*([a-d])\s*[\)\.:]"),
        // "option C", "choice b".
        re(r"(?i)\b(?:option|choice)\s+([a-d])\b"),
    ]
});

static CAPITAL: LazyLock<Regex> = LazyLock::new(|| re(r"\b([A-D])\b(\s+[a-z])?"));

/// The RACE option letter (`'A'..='D'`) of `text`.
pub fn race_letter(text: &str) -> Option<char> {
    let letter = |s: &str| s.chars().next().map(|c| c.to_ascii_uppercase());
    for rule in RACE_RULES.iter() {
        if let Some(m) = rule.captures(text).and_then(|c| c.get(1)) {
            return letter(m.as_str());
        }
    }
    for cap in CAPITAL.captures_iter(text) {
        let Some(m) = cap.get(1) else { continue };
        // "A cat ..." is an article, not option A.
        if m.as_str() == "A" && cap.get(2).is_some() {
            continue;
        }
        return letter(m.as_str());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm8k_answers() {
        let cases: [(&str, Option<f64>); 14] = [
            (
                "Natalia sold 48/2 = <<48/2=24>>24 clips.\n#### 72",
                Some(72.0),
            ),
            ("#### 1,000", Some(1000.0)),
            ("The answer is $1,234.50 in total.", Some(1234.5)),
            ("She has -5 apples", Some(-5.0)),
            ("He owes -$20", Some(-20.0)),
            ("He owes $-20", Some(-20.0)),
            ("between 5-6 hours", Some(6.0)),
            ("So the total is 18.", Some(18.0)),
            ("It costs 5.00 dollars", Some(5.0)),
            ("first 3 then 4 then 12 eggs", Some(12.0)),
            ("#### 42 eggs (we had 7 before)", Some(42.0)),
            ("#### none\nbut earlier 9", Some(9.0)),
            ("no number here", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(gsm8k_number(text), want, "{text:?}");
        }
        assert!(Answer::Number(5.0).matches(&Answer::Number(5.000_000_000_001)));
        assert!(!Answer::Number(5.0).matches(&Answer::Number(5.01)));
    }

    #[test]
    fn race_answers() {
        let cases = [
            ("B", Some('B')),
            ("(c)", Some('C')),
            ("Answer: B", Some('B')),
            ("The answer is D.", Some('D')),
            ("the correct answer is (a) because", Some('A')),
            ("B) Paris", Some('B')),
            ("I think option c is right", Some('C')),
            ("A cat sat. So C", Some('C')),
            ("d.", Some('D')),
            ("none of them", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(race_letter(text), want, "{text:?}");
        }
    }

    #[test]
    fn none_extracts_nothing() {
        assert_eq!(Extractor::None.extract("#### 5"), None);
    }
}
