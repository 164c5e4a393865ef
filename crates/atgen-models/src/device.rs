//! Opens the device a [`DeviceName`] names: the CPU, or a CUDA GPU in a build with the
//! `cuda` feature.

use crate::{Error, Result};
use atgen_core::DeviceName;
use candle_core::Device;

/// Whether this build can run on CUDA GPUs (`--features cuda`).
pub fn cuda_built() -> bool {
    candle_core::utils::cuda_is_available()
}

/// Opens `name`. `auto` is the first CUDA GPU when this build has CUDA and one opens, else
/// the CPU; `cuda:N` fails with an error naming `what` (the option it came from) in a build
/// without CUDA or when that GPU cannot be opened.
pub fn open(name: DeviceName, what: &str) -> Result<Device> {
    match name {
        DeviceName::Cpu => Ok(Device::Cpu),
        DeviceName::Auto if cuda_built() => Ok(Device::new_cuda(0).unwrap_or(Device::Cpu)),
        DeviceName::Auto => Ok(Device::Cpu),
        DeviceName::Cuda(_) if !cuda_built() => Err(Error::Device {
            what: what.to_string(),
            name: name.to_string(),
            reason: "this build of atgen has no CUDA support; rebuild with \
                     `cargo build --release --features cuda` (docs/GPU.md)"
                .into(),
        }),
        DeviceName::Cuda(n) => Device::new_cuda(n).map_err(|e| Error::Device {
            what: what.to_string(),
            name: name.to_string(),
            reason: format!("CUDA GPU {n} could not be opened: {e}"),
        }),
    }
}

/// A short description for logs: `cpu` or `cuda:N`.
pub fn describe(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_auto_open_without_a_gpu_and_cuda_says_how_to_get_it() -> Result<()> {
        assert!(open(DeviceName::Cpu, "model.device")?.is_cpu());
        assert_eq!(describe(&Device::Cpu), "cpu");
        if cuda_built() {
            return Ok(()); // the rest is about builds without CUDA
        }
        assert!(open(DeviceName::Auto, "model.device")?.is_cpu());
        let err = open(DeviceName::Cuda(1), "model.device")
            .err()
            .map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.starts_with("model.device `cuda:1`: "), "{err}");
        assert!(err.contains("--features cuda"), "{err}");
        Ok(())
    }
}
