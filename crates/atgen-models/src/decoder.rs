//! The decoder: Llama / Mistral / Qwen2 / Qwen3 as one implementation.
//!
//! Sub-layers are private and built with the checkpoint's tensor names, so a
//! weight's name here is its name in `model.safetensors` and in PEFT exports.

use crate::fused::{unfuse, FusedLinear};
use crate::linear::{AdaptedLinear, ForwardCtx};
use crate::{kernels, ops};
use crate::{DecoderConfig, Family, Result};
use candle_core::{DType, Device, Tensor, Var};
use std::sync::Arc;

/// Where weights come from at construction: `(name, shape) -> tensor`.
pub trait WeightSource {
    /// The tensor called `name`, checked against `shape`.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor>;
    /// Whether the source has a tensor of that name.
    fn contains(&self, name: &str) -> bool;
}

#[derive(Debug, Clone)]
struct Attention {
    q_proj: AdaptedLinear,
    k_proj: AdaptedLinear,
    v_proj: AdaptedLinear,
    o_proj: AdaptedLinear,
    q_norm: Option<Tensor>,
    k_norm: Option<Tensor>,
    /// q, k and v as one GEMM at inference (see [`Decoder::fuse_projections`]).
    qkv: Option<FusedLinear>,
    /// o_proj, stored transposed for inference.
    o_fused: Option<FusedLinear>,
}

#[derive(Debug, Clone)]
struct Mlp {
    gate_proj: AdaptedLinear,
    up_proj: AdaptedLinear,
    down_proj: AdaptedLinear,
    /// gate and up as one GEMM at inference.
    gate_up: Option<FusedLinear>,
    /// down_proj, stored transposed for inference.
    down_fused: Option<FusedLinear>,
}

#[derive(Debug, Clone)]
struct DecoderLayer {
    self_attn: Attention,
    mlp: Mlp,
    input_layernorm: Tensor,
    post_attention_layernorm: Tensor,
}

/// Per-layer key/value cache for incremental decoding.
///
/// Keys and values live in buffers with spare positions that new steps are
/// written into in place (no per-step concatenation); a buffer doubles when
/// full. A cache belongs to one generation: clones share the buffers.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<LayerCache>>,
    /// Positions to allocate at the first append (0: the next power of two).
    reserve: usize,
}

/// `(b, kv_heads, capacity, head_dim)` buffers of which the first `len` positions are filled.
#[derive(Debug, Clone)]
struct LayerCache {
    k: Tensor,
    v: Tensor,
    len: usize,
}

impl LayerCache {
    /// Appends `(b, kv_heads, t, head_dim)` keys and values; returns views of everything cached.
    fn append(
        slot: &mut Option<LayerCache>,
        k: &Tensor,
        v: &Tensor,
        reserve: usize,
    ) -> Result<(Tensor, Tensor)> {
        let (b, h, t, d) = k.dims4()?;
        let len = slot.as_ref().map_or(0, |c| c.len);
        let cap = match slot.as_ref() {
            Some(c) => c.k.dim(2)?,
            None => 0,
        };
        if len + t > cap {
            let cap = (len + t).next_power_of_two().max(32).max(reserve);
            let nk = Tensor::zeros((b, h, cap, d), k.dtype(), k.device())?;
            let nv = Tensor::zeros((b, h, cap, d), v.dtype(), v.device())?;
            if let Some(c) = slot.as_ref().filter(|c| c.len > 0) {
                nk.slice_set(&c.k.narrow(2, 0, c.len)?.contiguous()?, 2, 0)?;
                nv.slice_set(&c.v.narrow(2, 0, c.len)?.contiguous()?, 2, 0)?;
            }
            *slot = Some(LayerCache { k: nk, v: nv, len });
        }
        let Some(c) = slot.as_mut() else {
            return Err(crate::Error::Invalid("kv cache slot missing".into()));
        };
        c.k.slice_set(&k.contiguous()?, 2, c.len)?;
        c.v.slice_set(&v.contiguous()?, 2, c.len)?;
        c.len += t;
        Ok((c.k.narrow(2, 0, c.len)?, c.v.narrow(2, 0, c.len)?))
    }
}

