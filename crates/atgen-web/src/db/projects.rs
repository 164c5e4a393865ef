//! Projects: named groups of runs (each run belongs to one); created, renamed, listed.

use super::{now, Db};
use crate::{Result, WebError};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// A project and how many runs it holds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub n_runs: i64,
}

/// A trimmed, non-empty name of at most 80 characters, or an error naming the `field`.
pub fn clean_name(field: &str, name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(WebError::invalid(field, "a project needs a name"));
    }
    if name.chars().count() > 80 {
        return Err(WebError::invalid(field, "at most 80 characters"));
    }
    Ok(name.to_string())
}

/// The id of project `name`, created when missing.
pub(crate) fn ensure(conn: &Connection, name: &str) -> Result<i64> {
    conn.execute(
        "INSERT OR IGNORE INTO projects(name, created_at) VALUES (?1, ?2)",
        params![name, now()],
    )?;
    Ok(
        conn.query_row("SELECT id FROM projects WHERE name = ?1", [name], |r| {
            r.get(0)
        })?,
    )
}

impl Db {
    /// Every project, by name, with its run count.
    pub fn projects(&self) -> Result<Vec<Project>> {
        let conn = self.lock();
        let mut st = conn.prepare(
            "SELECT p.id, p.name, p.created_at, (SELECT count(*) FROM runs r WHERE r.project_id = p.id)
             FROM projects p ORDER BY p.name",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(Project {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    created_at: r.get(2)?,
                    n_runs: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Creates project `name`; a name already taken is a conflict.
    pub fn create_project(&self, name: &str) -> Result<i64> {
        let name = clean_name("name", name)?;
        let conn = self.lock();
        let n = conn.execute(
            "INSERT OR IGNORE INTO projects(name, created_at) VALUES (?1, ?2)",
            params![name, now()],
        )?;
        if n == 0 {
            return Err(WebError::Conflict(format!(
                "a project named `{name}` exists"
            )));
        }
        Ok(conn.last_insert_rowid())
    }

    /// Renames project `id` (its runs follow); a name already taken is a conflict.
    pub fn rename_project(&self, id: i64, name: &str) -> Result<()> {
        let name = clean_name("name", name)?;
        let conn = self.lock();
        let taken: Option<i64> = conn
            .query_row("SELECT id FROM projects WHERE name = ?1", [&name], |r| {
                r.get(0)
            })
            .optional()?;
        if taken.is_some_and(|t| t != id) {
            return Err(WebError::Conflict(format!(
                "a project named `{name}` exists"
            )));
        }
        let n = conn.execute(
            "UPDATE projects SET name = ?2 WHERE id = ?1",
            params![id, name],
        )?;
        if n == 0 {
            return Err(WebError::NotFound(format!("project {id}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::runs::NewRun;

    fn run_in(project: &str) -> NewRun {
        NewRun {
            name: "r".into(),
            project: project.into(),
            overrides: vec![],
            advanced_yaml: String::new(),
            labeller: "golden".into(),
            guidelines: String::new(),
            overlap: 1,
            overlap_rule: Default::default(),
            owner: String::new(),
            budget: None,
            secrets: vec![],
        }
    }

    #[test]
    fn runs_belong_to_a_project_that_can_be_renamed() -> Result<()> {
        let db = Db::in_memory()?;
        let a = db.insert_run(&run_in("alpha"))?;
        db.insert_run(&run_in("alpha"))?;
        let pid = db.run(a)?.project_id;
        assert_eq!(
            db.projects()?
                .iter()
                .map(|p| (p.name.as_str(), p.n_runs))
                .collect::<Vec<_>>(),
            vec![("alpha", 2), ("default", 0)]
        );
        db.rename_project(pid, "  beta ")?;
        assert_eq!(db.run(a)?.project, "beta");
        let other = db.create_project("gamma")?;
        assert!(matches!(
            db.rename_project(other, "beta"),
            Err(WebError::Conflict(_))
        ));
        assert!(matches!(
            db.create_project("gamma"),
            Err(WebError::Conflict(_))
        ));
        assert!(matches!(
            db.create_project("  "),
            Err(WebError::Invalid { .. })
        ));
        assert!(matches!(
            db.rename_project(999, "zeta"),
            Err(WebError::NotFound(_))
        ));
        Ok(())
    }

    #[test]
    fn migration_002_moves_the_project_column_into_the_table() -> Result<()> {
        let mut conn = Connection::open_in_memory()?;
        conn.execute_batch(include_str!("migrations/001_initial.sql"))?;
        conn.execute_batch("PRAGMA user_version = 1")?;
        for (name, project) in [("a", "nlp"), ("b", "default"), ("c", "nlp")] {
            conn.execute(
                "INSERT INTO runs(name, project, created_at, status, overrides, labeller) VALUES (?1, ?2, 0, 'completed', '[]', 'golden')",
                params![name, project],
            )?;
        }
        crate::db::migrate(&mut conn)?;
        let rows: Vec<(String, String)> = conn
            .prepare("SELECT r.name, p.name FROM runs r JOIN projects p ON p.id = r.project_id ORDER BY r.id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(
            rows,
            vec![
                ("a".into(), "nlp".into()),
                ("b".into(), "default".into()),
                ("c".into(), "nlp".into())
            ]
        );
        let n: i64 = conn.query_row("SELECT count(*) FROM projects", [], |r| r.get(0))?;
        assert_eq!(n, 2);
        Ok(())
    }
}
