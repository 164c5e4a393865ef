//! The annotation queue's tables: items per run and round, leases, submissions, skips, drafts.
//!
//! Rules (enforced here, in transactions): an item is offered to one annotator at a time per
//! missing annotation (`overlap` annotations are wanted per item, 1 by default); a lease not
//! renewed before `expires_at` is abandoned and the item is offered again; an annotator never
//! annotates the same item twice; once the engine has collected an item it is final, so its
//! annotations can no longer be undone or edited.

use super::overlap::{annotations_of, choose, OverlapRule};
use super::Db;
use crate::{Result, WebError};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

/// One text to annotate.
#[derive(Debug, Clone, Serialize)]
pub struct QueueItem {
    pub item_id: String,
    pub round: i64,
    pub position: i64,
    pub input: String,
    pub draft: Option<String>,
    pub status: String,
}

/// Progress of one round's queue.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct QueueProgress {
    pub round: i64,
    pub done: i64,
    pub total: i64,
}

/// A submission, as listed for "go back".
#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    pub item_id: String,
    pub label: String,
    pub created_at: i64,
}

fn item_of(tx: &rusqlite::Connection, run: i64, item: &str) -> Result<Option<QueueItem>> {
    Ok(tx
        .query_row(
            "SELECT item_id, round, position, input, draft, status FROM queue_items WHERE run_id = ?1 AND item_id = ?2",
            params![run, item],
            |r| {
                Ok(QueueItem {
                    item_id: r.get(0)?,
                    round: r.get(1)?,
                    position: r.get(2)?,
                    input: r.get(3)?,
                    draft: r.get(4)?,
                    status: r.get(5)?,
                })
            },
        )
        .optional()?)
}

