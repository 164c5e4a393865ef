//! Helpers shared by the strategies: ranking, access to model outputs, and
//! the text normalisation the frequency-based strategies use.

use crate::embeddings::Matrix;
use crate::error::{Result, StrategyError};
use atgen_core::{Example, Generation, ModelOutputs, ScoredId, SelectionContext};
use std::cmp::Ordering;
use std::collections::HashSet;

/// Indices of the `k` largest scores, best first. Ties go to the lower index
/// (numpy's `argsort(-s)` with a stable sort); NaN ranks below everything.
/// `k` larger than the pool returns the whole pool.
pub fn top_k(scores: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| desc(scores[a], scores[b]).then(a.cmp(&b)));
    idx.truncate(k.min(scores.len()));
    idx
}

/// Descending order with NaN last.
pub(crate) fn desc(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

/// `ScoredId`s of `picked` (indices into `pool`) with their scores.
pub(crate) fn scored(pool: &[Example], picked: &[usize], scores: &[f64]) -> Vec<ScoredId> {
    picked
        .iter()
        .map(|&i| ScoredId {
            id: pool[i].id.clone(),
            score: scores[i],
        })
        .collect()
}

/// Ranks the pool by `scores` and returns the top `k` as `ScoredId`s.
pub(crate) fn select_top(pool: &[Example], scores: &[f64], k: usize) -> Vec<ScoredId> {
    scored(pool, &top_k(scores, k), scores)
}

/// Fails when two unlabeled examples share an id.
pub(crate) fn check_unique_ids(pool: &[Example]) -> Result<()> {
    let mut seen = HashSet::with_capacity(pool.len());
    for ex in pool {
        if !seen.insert(ex.id.as_str()) {
            return Err(StrategyError::DuplicateId(ex.id.clone()));
        }
    }
    Ok(())
}

/// The model outputs, or [`StrategyError::MissingOutputs`] naming `what`
/// `strategy` needed from them.
fn outputs<'c, 'a>(
    ctx: &'c mut SelectionContext<'a>,
    strategy: &'static str,
    what: &'static str,
) -> Result<&'c mut (dyn ModelOutputs + 'a)> {
    ctx.outputs
        .as_deref_mut()
        .ok_or(StrategyError::MissingOutputs { strategy, what })
}

/// `num_samples` generations per unlabeled example, checked for length.
pub(crate) fn generations(
    ctx: &mut SelectionContext<'_>,
    strategy: &'static str,
    examples: &[Example],
    num_samples: usize,
) -> Result<Vec<Vec<Generation>>> {
    let outputs = outputs(ctx, strategy, "generations")?;
    let gens = outputs.generations(examples, num_samples)?;
    if gens.len() != examples.len() {
        return Err(StrategyError::LengthMismatch {
            what: "ModelOutputs::generations",
            expected: examples.len(),
            got: gens.len(),
        });
    }
    Ok(gens)
}

/// The first (greedy) generation of each unlabeled example, after checking
/// the pool's ids.
pub(crate) fn greedy_generations(
    ctx: &mut SelectionContext<'_>,
    strategy: &'static str,
) -> Result<Vec<Generation>> {
    let pool = ctx.unlabeled;
    check_unique_ids(pool)?;
    let gens = generations(ctx, strategy, pool, 1)?;
    gens.into_iter()
        .map(|mut g| {
            if g.is_empty() {
                Err(StrategyError::LengthMismatch {
                    what: "ModelOutputs::generations (samples per example)",
                    expected: 1,
                    got: 0,
                })
            } else {
                Ok(g.swap_remove(0))
            }
        })
        .collect()
}

/// Embeddings of `examples` as a checked matrix (same dimension, finite).
/// `dim` pins the expected dimension (to match another matrix).
pub(crate) fn embeddings(
    ctx: &mut SelectionContext<'_>,
    strategy: &'static str,
    examples: &[Example],
    dim: Option<usize>,
) -> Result<Matrix> {
    let outputs = outputs(ctx, strategy, "embeddings")?;
    if examples.is_empty() {
        return Ok(Matrix::empty(dim.unwrap_or(0)));
    }
    let rows = outputs.embeddings(examples)?;
    if rows.len() != examples.len() {
        return Err(StrategyError::LengthMismatch {
            what: "ModelOutputs::embeddings",
            expected: examples.len(),
            got: rows.len(),
        });
    }
    Matrix::from_rows(&rows, dim)
}

