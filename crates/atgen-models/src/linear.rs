//! The one linear layer every projection uses: a base weight (dense, or NF4
//! for QLoRA), an optional bias, and an optional LoRA/DoRA adapter.

use crate::adapters::{nf4::Nf4Weight, LoraWeights};
use crate::rng::SeededRng;
use crate::Result;
use candle_core::{DType, Tensor, Var};

/// How the base weight is stored.
#[derive(Debug, Clone)]
pub enum BaseWeight {
    /// A dense tensor; a [`Var`]'s tensor when fully fine-tuning.
    Dense(Tensor),
    /// 4-bit NF4 (QLoRA); dequantized on the fly.
    Nf4(Nf4Weight),
}

/// Per-forward state: training switches on dropout and differentiable kernels.
#[derive(Debug, Default)]
pub struct ForwardCtx {
    /// Seeded generator for dropout masks; `Some` only while training.
    pub train_rng: Option<SeededRng>,
    /// Train through the op-by-op graph even where a whole-layer kernel
    /// ([`crate::kernels::decoder_layer`]) applies: for gradient checks and benchmarks.
    pub op_by_op: bool,
}

impl ForwardCtx {
    /// Inference mode: fused kernels, no dropout.
    pub fn inference() -> Self {
        ForwardCtx {
            train_rng: None,
            op_by_op: false,
        }
    }

    /// Training mode with a seeded dropout generator.
    pub fn training(seed: u64) -> Self {
        ForwardCtx {
            train_rng: Some(SeededRng::new(seed)),
            op_by_op: false,
        }
    }

    /// Whether gradients must flow (so only differentiable ops may be used).
    pub fn is_training(&self) -> bool {
        self.train_rng.is_some()
    }
}

/// A linear projection `y = x Wᵀ + b`, optionally adapted.
#[derive(Debug, Clone)]
pub struct AdaptedLinear {
    base: BaseWeight,
    bias: Option<Tensor>,
    adapter: Option<LoraWeights>,
    dims: (usize, usize),
}

