//! Integration tests of the API labellers against the in-process emulator.
#![allow(clippy::unwrap_used)]

mod batch;
mod budget;
mod cache;
mod providers;
mod retries;
mod support;
