//! atgen-web: the web application behind `atgen serve`.
//!
//! One process, one SQLite file, no external service: people configure and launch active
//! learning from a form, annotate what AL selects in the browser, and watch runs live.
//!
//! * [`db`]: SQLite with numbered migrations run at start (projects, runs, secrets, uploads,
//!   sessions, each run's pool and the state of its texts, the annotation queue, annotations,
//!   drafts, the overlap rule and the owner's picks).
//! * [`runs`]: the run manager; engine runs on worker threads, stop / pause / resume, and
//!   resumption of unfinished runs when the server starts.
//! * [`human`]: the engine's human labeller, backed by the queue (it blocks until a round's
//!   texts are annotated; annotations in SQLite survive restarts).
//! * [`routes`] and [`pages`]: the router and server-rendered pages (auto-escaped templates and
//!   assets embedded at compile time, so `cargo build` is all a user needs).
//! * [`auth`]: loopback-only by default; any other address needs an admin access token;
//!   session cookies and a CSRF token on every state-changing request.
//! * [`events`]: server-sent events for the dashboard and annotate pages.
//! * [`export`]: labeled data (JSONL/CSV), the redacted config, the adapter.
//!
//! ```no_run
//! let cfg = atgen_web::ServeConfig::new("127.0.0.1", 8501, "atgen.db".into());
//! tokio::runtime::Runtime::new()?.block_on(atgen_web::serve(cfg))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod auth;
pub mod db;
mod error;
pub mod events;
pub mod export;
pub mod form;
pub mod human;
pub mod pages;
pub mod routes;
pub mod runs;
pub mod testing;

pub use error::{Result, WebError};

use db::Db;
use events::Events;
use runs::RunManager;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub host: String,
    pub port: u16,
    /// The SQLite file; run directories, uploads and models go beside it.
    pub db: PathBuf,
    /// Required when `host` is not a loopback address.
    pub access_token: Option<String>,
    /// Largest request body (uploads), in bytes.
    pub upload_limit: usize,
    /// How long an item stays assigned to an annotator who stopped working on it.
    pub lease: Duration,
    /// How often the human labeller looks for finished annotations.
    pub poll: Duration,
}

impl ServeConfig {
    /// Defaults: 64 MiB uploads, 10-minute leases, 300 ms polling, no token.
    pub fn new(host: &str, port: u16, db: PathBuf) -> Self {
        ServeConfig {
            host: host.into(),
            port,
            db,
            access_token: None,
            upload_limit: 64 << 20,
            lease: Duration::from_secs(600),
            poll: Duration::from_millis(300),
        }
    }

    /// Where run directories, uploads and locally created models live.
    pub fn data_dir(&self) -> PathBuf {
        match self.db.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub events: Events,
    pub runs: RunManager,
    pub config: Arc<ServeConfig>,
}

impl AppState {
    /// Opens the database (migrating it) and makes the run manager.
    pub fn open(config: ServeConfig) -> Result<AppState> {
        if auth::needs_token(&config.host)
            && config.access_token.as_deref().is_none_or(str::is_empty)
        {
            return Err(WebError::invalid(
                "--host",
                format!(
                    "listening on {} makes the app reachable from other machines: set an access token (--token or ATGEN_SERVE_TOKEN), or use 127.0.0.1",
                    config.host
                ),
            ));
        }
        let data_dir = config.data_dir();
        fs_err::create_dir_all(&data_dir)?;
        let db = Db::open(&config.db)?;
        let events = Events::default();
        let runs = RunManager::new(db.clone(), events.clone(), data_dir, config.poll);
        Ok(AppState {
            db,
            events,
            runs,
            config: Arc::new(config),
        })
    }
}

/// A bound server, not yet serving (tests bind port 0 and read the address).
pub struct Server {
    pub state: AppState,
    pub listener: tokio::net::TcpListener,
}

impl Server {
    /// Binds, then resumes unfinished runs.
    pub async fn bind(config: ServeConfig) -> Result<Server> {
        let state = AppState::open(config)?;
        let listener =
            tokio::net::TcpListener::bind((state.config.host.as_str(), state.config.port)).await?;
        let resumed = state.runs.resume_unfinished()?;
        if resumed > 0 {
            eprintln!("resumed {resumed} unfinished run(s)");
        }
        Ok(Server { state, listener })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<std::net::SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until the process ends.
    pub async fn run(self) -> Result<()> {
        let app = routes::router(self.state);
        axum::serve(self.listener, app).await?;
        Ok(())
    }
}

/// Binds and serves (`atgen serve`).
pub async fn serve(config: ServeConfig) -> Result<()> {
    let server = Server::bind(config).await?;
    eprintln!("atgen serve: http://{}", server.local_addr()?);
    server.run().await
}
