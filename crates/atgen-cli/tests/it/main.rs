//! End-to-end tests of the `atgen` binary on tiny data and a tiny model.

mod api_labeller;
mod bench;
mod model_commands;
mod run;
mod serve;
mod support;
