//! One module per subcommand, plus the model loading they share.

pub mod bench;
pub mod bench_grid;
pub mod embed;
pub mod eval;
pub mod finetune;
pub mod generate;
pub mod init;
pub mod run;
pub mod score;
pub mod serve;
pub mod serve_model;

use crate::args::ModelArgs;
use anyhow::Result;
use atgen_models::{load::parse_dtype, CausalLm};

/// Loads the model and applies its adapter, if any.
pub fn load_model(args: &ModelArgs) -> Result<CausalLm> {
    let dev = atgen_models::device::open(args.device, "--device")?;
    let mut lm = CausalLm::load(&args.model, parse_dtype(&args.dtype)?, &dev)?;
    if let Some(a) = &args.adapter {
        atgen_models::peft::load_adapter(&mut lm, a)?;
    }
    Ok(lm)
}