impl Attention {
    /// Whether a per-head norm weight is being trained (full fine-tuning).
    fn trainable_norm(&self) -> bool {
        [&self.q_norm, &self.k_norm]
            .iter()
            .any(|n| n.as_ref().is_some_and(|w| w.is_variable()))
    }
}

impl KvCache {
    /// An empty cache whose buffers hold `positions` from the first append
    /// (a generation's prompt width plus its new tokens: no regrowth copy).
    pub fn with_capacity(positions: usize) -> Self {
        KvCache {
            layers: Vec::new(),
            reserve: positions,
        }
    }

    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.layers
            .first()
            .and_then(|l| l.as_ref())
            .map_or(0, |c| c.len)
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps only the given batch rows (to drop finished sequences).
    pub fn select_rows(&mut self, rows: &Tensor) -> Result<()> {
        for c in self.layers.iter_mut().flatten() {
            c.k = c.k.index_select(rows, 0)?;
            c.v = c.v.index_select(rows, 0)?;
        }
        Ok(())
    }
}

/// A causal decoder language model.
#[derive(Debug, Clone)]
pub struct Decoder {
    cfg: DecoderConfig,
    embed_tokens: Tensor,
    layers: Vec<DecoderLayer>,
    norm: Tensor,
    lm_head: Option<AdaptedLinear>,
    /// An untied lm_head stored transposed for inference.
    lm_head_fused: Option<FusedLinear>,
    inv_freq: Vec<f32>,
    device: Device,
    dtype: DType,
}

/// Checkpoint names of a layer's linear projections, in `linears()` order.
pub const LINEAR_NAMES: [&str; 7] = [
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
];

fn linear(
    src: &dyn WeightSource,
    name: &str,
    out: usize,
    inp: usize,
    bias: bool,
) -> Result<AdaptedLinear> {
    let w = src.get(&format!("{name}.weight"), &[out, inp])?;
    let b = if bias {
        Some(src.get(&format!("{name}.bias"), &[out])?)
    } else {
        None
    };
    AdaptedLinear::new(w, b)
}

