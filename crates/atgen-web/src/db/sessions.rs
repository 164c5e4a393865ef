//! Browser sessions: a random cookie token, its CSRF token, and the annotator's name.

use super::{now, Db};
use crate::Result;
use rusqlite::{params, OptionalExtension};

/// A browser session.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub csrf: String,
    pub annotator: String,
    /// Whether the access token was given (always true when the server needs none).
    pub signed_in: bool,
}

/// 32 random bytes as hex.
pub fn random_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Db {
    /// A new session for a fresh browser.
    pub fn create_session(&self, signed_in: bool) -> Result<Session> {
        let token = random_token();
        let s = Session {
            csrf: random_token(),
            annotator: format!("annotator-{}", &token[..6]),
            token,
            signed_in,
        };
        self.lock().execute(
            "INSERT INTO sessions(token, csrf, annotator, signed_in, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![s.token, s.csrf, s.annotator, s.signed_in, now()],
        )?;
        Ok(s)
    }

    /// The session of a cookie token, if any.
    pub fn session(&self, token: &str) -> Result<Option<Session>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT token, csrf, annotator, signed_in FROM sessions WHERE token = ?1",
                [token],
                |r| {
                    Ok(Session {
                        token: r.get(0)?,
                        csrf: r.get(1)?,
                        annotator: r.get(2)?,
                        signed_in: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Marks a session signed in.
    pub fn sign_in(&self, token: &str) -> Result<()> {
        self.lock().execute(
            "UPDATE sessions SET signed_in = 1 WHERE token = ?1",
            [token],
        )?;
        Ok(())
    }

    /// Sets the annotator name of a session (and registers the annotator).
    pub fn set_annotator(&self, token: &str, name: &str) -> Result<()> {
        let conn = self.lock();
        conn.execute(
            "INSERT OR IGNORE INTO annotators(name, created_at) VALUES (?1, ?2)",
            params![name, now()],
        )?;
        conn.execute(
            "UPDATE sessions SET annotator = ?2 WHERE token = ?1",
            params![token, name],
        )?;
        Ok(())
    }
}
