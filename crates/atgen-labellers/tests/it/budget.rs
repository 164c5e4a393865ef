//! The hard budget: never a request that could cross it.

use crate::support::*;
use atgen_config::Price;
use atgen_core::{Example, Labeller};
use atgen_labellers::emulator::{Emulator, Fault};
use rand::{Rng, SeedableRng};

#[test]
fn spent_never_exceeds_the_budget_over_random_prices_and_lengths() {
    let emu = Emulator::start().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut stopped_by_budget = 0;
    for case in 0..40 {
        let max_tokens = rng.random_range(1..200u32);
        let mut cfg = config(
            &emu,
            if case % 2 == 0 {
                "openai_compatible"
            } else {
                "anthropic"
            },
            &format!(
                "max_tokens: {max_tokens}, concurrency: {}",
                rng.random_range(1..5)
            ),
            Some("k"),
        );
        cfg.price = Price {
            input_per_1m: rng.random_range(0.0..50.0),
            output_per_1m: rng.random_range(0.0..200.0),
        };
        let budget = rng.random_range(0.0..0.05);
        let before = emu.billed().len();
        let words = rng.random_range(1..60usize);
        emu.set_responder(move |q| format!("{q} {}", "w ".repeat(words)));
        if rng.random_bool(0.3) {
            emu.push_fault(Fault::Malformed);
        }
        let mut l = labeller(&cfg, Some(budget));
        let mut spent = 0.0;
        for round in 0..3 {
            let batch: Vec<Example> = (0..rng.random_range(1..8))
                .map(|i| {
                    let len = rng.random_range(0..3000);
                    let text: String = (0..len)
                        .map(|_| if rng.random_bool(0.1) { 'é' } else { 'x' })
                        .collect();
                    Example::new(format!("c{case}r{round}i{i}"), text)
                })
                .collect();
            for o in l.label(&batch).unwrap() {
                spent += o.cost;
                if o.note.as_deref().is_some_and(|n| n.starts_with("budget")) {
                    stopped_by_budget += 1;
                }
            }
        }
        let billed: f64 = emu.billed()[before..]
            .iter()
            .map(|(i, o)| {
                (*i as f64 * cfg.price.input_per_1m + *o as f64 * cfg.price.output_per_1m) / 1e6
            })
            .sum();
        assert!(
            spent <= budget,
            "case {case}: recorded {spent} > budget {budget}"
        );
        assert!(
            billed <= budget,
            "case {case}: billed {billed} > budget {budget}"
        );
        assert!(
            billed <= spent + 1e-12,
            "case {case}: billed {billed} > recorded {spent}"
        );
    }
    assert!(
        stopped_by_budget > 0,
        "the budget never bound: the test tests nothing"
    );
}

#[test]
fn a_zero_budget_sends_nothing() {
    let emu = Emulator::start().unwrap();
    let mut l = labeller(&config(&emu, "openai_compatible", "", None), Some(0.0));
    let out = l.label(&examples(3)).unwrap();
    assert!(out.iter().all(|o| o.label.is_none() && o.cost == 0.0));
    assert!(out[0].note.as_deref().unwrap().contains("al.budget"));
    assert!(emu.requests().is_empty());
}
