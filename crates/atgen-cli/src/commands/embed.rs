//! `atgen embed`: sentence embeddings to .npy or JSONL.

use crate::args::EmbedArgs;
use crate::jsonl;
use anyhow::Result;
use atgen_models::{bert::BertEmbedder, CausalLm};
use serde_json::json;
use std::path::Path;

/// Whether a directory holds a BERT-family encoder rather than a causal LM.
fn is_encoder(model: &str) -> bool {
    let cfg = Path::new(model).join("config.json");
    fs_err::read_to_string(cfg)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| {
            v.get("model_type")
                .and_then(|m| m.as_str())
                .map(|m| matches!(m, "bert" | "roberta" | "xlm-roberta"))
        })
        .unwrap_or(false)
}

pub fn run(args: &EmbedArgs) -> Result<()> {
    let lines = jsonl::read(&args.input)?;
    let texts = lines
        .iter()
        .map(|l| jsonl::string_field(&args.input, l, &["text"]))
        .collect::<Result<Vec<_>>>()?;
    let dev = atgen_models::device::open(args.device, "--device")?;
    let rows = if is_encoder(&args.model) {
        BertEmbedder::load(Path::new(&args.model), &dev)?.embed(&texts, args.batch_size)?
    } else {
        CausalLm::load(&args.model, None, &dev)?.embed(&texts, args.batch_size)?
    };
    let is_npy = args.out.extension().is_some_and(|e| e == "npy");
    if is_npy {
        jsonl::write_npy(&args.out, &rows)
    } else {
        let out: Vec<_> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"index": i, "embedding": r}))
            .collect();
        jsonl::write(Some(&args.out), &out)
    }
}
