//! SQLite storage: one database file, numbered migrations applied at start
//! (`PRAGMA user_version` records the last one), and a repository module per
//! table family.

pub mod overlap;
pub mod pool;
pub mod projects;
pub mod queue;
pub mod runs;
pub mod sessions;

use crate::Result;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// The migrations, in order; never edit one that shipped, add the next.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_initial.sql"),
    include_str!("migrations/002_projects_and_pools.sql"),
    include_str!("migrations/003_overlap_rules.sql"),
];

/// A shared connection (the app's load is a few writes a second; one writer keeps it simple).
#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl Db {
    /// Opens (creating) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Db> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// An in-memory database (tests).
    pub fn in_memory() -> Result<Db> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Db> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;")?;
        migrate(&mut conn)?;
        Ok(Db(Arc::new(Mutex::new(conn))))
    }

    /// The connection, locked.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Applies the migrations the database has not seen yet; returns the new version.
pub fn migrate(conn: &mut Connection) -> Result<usize> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
    }
    Ok(MIGRATIONS.len())
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once_and_record_the_version() -> Result<()> {
        let mut conn = Connection::open_in_memory()?;
        assert_eq!(migrate(&mut conn)?, MIGRATIONS.len());
        // A second start finds nothing to do and keeps the data.
        conn.execute(
            "INSERT INTO annotators(name, created_at) VALUES ('ann', 0)",
            [],
        )?;
        migrate(&mut conn)?;
        let n: i64 = conn.query_row("SELECT count(*) FROM annotators", [], |r| r.get(0))?;
        assert_eq!(n, 1);
        let v: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        assert_eq!(v, MIGRATIONS.len());
        Ok(())
    }
}