/// Embeddings of the unlabeled pool and of the labeled examples, the latter
/// pinned to the pool's dimension.
pub(crate) fn pool_and_labeled_embeddings(
    ctx: &mut SelectionContext<'_>,
    strategy: &'static str,
) -> Result<(Matrix, Matrix)> {
    let (pool, lab) = (ctx.unlabeled, ctx.labeled);
    let u = embeddings(ctx, strategy, pool, None)?;
    let l = embeddings(ctx, strategy, lab, Some(u.dim()))?;
    Ok((u, l))
}

/// Checks the pool's ids; `false` when there is nothing to select (an empty
/// pool or `k == 0`).
pub(crate) fn has_work(pool: &[Example], k: usize) -> Result<bool> {
    check_unique_ids(pool)?;
    Ok(!pool.is_empty() && k > 0)
}

/// The start of every embedding-based selection: unique ids, nothing to do
/// for an empty pool or `k == 0` (`None`), else the unlabeled and labeled
/// embeddings ([`pool_and_labeled_embeddings`]).
pub(crate) fn query_embeddings(
    ctx: &mut SelectionContext<'_>,
    strategy: &'static str,
    k: usize,
) -> Result<Option<(Matrix, Matrix)>> {
    if !has_work(ctx.unlabeled, k)? {
        return Ok(None);
    }
    pool_and_labeled_embeddings(ctx, strategy).map(Some)
}

/// `ScoredId`s of `(index into pool, score)` pairs, in the given order.
pub(crate) fn ranked_ids(pool: &[Example], ranked: Vec<(usize, f64)>) -> Vec<ScoredId> {
    ranked
        .into_iter()
        .map(|(i, score)| ScoredId {
            id: pool[i].id.clone(),
            score,
        })
        .collect()
}

/// Scores every unlabeled example by its greedy generation and returns the
/// top `k`.
pub(crate) fn select_by_greedy_score(
    ctx: &mut SelectionContext<'_>,
    strategy: &'static str,
    k: usize,
    score: impl Fn(&Generation) -> f64,
) -> Result<Vec<ScoredId>> {
    let gens = greedy_generations(ctx, strategy)?;
    let scores: Vec<f64> = gens.iter().map(score).collect();
    Ok(select_top(ctx.unlabeled, &scores, k))
}

/// The texts of `num_samples` sampled generations per example.
pub(crate) fn sample_texts(
    ctx: &mut SelectionContext<'_>,
    strategy: &'static str,
    examples: &[Example],
    num_samples: usize,
) -> Result<Vec<Vec<String>>> {
    let gens = generations(ctx, strategy, examples, num_samples)?;
    Ok(gens
        .into_iter()
        .map(|g| g.into_iter().map(|g| g.text).collect())
        .collect())
}

/// Lower-cased `\w+` words (Unicode alphanumerics and `_`), the tokenisation
/// ATGen's TE-delfy applies before stemming.
pub fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_breaks_ties_by_index_and_sinks_nan() {
        let s = [1.0, 3.0, f64::NAN, 3.0, 2.0];
        assert_eq!(top_k(&s, 3), vec![1, 3, 4]);
        assert_eq!(top_k(&s, 10), vec![1, 3, 4, 0, 2]);
        assert!(top_k(&[], 3).is_empty());
    }

    #[test]
    fn words_lowercase_and_split_on_non_word() {
        assert_eq!(
            words("Hello, World! snake_case 42x"),
            vec!["hello", "world", "snake_case", "42x"]
        );
        assert!(words(" .,; ").is_empty());
    }

    #[test]
    fn duplicate_ids_are_an_error() {
        let pool = vec![Example::new("a", "x"), Example::new("a", "y")];
        assert!(
            matches!(check_unique_ids(&pool), Err(StrategyError::DuplicateId(id)) if id == "a")
        );
    }
}
