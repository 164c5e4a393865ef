//! A server on 127.0.0.1:0 in a temp directory, and a cookie-keeping HTTP client.

pub use atgen_web::testing::*;
use atgen_web::{ServeConfig, Server};
use std::time::Duration;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A running server and its data directory.
pub struct TestServer {
    pub base: String,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> Result<TestServer, Box<dyn std::error::Error>> {
        Self::start_with(|_| {})
    }

    pub fn start_with(
        tweak: impl FnOnce(&mut ServeConfig),
    ) -> Result<TestServer, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let mut cfg = ServeConfig::new("127.0.0.1", 0, dir.path().join("atgen.db"));
        cfg.poll = Duration::from_millis(50);
        tweak(&mut cfg);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => return tx.send(Err(e.to_string())).unwrap_or(()),
            };
            rt.block_on(async move {
                match Server::bind(cfg).await {
                    Ok(s) => {
                        let addr = s.local_addr().map_err(|e| e.to_string());
                        let _ = tx.send(addr);
                        let _ = s.run().await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                    }
                }
            });
        });
        let addr = rx.recv_timeout(Duration::from_secs(20))??;
        Ok(TestServer {
            base: format!("http://{addr}"),
            dir,
        })
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }
}