impl AdaptedLinear {
    /// A layer over a `(out, in)` weight.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Result<Self> {
        let dims = weight.dims2()?;
        Ok(AdaptedLinear {
            base: BaseWeight::Dense(weight),
            bias,
            adapter: None,
            dims,
        })
    }

    /// `(out, in)`.
    pub fn dims(&self) -> (usize, usize) {
        self.dims
    }

    /// The base weight as a dense tensor (dequantized for NF4).
    pub fn base_weight(&self) -> Result<Tensor> {
        match &self.base {
            BaseWeight::Dense(w) => Ok(w.clone()),
            BaseWeight::Nf4(q) => q.dequantize(&self.bias_device()),
        }
    }

    fn bias_device(&self) -> candle_core::Device {
        match (&self.base, &self.bias, &self.adapter) {
            (BaseWeight::Dense(w), _, _) => w.device().clone(),
            (_, Some(b), _) => b.device().clone(),
            (_, _, Some(a)) => a.device().clone(),
            _ => candle_core::Device::Cpu,
        }
    }

    /// The bias, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// The adapter, if any.
    pub fn adapter(&self) -> Option<&LoraWeights> {
        self.adapter.as_ref()
    }

    /// Installs (or replaces) an adapter.
    pub fn set_adapter(&mut self, adapter: Option<LoraWeights>) {
        self.adapter = adapter;
    }

    /// The dense base weight when the layer is plain: frozen, no adapter.
    pub(crate) fn plain_weight(&self) -> Option<Tensor> {
        match (&self.base, &self.adapter) {
            (BaseWeight::Dense(w), None) if !w.is_variable() => Some(w.clone()),
            _ => None,
        }
    }

    /// Replaces a plain base weight by an equal tensor (a view of a fused weight).
    pub(crate) fn rebind_plain_weight(&mut self, w: Tensor) -> Result<()> {
        if w.dims2()? != self.dims || self.plain_weight().is_none() {
            return Err(crate::Error::Invalid(
                "fused weight does not match the projection it replaces".into(),
            ));
        }
        self.base = BaseWeight::Dense(w);
        Ok(())
    }

    /// Stores the base weight in NF4 (QLoRA).
    pub fn quantize_base(&mut self) -> Result<()> {
        if let BaseWeight::Dense(w) = &self.base {
            self.base = BaseWeight::Nf4(Nf4Weight::quantize(w)?);
        }
        Ok(())
    }

    /// Makes the base weight (and bias) trainable; returns the new variables.
    pub fn make_trainable(&mut self) -> Result<Vec<Var>> {
        let w = Var::from_tensor(&self.base_weight()?.to_dtype(DType::F32)?)?;
        self.base = BaseWeight::Dense(w.as_tensor().clone());
        let mut vars = vec![w];
        if let Some(b) = &self.bias {
            let v = Var::from_tensor(&b.to_dtype(DType::F32)?)?;
            self.bias = Some(v.as_tensor().clone());
            vars.push(v);
        }
        Ok(vars)
    }

    /// Replaces the base weight by the merged adapter and drops the adapter.
    pub fn merge_adapter(&mut self) -> Result<()> {
        if let Some(a) = self.adapter.take() {
            let dtype = self.base_weight()?.dtype();
            self.base = BaseWeight::Dense(a.merge(&self.base_weight()?)?.to_dtype(dtype)?);
        }
        Ok(())
    }

    /// The plain LoRA adapter (no DoRA magnitude, no active dropout) over a
    /// frozen base, when [`crate::kernels::lora_linear`] can run it.
    fn fused_lora(&self, w: &Tensor, x: &Tensor, ctx: &ForwardCtx) -> Option<&LoraWeights> {
        let a = self.adapter.as_ref()?;
        let dropout = ctx.is_training() && a.dropout > 0.0;
        let ok = a.magnitude.is_none()
            && !dropout
            && !w.is_variable()
            && crate::kernels::supported(&[x, w, a.a.as_tensor(), a.b.as_tensor()]);
        ok.then_some(a)
    }

    /// Applies the layer to `x` of shape `(.., in)`.
    pub fn forward(&self, x: &Tensor, ctx: &mut ForwardCtx) -> Result<Tensor> {
        let w = self.base_weight()?;
        if let Some(a) = self.fused_lora(&w, x, ctx) {
            let out =
                crate::kernels::lora_linear(x, &w, a.a.as_tensor(), a.b.as_tensor(), a.scaling)?;
            return match &self.bias {
                Some(b) => Ok(out.broadcast_add(b)?),
                None => Ok(out),
            };
        }
        let out = if ctx.is_training() && !w.is_variable() {
            frozen_matmul_t(x, &w)?
        } else {
            matmul_t(x, &w)?
        };
        let out = match &self.adapter {
            None => out,
            Some(a) => {
                let x32 = x.to_dtype(DType::F32)?;
                let base32 = out.to_dtype(DType::F32)?;
                let delta = a.forward_delta(&x32, &base32, &w, ctx.train_rng.as_mut())?;
                (out + delta.to_dtype(x.dtype())?)?
            }
        };
        match &self.bias {
            Some(b) => Ok(out.broadcast_add(b)?),
            None => Ok(out),
        }
    }
}

/// [`matmul_t`] for a weight that gets no gradient: the backward pass skips
/// `∂W` (see [`crate::kernels::frozen_matmul_t`]).
pub fn frozen_matmul_t(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let (out_dim, in_dim) = w.dims2()?;
    let x2 = x.reshape(((), in_dim))?;
    let y = crate::kernels::frozen_matmul_t(&x2, w)?;
    let mut out_dims = dims;
    if let Some(last) = out_dims.last_mut() {
        *last = out_dim;
    }
    Ok(y.reshape(out_dims)?)
}

/// Up to this many rows, [`matmul_t`] computes `(W xᵀ)ᵀ`: a row-major `W` on
/// the left is packed with contiguous copies, while `x Wᵀ` packs it with a
/// strided gather on every call (2x slower for a 4096 × 256 weight and 16
/// rows; 3x faster the other way round at 768 rows).
const FEW_ROWS: usize = 64;

/// `x Wᵀ` for `x: (.., in)` and `w: (out, in)`, flattening leading dims for one GEMM.
pub fn matmul_t(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let (out_dim, _) = w.dims2()?;
    let lead: usize = dims[..dims.len() - 1].iter().product();
    let x2 = x.reshape((lead, dims[dims.len() - 1]))?;
    let y = if lead <= FEW_ROWS && w.is_contiguous() && !x.track_op() && !w.track_op() {
        w.matmul(&x2.t()?)?.t()?.contiguous()?
    } else {
        x2.matmul(&w.t()?)?
    };
    let mut out_dims = dims;
    if let Some(last) = out_dims.last_mut() {
        *last = out_dim;
    }
    Ok(y.reshape(out_dims)?)
}
