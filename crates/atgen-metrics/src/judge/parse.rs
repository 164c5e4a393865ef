//! Reading a score and a reason out of a judge's reply, without inventing one.
//!
//! In order: a JSON object with a `score` (number or numeric string) and a
//! `reason` (or `explanation`, `rationale`, `justification`); then a
//! `Score: 4` / `Rating: 4/5` line with an optional `Reason:` line; then a
//! reply that is only a number. A score outside the range, or a reply with
//! none of these, is a parse failure with the reason why.

use std::sync::OnceLock;

/// A parsed verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub score: f64,
    pub reason: Option<String>,
    /// Byte range of the score's digits in the reply, when they could be located.
    pub span: Option<std::ops::Range<usize>>,
}

/// Parses `reply`; `Err` says why no score could be read.
pub fn parse_verdict(reply: &str, min: u32, max: u32) -> Result<Parsed, String> {
    let found = from_json(reply).or_else(|| from_lines(reply)).or_else(|| {
        let bare = reply.trim().trim_end_matches('.');
        let start = reply.len() - reply.trim_start().len();
        bare.parse::<f64>().ok().map(|score| Parsed {
            score,
            reason: None,
            span: Some(start..start + bare.len()),
        })
    });
    match found {
        None => Err("no score found in the reply".into()),
        Some(p) if !p.score.is_finite() || p.score < min as f64 || p.score > max as f64 => {
            Err(format!("score {} is outside {min}..={max}", p.score))
        }
        Some(p) => Ok(p),
    }
}

fn from_json(reply: &str) -> Option<Parsed> {
    // Each `{` in turn, against each later `}` from the last: the first that parses with a score.
    let closes: Vec<usize> = reply.match_indices('}').map(|(i, _)| i).collect();
    for (open, _) in reply.match_indices('{') {
        for &close in closes.iter().rev().filter(|&&c| c > open) {
            let Ok(serde_json::Value::Object(m)) =
                serde_json::from_str::<serde_json::Value>(&reply[open..=close])
            else {
                continue;
            };
            let score = m.iter().find_map(|(k, v)| {
                matches!(k.to_lowercase().as_str(), "score" | "rating").then(|| match v {
                    serde_json::Value::Number(n) => n.as_f64(),
                    serde_json::Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                })?
            });
            let Some(score) = score else { continue };
            let reason = m.iter().find_map(|(k, v)| {
                matches!(
                    k.to_lowercase().as_str(),
                    "reason" | "reasoning" | "explanation" | "rationale" | "justification"
                )
                .then(|| v.as_str().map(|s| s.trim().to_string()))?
            });
            let span =
                json_score_span(&reply[open..=close], score).map(|r| open + r.start..open + r.end);
            return Some(Parsed {
                score,
                reason,
                span,
            });
        }
    }
    None
}

/// Where the first `"score"`/`"rating"` value of a JSON object's text is, when it reads `score`.
fn json_score_span(object: &str, score: f64) -> Option<std::ops::Range<usize>> {
    static VALUE: OnceLock<regex::Regex> = OnceLock::new();
    let re = VALUE.get_or_init(|| {
        regex::Regex::new(r#"(?i)"(?:score|rating)"\s*:\s*"?\s*(-?\d+(?:\.\d+)?)"#)
            .unwrap_or_else(|e| unreachable!("valid regex: {e}"))
    });
    let m = re.captures(object)?.get(1)?;
    (m.as_str().parse::<f64>().ok()? == score).then(|| m.range())
}

fn from_lines(reply: &str) -> Option<Parsed> {
    static SCORE: OnceLock<regex::Regex> = OnceLock::new();
    static REASON: OnceLock<regex::Regex> = OnceLock::new();
    let score_re = SCORE.get_or_init(|| {
        regex::Regex::new(
            r"(?im)^\W*(?:overall\s+)?(?:score|rating)\W*?[:=]?\s*(-?\d+(?:\.\d+)?)(?:\s*/\s*\d+)?",
        )
        .unwrap_or_else(|e| unreachable!("valid regex: {e}"))
    });
    let reason_re = REASON.get_or_init(|| {
        regex::Regex::new(
            r"(?im)^\W*(?:reason|reasoning|explanation|rationale|justification)\W*?[:=]\s*(.+)$",
        )
        .unwrap_or_else(|e| unreachable!("valid regex: {e}"))
    });
    let digits = score_re.captures(reply)?.get(1)?;
    let score = digits.as_str().parse().ok()?;
    let reason = reason_re
        .captures(reply)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().trim().to_string());
    Some(Parsed {
        score,
        reason,
        span: Some(digits.range()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(reply: &str) -> (f64, Option<String>) {
        let p = parse_verdict(reply, 1, 5).unwrap_or_else(|e| panic!("{reply:?}: {e}"));
        (p.score, p.reason)
    }

    #[test]
    fn reads_json_with_prose_and_fences_around_it() {
        assert_eq!(
            ok(r#"{"score": 4, "reason": "Mostly supported."}"#),
            (4.0, Some("Mostly supported.".into()))
        );
        assert_eq!(
            ok("Sure! ```json\n{\"Score\": \"3\", \"explanation\": \"Half of it.\"}\n``` Done."),
            (3.0, Some("Half of it.".into()))
        );
        assert_eq!(ok(r#"{"rating": 5}"#), (5.0, None));
    }

    #[test]
    fn reads_score_lines_and_bare_numbers() {
        assert_eq!(
            ok("Score: 2/5\nReason: invents a date."),
            (2.0, Some("invents a date.".into()))
        );
        assert_eq!(ok("**Rating**: 4\n"), (4.0, None));
        assert_eq!(ok(" 3. "), (3.0, None));
    }

    #[test]
    fn locates_the_score_digits_in_each_format() {
        for (reply, at) in [
            (r#"ok {"reason": "x", "score": 4}"#, 28),
            (r#"{"Score": "3"}"#, 11),
            ("Reason first\nScore: 2/5", 20),
            ("  5.", 2),
        ] {
            let p = parse_verdict(reply, 1, 5).expect("parses");
            let span = p.span.unwrap_or_else(|| panic!("{reply:?}: no span"));
            assert_eq!(span.start, at, "{reply:?}");
            assert_eq!(
                reply[span].parse::<f64>().expect("a number"),
                p.score,
                "{reply:?}"
            );
        }
    }

    #[test]
    fn malformed_or_out_of_range_replies_are_failures_not_scores() {
        for (reply, why) in [
            ("I cannot grade this.", "no score"),
            ("{\"score\": 9, \"reason\": \"x\"}", "outside 1..=5"),
            ("Score: 0", "outside"),
            ("{\"score\": \"high\"}", "no score"),
            ("", "no score"),
        ] {
            let e = parse_verdict(reply, 1, 5).expect_err(reply);
            assert!(e.contains(why), "{reply:?}: {e}");
        }
    }
}
