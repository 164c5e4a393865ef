//! Runs, their secrets, and uploaded data files.

use super::overlap::OverlapRule;
use super::{now, Db};
use crate::{Result, WebError};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

/// A run as the web app knows it (the run directory holds the rest).
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub name: String,
    /// The project's name, and its id.
    pub project: String,
    pub project_id: i64,
    pub created_at: i64,
    pub status: String,
    pub step: String,
    pub round: i64,
    pub n_labeled: i64,
    pub cost: f64,
    pub budget: Option<f64>,
    pub dir: Option<String>,
    pub overrides: Vec<String>,
    pub advanced_yaml: String,
    pub labeller: String,
    pub guidelines: String,
    pub overlap: i64,
    pub overlap_rule: OverlapRule,
    /// The annotator who created the run (decides under [`OverlapRule::Owner`]).
    pub owner: String,
    pub error: Option<String>,
}

impl RunRow {
    /// Still to be driven by an engine thread (after a restart too).
    pub fn is_unfinished(&self) -> bool {
        matches!(
            self.status.as_str(),
            "queued" | "running" | "waiting" | "paused"
        )
    }
}

/// What a new run is made of.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub name: String,
    /// The project's name (created when new).
    pub project: String,
    pub overrides: Vec<String>,
    pub advanced_yaml: String,
    pub labeller: String,
    pub guidelines: String,
    pub overlap: i64,
    pub overlap_rule: OverlapRule,
    pub owner: String,
    pub budget: Option<f64>,
    /// `(config key, value)` pairs stored apart and never shown.
    pub secrets: Vec<(String, String)>,
}

#[cfg(test)]
impl NewRun {
    /// A human-labelled run in the default project with nothing else set (for tests).
    pub(crate) fn human_for_test(name: &str) -> Self {
        NewRun {
            name: name.into(),
            project: "default".into(),
            overrides: vec![],
            advanced_yaml: String::new(),
            labeller: "human".into(),
            guidelines: String::new(),
            overlap: 1,
            overlap_rule: Default::default(),
            owner: String::new(),
            budget: None,
            secrets: vec![],
        }
    }
}

const COLUMNS: &str =
    "r.id, r.name, r.created_at, r.status, r.step, r.round, r.n_labeled, r.cost, \
                       r.budget, r.dir, r.overrides, r.advanced_yaml, r.labeller, r.guidelines, \
                       r.overlap, r.error, p.name, r.project_id, r.overlap_rule, r.owner";
const FROM: &str = "runs r JOIN projects p ON p.id = r.project_id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<RunRow> {
    let overrides: String = r.get(10)?;
    Ok(RunRow {
        id: r.get(0)?,
        name: r.get(1)?,
        created_at: r.get(2)?,
        status: r.get(3)?,
        step: r.get(4)?,
        round: r.get(5)?,
        n_labeled: r.get(6)?,
        cost: r.get(7)?,
        budget: r.get(8)?,
        dir: r.get(9)?,
        overrides: serde_json::from_str(&overrides).unwrap_or_default(),
        advanced_yaml: r.get(11)?,
        labeller: r.get(12)?,
        guidelines: r.get(13)?,
        overlap: r.get(14)?,
        error: r.get(15)?,
        project: r.get(16)?,
        project_id: r.get(17)?,
        overlap_rule: OverlapRule::parse(&r.get::<_, String>(18)?).unwrap_or_default(),
        owner: r.get(19)?,
    })
}

