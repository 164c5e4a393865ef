//! G-Eval's probability-weighted score (Liu et al. 2023): instead of the score the judge
//! wrote, `sum_s p(s) * s` over the allowed scores, with `p` the judge's own probabilities
//! for the token where it wrote its score.
//!
//! The score token is the reply token that holds the first digit of the stated score (as
//! [`super::parse`] found it). Each of its top alternatives that starts with the same text
//! before the digit (`" "` of `" 4"`, say) and then holds a whole number in the range counts
//! for that number; the token itself counts even when the server left it out of its top list.
//! Probabilities are renormalised over those, so the distribution sums to 1. A stated score
//! that does not fit in its token (`10` written as `1` + `0`) cannot be weighted this way and
//! is an error, as is a reply whose tokens do not spell it.

use atgen_labellers::TokenLogprob;
use std::collections::BTreeMap;

/// A weighted verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Weighted {
    /// `sum_s p(s) * s`.
    pub score: f64,
    /// `p(s)` per score, renormalised over the valid scores among the candidates.
    pub distribution: BTreeMap<u32, f64>,
    /// Probability the judge gave to valid scores before renormalising.
    pub mass: f64,
}

/// Weights the score whose first digit is at byte `digit_at` of `reply` (the reply after
/// reasoning was stripped), given the raw reply's `tokens`.
pub fn weighted_score(
    tokens: &[TokenLogprob],
    reply: &str,
    digit_at: usize,
    stated: f64,
    min: u32,
    max: u32,
) -> Result<Weighted, String> {
    let raw: String = tokens.iter().map(|t| t.token.as_str()).collect();
    let base = raw
        .rfind(reply)
        .ok_or("the reply's log-prob tokens do not spell its text")?;
    let pos = base + digit_at;
    let mut start = 0;
    let token = tokens
        .iter()
        .find(|t| {
            let end = start + t.token.len();
            let hit = (start..end).contains(&pos);
            if !hit {
                start = end;
            }
            hit
        })
        .ok_or("no token holds the score")?;
    let prefix = &token.token[..pos - start];
    let value = |candidate: &str| -> Option<u32> {
        let rest = candidate.strip_prefix(prefix)?.trim();
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        rest.parse().ok().filter(|s| (min..=max).contains(s))
    };
    if value(&token.token).map(f64::from) != Some(stated) {
        return Err(format!(
            "the score {stated} is not whole in its token {:?}; probability weighting needs it in one token",
            token.token
        ));
    }
    let mut probs: BTreeMap<u32, f64> = BTreeMap::new();
    let mut listed_self = false;
    for (cand, lp) in &token.top {
        listed_self |= *cand == token.token;
        if let Some(s) = value(cand) {
            *probs.entry(s).or_default() += lp.exp();
        }
    }
    if !listed_self {
        if let Some(s) = value(&token.token) {
            *probs.entry(s).or_default() += token.logprob.exp();
        }
    }
    let mass: f64 = probs.values().sum();
    if !(mass > 0.0 && mass.is_finite()) {
        return Err("the valid scores have no probability".into());
    }
    let distribution: BTreeMap<u32, f64> = probs.into_iter().map(|(s, p)| (s, p / mass)).collect();
    let score = distribution.iter().map(|(s, p)| f64::from(*s) * p).sum();
    Ok(Weighted {
        score,
        distribution,
        mass,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(token: &str, logprob: f64, top: &[(&str, f64)]) -> TokenLogprob {
        TokenLogprob {
            token: token.into(),
            logprob,
            top: top.iter().map(|(t, l)| (t.to_string(), *l)).collect(),
        }
    }

    #[test]
    fn weights_valid_alternatives_renormalised_and_skips_others() {
        // "Score: 4" with p(" 4") = 0.5, p(" 3") = 0.25, p(" 9") (out of range) and p(" x").
        let ln = f64::ln;
        let tokens = [
            tok("Score", 0.0, &[]),
            tok(":", 0.0, &[]),
            tok(
                " 4",
                ln(0.5),
                &[
                    (" 4", ln(0.5)),
                    (" 3", ln(0.25)),
                    (" 9", ln(0.1)),
                    (" x", ln(0.1)),
                ],
            ),
        ];
        let w = weighted_score(&tokens, "Score: 4", 7, 4.0, 1, 5).expect("a value");
        assert!((w.score - (4.0 * 2.0 / 3.0 + 3.0 / 3.0)).abs() < 1e-12);
        assert!((w.mass - 0.75).abs() < 1e-12);
        assert_eq!(w.distribution.len(), 2);
    }

    #[test]
    fn the_chosen_token_counts_when_the_server_did_not_list_it() {
        let tokens = [tok("2", (0.2f64).ln(), &[("5", (0.6f64).ln())])];
        let w = weighted_score(&tokens, "2", 0, 2.0, 1, 5).expect("a value");
        assert!((w.score - (5.0 * 0.75 + 2.0 * 0.25)).abs() < 1e-12);
    }

    #[test]
    fn a_score_split_over_tokens_or_tokens_not_spelling_the_reply_are_errors() {
        let tokens = [tok("1", 0.0, &[]), tok("0", 0.0, &[])];
        let e = weighted_score(&tokens, "10", 0, 10.0, 1, 10).expect_err("an error");
        assert!(e.contains("one token"), "{e}");
        let e = weighted_score(&tokens, "7", 0, 7.0, 1, 10).expect_err("an error");
        assert!(e.contains("do not spell"), "{e}");
    }
}
