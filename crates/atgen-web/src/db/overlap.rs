//! Overlap (several annotators per text): the rule that turns a text's annotations into the
//! one label the engine trains on, the owner's pick, and agreement between annotators.

use super::Db;
use crate::{Result, WebError};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Which annotation of a text becomes its label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlapRule {
    /// The first submitted.
    #[default]
    First,
    /// The most frequent normalised text; ties go to the group submitted first.
    Majority,
    /// The run's owner picks one on the annotate page; the text waits until they do.
    Owner,
}

impl OverlapRule {
    pub const ALL: [OverlapRule; 3] = [
        OverlapRule::First,
        OverlapRule::Majority,
        OverlapRule::Owner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OverlapRule::First => "first",
            OverlapRule::Majority => "majority",
            OverlapRule::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<OverlapRule> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One (not undone) annotation of a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Annotation {
    pub id: i64,
    pub item_id: String,
    pub annotator: String,
    pub label: String,
}

/// Lower case, outer white space trimmed, inner runs of white space as one space.
pub fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The annotation (of `anns`, in submission order) that `rule` makes the label; `chosen` is the
/// owner's pick. `None` when the owner has not picked (or picked one since withdrawn).
pub fn choose(rule: OverlapRule, anns: &[Annotation], chosen: Option<i64>) -> Option<&Annotation> {
    match rule {
        OverlapRule::First => anns.first(),
        OverlapRule::Owner => anns.iter().find(|a| Some(a.id) == chosen),
        OverlapRule::Majority => {
            let mut counts: HashMap<String, usize> = HashMap::new();
            for a in anns {
                *counts.entry(normalise(&a.label)).or_default() += 1;
            }
            let best = counts.values().copied().max()?;
            // The earliest annotation whose group has the top count.
            anns.iter().find(|a| counts[&normalise(&a.label)] == best)
        }
    }
}

/// Agreement between annotators over the texts that have two annotations or more.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Agreement {
    /// Texts with at least two annotations.
    pub texts: usize,
    /// Of those, texts whose annotations are all the same (normalised).
    pub unanimous: usize,
    /// The share of annotator pairs (over all those texts) who gave the same normalised text.
    pub pairwise: f64,
}

/// Agreement over `anns` (any order), or `None` when no text has two annotations.
pub fn agreement(anns: &[Annotation]) -> Option<Agreement> {
    let mut by_item: HashMap<&str, Vec<String>> = HashMap::new();
    for a in anns {
        by_item
            .entry(a.item_id.as_str())
            .or_default()
            .push(normalise(&a.label));
    }
    let (mut texts, mut unanimous, mut pairs, mut same) = (0, 0, 0usize, 0usize);
    for labels in by_item.values().filter(|l| l.len() >= 2) {
        texts += 1;
        unanimous += usize::from(labels.iter().all(|l| *l == labels[0]));
        for i in 0..labels.len() {
            for j in i + 1..labels.len() {
                pairs += 1;
                same += usize::from(labels[i] == labels[j]);
            }
        }
    }
    (texts > 0).then(|| Agreement {
        texts,
        unanimous,
        pairwise: same as f64 / pairs as f64,
    })
}

/// The active annotations of `item` (or of the whole run), in submission order.
pub(crate) fn annotations_of(
    conn: &Connection,
    run: i64,
    item: Option<&str>,
) -> Result<Vec<Annotation>> {
    let mut st = conn.prepare(
        "SELECT id, item_id, annotator, label FROM annotations
         WHERE run_id = ?1 AND (?2 IS NULL OR item_id = ?2) AND undone = 0 ORDER BY id",
    )?;
    let rows = st
        .query_map(params![run, item], |r| {
            Ok(Annotation {
                id: r.get(0)?,
                item_id: r.get(1)?,
                annotator: r.get(2)?,
                label: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// A text fully annotated that waits for the owner's pick.
#[derive(Debug, Clone, Serialize)]
pub struct AwaitingPick {
    pub item_id: String,
    pub input: String,
    pub annotations: Vec<Annotation>,
}

/// A submission whose text the engine has not collected yet.
#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    pub item_id: String,
    pub input: String,
    pub annotator: String,
    pub label: String,
}

impl Db {
    /// Current submissions of round `round` still on the queue (oldest first).
    pub fn pending_submissions(&self, run: i64, round: i64) -> Result<Vec<Pending>> {
        let conn = self.lock();
        let mut st = conn.prepare(
            "SELECT a.item_id, q.input, a.annotator, a.label FROM annotations a
             JOIN queue_items q ON q.run_id = a.run_id AND q.item_id = a.item_id
             WHERE a.run_id = ?1 AND q.round = ?2 AND q.status = 'open' AND a.undone = 0 ORDER BY a.id",
        )?;
        let rows = st
            .query_map(params![run, round], |r| {
                Ok(Pending {
                    item_id: r.get(0)?,
                    input: r.get(1)?,
                    annotator: r.get(2)?,
                    label: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Every active annotation of the run, in submission order.
    pub fn annotations(&self, run: i64) -> Result<Vec<Annotation>> {
        annotations_of(&self.lock(), run, None)
    }

    /// The owner picks annotation `annotation` as the label of `item`.
    pub fn pick(&self, run: i64, item: &str, annotation: i64) -> Result<()> {
        let conn = self.lock();
        let status: Option<String> = conn
            .query_row(
                "SELECT status FROM queue_items WHERE run_id = ?1 AND item_id = ?2",
                params![run, item],
                |r| r.get(0),
            )
            .optional()?;
        match status.as_deref() {
            None => return Err(WebError::NotFound(format!("item `{item}` of run {run}"))),
            Some("open") => {}
            Some(_) => {
                return Err(WebError::Conflict(format!(
                    "item `{item}` was already handed to the model; it can no longer change"
                )))
            }
        }
        if !annotations_of(&conn, run, Some(item))?
            .iter()
            .any(|a| a.id == annotation)
        {
            return Err(WebError::invalid(
                "annotation",
                format!("annotation {annotation} is not a current annotation of `{item}`"),
            ));
        }
        conn.execute(
            "UPDATE queue_items SET chosen = ?3 WHERE run_id = ?1 AND item_id = ?2",
            params![run, item, annotation],
        )?;
        Ok(())
    }

    /// Open texts with `overlap` annotations whose current pick is missing.
    pub fn awaiting_pick(&self, run: i64, overlap: i64) -> Result<Vec<AwaitingPick>> {
        let conn = self.lock();
        let items: Vec<(String, String, Option<i64>)> = conn
            .prepare(
                "SELECT item_id, input, chosen FROM queue_items WHERE run_id = ?1 AND status = 'open' ORDER BY round, position",
            )?
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::new();
        for (item_id, input, chosen) in items {
            let annotations = annotations_of(&conn, run, Some(&item_id))?;
            let picked = annotations.iter().any(|a| Some(a.id) == chosen);
            if annotations.len() as i64 >= overlap && !picked {
                out.push(AwaitingPick {
                    item_id,
                    input,
                    annotations,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anns(labels: &[&str]) -> Vec<Annotation> {
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| Annotation {
                id: i as i64 + 1,
                item_id: "x".into(),
                annotator: format!("a{i}"),
                label: l.to_string(),
            })
            .collect()
    }

    #[test]
    fn each_rule_picks_its_label() {
        let a = anns(&["Paris", "lyon", " LYON ", "Paris"]);
        assert_eq!(choose(OverlapRule::First, &a, None).map(|a| a.id), Some(1));
        // 2 "paris" vs 2 "lyon": the tie goes to the group submitted first.
        assert_eq!(
            choose(OverlapRule::Majority, &a, None).map(|a| a.id),
            Some(1)
        );
        let b = anns(&["Paris", "lyon", " LYON "]);
        assert_eq!(
            choose(OverlapRule::Majority, &b, None).map(|a| a.id),
            Some(2)
        );
        assert_eq!(choose(OverlapRule::Owner, &b, None), None);
        assert_eq!(
            choose(OverlapRule::Owner, &b, Some(3)).map(|a| a.id),
            Some(3)
        );
        // A pick since withdrawn is no pick.
        assert_eq!(choose(OverlapRule::Owner, &b, Some(9)), None);
        assert_eq!(OverlapRule::parse("majority"), Some(OverlapRule::Majority));
        assert_eq!(OverlapRule::parse("vote"), None);
    }

    #[test]
    fn agreement_counts_unanimous_texts_and_agreeing_pairs() {
        let mut a = anns(&["yes", "Yes ", "no"]);
        a.extend(anns(&["a", "a"]).into_iter().map(|mut x| {
            x.item_id = "y".into();
            x
        }));
        a.push(Annotation {
            id: 99,
            item_id: "z".into(),
            annotator: "solo".into(),
            label: "alone".into(),
        });
        let g = agreement(&a).unwrap();
        assert_eq!((g.texts, g.unanimous), (2, 1));
        // x: 1 of 3 pairs agree; y: 1 of 1.
        assert!((g.pairwise - 0.5).abs() < 1e-12);
        assert_eq!(agreement(&a[5..]), None);
    }
}
