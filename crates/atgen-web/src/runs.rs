//! The run manager: builds a run's config from what the form stored, drives it with the
//! engine on a worker thread, mirrors its progress into SQLite and the event stream, and
//! carries out stop / pause / resume. At server start it resumes every unfinished run.

use crate::db::runs::RunRow;
use crate::db::Db;
use crate::events::Events;
use crate::human::QueueLabeller;
use crate::{Result, WebError};
use atgen_config::{Config, ConfigLoader, LabellerKind, Secret};
use atgen_engine::{Phase, RunEvent, RunOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Flags of a run that has a thread.
#[derive(Clone)]
struct Handle {
    stop: Arc<AtomicBool>,
    pause: Arc<AtomicBool>,
}

/// Launches and controls runs.
#[derive(Clone)]
pub struct RunManager {
    db: Db,
    events: Events,
    data_dir: PathBuf,
    poll: Duration,
    handles: Arc<Mutex<HashMap<i64, Handle>>>,
}

/// Builds the config of a stored run: overrides, then the advanced YAML merged over the tree,
/// then secrets; output under `<data_dir>/runs/run-<id>`.
pub fn compose_config(
    overrides: &[String],
    advanced_yaml: &str,
    data_dir: &Path,
) -> Result<Config> {
    let extra = if advanced_yaml.trim().is_empty() {
        None
    } else {
        let extra: atgen_config::Value = serde_norway::from_str(advanced_yaml)
            .map_err(|e| WebError::invalid("advanced_yaml", format!("invalid YAML: {e}")))?;
        if !matches!(extra, atgen_config::Value::Mapping(_)) {
            return Err(WebError::invalid(
                "advanced_yaml",
                "must be a mapping of config keys (e.g. `al:\\n  query_size: 10`)",
            ));
        }
        Some(extra)
    };
    let tree = ConfigLoader::new().compose_with(overrides, extra)?;
    let mut cfg = atgen_config::from_value(tree)?;
    cfg.output_dir = data_dir.join("runs").display().to_string();
    cfg.validate()?;
    Ok(cfg)
}

impl RunManager {
    /// A manager writing run directories under `data_dir/runs`.
    pub fn new(db: Db, events: Events, data_dir: PathBuf, poll: Duration) -> Self {
        RunManager {
            db,
            events,
            data_dir,
            poll,
            handles: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The full config of a run, secrets included (for the engine only; never render it).
    pub fn config_of(&self, run: &RunRow) -> Result<Config> {
        let mut cfg = compose_config(&run.overrides, &run.advanced_yaml, &self.data_dir)?;
        cfg.name = format!("run-{}", run.id);
        for (k, v) in self.db.run_secrets(run.id)? {
            if k == "labeller.api_key" {
                cfg.labeller.api_key = Some(Secret::new(v));
            }
        }
        Ok(cfg)
    }

    fn handle(&self, id: i64) -> Option<Handle> {
        self.handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    /// Whether a thread drives the run now.
    pub fn is_active(&self, id: i64) -> bool {
        self.handle(id).is_some()
    }

    /// Publishes the run's current row as a `status` event.
    pub fn publish(&self, id: i64) {
        if let Ok(run) = self.db.run(id) {
            self.events.send(
                id,
                "status",
                crate::pages::status_json(&run, self.is_active(id)),
            );
        }
    }

    /// Starts (or resumes, when it has a run directory) run `id` on a worker thread.
    pub fn launch(&self, id: i64, paused: bool) -> Result<()> {
        let run = self.db.run(id)?;
        let cfg = self.config_of(&run)?;
        let handle = Handle {
            stop: Arc::new(AtomicBool::new(false)),
            pause: Arc::new(AtomicBool::new(paused)),
        };
        {
            let mut hs = self.handles.lock().unwrap_or_else(|p| p.into_inner());
            if hs.contains_key(&id) {
                return Err(WebError::Conflict(format!("run {id} is already running")));
            }
            hs.insert(id, handle.clone());
        }
        self.db
            .set_status(id, if paused { "paused" } else { "running" }, None)?;
        let round = Arc::new(AtomicUsize::new(run.round.max(0) as usize));
        let human = cfg.labeller.kind == LabellerKind::Human;
        let factory: atgen_engine::HumanLabellerFactory = {
            let (db, events, stop, round) = (
                self.db.clone(),
                self.events.clone(),
                handle.stop.clone(),
                round.clone(),
            );
            let (overlap, rule, poll) = (run.overlap, run.overlap_rule, self.poll);
            Arc::new(move || {
                Ok(Box::new(QueueLabeller {
                    db: db.clone(),
                    events: events.clone(),
                    run_id: id,
                    round: round.clone(),
                    overlap,
                    rule,
                    stop: stop.clone(),
                    poll,
                }) as Box<dyn atgen_core::Labeller>)
            })
        };
        let observer: atgen_engine::Observer = {
            let me = self.clone();
            Arc::new(move |ev: &RunEvent| me.observe(id, human, &round, ev))
        };
        let opts = RunOptions {
            base_dir: self.data_dir.clone(),
            stop_flag: handle.stop.clone(),
            pause_flag: handle.pause.clone(),
            human_labeller: Some(factory),
            observer: Some(observer),
            ..RunOptions::default()
        };
        let me = self.clone();
        let dir = run
            .dir
            .clone()
            .map(PathBuf::from)
            .filter(|d| d.join("run.json").is_file());
        std::thread::Builder::new()
            .name(format!("atgen-run-{id}"))
            .spawn(move || {
                // A panic in the engine must not leave the run looking alive.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match dir {
                    Some(d) => atgen_engine::resume(&d, Some(&cfg), &opts),
                    None => atgen_engine::run(&cfg, &opts),
                }))
                .unwrap_or_else(|p| {
                    let what = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Err(atgen_engine::EngineError::Invalid(format!(
                        "the engine panicked: {what}"
                    )))
                });
                me.handles
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                let _ = match result {
                    Ok(s) => me.db.set_status(id, &s.record.status, None),
                    Err(e) => me.db.set_status(id, "failed", Some(&e.to_string())),
                };
                me.publish(id);
            })?;
        self.publish(id);
        Ok(())
    }

    fn observe(&self, id: i64, human: bool, round: &AtomicUsize, ev: &RunEvent) {
        let db = &self.db;
        let _ = match ev {
            RunEvent::Pool { texts } => {
                // Nothing visible changed yet: no status event.
                let _ = db.set_pool(id, texts);
                return;
            }
            RunEvent::Started { dir } => db
                .set_dir(id, &dir.display().to_string())
                .and_then(|()| self.sync_pool(id)),
            RunEvent::Step { round: r, phase } => {
                round.store(*r, Ordering::SeqCst);
                if *phase == Phase::Label {
                    let _ = self.sync_pool(id);
                }
                // People's queue: the labeller itself says "waiting" once the texts are queued.
                let step = match phase {
                    Phase::Query => "selecting texts to annotate",
                    Phase::Label if human => "drafting outputs for the queue",
                    Phase::Label => "labelling",
                    Phase::Train => "training",
                    Phase::Evaluate => "evaluating",
                };
                let _ = db.set_status(id, "running", None);
                db.set_step(id, *r, &format!("round {r}: {step}"))
            }
            RunEvent::Labeled { n_labeled, cost } => db
                .set_totals(id, *n_labeled, *cost)
                .and_then(|()| self.sync_pool(id)),
            RunEvent::Round(m) => {
                self.events
                    .send(id, "round", serde_json::to_value(m).unwrap_or_default());
                db.set_totals(id, m.n_labeled, m.cost)
            }
            RunEvent::Paused { round: r } => {
                let _ = db.set_step(id, *r, &format!("round {r}: paused"));
                db.set_status(id, "paused", None)
            }
            RunEvent::Ended { status, reason } => {
                let _ = db.set_step(
                    id,
                    round.load(Ordering::SeqCst),
                    reason.as_deref().unwrap_or(""),
                );
                let _ = self.sync_pool(id);
                let err = (status == "failed").then_some(reason.as_deref()).flatten();
                db.set_status(id, status, err)
            }
        };
        self.publish(id);
    }

    /// Rewrites the SQLite copy of run `id`'s pool states from its run directory.
    pub fn sync_pool(&self, id: i64) -> Result<()> {
        let run = self.db.run(id)?;
        let Some(dir) = run.dir.as_deref() else {
            return Ok(());
        };
        let selected = crate::export::selected(Path::new(dir))?;
        self.db.sync_pool(id, &selected, &run.labeller)
    }

    /// Asks run `id` to stop after its current step (a human queue returns what is annotated).
    pub fn stop(&self, id: i64) -> Result<()> {
        let h = self
            .handle(id)
            .ok_or_else(|| WebError::Conflict(format!("run {id} is not running")))?;
        h.stop.store(true, Ordering::SeqCst);
        h.pause.store(false, Ordering::SeqCst);
        self.db.set_step(
            id,
            self.db.run(id)?.round as usize,
            "stopping after the current step",
        )?;
        self.publish(id);
        Ok(())
    }

    /// Pauses run `id` after its current step.
    pub fn pause(&self, id: i64) -> Result<()> {
        let h = self
            .handle(id)
            .ok_or_else(|| WebError::Conflict(format!("run {id} is not running")))?;
        h.pause.store(true, Ordering::SeqCst);
        self.db.set_step(
            id,
            self.db.run(id)?.round as usize,
            "pausing after the current step",
        )?;
        self.publish(id);
        Ok(())
    }

    /// Resumes a paused run, or relaunches a failed or interrupted one from its directory.
    pub fn resume(&self, id: i64) -> Result<()> {
        if let Some(h) = self.handle(id) {
            h.pause.store(false, Ordering::SeqCst);
            self.db.set_status(id, "running", None)?;
            self.publish(id);
            return Ok(());
        }
        let run = self.db.run(id)?;
        if matches!(run.status.as_str(), "completed" | "stopped") {
            return Err(WebError::Conflict(format!(
                "run {id} has ended ({})",
                run.status
            )));
        }
        self.launch(id, false)
    }

    /// Relaunches every run that was unfinished when the server last stopped.
    pub fn resume_unfinished(&self) -> Result<usize> {
        let mut n = 0;
        for run in self.db.runs()? {
            if run.is_unfinished() && !self.is_active(run.id) {
                match self.launch(run.id, run.status == "paused") {
                    Ok(()) => n += 1,
                    Err(e) => self.db.set_status(run.id, "failed", Some(&e.to_string()))?,
                }
            }
        }
        Ok(n)
    }
}
