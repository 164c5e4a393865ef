//! The acquisition model run in-process: a candle [`CausalLm`] with adapters,
//! trained afresh (or continued) each round, generating with per-token scores.

use crate::{EngineError, Result};
use atgen_config::{Config, Dtype, InferenceFramework, ModelInit, PeftKind as CfgPeftKind};
use atgen_core::{Example, Generation, GenerationParams, TrainExample, TrainReport};
use atgen_data::Prompt;
use atgen_models::adapters::{PeftConfig, PeftKind};
use atgen_models::init::{init_model, TokenizerSource};
use atgen_models::train::{fit, TrainConfig};
use atgen_models::{peft, CausalLm, DecoderConfig};
use candle_core::{DType, Device, Var};
use std::path::Path;

/// The model the loop trains and queries.
pub struct LocalModel {
    /// Generation on an OpenAI-compatible server instead of in process.
    remote: Option<crate::remote::RemoteGenerator>,
    base: CausalLm,
    current: CausalLm,
    vars: Vec<(String, Var)>,
    peft: PeftConfig,
    train: TrainConfig,
    /// Rows per generation batch.
    pub batch_size: usize,
    /// The merged checkpoint the server loaded last (DoRA with remote inference).
    merged: Option<std::path::PathBuf>,
}

fn peft_config(cfg: &Config) -> PeftConfig {
    let p = &cfg.model.peft;
    PeftConfig {
        kind: match p.kind {
            CfgPeftKind::Lora => PeftKind::Lora,
            CfgPeftKind::Dora => PeftKind::Dora,
            CfgPeftKind::Qlora => PeftKind::Qlora,
            CfgPeftKind::None => PeftKind::None,
        },
        r: p.r,
        lora_alpha: p.alpha,
        lora_dropout: p.dropout,
        target_modules: p.target_modules.clone(),
        use_rslora: false,
    }
}

/// The fine-tuning settings of a config.
pub fn train_config(cfg: &Config) -> TrainConfig {
    let t = &cfg.training;
    TrainConfig {
        epochs: t.num_epochs,
        batch_size: t.batch_size,
        gradient_accumulation_steps: t.gradient_accumulation_steps,
        learning_rate: t.lr,
        warmup_ratio: t.warmup_ratio,
        weight_decay: t.weight_decay,
        max_grad_norm: t.max_grad_norm.unwrap_or(0.0),
        early_stopping_patience: t.early_stopping_patience.unwrap_or(usize::MAX),
        seed: cfg.seed,
        progress: true,
        ..TrainConfig::paper()
    }
}

/// Creates the model described by `model.init` at `dir`: a BPE tokenizer
/// trained on pool texts, random weights, then optional language-model
/// pre-training on those unlabeled texts (plus the span-copy task, rendered
/// with `prompt`, when `init.pretrain_span_copy`), on `device`.
pub fn create_model(
    init: &ModelInit,
    dir: &Path,
    pool: &[Example],
    seed: u64,
    prompt: Option<&Prompt>,
    device: &Device,
) -> Result<()> {
    let family = match init.arch.as_str() {
        "qwen3" => atgen_models::Family::Qwen3,
        "qwen2" => atgen_models::Family::Qwen2,
        "llama" => atgen_models::Family::Llama,
        "mistral" => atgen_models::Family::Mistral,
        other => {
            return Err(EngineError::Invalid(format!(
                "model.init.arch: unknown `{other}` (qwen3, qwen2, llama, mistral)"
            )))
        }
    };
    let texts: Vec<&Example> = pool.iter().take(init.pretrain_texts.max(1)).collect();
    fs_err::create_dir_all(dir)?;
    let corpus = dir.join("tokenizer_corpus.txt");
    let mut text = String::new();
    // Inputs only: the pool's references are the labels active learning pays for.
    for e in &texts {
        text.push_str(&e.input);
        text.push('\n');
    }
    fs_err::write(&corpus, text)?;
    let mut cfg = DecoderConfig::tiny(family, init.vocab_size);
    cfg.hidden_size = init.hidden_size;
    cfg.intermediate_size = init.intermediate_size;
    cfg.num_hidden_layers = init.layers;
    cfg.num_attention_heads = init.heads;
    cfg.num_key_value_heads = Some(init.kv_heads);
    cfg.head_dim =
        (family == atgen_models::Family::Qwen3).then_some(init.hidden_size / init.heads.max(1));
    cfg.max_position_embeddings = init.max_position_embeddings;
    init_model(
        cfg,
        &TokenizerSource::Train {
            files: vec![corpus.clone()],
            vocab_size: init.vocab_size,
            added_tokens: init.added_tokens.clone(),
        },
        init.seed,
        dir,
    )?;
    fs_err::remove_file(&corpus)?;
    if init.pretrain_epochs > 0 {
        let mut lm = CausalLm::load(&dir.display().to_string(), Some(DType::F32), device)?;
        let vars = lm.attach_adapters(
            &PeftConfig {
                kind: PeftKind::None,
                ..PeftConfig::default()
            },
            seed,
        )?;
        let max_tokens = init
            .pretrain_max_tokens
            .min(init.max_position_embeddings.saturating_sub(2));
        let mut examples = lm_examples(&lm, &texts, max_tokens, init.pretrain_repeat, seed);
        let n_lm = examples.len();
        if let (true, Some(prompt)) = (init.pretrain_span_copy, prompt) {
            let spans = SpanCopy {
                copies: init.pretrain_span_copies.max(1),
                max_words: init.pretrain_span_words.max(1),
            };
            // Prompts use the whole context, as the rounds' prompts do.
            let context = init.max_position_embeddings.saturating_sub(2);
            examples.extend(span_copy_examples(
                &lm, &texts, prompt, context, &spans, seed,
            )?);
        }
        eprintln!(
            "pre-training the new model on {n_lm} unlabeled pool texts{} ({} epochs)",
            if examples.len() > n_lm {
                format!(" and {} span-copy prompts", examples.len() - n_lm)
            } else {
                String::new()
            },
            init.pretrain_epochs
        );
        let tc = TrainConfig {
            epochs: init.pretrain_epochs,
            batch_size: 16,
            learning_rate: init.pretrain_lr,
            warmup_ratio: 0.05,
            early_stopping_patience: usize::MAX,
            seed,
            ..TrainConfig::paper()
        };
        fit(&lm, &vars, &examples, None, &tc)?;
        peft::save_merged(&lm, dir)?;
    }
    Ok(())
}

