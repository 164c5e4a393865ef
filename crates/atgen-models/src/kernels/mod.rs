//! Training kernels with hand-written backward passes, as candle custom ops.
//!
//! candle's autograd records every elementwise op of a composed RMSNorm,
//! rotary embedding or softmax, and its backward allocates a zero tensor, a
//! gradient and a sum for each of them, including for inputs that need no
//! gradient (frozen weights, masks, rotary tables). On a small model that
//! bookkeeping, not the arithmetic, dominates a LoRA step. Each op here is one
//! graph node whose backward computes only the gradients that are needed:
//!
//! * [`frozen_matmul_t`]: `x Wᵀ` with no gradient for the frozen `W` (saves
//!   one GEMM per projection);
//! * [`rms_norm`], [`rope_transposed`], [`masked_softmax`], [`swiglu`]:
//!   fused forward and backward over contiguous f32 rows;
//! * [`decoder_layer`]: a whole decoder layer for LoRA over a frozen base,
//!   one node with in-place gradient accumulation;
//! * [`head_nll`]: the frozen LM head and the loss in one node (the logits
//!   never enter the graph); [`head_nll_normed`] also applies the final norm
//!   to the answer positions only;
//! * [`weighted_nll`]: log-softmax, gather and weighted sum in one pass over
//!   the vocabulary logits;
//! * [`residual_add`], [`head_logit_rows`]: inference-only decode-step ops
//!   (no graph node, no thread-pool barrier, no transposing copy).
//!
//! The kernels run on CPU f32 only; [`crate::ops`] falls back to the composed
//! differentiable versions elsewhere, and the tests below check both forms'
//! values and gradients agree.
//!
//! # Shapes
//! Every function documents its own; rows are the flattened leading dims.

use candle_core::backend::BackendStorage;
use candle_core::{
    bail, CpuStorage, CudaStorage, CustomOp1, CustomOp2, CustomOp3, Layout, MetalStorage, Result,
    Shape, Tensor,
};
use rayon::prelude::*;
use std::sync::Arc;

/// Rows per rayon task: small enough to split a 16×100-row batch on 2 cores,
/// large enough to amortise the task overhead.
const MIN_ROWS: usize = 16;

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{what}: expected a contiguous f32 tensor"),
    }
}

/// Whether the kernels apply to these tensors (CPU, f32, and not inside [`portable`]).
pub fn supported(ts: &[&Tensor]) -> bool {
    !PORTABLE.with(std::cell::Cell::get)
        && ts
            .iter()
            .all(|t| t.device().is_cpu() && t.dtype() == candle_core::DType::F32)
}

thread_local! {
    static PORTABLE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with these kernels off on this thread: every forward and backward pass takes
/// the portable path, op by op through candle's operations, that a CUDA GPU (or a bf16
/// model) runs. For checking that path on the CPU against the references.
pub fn portable<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            PORTABLE.with(|p| p.set(self.0));
        }
    }
    let _restore = Restore(PORTABLE.with(|p| p.replace(true)));
    f()
}

mod gemm;
mod head_nll;
mod heads;
mod infer;
mod layer;
mod linear;
mod nll;
mod norm;
mod rope;
mod softmax;
mod swiglu;
#[cfg(test)]
mod tests;

pub use head_nll::{head_nll, head_nll_normed};
pub use heads::{split_heads, HeadNorm, RopeTables};
pub use infer::{head_logit_rows, residual_add};
pub use layer::{decoder_layer, LayerWeights, Lora, Projection};
pub use linear::{frozen_matmul_t, lora_linear};
pub use nll::weighted_nll;
pub use norm::rms_norm;
pub use rope::rope_transposed;
pub use softmax::masked_softmax;
pub use swiglu::{swiglu, swiglu_halves};
