//! Prices and the hard budget.
//!
//! Before each request the labeller reserves the request's worst case
//! (estimated prompt tokens plus `max_tokens`, at the configured prices); a
//! request whose worst case does not fit in what is left is never sent. When
//! the response arrives, the reservation is replaced by the cost of the
//! usage the provider reports. So the money spent stays within the budget as
//! long as the provider bills no more prompt tokens than estimated (see
//! [`estimate_prompt_tokens`]) and no more output tokens than `max_tokens`,
//! which the APIs guarantee.

use std::sync::{Condvar, Mutex, PoisonError};

/// How the note of an example left unlabeled by the budget starts: the
/// engine may stop the run, and keep the example in the pool, on seeing it.
pub const BUDGET_NOTE_PREFIX: &str = "budget:";

/// Token prices in money per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Prices {
    pub input_per_1m: f64,
    pub output_per_1m: f64,
}

impl Prices {
    /// The cost of `input` prompt tokens and `output` completion tokens.
    pub fn cost(&self, input: u64, output: u64) -> f64 {
        (input as f64 * self.input_per_1m + output as f64 * self.output_per_1m) / 1e6
    }

    /// The same prices with a discount (`0.5` = half price).
    pub fn discounted(&self, fraction_off: f64) -> Prices {
        Prices {
            input_per_1m: self.input_per_1m * (1.0 - fraction_off),
            output_per_1m: self.output_per_1m * (1.0 - fraction_off),
        }
    }
}

/// Tokens added per message and per request for role markers and framing.
const PER_MESSAGE_TOKENS: u64 = 8;
const PER_REQUEST_TOKENS: u64 = 16;

/// A conservative count of the prompt tokens of `texts`: one token per
/// `bytes_per_token` UTF-8 bytes (3 by default, where tokenizers of English
/// average about 4 characters per token and CJK characters take 3 bytes),
/// plus framing per message.
pub fn estimate_prompt_tokens<'a>(
    texts: impl IntoIterator<Item = &'a str>,
    bytes_per_token: f64,
) -> u64 {
    let per = bytes_per_token.max(1.0);
    texts
        .into_iter()
        .map(|t| (t.len() as f64 / per).ceil() as u64 + PER_MESSAGE_TOKENS)
        .sum::<u64>()
        + PER_REQUEST_TOKENS
}

#[derive(Debug, Default)]
struct Ledger {
    spent: f64,
    reserved: f64,
    in_flight: usize,
}

/// Money spent and reserved against an optional limit; shared by worker threads.
#[derive(Debug)]
pub struct Budget {
    limit: Option<f64>,
    ledger: Mutex<Ledger>,
    settled: Condvar,
}

/// Money set aside for one request in flight; give it back with [`Budget::settle`].
#[derive(Debug)]
#[must_use = "settle the reservation with the actual cost"]
pub struct Reservation {
    amount: f64,
}

impl Budget {
    /// A budget of `limit` (none: unlimited) of which `spent` is already gone.
    pub fn new(limit: Option<f64>, spent: f64) -> Self {
        Budget {
            limit,
            ledger: Mutex::new(Ledger {
                spent: spent.max(0.0),
                reserved: 0.0,
                in_flight: 0,
            }),
            settled: Condvar::new(),
        }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Money spent so far.
    pub fn spent(&self) -> f64 {
        self.ledger().spent
    }

    /// What is left after spending and reservations (`None`: unlimited).
    pub fn remaining(&self) -> Option<f64> {
        let l = self.ledger();
        self.limit.map(|b| (b - l.spent - l.reserved).max(0.0))
    }

    fn fits(&self, l: &Ledger, worst: f64) -> bool {
        // A relative slack of 1e-9 keeps floating-point sums of the settled
        // costs, in any order, under the limit.
        self.limit
            .is_none_or(|limit| l.spent + l.reserved + worst <= limit * (1.0 - 1e-9))
    }

    /// Reserves `worst` when it fits in what is left now; `None` otherwise.
    pub fn try_reserve(&self, worst: f64) -> Option<Reservation> {
        let mut l = self.ledger();
        if !self.fits(&l, worst) {
            return None;
        }
        l.reserved += worst;
        l.in_flight += 1;
        Some(Reservation { amount: worst })
    }

    /// Reserves `worst`, waiting while requests in flight may give money
    /// back (their actual cost is usually below their worst case); `None`
    /// once nothing is in flight and it still does not fit. Call it holding
    /// no other reservation, or it may wait for itself.
    pub fn reserve(&self, worst: f64) -> Option<Reservation> {
        let mut l = self.ledger();
        loop {
            if self.fits(&l, worst) {
                l.reserved += worst;
                l.in_flight += 1;
                return Some(Reservation { amount: worst });
            }
            if l.in_flight == 0 {
                return None;
            }
            l = self.settled.wait(l).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Replaces a reservation by the money actually spent (0 when the request was not billed).
    pub fn settle(&self, r: Reservation, actual: f64) {
        let mut l = self.ledger();
        l.reserved = (l.reserved - r.amount).max(0.0);
        l.in_flight = l.in_flight.saturating_sub(1);
        l.spent += actual;
        drop(l);
        self.settled.notify_all();
    }

    /// Records money spent outside a reservation (a response paid in an earlier session).
    pub fn record(&self, actual: f64) {
        self.ledger().spent += actual;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_per_million_tokens() {
        let p = Prices {
            input_per_1m: 2.0,
            output_per_1m: 8.0,
        };
        assert!((p.cost(1_000_000, 0) - 2.0).abs() < 1e-12);
        assert!((p.cost(500, 250) - (0.001 + 0.002)).abs() < 1e-12);
        assert!((p.discounted(0.5).cost(1_000_000, 1_000_000) - 5.0).abs() < 1e-12);
    }

    #[test]
    fn a_request_that_could_cross_the_budget_is_refused() {
        let b = Budget::new(Some(1.0), 0.25);
        let r = b.reserve(0.5).expect("fits");
        assert!(b.try_reserve(0.5).is_none(), "0.25 + 0.5 + 0.5 > 1");
        b.settle(r, 0.1);
        assert!((b.spent() - 0.35).abs() < 1e-12);
        assert!(b.reserve(0.6).is_some());
        assert!(Budget::new(None, 0.0).reserve(1e9).is_some());
    }

    #[test]
    fn a_waiting_request_goes_once_those_in_flight_cost_less_than_reserved() {
        let b = std::sync::Arc::new(Budget::new(Some(1.0), 0.0));
        let r = b.reserve(0.6).expect("fits");
        let waiter = {
            let b = b.clone();
            std::thread::spawn(move || b.reserve(0.6).map(|r| b.settle(r, 0.0)).is_some())
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        b.settle(r, 0.3);
        assert!(waiter.join().unwrap(), "0.3 spent + 0.6 fits in 1.0");
        // Nothing in flight and no room: refused at once.
        assert!(b.reserve(0.8).is_none());
    }

    #[test]
    fn estimate_is_at_least_a_token_per_three_bytes() {
        let n = estimate_prompt_tokens(["abcdef", "日本"], 3.0);
        assert_eq!(n, 2 + 8 + 2 + 8 + 16);
    }
}
