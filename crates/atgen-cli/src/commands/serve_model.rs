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
    let handle = serve(
        ServedModel {
            name: name.clone(),
            lm,
            batch_size: args.model.batch_size,
        },
        &format!("{}:{}", args.host, args.port),
    )?;
    eprintln!("serving `{name}` on {}", handle.base_url());
    handle.join();
    Ok(())
}
