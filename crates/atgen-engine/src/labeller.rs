//! The golden labeller: returns the dataset's reference, for simulated active
//! learning (the paper's protocol). Other labellers plug in through the same trait.

use atgen_core::{Example, LabelOutcome, Labeller, Result};

/// Labels with the first reference of each example, at no cost.
pub struct GoldenLabeller;

impl Labeller for GoldenLabeller {
    fn label(&mut self, batch: &[Example]) -> Result<Vec<LabelOutcome>> {
        Ok(batch
            .iter()
            .map(|e| match e.references.first() {
                Some(r) => LabelOutcome {
                    id: e.id.clone(),
                    label: Some(r.clone()),
                    cost: 0.0,
                    note: None,
                },
                None => LabelOutcome {
                    id: e.id.clone(),
                    label: None,
                    cost: 0.0,
                    note: Some(
                        "no reference in the data (the golden labeller needs the output column)"
                            .into(),
                    ),
                },
            })
            .collect())
    }
}
