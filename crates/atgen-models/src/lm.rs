//! [`CausalLm`]: a decoder, its tokenizer, and its adapters, loaded from a
//! Hugging Face directory or hub id.

use crate::adapters::{LoraWeights, PeftConfig, PeftKind};
use crate::decoder::Decoder;
use crate::hub::{self, ModelFiles};
use crate::load::SafetensorsSource;
use crate::rng::SeededRng;
use crate::tokenizer::{Message, TextTokenizer};
use crate::{DecoderConfig, Error, Result};
use candle_core::{DType, Device, Var};

/// A causal language model ready to generate, score, embed and train.
#[derive(Debug, Clone)]
pub struct CausalLm {
    /// The network.
    pub decoder: Decoder,
    /// Its tokenizer and chat template.
    pub tokenizer: TextTokenizer,
    /// Token ids that end generation.
    pub eos_ids: Vec<u32>,
    /// Where it was loaded from (`None` when built in memory).
    pub files: Option<ModelFiles>,
    /// Adapter configuration, once adapters are attached.
    pub peft: Option<PeftConfig>,
}

/// The dtype to run in: the requested one, else f32 on CPU (bf16/f16 matmuls
/// are slow there), else the checkpoint's `torch_dtype`.
pub fn choose_dtype(requested: Option<DType>, cfg: &DecoderConfig, device: &Device) -> DType {
    if let Some(d) = requested {
        return d;
    }
    if device.is_cpu() {
        return DType::F32;
    }
    match cfg.torch_dtype.as_deref() {
        Some("bfloat16") => DType::BF16,
        Some("float16") => DType::F16,
        _ => DType::F32,
    }
}

impl CausalLm {
    /// Loads a model directory or hub id.
    pub fn load(model: &str, dtype: Option<DType>, device: &Device) -> Result<Self> {
        let files = hub::resolve(model)?;
        let cfg = DecoderConfig::from_file(&files.config)?;
        let dtype = choose_dtype(dtype, &cfg, device);
        let src = SafetensorsSource::open(&files.weights, dtype, device)?;
        let decoder = Decoder::new(&cfg, &src, device, dtype).map_err(|e| match e {
            Error::Tensor { name, reason, .. } => Error::Tensor {
                name,
                path: files.dir.clone(),
                reason,
            },
            other => other,
        })?;
        let tok_path = files.tokenizer.clone().ok_or_else(|| Error::MissingFile {
            path: files.dir.join("tokenizer.json"),
            hint: String::new(),
        })?;
        let tokenizer = TextTokenizer::from_files(&tok_path, files.tokenizer_config.as_deref())?;
        let mut eos_ids = cfg.eos_ids();
        eos_ids.extend(tokenizer.eos_id().filter(|id| !eos_ids.contains(id)));
        Ok(CausalLm {
            decoder,
            tokenizer,
            eos_ids,
            files: Some(files),
            peft: None,
        })
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        self.decoder.device()
    }

    /// Maximum sequence length.
    pub fn max_context(&self) -> usize {
        self.decoder.config().max_position_embeddings
    }

    /// Formats a prompt: through the chat template when `chat`, else as is.
    pub fn format_prompt(&self, prompt: &str, system: Option<&str>, chat: bool) -> Result<String> {
        if !chat {
            return Ok(prompt.to_string());
        }
        let mut msgs = Vec::new();
        if let Some(s) = system {
            msgs.push(Message::new("system", s));
        }
        msgs.push(Message::new("user", prompt));
        self.tokenizer.apply_chat_template(&msgs)
    }

    /// Attaches fresh adapters to the targeted linear layers (or, for
    /// `kind = none`, makes every weight trainable). Returns the trainable variables.
    pub fn attach_adapters(&mut self, cfg: &PeftConfig, seed: u64) -> Result<Vec<(String, Var)>> {
        cfg.validate()?;
        if cfg.kind == PeftKind::None {
            self.peft = Some(cfg.clone());
            return self.decoder.make_all_trainable();
        }
        let tied_head = !self.decoder.linears().iter().any(|(n, _)| n == "lm_head");
        if tied_head && cfg.target_modules.iter().any(|t| t == "lm_head") {
            return Err(Error::Config {
                key: "target_modules".into(),
                reason: "`lm_head` is tied to the input embeddings in this model \
                         (tie_word_embeddings), and atgen puts no adapter on a tied head \
                         (nor does vLLM); remove `lm_head` from the targets"
                    .into(),
            });
        }
        let mut rng = SeededRng::new(seed);
        let mut found = false;
        for (name, lin) in self.decoder.linears_mut()? {
            let module = name.rsplit('.').next().unwrap_or(&name);
            if cfg.kind == PeftKind::Qlora && name != "lm_head" {
                lin.quantize_base()?;
            }
            if !cfg.targets(module) {
                continue;
            }
            found = true;
            let base = lin.base_weight()?;
            let w = LoraWeights::init(
                &base,
                cfg.r,
                cfg.scaling(),
                cfg.lora_dropout,
                cfg.kind == PeftKind::Dora,
                &mut rng,
            )?;
            lin.set_adapter(Some(w));
        }
        if !found {
            return Err(Error::Config {
                key: "target_modules".into(),
                reason: format!(
                    "{:?} match no linear layer of the model",
                    cfg.target_modules
                ),
            });
        }
        self.peft = Some(cfg.clone());
        Ok(self.trainable_vars())
    }

    /// The adapters' trainable variables with PEFT-style names.
    pub fn trainable_vars(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        for (name, lin) in self.decoder.linears() {
            if let Some(a) = lin.adapter() {
                out.push((format!("{name}.lora_A.weight"), a.a.clone()));
                out.push((format!("{name}.lora_B.weight"), a.b.clone()));
                if let Some(m) = &a.magnitude {
                    out.push((format!("{name}.lora_magnitude_vector"), m.clone()));
                }
            }
        }
        out
    }

    /// Folds adapters into the base weights (for export or faster inference).
    pub fn merge_adapters(&mut self) -> Result<()> {
        for (_, lin) in self.decoder.linears_mut()? {
            lin.merge_adapter()?;
        }
        self.decoder.fuse_projections()
    }

    /// Token ids of a text (special tokens added as the tokenizer is configured).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(text, true)
    }

    /// The dtype of activations.
    pub fn dtype(&self) -> DType {
        self.decoder.dtype()
    }
}
