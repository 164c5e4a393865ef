//! End-to-end tests of atgen-data through its public API.
#![allow(clippy::unwrap_used)]

mod bundled;
mod files;
mod fuzz;
mod hub;
mod hub_online;