impl Db {
    /// Records a new run (status `queued`) and its secrets; returns its id.
    pub fn insert_run(&self, run: &NewRun) -> Result<i64> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let project = super::projects::clean_name("project", &run.project)?;
        let project_id = super::projects::ensure(&tx, &project)?;
        tx.execute(
            "INSERT INTO runs(name, created_at, status, overrides, advanced_yaml, labeller, guidelines, overlap, budget, project_id, overlap_rule, owner)
             VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                run.name,
                now(),
                serde_json::to_string(&run.overrides).unwrap_or_else(|_| "[]".into()),
                run.advanced_yaml,
                run.labeller,
                run.guidelines,
                run.overlap,
                run.budget,
                project_id,
                run.overlap_rule.as_str(),
                run.owner
            ],
        )?;
        let id = tx.last_insert_rowid();
        for (k, v) in &run.secrets {
            tx.execute(
                "INSERT INTO run_secrets(run_id, key, value) VALUES (?1, ?2, ?3)",
                params![id, k, v],
            )?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// One run, or [`WebError::NotFound`].
    pub fn run(&self, id: i64) -> Result<RunRow> {
        self.lock()
            .query_row(
                &format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = ?1"),
                [id],
                from_row,
            )
            .optional()?
            .ok_or_else(|| WebError::NotFound(format!("run {id}")))
    }

    /// All runs, newest first.
    pub fn runs(&self) -> Result<Vec<RunRow>> {
        let conn = self.lock();
        let mut st = conn.prepare(&format!("SELECT {COLUMNS} FROM {FROM} ORDER BY r.id DESC"))?;
        let rows = st
            .query_map([], from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// The secret config values of a run (for the engine only).
    pub fn run_secrets(&self, id: i64) -> Result<Vec<(String, String)>> {
        let conn = self.lock();
        let mut st = conn.prepare("SELECT key, value FROM run_secrets WHERE run_id = ?1")?;
        let rows = st
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Which secret keys a run has (never their values).
    pub fn run_secret_keys(&self, id: i64) -> Result<Vec<String>> {
        Ok(self.run_secrets(id)?.into_iter().map(|(k, _)| k).collect())
    }

    /// Sets status (and clears or sets the error).
    pub fn set_status(&self, id: i64, status: &str, error: Option<&str>) -> Result<()> {
        self.lock().execute(
            "UPDATE runs SET status = ?2, error = ?3 WHERE id = ?1",
            params![id, status, error],
        )?;
        Ok(())
    }

    /// Sets the current step text and round.
    pub fn set_step(&self, id: i64, round: usize, step: &str) -> Result<()> {
        self.lock().execute(
            "UPDATE runs SET step = ?2, round = ?3 WHERE id = ?1",
            params![id, step, round as i64],
        )?;
        Ok(())
    }

    /// Sets the label count and money spent.
    pub fn set_totals(&self, id: i64, n_labeled: usize, cost: f64) -> Result<()> {
        self.lock().execute(
            "UPDATE runs SET n_labeled = ?2, cost = ?3 WHERE id = ?1",
            params![id, n_labeled as i64, cost],
        )?;
        Ok(())
    }

    /// Records the run directory the engine created.
    pub fn set_dir(&self, id: i64, dir: &str) -> Result<()> {
        self.lock()
            .execute("UPDATE runs SET dir = ?2 WHERE id = ?1", params![id, dir])?;
        Ok(())
    }

    /// Records an uploaded file; returns its id.
    pub fn insert_upload(&self, name: &str, path: &str, size: usize, rows: usize) -> Result<i64> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO uploads(name, path, size, rows, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, path, size as i64, rows as i64, now()],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// An upload's stored path.
    pub fn upload_path(&self, id: i64) -> Result<String> {
        self.lock()
            .query_row("SELECT path FROM uploads WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| WebError::NotFound(format!("upload {id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_run() -> NewRun {
        NewRun {
            name: "demo".into(),
            project: "default".into(),
            overrides: vec!["data=gsm8k".into()],
            advanced_yaml: String::new(),
            labeller: "human".into(),
            guidelines: "be brief".into(),
            overlap: 1,
            overlap_rule: Default::default(),
            owner: String::new(),
            budget: None,
            secrets: vec![("labeller.api_key".into(), "sk-test".into())],
        }
    }

    #[test]
    fn a_run_round_trips_and_keeps_its_secret_apart() -> Result<()> {
        let db = Db::in_memory()?;
        let id = db.insert_run(&new_run())?;
        let run = db.run(id)?;
        assert_eq!(run.overrides, vec!["data=gsm8k".to_string()]);
        assert!(run.is_unfinished());
        assert!(!format!("{run:?}").contains("sk-test"));
        assert_eq!(
            db.run_secret_keys(id)?,
            vec!["labeller.api_key".to_string()]
        );
        db.set_status(id, "completed", None)?;
        assert!(!db.run(id)?.is_unfinished());
        assert!(matches!(db.run(id + 1), Err(WebError::NotFound(_))));
        Ok(())
    }
}
