//! The golden labeller: returns the dataset's reference, for simulated active
//! learning (the paper's protocol). Other labellers plug in through the same trait.

use atgen_core::{Example, LabelOutcome, Labeller, Result};

/// Labels with the first reference of each example, at no cost.
pub struct GoldenLabeller;

impl Labeller for GoldenLabeller {
    fn label(&mut self, batch: &[Example]) -> Result<Vec<LabelOutcome>> {
        Ok(batch
            .iter()
            .map(|e| match e.references.first() {
                Some(r) => LabelOutcome {
                    id: e.id.clone(),
                    label: Some(r.clone()),
                    cost: 0.0,
                    note: None,
                },
                None => LabelOutcome {
                    id: e.id.clone(),
                    label: None,
                    cost: 0.0,
                    note: Some(
                        "no reference in the data (the golden labeller needs the output column)"
                            .into(),
                    ),
                },
            })
            .collect())
    }
}

/// Labels with a local model the engine loads (any checkpoint `CausalLm` reads),
/// greedy or sampled, in batches, through the dataset's prompt (and the model's
/// chat template when it has one). Costs nothing; `<think>` blocks are stripped.
pub struct LocalLlmLabeller {
    lm: atgen_models::CausalLm,
    prompt: atgen_data::Prompt,
    params: atgen_core::GenerationParams,
    batch_size: usize,
}

impl LocalLlmLabeller {
    /// Loads `labeller.parameters.checkpoint` (relative to `base_dir` when local) on
    /// `labeller.parameters.device` when given, else on `device` (the run's `model.device`).
    pub fn new(
        cfg: &atgen_config::LabellerConfig,
        prompt: atgen_data::Prompt,
        base_dir: &std::path::Path,
        device: atgen_core::DeviceName,
    ) -> crate::Result<Self> {
        let p = &cfg.parameters;
        let text = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let num = |k: &str| p.get(k).and_then(|v| v.as_f64());
        let checkpoint = text("checkpoint").filter(|c| c != "???").ok_or_else(|| {
            crate::EngineError::Invalid(
                "labeller.parameters.checkpoint is required for labeller=local_llm".into(),
            )
        })?;
        let local = base_dir.join(&checkpoint);
        let path = if local.is_dir() {
            local.display().to_string()
        } else {
            checkpoint
        };
        let (device, key) = match text("device") {
            Some(name) => (
                name.parse().map_err(|e| {
                    crate::EngineError::Invalid(format!("labeller.parameters.device: {e}"))
                })?,
                "labeller.parameters.device",
            ),
            None => (device, "model.device"),
        };
        let device = atgen_models::device::open(device, key)?;
        let lm = atgen_models::CausalLm::load(&path, None, &device)?;
        let params = atgen_core::GenerationParams {
            max_new_tokens: num("max_tokens").map_or(512, |v| v as usize),
            temperature: num("temperature").unwrap_or(0.0),
            top_p: num("top_p").unwrap_or(1.0),
            seed: num("seed").map_or(0, |v| v as u64),
            ..Default::default()
        };
        Ok(LocalLlmLabeller {
            lm,
            prompt,
            params,
            batch_size: num("batch_size").map_or(8, |v| v.max(1.0) as usize),
        })
    }
}

impl Labeller for LocalLlmLabeller {
    fn label(&mut self, batch: &[Example]) -> Result<Vec<LabelOutcome>> {
        let mut prompts = Vec::with_capacity(batch.len());
        for ex in batch {
            let text = if self.lm.tokenizer.chat_template().is_some() {
                let msgs: Vec<atgen_models::tokenizer::Message> = self
                    .prompt
                    .messages(ex)
                    .map_err(atgen_core::Error::backend)?
                    .into_iter()
                    .map(|m| atgen_models::tokenizer::Message::new(&m.role, m.content))
                    .collect();
                self.lm.tokenizer.apply_chat_template(&msgs)?
            } else {
                self.prompt
                    .render_text(ex)
                    .map_err(atgen_core::Error::backend)?
            };
            prompts.push(text);
        }
        let outs = self.lm.generate(&prompts, &self.params, self.batch_size)?;
        Ok(batch
            .iter()
            .zip(outs)
            .map(|(ex, g)| {
                let label = g
                    .first()
                    .and_then(|g| atgen_labellers::clean::clean_label(&g.text));
                let note = label
                    .is_none()
                    .then(|| "the local model's answer was empty".to_string());
                LabelOutcome {
                    id: ex.id.clone(),
                    label,
                    cost: 0.0,
                    note,
                }
            })
            .collect())
    }
}
