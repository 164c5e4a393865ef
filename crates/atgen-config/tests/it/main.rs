//! End-to-end tests of atgen-config through its public API, on the repository's `configs/`.
#![allow(clippy::unwrap_used)]

mod compose;
mod docs;
mod paper;
