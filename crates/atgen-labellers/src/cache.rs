//! SQLite cache of provider responses, so a resumed or repeated run never pays twice.
//!
//! The key is the provider, the endpoint URL and the exact request body
//! (model, parameters and prompt), so any change of those is a new request.
//! Each row also keeps what the response cost and whether that cost has
//! been reported in a label yet: a response paid for in a session that then
//! failed is reported (once) by the session that reuses it, so the run's
//! recorded cost matches the money spent.

use crate::error::{LabellerError, Result};
use crate::provider::Reply;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// A cached response.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    pub reply: Reply,
    /// What it cost when it was fetched.
    pub cost: f64,
    /// Whether that cost was already reported in a label.
    pub claimed: bool,
}

/// The response cache; safe to share between threads.
pub struct ResponseCache {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("path", &self.path)
            .finish()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    truncated INTEGER NOT NULL,
    cost REAL NOT NULL,
    claimed INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE TABLE IF NOT EXISTS pending_batches (
    request_set TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);";

impl ResponseCache {
    /// Opens (creating) the cache at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let err = |source| LabellerError::Cache {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        // Added later: caches written before it get the column (empty).
        let has_logprobs = conn
            .prepare("SELECT 1 FROM pragma_table_info('responses') WHERE name = 'logprobs'")
            .and_then(|mut q| q.exists([]))
            .map_err(err)?;
        if !has_logprobs {
            conn.execute_batch("ALTER TABLE responses ADD COLUMN logprobs TEXT;")
                .map_err(err)?;
        }
        Ok(ResponseCache {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// Where the cache lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: rusqlite::Error) -> LabellerError {
        LabellerError::Cache {
            path: self.path.clone(),
            source,
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached response for `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Cached>> {
        self.conn()
            .query_row(
                "SELECT text, input_tokens, output_tokens, truncated, cost, claimed, logprobs
                 FROM responses WHERE key = ?1",
                params![key],
                |r| {
                    Ok(Cached {
                        reply: Reply {
                            text: r.get(0)?,
                            input_tokens: r.get::<_, i64>(1)?.max(0) as u64,
                            output_tokens: r.get::<_, i64>(2)?.max(0) as u64,
                            truncated: r.get(3)?,
                            refusal: None,
                            logprobs: r
                                .get::<_, Option<String>>(6)?
                                .and_then(|j| serde_json::from_str(&j).ok()),
                        },
                        cost: r.get(4)?,
                        claimed: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Stores a response the moment it arrives (unclaimed).
    pub fn put(
        &self,
        key: &str,
        provider: &str,
        model: &str,
        reply: &Reply,
        cost: f64,
    ) -> Result<()> {
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO responses
                 (key, provider, model, text, input_tokens, output_tokens, truncated, cost, claimed,
                  logprobs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9)",
                params![
                    key,
                    provider,
                    model,
                    reply.text,
                    reply.input_tokens as i64,
                    reply.output_tokens as i64,
                    reply.truncated,
                    cost,
                    reply
                        .logprobs
                        .as_ref()
                        .and_then(|l| serde_json::to_string(l).ok())
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Marks the costs of `keys` as reported.
    pub fn claim(&self, keys: &[&str]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        for k in keys {
            tx.execute(
                "UPDATE responses SET claimed = 1 WHERE key = ?1",
                params![k],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// The id of a batch already submitted for exactly this set of requests.
    pub fn pending_batch(&self, request_set: &str) -> Result<Option<String>> {
        self.conn()
            .query_row(
                "SELECT batch_id FROM pending_batches WHERE request_set = ?1",
                params![request_set],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Remembers a submitted batch, so a resumed run polls it instead of paying again.
    pub fn save_pending_batch(&self, request_set: &str, provider: &str, id: &str) -> Result<()> {
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO pending_batches (request_set, provider, batch_id)
                 VALUES (?1, ?2, ?3)",
                params![request_set, provider, id],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Forgets a batch whose results were collected.
    pub fn drop_pending_batch(&self, request_set: &str) -> Result<()> {
        self.conn()
            .execute(
                "DELETE FROM pending_batches WHERE request_set = ?1",
                params![request_set],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Number of cached responses.
    pub fn len(&self) -> Result<usize> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM responses", [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as usize)
            .map_err(|e| self.err(e))
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> Result<bool> {
        self.len().map(|n| n == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_claims_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("c.sqlite");
        let reply = Reply {
            text: "t".into(),
            input_tokens: 3,
            output_tokens: 4,
            truncated: false,
            refusal: None,
            logprobs: Some(vec![crate::provider::TokenLogprob {
                token: "t".into(),
                logprob: -0.5,
                top: vec![("t".into(), -0.5), ("u".into(), -1.25)],
            }]),
        };
        {
            let c = ResponseCache::open(&path).unwrap();
            assert!(c.get("k").unwrap().is_none());
            c.put("k", "openai", "m", &reply, 0.5).unwrap();
            let got = c.get("k").unwrap().unwrap();
            assert_eq!(got.reply, reply);
            assert!(!got.claimed);
            c.claim(&["k"]).unwrap();
        }
        let c = ResponseCache::open(&path).unwrap();
        let got = c.get("k").unwrap().unwrap();
        assert!(got.claimed);
        assert_eq!(got.cost, 0.5);
        assert_eq!(c.len().unwrap(), 1);
    }
}
