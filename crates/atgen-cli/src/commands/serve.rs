//! `atgen serve`: the web app (crate atgen-web) on one port, with its SQLite database.

use crate::args::ServeArgs;
use anyhow::{Context, Result};
use std::time::Duration;

pub fn run(args: &ServeArgs) -> Result<()> {
    let mut cfg = atgen_web::ServeConfig::new(&args.host, args.port, args.db.clone());
    cfg.access_token = args.token.clone().filter(|t| !t.is_empty());
    cfg.upload_limit = args.max_upload_mib.max(1) << 20;
    cfg.lease = Duration::from_secs(args.lease_minutes.max(1) * 60);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(atgen_web::serve(cfg))?;
    Ok(())
}
