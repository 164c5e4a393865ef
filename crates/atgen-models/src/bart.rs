//! BART encoder-decoder (`model_type: bart`, transformers'
//! `BartForConditionalGeneration` names) for teacher-forced scoring: the
//! log-prob of each target token given a source, as BARTScore needs it.
//!
//! Architecture, inference only: shared token embeddings (times
//! `sqrt(d_model)` when `scale_embedding`), learned positions looked up at
//! `position + 2` (BART's offset), `layernorm_embedding`, post-LayerNorm
//! encoder and decoder layers (self-attention, cross-attention in the
//! decoder, a GELU feed-forward), and an LM head tied to the shared embedding
//! (unless `tie_word_embeddings` is false) plus `final_logits_bias`.
//!
//! Scoring follows transformers given `labels`: the target is tokenized with
//! its special tokens (`<s> … </s>`), the decoder reads it shifted right
//! behind `decoder_start_token_id`, and every target token is scored. Source
//! and target are truncated to [`Seq2SeqLm::max_length`] tokens; batches are
//! right-padded with an encoder padding mask (the decoder's causal mask
//! already hides its trailing padding).

use crate::bert::{Dense, LayerNorm};
use crate::decoder::WeightSource;
use crate::load::SafetensorsSource;
use crate::{Error, Result};
use atgen_core::TargetScore;
use candle_core::{DType, Device, Tensor, D};
use serde::Deserialize;

/// BART's learned position tables start at row 2 (fairseq's padding offset).
const POSITION_OFFSET: usize = 2;

/// The `config.json` fields of a BART model.
#[derive(Debug, Clone, Deserialize)]
pub struct BartConfig {
    pub model_type: String,
    pub vocab_size: usize,
    pub d_model: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub encoder_attention_heads: usize,
    pub decoder_attention_heads: usize,
    pub encoder_ffn_dim: usize,
    pub decoder_ffn_dim: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "gelu")]
    pub activation_function: String,
    #[serde(default)]
    pub scale_embedding: bool,
    #[serde(default = "one")]
    pub pad_token_id: u32,
    #[serde(default = "two")]
    pub decoder_start_token_id: u32,
    #[serde(default = "yes")]
    pub tie_word_embeddings: bool,
}

fn gelu() -> String {
    "gelu".into()
}
fn one() -> u32 {
    1
}
fn two() -> u32 {
    2
}
fn yes() -> bool {
    true
}

/// Reads `model_type` from a model's `config.json` (directory or hub id).
pub fn model_type(model: &str) -> Result<String> {
    let files = crate::hub::resolve(model)?;
    let text = fs_err::read_to_string(&files.config)?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|source| Error::Json {
        path: files.config.clone(),
        source,
    })?;
    Ok(v.get("model_type")
        .and_then(|t| t.as_str())
        .unwrap_or_default()
        .to_string())
}

#[derive(Clone, Copy)]
enum Activation {
    GeluErf,
    GeluTanh,
    Relu,
}

impl Activation {
    fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "gelu" => Activation::GeluErf,
            "gelu_new" | "gelu_pytorch_tanh" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => {
                return Err(Error::Config {
                    key: "activation_function".into(),
                    reason: format!("`{other}` (gelu, gelu_new or relu)"),
                })
            }
        })
    }

    fn apply(self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Activation::GeluErf => x.gelu_erf()?,
            Activation::GeluTanh => x.gelu()?,
            Activation::Relu => x.relu()?,
        })
    }
}

struct Attention {
    q: Dense,
    k: Dense,
    v: Dense,
    out: Dense,
    heads: usize,
}

impl Attention {
    fn load(src: &dyn WeightSource, p: &str, h: usize, heads: usize) -> Result<Self> {
        Ok(Attention {
            q: Dense::load(src, &format!("{p}.q_proj"), h, h)?,
            k: Dense::load(src, &format!("{p}.k_proj"), h, h)?,
            v: Dense::load(src, &format!("{p}.v_proj"), h, h)?,
            out: Dense::load(src, &format!("{p}.out_proj"), h, h)?,
            heads,
        })
    }

