//! The human labeller: the engine hands it a round's whole query (each text with the current
//! model's output as a draft to post-edit); it puts the texts on the annotation queue and blocks until people have annotated all of them (or the run is stopped,
//! which returns what is annotated so far). Annotations live in SQLite, so after a server
//! restart the resumed run finds them and asks for nothing twice.

use crate::db::Db;
use crate::events::Events;
use atgen_core::{Example, LabelOutcome, Labeller};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A [`Labeller`] backed by the web app's queue.
pub struct QueueLabeller {
    pub db: Db,
    pub events: Events,
    pub run_id: i64,
    /// The round being labelled (kept current by the run's observer).
    pub round: Arc<AtomicUsize>,
    pub overlap: i64,
    pub rule: crate::db::overlap::OverlapRule,
    pub stop: Arc<AtomicBool>,
    pub poll: Duration,
}

impl QueueLabeller {
    fn publish_progress(&self) {
        if let Ok(Some(p)) = self.db.queue_progress(self.run_id, self.overlap) {
            self.events.send(self.run_id, "queue", serde_json::json!(p));
        }
    }
}

impl QueueLabeller {
    /// The texts are on the queue: the run now waits for people.
    fn set_waiting(&self, round: usize) -> crate::Result<()> {
        self.db.set_status(self.run_id, "waiting", None)?;
        self.db.set_step(
            self.run_id,
            round,
            &format!("round {round}: waiting for annotators"),
        )?;
        let run = self.db.run(self.run_id)?;
        self.events
            .send(self.run_id, "status", crate::pages::status_json(&run, true));
        Ok(())
    }
}

impl Labeller for QueueLabeller {
    fn label(&mut self, batch: &[Example]) -> atgen_core::Result<Vec<LabelOutcome>> {
        let items: Vec<(String, String, Option<String>)> = batch
            .iter()
            .map(|e| {
                let draft = e
                    .fields
                    .get(atgen_engine::MODEL_DRAFT_FIELD)
                    .filter(|d| !d.trim().is_empty())
                    .cloned();
                (e.id.clone(), e.input.clone(), draft)
            })
            .collect();
        let round = self.round.load(Ordering::SeqCst);
        self.db
            .enqueue(self.run_id, round, &items)
            .map_err(atgen_core::Error::backend)?;
        // The queue event first: pages waiting for texts reload on it.
        self.publish_progress();
        self.set_waiting(round)
            .map_err(atgen_core::Error::backend)?;
        let ids: Vec<String> = batch.iter().map(|e| e.id.clone()).collect();
        let labels = loop {
            let stopping = self.stop.load(Ordering::SeqCst);
            let got = self
                .db
                .collect(self.run_id, &ids, self.overlap, self.rule, stopping)
                .map_err(atgen_core::Error::backend)?;
            if let Some(labels) = got {
                break labels;
            }
            std::thread::sleep(self.poll);
        };
        self.publish_progress();
        Ok(labels
            .into_iter()
            .map(|(id, label)| LabelOutcome {
                id,
                label: Some(label),
                cost: 0.0,
                note: None,
            })
            .collect())
    }
}
