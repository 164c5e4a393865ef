//! Each run's pool mirrored in SQLite: every text with its state (unlabeled, queued, labeled,
//! returned), the round it was selected in, its label and who gave it. The run directory stays
//! the engine's source of truth; [`Db::sync_pool`] rewrites the states from it, so the copy is
//! consistent again after any restart.

use super::Db;
use crate::Result;
use rusqlite::params;
use serde::Serialize;

/// What the run directory says about one selected text.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    pub id: String,
    pub round: usize,
    /// `None` while queued; `Some(None)` when the labeller returned no label.
    pub label: Option<Option<String>>,
}

/// How many texts of a run's pool are in each state.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct PoolCounts {
    pub unlabeled: i64,
    pub queued: i64,
    pub labeled: i64,
    pub returned: i64,
}

/// One text of a pool as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PoolText {
    pub item_id: String,
    pub input: String,
    pub state: String,
    pub round: Option<i64>,
    pub label: Option<String>,
    pub source: Option<String>,
}

impl Db {
    /// Records the pool's texts (`(id, input)` in order); known ones keep their state.
    pub fn set_pool(&self, run: i64, texts: &[(String, String)]) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        {
            let mut st = tx.prepare(
                "INSERT INTO pool_texts(run_id, item_id, position, input) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(run_id, item_id) DO UPDATE SET position = excluded.position, input = excluded.input",
            )?;
            for (i, (id, input)) in texts.iter().enumerate() {
                st.execute(params![run, id, i as i64, input])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Rewrites every state from `selected` (what the run directory holds): texts not in it are
    /// unlabeled. A label's source is `labeller`, or for people the annotators of the text.
    pub fn sync_pool(&self, run: i64, selected: &[Selected], labeller: &str) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE pool_texts SET state = 'unlabeled', round = NULL, label = NULL, source = NULL WHERE run_id = ?1",
            [run],
        )?;
        {
            let mut st = tx.prepare(
                "UPDATE pool_texts SET state = ?3, round = ?4, label = ?5,
                   source = CASE WHEN ?3 <> 'labeled' THEN NULL
                     WHEN ?6 = 'human' THEN coalesce((SELECT 'human: ' || group_concat(annotator, ', ') FROM
                       (SELECT annotator FROM annotations a WHERE a.run_id = ?1 AND a.item_id = ?2 AND a.undone = 0 ORDER BY a.id)), 'human')
                     ELSE ?6 END
                 WHERE run_id = ?1 AND item_id = ?2",
            )?;
            for s in selected {
                let (state, label) = match &s.label {
                    None => ("queued", None),
                    Some(None) => ("returned", None),
                    Some(Some(l)) => ("labeled", Some(l.as_str())),
                };
                st.execute(params![run, s.id, state, s.round as i64, label, labeller])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Texts per state.
    pub fn pool_counts(&self, run: i64) -> Result<PoolCounts> {
        let conn = self.lock();
        let mut st = conn
            .prepare("SELECT state, count(*) FROM pool_texts WHERE run_id = ?1 GROUP BY state")?;
        let mut c = PoolCounts::default();
        for row in st.query_map([run], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (state, n) = row?;
            match state.as_str() {
                "unlabeled" => c.unlabeled = n,
                "queued" => c.queued = n,
                "labeled" => c.labeled = n,
                _ => c.returned += n,
            }
        }
        Ok(c)
    }

    /// The pool's texts in order, or those in `state`.
    pub fn pool_texts(&self, run: i64, state: Option<&str>) -> Result<Vec<PoolText>> {
        let conn = self.lock();
        let mut st = conn.prepare(
            "SELECT item_id, input, state, round, label, source FROM pool_texts
             WHERE run_id = ?1 AND (?2 IS NULL OR state = ?2) ORDER BY position",
        )?;
        let rows = st
            .query_map(params![run, state], |r| {
                Ok(PoolText {
                    item_id: r.get(0)?,
                    input: r.get(1)?,
                    state: r.get(2)?,
                    round: r.get(3)?,
                    label: r.get(4)?,
                    source: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::runs::NewRun;

    fn sel(id: &str, round: usize, label: Option<Option<&str>>) -> Selected {
        Selected {
            id: id.into(),
            round,
            label: label.map(|l| l.map(String::from)),
        }
    }

    #[test]
    fn states_follow_the_run_directory_and_resync_after_a_restart() -> Result<()> {
        let db = Db::in_memory()?;
        let run = db.insert_run(&NewRun::human_for_test("p"))?;
        let texts: Vec<(String, String)> = (0..4)
            .map(|i| (format!("x{i}"), format!("text {i}")))
            .collect();
        db.set_pool(run, &texts)?;
        db.enqueue(run, 0, &[("x1".into(), "text 1".into(), None)])?;
        db.submit(run, "x1", "ann", "one", 10)?;
        db.sync_pool(
            run,
            &[
                sel("x1", 0, Some(Some("one"))),
                sel("x2", 0, None),
                sel("x3", 0, Some(None)),
            ],
            "human",
        )?;
        assert_eq!(
            db.pool_counts(run)?,
            PoolCounts {
                unlabeled: 1,
                queued: 1,
                labeled: 1,
                returned: 1
            }
        );
        let labeled = db.pool_texts(run, Some("labeled"))?;
        assert_eq!(labeled[0].source.as_deref(), Some("human: ann"));
        assert_eq!(
            (labeled[0].round, labeled[0].label.as_deref()),
            (Some(0), Some("one"))
        );
        // A restart: the pool is sent again (states kept) and the directory, which lost the
        // queued round (a crash before it was saved), wins.
        db.set_pool(run, &texts)?;
        assert_eq!(db.pool_counts(run)?.queued, 1);
        db.sync_pool(run, &[sel("x1", 0, Some(Some("one")))], "human")?;
        assert_eq!(
            db.pool_counts(run)?,
            PoolCounts {
                unlabeled: 3,
                queued: 0,
                labeled: 1,
                returned: 0
            }
        );
        assert_eq!(db.pool_texts(run, None)?.len(), 4);
        Ok(())
    }
}
