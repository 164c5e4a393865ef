//! Integration tests: parity with the reference implementations, configs, robustness.
#![allow(clippy::unwrap_used)]

mod configs;
mod parity;
mod robustness;
mod submodlib;