/// Language-modelling examples: each text cut to `max_tokens`, or with `repeat`
/// cut to a seeded random length up to half of it and written twice (the second
/// copy can only be predicted by copying from the first; the random length keeps
/// the distance between the copies from being a constant a model could memorise
/// instead of learning to find its place in the first copy).
fn lm_examples(
    lm: &CausalLm,
    texts: &[&Example],
    max_tokens: usize,
    repeat: bool,
    seed: u64,
) -> Vec<TrainExample> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x7e9e_a7ed);
    let half = (max_tokens / 2).saturating_sub(1).max(1);
    texts
        .iter()
        .filter_map(|e| {
            let t = if repeat {
                let n = rng.random_range(half.div_ceil(4)..=half);
                let part = truncate_tokens(lm, &e.input, n).ok()?;
                format!("{part}\n{part}")
            } else {
                truncate_tokens(lm, &e.input, max_tokens).ok()?
            };
            (!t.trim().is_empty()).then(|| TrainExample {
                prompt: String::new(),
                target: t,
            })
        })
        .collect()
}

/// How many span-copy prompts each text gives, and their longest span.
struct SpanCopy {
    copies: usize,
    max_words: usize,
}

/// The self-supervised copy task: each text (cut to `max_tokens`) in the
/// dataset's prompt, answered with seeded random spans of its words
/// (`spans.copies` prompts per text, spans of 1 to `spans.max_words` words).
/// It teaches a model created from scratch to answer from its input; it uses
/// no labels, and the spans favour no position, so which words make a good
/// answer is left for the labeled data to teach.
fn span_copy_examples(
    lm: &CausalLm,
    texts: &[&Example],
    prompt: &Prompt,
    max_tokens: usize,
    spans: &SpanCopy,
    seed: u64,
) -> Result<Vec<TrainExample>> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5ba2_c0b7);
    let mut out = Vec::new();
    for e in texts {
        // The input gets what the template leaves, minus room for a span of up to 6 words.
        let mut cut = (*e).clone();
        cut.input = String::new();
        let overhead = lm.encode(&prompt.render_text(&cut)?)?.len();
        let budget = max_tokens.saturating_sub(overhead + 4 + 2 * spans.max_words);
        if budget < 8 {
            continue;
        }
        cut.input = truncate_tokens(lm, &e.input, budget)?;
        let words: Vec<&str> = cut.input.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let rendered = prompt.render_text(&cut)?;
        let prompt_len = lm.encode(&rendered)?.len();
        for _ in 0..spans.copies {
            let len = rng.random_range(1..=spans.max_words).min(words.len());
            let start = rng.random_range(0..=words.len() - len);
            let target = words[start..start + len].join(" ");
            // Prompt, span and end-of-text must fit the pre-training length.
            if prompt_len + lm.tokenizer.encode(&target, false)?.len() < max_tokens {
                out.push(TrainExample {
                    target: crate::prompting::answer_after(&rendered, &target),
                    prompt: rendered.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// The first `max` tokens of `text` (decoded back to text).
pub fn truncate_tokens(lm: &CausalLm, text: &str, max: usize) -> Result<String> {
    let ids = lm.tokenizer.encode(text, false)?;
    if ids.len() <= max {
        return Ok(text.to_string());
    }
    Ok(lm.tokenizer.decode(&ids[..max])?)
}

impl LocalModel {
    /// Loads (creating it first when `model.init` says so) the configured model.
    pub fn load(cfg: &Config, pool: &[Example], base_dir: &Path) -> Result<Self> {
        let checkpoint = cfg.model.checkpoint.clone().unwrap_or_default();
        let local = base_dir.join(&checkpoint);
        let device = atgen_models::device::open(cfg.model.device, "model.device")?;
        if let Some(init) = &cfg.model.init {
            if !local.join("config.json").is_file() {
                eprintln!("creating model {} (model.init)", local.display());
                let mut prompt = Prompt::new(&cfg.data.prompt_template, &cfg.data.input_column)?;
                prompt.system = cfg.data.system_prompt.clone();
                create_model(init, &local, pool, cfg.seed, Some(&prompt), &device)?;
            }
        }
        let path = if local.is_dir() {
            local.display().to_string()
        } else {
            checkpoint
        };
        let dtype = match cfg.model.dtype {
            Dtype::Auto => None,
            Dtype::F32 => Some(DType::F32),
            Dtype::F16 => Some(DType::F16),
            Dtype::Bf16 => Some(DType::BF16),
        };
        let base = CausalLm::load(&path, dtype, &device)?;
        eprintln!(
            "model {path} on {}, {}",
            atgen_models::device::describe(&device),
            base.dtype().as_str()
        );
        let remote = match cfg.inference.framework {
            InferenceFramework::Local => None,
            InferenceFramework::OpenaiCompatible => {
                let url = cfg.inference.base_url.clone().unwrap_or_default();
                let name = cfg
                    .inference
                    .model
                    .clone()
                    .or_else(|| cfg.model.checkpoint.clone())
                    .unwrap_or_default();
                let key = cfg
                    .inference
                    .api_key
                    .as_ref()
                    .map(|k| k.expose().to_string());
                Some(crate::remote::RemoteGenerator::new(&url, &name, key)?)
            }
        };
        Ok(LocalModel {
            remote,
            current: base.clone(),
            base,
            vars: Vec::new(),
            peft: peft_config(cfg),
            train: train_config(cfg),
            batch_size: cfg.inference.batch_size.max(1),
            merged: None,
        })
    }

    /// The model as it is now.
    pub fn lm(&self) -> &CausalLm {
        &self.current
    }

    /// The untrained base model.
    pub fn base(&self) -> &CausalLm {
        &self.base
    }

    /// Fine-tunes on `train`: from the base model with fresh adapters when
    /// `from_scratch` (or when nothing was trained yet), else continuing.
    pub fn fit(
        &mut self,
        train: &[TrainExample],
        dev: Option<&[TrainExample]>,
        seed: u64,
        from_scratch: bool,
    ) -> Result<TrainReport> {
        if from_scratch || self.vars.is_empty() {
            self.current = self.base.clone();
            self.vars = self.current.attach_adapters(&self.peft, seed)?;
        }
        let cfg = TrainConfig {
            seed,
            ..self.train.clone()
        };
        Ok(fit(&self.current, &self.vars, train, dev, &cfg)?)
    }

    /// Saves the adapter (or, for full fine-tuning, the whole model) to `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        if self.vars.is_empty() {
            return Ok(());
        }
        if self.peft.kind == PeftKind::None {
            peft::save_merged(&self.current, dir)?;
        } else {
            peft::save_adapter(&self.current, dir)?;
        }
        Ok(())
    }

    /// Makes a saved adapter (in `dir`) the one that generates: with remote inference a LoRA
    /// adapter is loaded by the server under `name`, and a DoRA adapter is merged first into a
    /// full checkpoint (`merged/` beside `dir`; full fine-tuning saved one in `dir` already)
    /// whose weights the server swaps in; in process the model already has it.
    pub fn publish(&mut self, dir: &Path, name: &str) -> Result<()> {
        let Some(remote) = self.remote.as_mut() else {
            return Ok(());
        };
        if self.vars.is_empty() {
            return Ok(());
        }
        match self.peft.kind {
            PeftKind::Lora | PeftKind::Qlora => remote.load_adapter(name, dir),
            PeftKind::None => remote.update_weights(dir),
            PeftKind::Dora => {
                let merged = dir.with_file_name("merged");
                peft::save_merged(&self.current, &merged)?;
                remote.update_weights(&merged)?;
                // The server holds the new weights; the previous round's copy can go.
                if let Some(old) = self.merged.replace(merged) {
                    let _ = fs_err::remove_dir_all(old);
                }
                Ok(())
            }
        }
    }

    /// Restores a saved round's model (adapter, or full checkpoint for full fine-tuning).
    pub fn restore(&mut self, dir: &Path) -> Result<()> {
        if self.peft.kind == PeftKind::None {
            let mut lm = CausalLm::load(
                &dir.display().to_string(),
                Some(self.base.dtype()),
                self.base.device(),
            )?;
            self.vars = lm.attach_adapters(&self.peft, 0)?;
            self.current = lm;
        } else {
            let mut lm = self.base.clone();
            self.vars = peft::load_adapter(&mut lm, dir)?;
            self.current = lm;
        }
        Ok(())
    }

    /// Generates for formatted prompts.
    pub fn generate(
        &self,
        prompts: &[String],
        params: &GenerationParams,
    ) -> Result<Vec<Vec<Generation>>> {
        if let Some(r) = &self.remote {
            return r.generate(prompts, params);
        }
        // A bar for long generations (hidden when stderr is not a terminal).
        let rows = (prompts.len() * params.num_samples.max(1)) as u64;
        let bar = if rows > 2 * self.batch_size as u64 {
            let bar = indicatif::ProgressBar::new(rows);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "generating {bar:30} {pos}/{len} [{elapsed}<{eta}]",
            ) {
                bar.set_style(style);
            }
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        let out = self.current.generate_with_progress(
            prompts,
            params,
            self.batch_size,
            &mut |done, _| bar.set_position(done as u64),
        )?;
        bar.finish_and_clear();
        Ok(out)
    }

    /// Mean-pooled hidden-state embeddings of texts.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let max = self.current.max_context();
        let texts: Vec<String> = texts
            .iter()
            .map(|t| truncate_tokens(&self.current, t, max - 1))
            .collect::<Result<_>>()?;
        Ok(self.current.embed(&texts, self.batch_size)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_copy_and_repeat_pretraining_examples_copy_their_own_text() {
        let dir = tempfile::tempdir().expect("temp dir");
        let texts = [
            "the gas contract for march was signed by both parties today",
            "please send the revised schedule before the meeting on friday",
        ];
        let pool: Vec<Example> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Example::new(format!("e{i}"), *t))
            .collect();
        let init = ModelInit {
            hidden_size: 16,
            intermediate_size: 32,
            layers: 1,
            heads: 2,
            kv_heads: 1,
            vocab_size: 300,
            max_position_embeddings: 96,
            ..ModelInit::default()
        };
        create_model(&init, dir.path(), &pool, 0, None, &Device::Cpu).expect("model");
        let lm =
            CausalLm::load(&dir.path().display().to_string(), None, &Device::Cpu).expect("load");
        let prompt = Prompt::new("Email: {text}\nSubject:", "text").expect("prompt");
        let spans = SpanCopy {
            copies: 3,
            max_words: 4,
        };
        let refs: Vec<&Example> = pool.iter().collect();
        let out = span_copy_examples(&lm, &refs, &prompt, 96, &spans, 7).expect("spans");
        assert_eq!(out.len(), 6, "three prompts per text");
        for (k, ex) in out.iter().enumerate() {
            let text = texts[k / 3];
            assert_eq!(ex.prompt, format!("Email: {text}\nSubject:"));
            let span = ex.target.trim_start();
            assert!(
                ex.target.starts_with(' '),
                "answer follows `Subject:` with a space"
            );
            let n = span.split_whitespace().count();
            assert!((1..=4).contains(&n), "{span:?} has {n} words");
            assert!(text.contains(span), "{span:?} is not a span of {text:?}");
        }
        let lm_out = lm_examples(&lm, &refs, 12, true, 0);
        for (ex, text) in lm_out.iter().zip(texts) {
            let (first, second) = ex.target.split_once('\n').expect("two copies");
            assert_eq!(first, second);
            assert!(text.starts_with(first) && first.len() < text.len());
            assert!(lm.tokenizer.encode(first, false).expect("ids").len() <= 5);
        }
        let distinct: std::collections::BTreeSet<&str> =
            out.iter().map(|e| e.target.as_str()).collect();
        assert!(distinct.len() > 2, "spans are drawn afresh per copy");
    }
}
