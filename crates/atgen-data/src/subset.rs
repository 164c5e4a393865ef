//! Seeded subsets and held-out splits (ChaCha8, so results match across platforms).

use atgen_config::Size;
use atgen_core::Example;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `k` distinct indices of `0..n`, seeded, returned in increasing order.
pub fn sample_indices(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx = rand::seq::index::sample(&mut rng, n, k.min(n)).into_vec();
    idx.sort_unstable();
    idx
}

/// Splits `items` into (not chosen, chosen), both in their original order.
pub fn split_off<T>(items: Vec<T>, chosen: &[usize]) -> (Vec<T>, Vec<T>) {
    let mut keep = Vec::with_capacity(items.len() - chosen.len().min(items.len()));
    let mut taken = Vec::with_capacity(chosen.len());
    let mut next = chosen.iter().peekable();
    for (i, item) in items.into_iter().enumerate() {
        if next.peek() == Some(&&i) {
            next.next();
            taken.push(item);
        } else {
            keep.push(item);
        }
    }
    (keep, taken)
}

/// A seeded subset of `size` (all when `None`), in the original order.
pub fn subset(examples: Vec<Example>, size: Option<Size>, seed: u64) -> Vec<Example> {
    match size {
        None => examples,
        Some(s) => {
            let k = s.resolve(examples.len());
            let idx = sample_indices(examples.len(), k, seed);
            split_off(examples, &idx).1
        }
    }
}

/// Holds out `fraction` of `examples` (rounded up, at least one when there are two or more):
/// returns (rest, held out).
pub fn hold_out(examples: Vec<Example>, fraction: f64, seed: u64) -> (Vec<Example>, Vec<Example>) {
    let n = examples.len();
    let k = if n < 2 {
        0
    } else {
        ((fraction * n as f64).ceil() as usize).clamp(1, n - 1)
    };
    let idx = sample_indices(n, k, seed);
    split_off(examples, &idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exs(n: usize) -> Vec<Example> {
        (0..n).map(|i| Example::new(i.to_string(), "t")).collect()
    }

    #[test]
    fn seeded_sorted_and_stable() {
        let a = sample_indices(100, 10, 1);
        assert_eq!(a, sample_indices(100, 10, 1));
        assert_ne!(a, sample_indices(100, 10, 2));
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sample_indices(3, 10, 0), [0, 1, 2]);
    }

    #[test]
    fn subsets_and_hold_out() {
        assert_eq!(subset(exs(100), Some(Size::Fraction(0.05)), 3).len(), 5);
        assert_eq!(subset(exs(100), Some(Size::Count(7)), 3).len(), 7);
        assert_eq!(subset(exs(10), None, 3).len(), 10);
        let (rest, test) = hold_out(exs(20), 0.1, 9);
        assert_eq!((rest.len(), test.len()), (18, 2));
        assert!(test.iter().all(|t| !rest.iter().any(|r| r.id == t.id)));
        assert_eq!(hold_out(exs(1), 0.5, 0).1.len(), 0);
    }
}