impl Decoder {
    /// Builds the model from a weight source.
    pub fn new(
        cfg: &DecoderConfig,
        src: &dyn WeightSource,
        device: &Device,
        dtype: DType,
    ) -> Result<Self> {
        cfg.validate()?;
        let family = cfg.family()?;
        let (h, hd) = (cfg.hidden_size, cfg.head_dim());
        let (nh, nkv) = (cfg.num_attention_heads, cfg.num_kv_heads());
        let qkv_bias = cfg.qkv_bias();
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let a = format!("{p}.self_attn");
            let qk_norm = family == Family::Qwen3;
            let self_attn = Attention {
                q_proj: linear(src, &format!("{a}.q_proj"), nh * hd, h, qkv_bias)?,
                k_proj: linear(src, &format!("{a}.k_proj"), nkv * hd, h, qkv_bias)?,
                v_proj: linear(src, &format!("{a}.v_proj"), nkv * hd, h, qkv_bias)?,
                o_proj: linear(src, &format!("{a}.o_proj"), h, nh * hd, cfg.o_bias())?,
                q_norm: if qk_norm {
                    Some(src.get(&format!("{a}.q_norm.weight"), &[hd])?)
                } else {
                    None
                },
                k_norm: if qk_norm {
                    Some(src.get(&format!("{a}.k_norm.weight"), &[hd])?)
                } else {
                    None
                },
                qkv: None,
                o_fused: None,
            };
            let m = format!("{p}.mlp");
            let mlp = Mlp {
                gate_proj: linear(
                    src,
                    &format!("{m}.gate_proj"),
                    cfg.intermediate_size,
                    h,
                    false,
                )?,
                up_proj: linear(
                    src,
                    &format!("{m}.up_proj"),
                    cfg.intermediate_size,
                    h,
                    false,
                )?,
                down_proj: linear(
                    src,
                    &format!("{m}.down_proj"),
                    h,
                    cfg.intermediate_size,
                    false,
                )?,
                gate_up: None,
                down_fused: None,
            };
            layers.push(DecoderLayer {
                self_attn,
                mlp,
                input_layernorm: src.get(&format!("{p}.input_layernorm.weight"), &[h])?,
                post_attention_layernorm: src
                    .get(&format!("{p}.post_attention_layernorm.weight"), &[h])?,
            });
        }
        let embed_tokens = src.get("model.embed_tokens.weight", &[cfg.vocab_size, h])?;
        let lm_head = if cfg.tie_word_embeddings && !src.contains("lm_head.weight") {
            None
        } else {
            Some(linear(src, "lm_head", cfg.vocab_size, h, false)?)
        };
        let mut decoder = Decoder {
            cfg: cfg.clone(),
            embed_tokens,
            layers,
            norm: src.get("model.norm.weight", &[h])?,
            lm_head,
            lm_head_fused: None,
            inv_freq: ops::inv_freq(cfg),
            device: device.clone(),
            dtype,
        };
        decoder.fuse_projections()?;
        Ok(decoder)
    }

    /// Stores each layer's plain projections for inference (see
    /// [`crate::fused`]): q/k/v and gate/up concatenated into one GEMM per
    /// group, every weight transposed (stored once; parts become views).
    /// Projections with an adapter or a trainable weight stay as they are.
    /// [`Decoder::linears_mut`] undoes it; call this again after changing linears.
    pub fn fuse_projections(&mut self) -> Result<()> {
        self.unfuse_projections()?;
        for l in &mut self.layers {
            let at = &mut l.self_attn;
            at.qkv = FusedLinear::fuse(&mut [&mut at.q_proj, &mut at.k_proj, &mut at.v_proj])?;
            at.o_fused = FusedLinear::fuse(&mut [&mut at.o_proj])?;
            let m = &mut l.mlp;
            m.gate_up = FusedLinear::fuse(&mut [&mut m.gate_proj, &mut m.up_proj])?;
            m.down_fused = FusedLinear::fuse(&mut [&mut m.down_proj])?;
        }
        if let Some(h) = self.lm_head.as_mut() {
            self.lm_head_fused = FusedLinear::fuse(&mut [h])?;
        }
        Ok(())
    }

    /// Undoes [`Decoder::fuse_projections`]: contiguous `(out, in)` weights again.
    fn unfuse_projections(&mut self) -> Result<()> {
        for l in &mut self.layers {
            let at = &mut l.self_attn;
            unfuse(
                &mut at.qkv,
                &mut [&mut at.q_proj, &mut at.k_proj, &mut at.v_proj],
            )?;
            unfuse(&mut at.o_fused, &mut [&mut at.o_proj])?;
            let m = &mut l.mlp;
            unfuse(&mut m.gate_up, &mut [&mut m.gate_proj, &mut m.up_proj])?;
            unfuse(&mut m.down_fused, &mut [&mut m.down_proj])?;
        }
        if let Some(h) = self.lm_head.as_mut() {
            unfuse(&mut self.lm_head_fused, &mut [h])?;
        }
        Ok(())
    }

    /// Whether every layer's projections run fused at inference.
    pub fn is_fused(&self) -> bool {
        self.layers.iter().all(|l| {
            l.self_attn.qkv.is_some()
                && l.self_attn.o_fused.is_some()
                && l.mlp.gate_up.is_some()
                && l.mlp.down_fused.is_some()
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DecoderConfig {
        &self.cfg
    }

    /// Keys each query attends to at most (itself included): Mistral's `sliding_window`.
    /// Other families ignore the field (Qwen2 configs carry one with `use_sliding_window: false`).
    pub fn sliding_window(&self) -> Option<usize> {
        match self.cfg.family() {
            Ok(Family::Mistral) => self.cfg.sliding_window,
            _ => None,
        }
    }

    /// The additive mask of `t` new queries over keys whose validity `key_valid` gives, with
    /// this model's sliding window ([`crate::ops::attention_mask`]).
    pub fn attention_mask(&self, key_valid: &[Vec<bool>], t: usize) -> Result<Tensor> {
        crate::ops::attention_mask(key_valid, t, self.sliding_window(), &self.device)
    }

    /// Device of the weights.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Dtype of the weights.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Every linear layer with its checkpoint name (without `.weight`).
    /// Drops projection fusion first, since the caller may change any linear.
    pub fn linears_mut(&mut self) -> Result<Vec<(String, &mut AdaptedLinear)>> {
        self.unfuse_projections()?;
        let mut out = Vec::new();
        for (i, l) in self.layers.iter_mut().enumerate() {
            let at = &mut l.self_attn;
            let lins = [
                &mut at.q_proj,
                &mut at.k_proj,
                &mut at.v_proj,
                &mut at.o_proj,
                &mut l.mlp.gate_proj,
                &mut l.mlp.up_proj,
                &mut l.mlp.down_proj,
            ];
            out.extend(
                LINEAR_NAMES
                    .iter()
                    .zip(lins)
                    .map(|(n, lin)| (format!("model.layers.{i}.{n}"), lin)),
            );
        }
        if let Some(h) = self.lm_head.as_mut() {
            out.push(("lm_head".into(), h));
        }
        Ok(out)
    }

    /// Every linear layer with its checkpoint name, read-only.
    pub fn linears(&self) -> Vec<(String, &AdaptedLinear)> {
        let mut out = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let at = &l.self_attn;
            let lins = [
                &at.q_proj,
                &at.k_proj,
                &at.v_proj,
                &at.o_proj,
                &l.mlp.gate_proj,
                &l.mlp.up_proj,
                &l.mlp.down_proj,
            ];
            out.extend(
                LINEAR_NAMES
                    .iter()
                    .zip(lins)
                    .map(|(n, lin)| (format!("model.layers.{i}.{n}"), lin)),
            );
        }
        if let Some(h) = self.lm_head.as_ref() {
            out.push(("lm_head".into(), h));
        }
        out
    }

    /// Every non-linear weight (embeddings, norms) with its checkpoint name.
    pub fn other_weights_mut(&mut self) -> Vec<(String, &mut Tensor)> {
        let mut out = vec![(
            "model.embed_tokens.weight".to_string(),
            &mut self.embed_tokens,
        )];
        for (i, l) in self.layers.iter_mut().enumerate() {
            let p = format!("model.layers.{i}");
            out.push((
                format!("{p}.input_layernorm.weight"),
                &mut l.input_layernorm,
            ));
            out.push((
                format!("{p}.post_attention_layernorm.weight"),
                &mut l.post_attention_layernorm,
            ));
            if let Some(n) = l.self_attn.q_norm.as_mut() {
                out.push((format!("{p}.self_attn.q_norm.weight"), n));
            }
            if let Some(n) = l.self_attn.k_norm.as_mut() {
                out.push((format!("{p}.self_attn.k_norm.weight"), n));
            }
        }
        out.push(("model.norm.weight".into(), &mut self.norm));
        out
    }

    /// Makes every weight trainable (full fine-tuning) and returns the variables.
    pub fn make_all_trainable(&mut self) -> Result<Vec<(String, Var)>> {
        let mut vars = Vec::new();
        for (name, lin) in self.linears_mut()? {
            for (k, v) in lin.make_trainable()?.into_iter().enumerate() {
                vars.push((
                    format!("{name}.{}", if k == 0 { "weight" } else { "bias" }),
                    v,
                ));
            }
        }
        for (name, t) in self.other_weights_mut() {
            let v = Var::from_tensor(&t.to_dtype(DType::F32)?)?;
            *t = v.as_tensor().clone();
            vars.push((name, v));
        }
        self.dtype = DType::F32;
        Ok(vars)
    }

    /// All weights as named tensors (merged adapters excluded), for saving.
    pub fn named_weights(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::new();
        for (name, lin) in self.linears() {
            out.push((format!("{name}.weight"), lin.base_weight()?));
            if let Some(b) = lin.bias() {
                out.push((format!("{name}.bias"), b.clone()));
            }
        }
        let mut c = self.clone();
        out.extend(
            c.other_weights_mut()
                .into_iter()
                .map(|(n, t)| (n, t.clone())),
        );
        Ok(out)
    }

    /// Hidden states after the final norm.
    ///
    /// # Shapes
    /// `ids`, `positions`: `(b, t)` u32; `mask`: `(b, 1, t, cached + t)`; returns `(b, t, hidden)`.
    pub fn forward_hidden(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        mask: &Tensor,
        cache: Option<&mut KvCache>,
        ctx: &mut ForwardCtx,
    ) -> Result<Tensor> {
        let x = self.forward_residual(ids, positions, mask, cache, ctx)?;
        self.final_norm(&x, ctx)
    }

    /// The final norm of [`Decoder::forward_residual`]'s output.
    pub fn final_norm(&self, x: &Tensor, ctx: &ForwardCtx) -> Result<Tensor> {
        ops::rms_norm(x, &self.norm, self.cfg.rms_norm_eps, ctx.is_training())
    }

    /// The final norm's weight and epsilon when frozen (for a loss kernel
    /// that applies it to the rows it needs, see [`Decoder::forward_residual`]).
    pub fn frozen_final_norm(&self) -> Option<(&Tensor, f64)> {
        (!self.norm.is_variable()).then_some((&self.norm, self.cfg.rms_norm_eps))
    }

    /// [`Decoder::forward_hidden`] before the final norm: the last layer's
    /// residual stream.
    ///
    /// # Shapes
    /// As [`Decoder::forward_hidden`].
    pub fn forward_residual(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        mask: &Tensor,
        mut cache: Option<&mut KvCache>,
        ctx: &mut ForwardCtx,
    ) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let train = ctx.is_training();
        let mut x = self
            .embed_tokens
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, t, self.cfg.hidden_size))?;
        let (cos, sin) = ops::rope_tables(positions, &self.inv_freq, &self.device)?;
        // The mask and the softmax stay f32 whatever the weights' dtype: `f32::MIN` would
        // become -inf in bf16/f16, and a padding query (every key masked) would turn NaN.
        let mask = mask.to_dtype(DType::F32)?;
        let kernel = kernels::supported(&[&x]).then(|| -> Result<KernelTables> {
            Ok(KernelTables {
                rope: kernels::RopeTables {
                    cos: Arc::new(cos.flatten_all()?.to_vec1::<f32>()?),
                    sin: Arc::new(sin.flatten_all()?.to_vec1::<f32>()?),
                },
                mask: Arc::new(mask.flatten_all()?.to_vec1::<f32>()?),
            })
        });
        let kernel = kernel.transpose()?;
        let tables = Tables {
            cos: &cos,
            sin: &sin,
            mask: &mask,
            kernel: kernel.as_ref(),
        };
        if let Some(c) = cache.as_deref_mut() {
            c.layers.resize(self.layers.len(), None);
        }
        let layer_kernel = match tables.kernel {
            Some(kt) if train && !ctx.op_by_op && cache.is_none() => Some(kt),
            _ => None,
        };
        let fast_add = !train && tables.kernel.is_some();
        for (i, layer) in self.layers.iter().enumerate() {
            if let Some(kt) = layer_kernel {
                if let Some(w) = self.layer_weights(layer)? {
                    x = kernels::decoder_layer(&x, &w, &kt.rope, &kt.mask)?;
                    continue;
                }
            }
            let residual = x.clone();
            let h = ops::rms_norm(&x, &layer.input_layernorm, self.cfg.rms_norm_eps, train)?;
            let slot = cache.as_deref_mut().map(|c| (&mut c.layers[i], c.reserve));
            let h = self.attention(&layer.self_attn, &h, &tables, slot, ctx)?;
            x = Self::residual(residual, h, fast_add)?;
            let residual = x.clone();
            let h = ops::rms_norm(
                &x,
                &layer.post_attention_layernorm,
                self.cfg.rms_norm_eps,
                train,
            )?;
            let act = match layer.mlp.gate_up.as_ref().filter(|_| !train) {
                Some(f) if tables.kernel.is_some() => kernels::swiglu_halves(&f.forward(&h)?)?,
                Some(f) => {
                    let gu = f.forward_split(&h)?;
                    (candle_nn::ops::silu(&gu[0])? * &gu[1])?
                }
                None => {
                    let gate = layer.mlp.gate_proj.forward(&h, ctx)?;
                    let up = layer.mlp.up_proj.forward(&h, ctx)?;
                    if tables.kernel.is_some() {
                        kernels::swiglu(&gate, &up)?
                    } else {
                        (candle_nn::ops::silu(&gate)? * up)?
                    }
                }
            };
            let h = match layer.mlp.down_fused.as_ref().filter(|_| !train) {
                Some(f) => f.forward(&act)?,
                None => layer.mlp.down_proj.forward(&act, ctx)?,
            };
            x = Self::residual(residual, h, fast_add)?;
        }
        Ok(x)
    }

    /// `x + h`: through [`kernels::residual_add`] when `fast` (inference on CPU f32).
    fn residual(x: Tensor, h: Tensor, fast: bool) -> Result<Tensor> {
        Ok(if fast {
            kernels::residual_add(&x, &h)?
        } else {
            (x + h)?
        })
    }

    /// How many layers train through the whole-layer kernel
    /// ([`kernels::decoder_layer`]) on CPU f32 inputs; the others run op by op.
    pub fn layer_kernel_layers(&self) -> Result<usize> {
        let mut n = 0;
        for l in &self.layers {
            n += usize::from(self.layer_weights(l)?.is_some());
        }
        Ok(n)
    }

    /// The layer's weights for [`kernels::decoder_layer`] when it applies:
    /// every base weight, bias and norm frozen, adapters plain LoRA without
    /// dropout (at least one), CPU f32. `None` keeps the op-by-op path.
    fn layer_weights(&self, layer: &DecoderLayer) -> Result<Option<kernels::LayerWeights>> {
        let at = &layer.self_attn;
        let norms = [&layer.input_layernorm, &layer.post_attention_layernorm];
        let head_norms = [&at.q_norm, &at.k_norm];
        if norms.iter().any(|n| n.is_variable())
            || head_norms
                .iter()
                .flat_map(|n| n.iter())
                .any(|n| n.is_variable())
        {
            return Ok(None);
        }
        let lins = [
            &at.q_proj,
            &at.k_proj,
            &at.v_proj,
            &at.o_proj,
            &layer.mlp.gate_proj,
            &layer.mlp.up_proj,
            &layer.mlp.down_proj,
        ];
        let mut projections = Vec::with_capacity(7);
        for lin in lins {
            let weight = lin.base_weight()?;
            let lora = match lin.adapter() {
                None => None,
                Some(a) if a.magnitude.is_some() || a.dropout > 0.0 => return Ok(None),
                Some(a) => Some(kernels::Lora {
                    a: a.a.as_tensor().clone(),
                    b: a.b.as_tensor().clone(),
                    scaling: a.scaling,
                }),
            };
            let mut ts = vec![&weight];
            ts.extend(lin.bias());
            if let Some(l) = &lora {
                ts.extend([&l.a, &l.b]);
            }
            if ts[..1 + usize::from(lin.bias().is_some())]
                .iter()
                .any(|t| t.is_variable())
                || !kernels::supported(&ts)
            {
                return Ok(None);
            }
            projections.push(kernels::Projection {
                weight: weight.clone(),
                bias: lin.bias().cloned(),
                lora,
            });
        }
        if projections.iter().all(|p| p.lora.is_none()) || !kernels::supported(&norms) {
            return Ok(None);
        }
        let Ok(projections) = <[kernels::Projection; 7]>::try_from(projections) else {
            return Ok(None);
        };
        Ok(Some(kernels::LayerWeights {
            projections,
            input_norm: layer.input_layernorm.clone(),
            post_norm: layer.post_attention_layernorm.clone(),
            q_norm: at.q_norm.clone(),
            k_norm: at.k_norm.clone(),
            eps: self.cfg.rms_norm_eps,
            heads: self.cfg.num_attention_heads,
            kv_heads: self.cfg.num_kv_heads(),
            head_dim: self.cfg.head_dim(),
        }))
    }

    fn attention(
        &self,
        at: &Attention,
        x: &Tensor,
        tables: &Tables<'_>,
        slot: Option<(&mut Option<LayerCache>, usize)>,
        ctx: &mut ForwardCtx,
    ) -> Result<Tensor> {
        let train = ctx.is_training();
        let (b, t, _) = x.dims3()?;
        let (nh, nkv, hd) = (
            self.cfg.num_attention_heads,
            self.cfg.num_kv_heads(),
            self.cfg.head_dim(),
        );
        let eps = self.cfg.rms_norm_eps;
        let (q, k, v) = match tables.kernel {
            Some(kt) if !at.trainable_norm() => {
                let frozen = |n: &Option<Tensor>| -> Result<Option<kernels::HeadNorm>> {
                    n.as_ref()
                        .map(|w| {
                            Ok(kernels::HeadNorm {
                                weight: Arc::new(w.to_vec1::<f32>()?),
                                eps: eps as f32,
                            })
                        })
                        .transpose()
                };
                let rope = Some(kt.rope.clone());
                let [q, k, v] = Self::project_qkv(at, x, ctx)?;
                (
                    kernels::split_heads(&q, nh, 1, frozen(&at.q_norm)?, rope.clone())?,
                    kernels::split_heads(&k, nkv, 1, frozen(&at.k_norm)?, rope)?,
                    kernels::split_heads(&v, nkv, 1, None, None)?,
                )
            }
            _ => self.heads_composed(at, x, tables, ctx)?,
        };
        let (k, v) = match slot {
            None => (k, v),
            Some((slot, reserve)) => LayerCache::append(slot, &k, &v, reserve)?,
        };
        // Grouped-query attention without copying the shared keys and values:
        // the n_rep query heads of a kv head become rows of one matmul.
        let n_rep = nh / nkv;
        let s = k.dim(2)?;
        let scale = 1.0 / (hd as f64).sqrt();
        let q = q.contiguous()?.reshape((b, nkv, n_rep * t, hd))?;
        let scores = q.matmul(&k.t()?)?.reshape((b, nh, t, s))?;
        let att = match tables.kernel {
            Some(kt) => kernels::masked_softmax(&scores, &kt.mask, scale)?,
            None => {
                let logits = (scores.to_dtype(DType::F32)? * scale)?.broadcast_add(tables.mask)?;
                ops::softmax_last(&logits, train)?.to_dtype(scores.dtype())?
            }
        };
        let y = att
            .reshape((b, nkv, n_rep * t, s))?
            .matmul(&v)?
            .reshape((b, nh, t, hd))?
            .transpose(1, 2)?
            .reshape((b, t, nh * hd))?;
        match at.o_fused.as_ref().filter(|_| !ctx.is_training()) {
            Some(f) => f.forward(&y),
            None => at.o_proj.forward(&y, ctx),
        }
    }

    /// The q, k and v projections `(b, t, heads · d)`: one GEMM when fused and not training.
    fn project_qkv(at: &Attention, x: &Tensor, ctx: &mut ForwardCtx) -> Result<[Tensor; 3]> {
        if let Some(f) = at.qkv.as_ref().filter(|_| !ctx.is_training()) {
            if let Ok(qkv) = <[Tensor; 3]>::try_from(f.forward_split(x)?) {
                return Ok(qkv);
            }
        }
        Ok([
            at.q_proj.forward(x, ctx)?,
            at.k_proj.forward(x, ctx)?,
            at.v_proj.forward(x, ctx)?,
        ])
    }

    /// Query, key and value heads `(b, heads, t, d)` through candle ops.
    fn heads_composed(
        &self,
        at: &Attention,
        x: &Tensor,
        tables: &Tables<'_>,
        ctx: &mut ForwardCtx,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let train = ctx.is_training();
        let (b, t, _) = x.dims3()?;
        let (nh, nkv, hd) = (
            self.cfg.num_attention_heads,
            self.cfg.num_kv_heads(),
            self.cfg.head_dim(),
        );
        let eps = self.cfg.rms_norm_eps;
        let [q, k, v] = Self::project_qkv(at, x, ctx)?;
        let q = q.reshape((b, t, nh, hd))?;
        let k = k.reshape((b, t, nkv, hd))?;
        let v = v.reshape((b, t, nkv, hd))?;
        let q = match &at.q_norm {
            Some(w) => ops::rms_norm(&q, w, eps, train)?,
            None => q,
        };
        let k = match &at.k_norm {
            Some(w) => ops::rms_norm(&k, w, eps, train)?,
            None => k,
        };
        let (q, k) = match tables.kernel {
            Some(kt) => (
                kernels::rope_transposed(&q, &kt.rope.cos, &kt.rope.sin)?,
                kernels::rope_transposed(&k, &kt.rope.cos, &kt.rope.sin)?,
            ),
            None => (
                ops::apply_rope(&q.transpose(1, 2)?, tables.cos, tables.sin, train)?,
                ops::apply_rope(&k.transpose(1, 2)?, tables.cos, tables.sin, train)?,
            ),
        };
        Ok((q, k, v.transpose(1, 2)?.contiguous()?))
    }

    /// The LM head's `(vocab, hidden)` weight when it gets no gradient (the
    /// tied embeddings or a plain `lm_head`, frozen): for [`kernels::head_nll`].
    pub fn frozen_head(&self) -> Option<Tensor> {
        match &self.lm_head {
            None if !self.embed_tokens.is_variable() => Some(self.embed_tokens.clone()),
            None => None,
            Some(h) => h.plain_weight(),
        }
    }

    /// Vocabulary logits (f32) of hidden states.
    ///
    /// # Shapes
    /// `hidden`: `(.., hidden)` → `(.., vocab)`.
    pub fn logits(&self, hidden: &Tensor, ctx: &mut ForwardCtx) -> Result<Tensor> {
        let fused = self.lm_head_fused.as_ref().filter(|_| !ctx.is_training());
        let out = match (&self.lm_head, fused) {
            (Some(_), Some(f)) => f.forward(hidden)?,
            (Some(h), None) => h.forward(hidden, ctx)?,
            (None, _) if ctx.is_training() && !self.embed_tokens.is_variable() => {
                crate::linear::frozen_matmul_t(hidden, &self.embed_tokens)?
            }
            (None, _) => crate::linear::matmul_t(hidden, &self.embed_tokens)?,
        };
        Ok(out.to_dtype(DType::F32)?)
    }

    /// [`Decoder::logits`] of `(rows, hidden)` states as one vector per row,
    /// through [`kernels::head_logit_rows`] for tied CPU f32 embeddings at
    /// inference (the decode step's head).
    pub fn logit_rows(&self, hidden: &Tensor, ctx: &mut ForwardCtx) -> Result<Vec<Vec<f32>>> {
        if self.lm_head.is_none()
            && !ctx.is_training()
            && kernels::supported(&[hidden, &self.embed_tokens])
        {
            return Ok(kernels::head_logit_rows(hidden, &self.embed_tokens)?);
        }
        Ok(self.logits(hidden, ctx)?.to_vec2::<f32>()?)
    }
}

/// Rotary tables and the attention mask of one forward pass.
struct Tables<'a> {
    cos: &'a Tensor,
    sin: &'a Tensor,
    mask: &'a Tensor,
    /// The same as flat vectors, when training with [`kernels`].
    kernel: Option<&'a KernelTables>,
}

struct KernelTables {
    rope: kernels::RopeTables,
    /// `(b, t, s)`: the mask without its head dim.
    mask: Arc<Vec<f32>>,
}

/// Positions and key-validity for a left-padded batch of lengths `lens` padded to `width`.
pub fn left_padded_positions(lens: &[usize], width: usize) -> (Vec<u32>, Vec<Vec<bool>>) {
    let mut pos = Vec::with_capacity(lens.len() * width);
    let mut valid = Vec::with_capacity(lens.len());
    for &n in lens {
        let pad = width - n;
        pos.extend((0..width).map(|j| j.saturating_sub(pad) as u32));
        valid.push((0..width).map(|j| j >= pad).collect());
    }
    (pos, valid)
}
