//! Integration tests of atgen-models: parity with transformers / PEFT /
//! sentence-transformers on committed fixtures, training, formats, bad input.

mod bad_input;
mod bart;
mod formats;
mod fusion;
mod layer_kernel;
mod options;
mod parity;
mod support;
mod training;
