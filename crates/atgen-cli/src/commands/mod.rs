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
use anyhow::{Context, Result};
use atgen_models::{load::parse_dtype, CausalLm};
use candle_core::Device;

/// The device to run on.
pub fn device(cuda: bool) -> Result<Device> {
    if cuda {
        Device::new_cuda(0).context(
            "no CUDA device (build with `--features cuda` on a machine with an NVIDIA GPU)",
        )
    } else {
        Ok(Device::Cpu)
    }
}

/// Loads the model and applies its adapter, if any.
pub fn load_model(args: &ModelArgs) -> Result<CausalLm> {
    let dev = device(args.cuda)?;
    let mut lm = CausalLm::load(&args.model, parse_dtype(&args.dtype)?, &dev)?;
    if let Some(a) = &args.adapter {
        atgen_models::peft::load_adapter(&mut lm, a)?;
    }
    Ok(lm)
}
