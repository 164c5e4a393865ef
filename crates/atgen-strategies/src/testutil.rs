//! Test helpers: a selection context over hand-made outputs.

pub use crate::testing::{gen, pool, FakeOutputs};
use atgen_core::{Example, SelectionContext};

/// A context with no labeled data, seed 0, iteration 0.
pub fn ctx<'a>(
    unlabeled: &'a [Example],
    outputs: Option<&'a mut FakeOutputs>,
) -> SelectionContext<'a> {
    ctx_l(unlabeled, &[], outputs)
}

/// A context with labeled data.
pub fn ctx_l<'a>(
    unlabeled: &'a [Example],
    labeled: &'a [Example],
    outputs: Option<&'a mut FakeOutputs>,
) -> SelectionContext<'a> {
    crate::testing::context(unlabeled, labeled, 0, outputs)
}