    /// Queries from `x` `(b, tq, h)`, keys and values from `kv` `(b, tk, h)`;
    /// `mask` is additive and broadcasts to `(b, heads, tq, tk)`.
    fn forward(&self, x: &Tensor, kv: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, tq, h) = x.dims3()?;
        let tk = kv.dim(1)?;
        let hd = h / self.heads;
        let split = |t: Tensor, len: usize| -> Result<Tensor> {
            Ok(t.reshape((b, len, self.heads, hd))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = split((self.q.forward(x)? * (hd as f64).powf(-0.5))?, tq)?;
        let k = split(self.k.forward(kv)?, tk)?;
        let v = split(self.v.forward(kv)?, tk)?;
        let att = q.matmul(&k.t()?)?.broadcast_add(mask)?;
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        let ctx = att.matmul(&v)?.transpose(1, 2)?.reshape((b, tq, h))?;
        self.out.forward(&ctx)
    }
}

/// One post-LayerNorm layer; `cross` is set in decoder layers only.
struct Layer {
    self_attn: Attention,
    self_norm: LayerNorm,
    cross: Option<(Attention, LayerNorm)>,
    fc1: Dense,
    fc2: Dense,
    final_norm: LayerNorm,
}

impl Layer {
    fn load(
        src: &dyn WeightSource,
        p: &str,
        cfg: &BartConfig,
        heads: usize,
        ffn: usize,
        cross: bool,
    ) -> Result<Self> {
        let h = cfg.d_model;
        let cross = if cross {
            Some((
                Attention::load(src, &format!("{p}.encoder_attn"), h, heads)?,
                LayerNorm::load(src, &format!("{p}.encoder_attn_layer_norm"), h, LN_EPS)?,
            ))
        } else {
            None
        };
        Ok(Layer {
            self_attn: Attention::load(src, &format!("{p}.self_attn"), h, heads)?,
            self_norm: LayerNorm::load(src, &format!("{p}.self_attn_layer_norm"), h, LN_EPS)?,
            cross,
            fc1: Dense::load(src, &format!("{p}.fc1"), ffn, h)?,
            fc2: Dense::load(src, &format!("{p}.fc2"), h, ffn)?,
            final_norm: LayerNorm::load(src, &format!("{p}.final_layer_norm"), h, LN_EPS)?,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        self_mask: &Tensor,
        memory: Option<(&Tensor, &Tensor)>,
        act: Activation,
    ) -> Result<Tensor> {
        let mut x = self
            .self_norm
            .forward(&(self.self_attn.forward(x, x, self_mask)? + x)?)?;
        if let (Some((attn, norm)), Some((mem, mem_mask))) = (&self.cross, memory) {
            x = norm.forward(&(attn.forward(&x, mem, mem_mask)? + &x)?)?;
        }
        let ff = self.fc2.forward(&act.apply(&self.fc1.forward(&x)?)?)?;
        self.final_norm.forward(&(ff + x)?)
    }
}

/// transformers' `nn.LayerNorm` default, which BART uses throughout.
const LN_EPS: f64 = 1e-5;

/// Embeddings plus the layers of the encoder or the decoder.
struct Stack {
    positions: Tensor,
    norm: LayerNorm,
    layers: Vec<Layer>,
}

impl Stack {
    fn load(src: &dyn WeightSource, p: &str, cfg: &BartConfig, decoder: bool) -> Result<Self> {
        let h = cfg.d_model;
        let (n, heads, ffn) = if decoder {
            (
                cfg.decoder_layers,
                cfg.decoder_attention_heads,
                cfg.decoder_ffn_dim,
            )
        } else {
            (
                cfg.encoder_layers,
                cfg.encoder_attention_heads,
                cfg.encoder_ffn_dim,
            )
        };
        if heads == 0 || !h.is_multiple_of(heads) {
            return Err(Error::Config {
                key: "attention_heads".into(),
                reason: format!("{heads} heads do not divide d_model {h}"),
            });
        }
        let layers = (0..n)
            .map(|i| Layer::load(src, &format!("{p}.layers.{i}"), cfg, heads, ffn, decoder))
            .collect::<Result<Vec<_>>>()?;
        Ok(Stack {
            positions: src.get(
                &format!("{p}.embed_positions.weight"),
                &[cfg.max_position_embeddings + POSITION_OFFSET, h],
            )?,
            norm: LayerNorm::load(src, &format!("{p}.layernorm_embedding"), h, LN_EPS)?,
            layers,
        })
    }

    /// Token embeddings `(b, t, h)` plus positions, normalised.
    fn embed(&self, tokens: &Tensor) -> Result<Tensor> {
        let t = tokens.dim(1)?;
        let pos = self.positions.narrow(0, POSITION_OFFSET, t)?.unsqueeze(0)?;
        self.norm.forward(&tokens.broadcast_add(&pos)?)
    }
}

/// Prefix-aware lookup: weights saved from the full model carry `model.`.
struct Named<'a>(&'a SafetensorsSource, &'static str);

impl WeightSource for Named<'_> {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.0.get(&format!("{}{name}", self.1), shape)
    }
    fn contains(&self, name: &str) -> bool {
        self.0.contains(&format!("{}{name}", self.1))
    }
}

/// A BART model with its tokenizer, scoring targets given sources.
pub struct Seq2SeqLm {
    cfg: BartConfig,
    shared: Tensor,
    lm_head: Tensor,
    final_logits_bias: Tensor,
    encoder: Stack,
    decoder: Stack,
    act: Activation,
    tokenizer: tokenizers::Tokenizer,
    max_length: usize,
    device: Device,
}

impl Seq2SeqLm {
    /// Loads a BART directory or hub id (config.json, model.safetensors, tokenizer.json) in f32.
    pub fn load(model: &str, device: &Device) -> Result<Self> {
        let files = crate::hub::resolve(model)?;
        let text = fs_err::read_to_string(&files.config)?;
        let json = |source| Error::Json {
            path: files.config.clone(),
            source,
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(json)?;
        let found = value.get("model_type").and_then(|t| t.as_str());
        if found != Some("bart") {
            return Err(Error::UnsupportedArchitecture {
                found: found.unwrap_or("<none>").into(),
                path: files.config.clone(),
                supported: "bart".into(),
            });
        }
        let cfg: BartConfig = serde_json::from_value(value).map_err(json)?;
        let act = Activation::parse(&cfg.activation_function)?;
        let st = SafetensorsSource::open(&files.weights, DType::F32, device)?;
        let prefix = if st.contains("model.shared.weight")
            || st.contains("model.encoder.embed_tokens.weight")
        {
            "model."
        } else {
            ""
        };
        let src = Named(&st, prefix);
        let (v, h) = (cfg.vocab_size, cfg.d_model);
        let shared = ["shared.weight", "encoder.embed_tokens.weight"]
            .into_iter()
            .find(|n| src.contains(n))
            .map_or_else(
                || src.get("shared.weight", &[v, h]),
                |n| src.get(n, &[v, h]),
            )?;
        let lm_head = if !cfg.tie_word_embeddings && st.contains("lm_head.weight") {
            st.get("lm_head.weight", &[v, h])?
        } else {
            shared.clone()
        };
        let final_logits_bias = if st.contains("final_logits_bias") {
            st.get("final_logits_bias", &[1, v])?
        } else {
            Tensor::zeros((1, v), DType::F32, device)?
        };
        let tok_path = files.tokenizer.clone().ok_or_else(|| Error::MissingFile {
            path: files.dir.join("tokenizer.json"),
            hint: " (BART scoring needs the tokenizer)".into(),
        })?;
        let mut tokenizer = tokenizers::Tokenizer::from_file(&tok_path)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", tok_path.display())))?;
        tokenizer.with_padding(None);
        let mut lm = Seq2SeqLm {
            encoder: Stack::load(&src, "encoder", &cfg, false)?,
            decoder: Stack::load(&src, "decoder", &cfg, true)?,
            shared,
            lm_head,
            final_logits_bias,
            act,
            tokenizer,
            max_length: 0,
            device: device.clone(),
            cfg,
        };
        lm.set_max_length(1024)?;
        Ok(lm)
    }

    /// The model's configuration.
    pub fn config(&self) -> &BartConfig {
        &self.cfg
    }

    /// Tokens (special tokens included) each source and target is truncated to.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Truncates sources and targets to `n` tokens from now on (at most the position table).
    pub fn set_max_length(&mut self, n: usize) -> Result<()> {
        if n < 2 {
            return Err(Error::Config {
                key: "max_length".into(),
                reason: format!("{n} leaves no room for <s> and </s>"),
            });
        }
        self.max_length = n.min(self.cfg.max_position_embeddings);
        self.tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: self.max_length,
                ..Default::default()
            }))
            .map_err(Error::tokenizer)?;
        Ok(())
    }

    /// Token ids of `text` with the tokenizer's special tokens, truncated.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .tokenizer
            .encode(text, true)
            .map_err(Error::tokenizer)?
            .get_ids()
            .to_vec())
    }

    /// Per-token log-probs of each target given its source, `batch_size` pairs per forward.
    pub fn score(&self, pairs: &[(String, String)], batch_size: usize) -> Result<Vec<TargetScore>> {
        let mut out = Vec::with_capacity(pairs.len());
        for (c, chunk) in pairs.chunks(batch_size.max(1)).enumerate() {
            let mut src = Vec::with_capacity(chunk.len());
            let mut tgt = Vec::with_capacity(chunk.len());
            for (i, (s, t)) in chunk.iter().enumerate() {
                let (s, t) = (self.encode(s)?, self.encode(t)?);
                if t.is_empty() || s.is_empty() {
                    return Err(Error::Invalid(format!(
                        "pair {} encodes to no tokens (a tokenizer without special tokens?)",
                        c * batch_size.max(1) + i
                    )));
                }
                src.push(s);
                tgt.push(t);
            }
            out.extend(self.score_batch(&src, &tgt)?);
        }
        Ok(out)
    }

    fn score_batch(&self, src: &[Vec<u32>], tgt: &[Vec<u32>]) -> Result<Vec<TargetScore>> {
        let b = src.len();
        let pad = self.cfg.pad_token_id;
        let ws = src.iter().map(Vec::len).max().unwrap_or(1);
        let wt = tgt.iter().map(Vec::len).max().unwrap_or(1);
        let mut src_ids = vec![pad; b * ws];
        let mut src_valid = vec![0f32; b * ws];
        let mut dec_ids = vec![pad; b * wt];
        let mut labels = vec![0u32; b * wt];
        for r in 0..b {
            src_ids[r * ws..r * ws + src[r].len()].copy_from_slice(&src[r]);
            src_valid[r * ws..r * ws + src[r].len()].fill(1.0);
            // Shift right: the decoder reads decoder_start, y_0, ..., y_{n-2}.
            dec_ids[r * wt] = self.cfg.decoder_start_token_id;
            let n = tgt[r].len();
            dec_ids[r * wt + 1..r * wt + n].copy_from_slice(&tgt[r][..n - 1]);
            labels[r * wt..r * wt + n].copy_from_slice(&tgt[r]);
        }
        let dev = &self.device;
        let src_ids = Tensor::from_vec(src_ids, (b, ws), dev)?;
        // (b, 1, 1, ws): 0 for tokens, a large negative for padding.
        let src_mask =
            ((Tensor::from_vec(src_valid, (b, ws), dev)? - 1.0)? * 1e9)?.reshape((b, 1, 1, ws))?;
        let mut memory = self.encoder.embed(&self.embed_tokens(&src_ids)?)?;
        for l in &self.encoder.layers {
            memory = l.forward(&memory, &src_mask, None, self.act)?;
        }
        let causal: Vec<f32> = (0..wt)
            .flat_map(|i| (0..wt).map(move |j| if j > i { -1e9 } else { 0.0 }))
            .collect();
        let causal = Tensor::from_vec(causal, (1, 1, wt, wt), dev)?;
        let dec_ids = Tensor::from_vec(dec_ids, (b, wt), dev)?;
        let mut x = self.decoder.embed(&self.embed_tokens(&dec_ids)?)?;
        for l in &self.decoder.layers {
            x = l.forward(&x, &causal, Some((&memory, &src_mask)), self.act)?;
        }
        let logits = x
            .reshape((b * wt, self.cfg.d_model))?
            .matmul(&self.lm_head.t()?)?
            .broadcast_add(&self.final_logits_bias)?;
        let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let labels_t = Tensor::from_vec(labels.clone(), (b * wt, 1), dev)?;
        let picked = logp
            .gather(&labels_t, 1)?
            .reshape((b, wt))?
            .to_vec2::<f32>()?;
        Ok(tgt
            .iter()
            .zip(picked)
            .map(|(t, row)| TargetScore {
                token_ids: t.clone(),
                logprobs: row[..t.len()].to_vec(),
            })
            .collect())
    }

    /// Shared embeddings of `ids` `(b, t)`, scaled by `sqrt(d_model)` when configured.
    fn embed_tokens(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let x =
            self.shared
                .index_select(&ids.flatten_all()?, 0)?
                .reshape((b, t, self.cfg.d_model))?;
        Ok(if self.cfg.scale_embedding {
            (x * (self.cfg.d_model as f64).sqrt())?
        } else {
            x
        })
    }
}