impl Db {
    /// Adds a round's items (already queued ones are left as they are, so a resumed run
    /// never asks again for what was annotated).
    pub fn enqueue(
        &self,
        run: i64,
        round: usize,
        items: &[(String, String, Option<String>)],
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let start: i64 = tx.query_row(
            "SELECT count(*) FROM queue_items WHERE run_id = ?1",
            [run],
            |r| r.get(0),
        )?;
        for (i, (id, input, draft)) in items.iter().enumerate() {
            tx.execute(
                "INSERT OR IGNORE INTO queue_items(run_id, item_id, round, position, input, draft) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![run, id, round as i64, start + i as i64, input, draft],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// One item of a run's queue.
    pub fn queue_item(&self, run: i64, item: &str) -> Result<QueueItem> {
        item_of(&self.lock(), run, item)?
            .ok_or_else(|| WebError::NotFound(format!("item `{item}` of run {run}")))
    }

    /// The item `annotator` should work on now (their unexpired lease first, then the next
    /// open item, items they skipped last), leased to them until `now + lease_secs`.
    pub fn next_item(
        &self,
        run: i64,
        annotator: &str,
        overlap: i64,
        now: i64,
        lease_secs: i64,
    ) -> Result<Option<QueueItem>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let held: Option<String> = tx
            .query_row(
                "SELECT l.item_id FROM leases l JOIN queue_items q ON q.run_id = l.run_id AND q.item_id = l.item_id
                 WHERE l.run_id = ?1 AND l.annotator = ?2 AND l.expires_at > ?3 AND q.status = 'open'
                 ORDER BY q.position LIMIT 1",
                params![run, annotator, now],
                |r| r.get(0),
            )
            .optional()?;
        let pick = match held {
            Some(id) => Some(id),
            None => tx
                .query_row(
                    "SELECT q.item_id FROM queue_items q
                     WHERE q.run_id = ?1 AND q.status = 'open'
                       AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.run_id = q.run_id AND a.item_id = q.item_id AND a.annotator = ?2 AND a.undone = 0)
                       AND (SELECT count(*) FROM annotations a WHERE a.run_id = q.run_id AND a.item_id = q.item_id AND a.undone = 0)
                         + (SELECT count(*) FROM leases l WHERE l.run_id = q.run_id AND l.item_id = q.item_id AND l.annotator <> ?2 AND l.expires_at > ?3)
                         < ?4
                     ORDER BY EXISTS (SELECT 1 FROM skips s WHERE s.run_id = q.run_id AND s.item_id = q.item_id AND s.annotator = ?2), q.round, q.position
                     LIMIT 1",
                    params![run, annotator, now, overlap],
                    |r| r.get(0),
                )
                .optional()?,
        };
        let Some(id) = pick else {
            tx.commit()?;
            return Ok(None);
        };
        tx.execute(
            "INSERT OR REPLACE INTO leases(run_id, item_id, annotator, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![run, id, annotator, now + lease_secs],
        )?;
        let item = item_of(&tx, run, &id)?;
        tx.commit()?;
        Ok(item)
    }

    /// Records `label` for `item` by `annotator` (replacing their earlier one: "go back" and edit).
    pub fn submit(
        &self,
        run: i64,
        item: &str,
        annotator: &str,
        label: &str,
        now: i64,
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let it = item_of(&tx, run, item)?
            .ok_or_else(|| WebError::NotFound(format!("item `{item}` of run {run}")))?;
        if it.status != "open" {
            return Err(WebError::Conflict(format!(
                "item `{item}` was already handed to the model; it can no longer change"
            )));
        }
        tx.execute(
            "UPDATE annotations SET undone = 1 WHERE run_id = ?1 AND item_id = ?2 AND annotator = ?3 AND undone = 0",
            params![run, item, annotator],
        )?;
        tx.execute(
            "INSERT INTO annotations(run_id, item_id, annotator, label, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![run, item, annotator, label, now],
        )?;
        for table in ["leases", "drafts", "skips"] {
            tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE run_id = ?1 AND item_id = ?2 AND annotator = ?3"
                ),
                params![run, item, annotator],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// `annotator` passes on `item` for now: it goes to others first and comes back to them last.
    pub fn skip(&self, run: i64, item: &str, annotator: &str, now: i64) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO skips(run_id, item_id, annotator, at) VALUES (?1, ?2, ?3, ?4)",
            params![run, item, annotator, now],
        )?;
        tx.execute(
            "DELETE FROM leases WHERE run_id = ?1 AND item_id = ?2 AND annotator = ?3",
            params![run, item, annotator],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Withdraws `annotator`'s last submission in this run and leases the item back to them;
    /// returns its id, or `None` when there is nothing to undo.
    pub fn undo_last(
        &self,
        run: i64,
        annotator: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<Option<String>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let last: Option<(i64, String, String)> = tx
            .query_row(
                "SELECT a.id, a.item_id, q.status FROM annotations a JOIN queue_items q ON q.run_id = a.run_id AND q.item_id = a.item_id
                 WHERE a.run_id = ?1 AND a.annotator = ?2 AND a.undone = 0 ORDER BY a.id DESC LIMIT 1",
                params![run, annotator],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((id, item, status)) = last else {
            return Ok(None);
        };
        if status != "open" {
            return Err(WebError::Conflict(format!(
                "item `{item}` was already handed to the model; it can no longer be undone"
            )));
        }
        tx.execute("UPDATE annotations SET undone = 1 WHERE id = ?1", [id])?;
        // The withdrawn text comes back as the draft to edit.
        tx.execute(
            "INSERT OR REPLACE INTO drafts(run_id, item_id, annotator, text, updated_at)
             SELECT run_id, item_id, annotator, label, ?2 FROM annotations WHERE id = ?1",
            params![id, now],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO leases(run_id, item_id, annotator, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![run, item, annotator, now + lease_secs],
        )?;
        tx.commit()?;
        Ok(Some(item))
    }

    /// `annotator`'s current (not undone) label of `item`.
    pub fn my_label(&self, run: i64, item: &str, annotator: &str) -> Result<Option<String>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT label FROM annotations WHERE run_id = ?1 AND item_id = ?2 AND annotator = ?3 AND undone = 0 ORDER BY id DESC LIMIT 1",
                params![run, item, annotator],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// `annotator`'s submissions in this run, newest first.
    pub fn my_submissions(
        &self,
        run: i64,
        annotator: &str,
        limit: usize,
    ) -> Result<Vec<Submission>> {
        let conn = self.lock();
        let mut st = conn.prepare(
            "SELECT item_id, label, created_at FROM annotations WHERE run_id = ?1 AND annotator = ?2 AND undone = 0 ORDER BY id DESC LIMIT ?3",
        )?;
        let rows = st
            .query_map(params![run, annotator, limit as i64], |r| {
                Ok(Submission {
                    item_id: r.get(0)?,
                    label: r.get(1)?,
                    created_at: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Autosaves `annotator`'s unsent text of `item`.
    pub fn save_draft(
        &self,
        run: i64,
        item: &str,
        annotator: &str,
        text: &str,
        now: i64,
    ) -> Result<()> {
        self.lock().execute(
            "INSERT OR REPLACE INTO drafts(run_id, item_id, annotator, text, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![run, item, annotator, text, now],
        )?;
        Ok(())
    }

    /// `annotator`'s autosaved text of `item`.
    pub fn draft(&self, run: i64, item: &str, annotator: &str) -> Result<Option<String>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT text FROM drafts WHERE run_id = ?1 AND item_id = ?2 AND annotator = ?3",
                params![run, item, annotator],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Done / total of the run's latest queued round (an item is done with `overlap` annotations).
    pub fn queue_progress(&self, run: i64, overlap: i64) -> Result<Option<QueueProgress>> {
        let conn = self.lock();
        let round: Option<i64> = conn.query_row(
            "SELECT max(round) FROM queue_items WHERE run_id = ?1",
            [run],
            |r| r.get(0),
        )?;
        let Some(round) = round else { return Ok(None) };
        let (done, total) = conn.query_row(
            "SELECT
               sum(CASE WHEN q.status <> 'open' OR (SELECT count(*) FROM annotations a WHERE a.run_id = q.run_id AND a.item_id = q.item_id AND a.undone = 0) >= ?3 THEN 1 ELSE 0 END),
               count(*)
             FROM queue_items q WHERE q.run_id = ?1 AND q.round = ?2",
            params![run, round, overlap],
            |r| Ok((r.get::<_, Option<i64>>(0)?.unwrap_or(0), r.get(1)?)),
        )?;
        Ok(Some(QueueProgress { round, done, total }))
    }

    /// When every one of `items` has `overlap` annotations and a label under `rule` (or, with
    /// `partial`, for those that have one), marks them collected and returns `(id, label)`;
    /// otherwise `None` and nothing changes.
    pub fn collect(
        &self,
        run: i64,
        items: &[String],
        overlap: i64,
        rule: OverlapRule,
        partial: bool,
    ) -> Result<Option<Vec<(String, String)>>> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut out = Vec::new();
        for id in items {
            let anns = annotations_of(&tx, run, Some(id))?;
            let row: Option<(String, Option<i64>)> = tx
                .query_row(
                    "SELECT status, chosen FROM queue_items WHERE run_id = ?1 AND item_id = ?2",
                    params![run, id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let collected = row.as_ref().is_some_and(|(s, _)| s == "collected");
            let pick = choose(rule, &anns, row.and_then(|(_, c)| c));
            let ready = anns.len() as i64 >= overlap && pick.is_some();
            if !ready && !collected && !partial {
                return Ok(None);
            }
            if let Some(a) = pick {
                out.push((id.clone(), a.label.clone()));
            }
        }
        for (id, _) in &out {
            tx.execute(
                "UPDATE queue_items SET status = 'collected' WHERE run_id = ?1 AND item_id = ?2",
                params![run, id],
            )?;
            tx.execute(
                "DELETE FROM leases WHERE run_id = ?1 AND item_id = ?2",
                params![run, id],
            )?;
        }
        tx.commit()?;
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::runs::NewRun;

    fn setup() -> Result<(Db, i64)> {
        let db = Db::in_memory()?;
        let id = db.insert_run(&NewRun::human_for_test("q"))?;
        let items: Vec<(String, String, Option<String>)> = (0..3)
            .map(|i| (format!("x{i}"), format!("text {i}"), None))
            .collect();
        db.enqueue(id, 0, &items)?;
        Ok((db, id))
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn two_annotators_get_different_items_and_an_abandoned_lease_returns() -> Result<()> {
        let (db, run) = setup()?;
        let a = db.next_item(run, "ann", 1, 100, 60)?.map(|i| i.item_id);
        let b = db.next_item(run, "bob", 1, 100, 60)?.map(|i| i.item_id);
        assert_eq!(a.as_deref(), Some("x0"));
        assert_eq!(b.as_deref(), Some("x1"));
        // Asking again keeps one's own lease.
        assert_eq!(db.next_item(run, "ann", 1, 110, 60)?.map(|i| i.item_id), a);
        // Ann leaves; after the lease expires, carol gets x0.
        assert_eq!(
            db.next_item(run, "carol", 1, 200, 60)?
                .map(|i| i.item_id)
                .as_deref(),
            Some("x0")
        );
        Ok(())
    }

    #[test]
    fn an_item_is_never_done_twice_without_overlap_but_is_with_it() -> Result<()> {
        let (db, run) = setup()?;
        for i in 0..3 {
            let it = db.next_item(run, "ann", 1, 100, 60)?.map(|i| i.item_id);
            assert_eq!(it, Some(format!("x{i}")));
            db.submit(run, &format!("x{i}"), "ann", "y", 100)?;
        }
        assert!(db.next_item(run, "bob", 1, 100, 60)?.is_none());
        // With overlap 2, bob gets each item once more, ann none.
        assert_eq!(
            db.next_item(run, "bob", 2, 100, 60)?
                .map(|i| i.item_id)
                .as_deref(),
            Some("x0")
        );
        assert!(db.next_item(run, "ann", 2, 100, 60)?.is_none());
        Ok(())
    }

    #[test]
    fn undo_withdraws_the_last_submission_until_it_is_collected() -> Result<()> {
        let (db, run) = setup()?;
        db.submit(run, "x0", "ann", "first", 100)?;
        db.submit(run, "x1", "ann", "second", 101)?;
        assert_eq!(db.undo_last(run, "ann", 102, 60)?.as_deref(), Some("x1"));
        assert_eq!(
            db.next_item(run, "ann", 1, 103, 60)?
                .map(|i| i.item_id)
                .as_deref(),
            Some("x1")
        );
        assert_eq!(
            db.queue_progress(run, 1)?,
            Some(QueueProgress {
                round: 0,
                done: 1,
                total: 3
            })
        );
        assert!(db
            .collect(run, &ids(&["x0", "x1"]), 1, OverlapRule::First, false)?
            .is_none());
        db.submit(run, "x1", "ann", "again", 104)?;
        let got = db.collect(run, &ids(&["x0", "x1"]), 1, OverlapRule::First, false)?;
        assert_eq!(
            got,
            Some(vec![
                ("x0".into(), "first".into()),
                ("x1".into(), "again".into())
            ])
        );
        assert!(matches!(
            db.undo_last(run, "ann", 105, 60),
            Err(WebError::Conflict(_))
        ));
        assert!(matches!(
            db.submit(run, "x0", "ann", "late", 106),
            Err(WebError::Conflict(_))
        ));
        Ok(())
    }

    #[test]
    fn skipped_items_come_back_last_and_drafts_persist() -> Result<()> {
        let (db, run) = setup()?;
        db.skip(run, "x0", "ann", 100)?;
        assert_eq!(
            db.next_item(run, "ann", 1, 100, 60)?
                .map(|i| i.item_id)
                .as_deref(),
            Some("x1")
        );
        db.save_draft(run, "x1", "ann", "half", 100)?;
        assert_eq!(db.draft(run, "x1", "ann")?.as_deref(), Some("half"));
        db.submit(run, "x1", "ann", "full", 101)?;
        assert_eq!(db.draft(run, "x1", "ann")?, None);
        db.submit(run, "x2", "ann", "z", 101)?;
        assert_eq!(
            db.next_item(run, "ann", 1, 102, 60)?
                .map(|i| i.item_id)
                .as_deref(),
            Some("x0")
        );
        // Re-enqueueing (a resumed run) keeps what was annotated.
        db.enqueue(run, 0, &[("x1".into(), "text 1".into(), None)])?;
        assert_eq!(db.my_label(run, "x1", "ann")?.as_deref(), Some("full"));
        Ok(())
    }

    #[test]
    fn with_overlap_each_rule_decides_the_label_handed_to_the_engine() -> Result<()> {
        for (rule, want) in [
            (OverlapRule::First, Some("Lyon")),
            (OverlapRule::Majority, Some("paris")),
            (OverlapRule::Owner, None),
        ] {
            let (db, run) = setup()?;
            db.submit(run, "x0", "ann", "Lyon", 100)?;
            db.submit(run, "x0", "bob", "paris", 101)?;
            db.submit(run, "x0", "cat", " Paris ", 102)?;
            let got = db.collect(run, &ids(&["x0"]), 3, rule, false)?;
            assert_eq!(got.map(|v| v[0].1.clone()).as_deref(), want, "{rule:?}");
        }
        // Owner decides: the text waits for the pick, then the picked annotation is the label.
        let (db, run) = setup()?;
        db.submit(run, "x0", "ann", "Lyon", 100)?;
        db.submit(run, "x0", "bob", "Paris", 101)?;
        let waiting = db.awaiting_pick(run, 2)?;
        assert_eq!(waiting.len(), 1);
        let bob = waiting[0].annotations[1].id;
        assert!(matches!(
            db.pick(run, "x1", bob),
            Err(WebError::Invalid { .. })
        ));
        db.pick(run, "x0", bob)?;
        assert!(db.awaiting_pick(run, 2)?.is_empty());
        let got = db.collect(run, &ids(&["x0"]), 2, OverlapRule::Owner, false)?;
        assert_eq!(got, Some(vec![("x0".into(), "Paris".into())]));
        assert!(matches!(
            db.pick(run, "x0", bob),
            Err(WebError::Conflict(_))
        ));
        // Every annotation is kept.
        assert_eq!(db.annotations(run)?.len(), 2);
        Ok(())
    }
}
