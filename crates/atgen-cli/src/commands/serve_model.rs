//! `atgen serve-model`: an OpenAI-compatible server over a local model.

use crate::args::ServeModelArgs;
use anyhow::Result;
use atgen_openai_server::{serve, ServedModel};
use std::path::Path;

pub fn run(args: &ServeModelArgs) -> Result<()> {
    let lm = super::load_model(&args.model)?;
    let name = args.served_name.clone().unwrap_or_else(|| {
        Path::new(&args.model.model).file_name().map_or_else(
            || args.model.model.clone(),
            |n| n.to_string_lossy().into_owned(),
        )
    });
    let model = ServedModel::new(name.clone(), lm, args.model.batch_size);
    let handle = serve(model, &format!("{}:{}", args.host, args.port))?;
    eprintln!("serving `{name}` on {}", handle.base_url());
    handle.join();
    Ok(())
}
