//! The active-learning loop.
//!
//! Round 0 selects and labels the initial set; every round then trains on
//! all labels so far, evaluates, and (unless a stop criterion fires) the next
//! round queries and labels. Each phase is recorded in `run.json` when it
//! completes and labels are appended the moment they arrive, so `--resume`
//! continues from the last completed step without labelling anything twice.

use crate::evaluate::evaluate;
use crate::labeller::GoldenLabeller;
use crate::local_model::LocalModel;
use crate::outputs::{EmbedderChoice, OutputsCache};
use crate::prompting::Prompter;
use crate::record::{LabelRow, Phase, QueryRow, RoundMetrics, RunRecord};
use crate::run_dir::RunDir;
use crate::stop::{criteria, first_stop, ExternalStop};
use crate::{EngineError, Result};
use atgen_config::{Config, LabellerKind, Spec};
use atgen_core::{
    Example, GenerationParams, Labeller, LoopState, Metric, SelectionContext, Strategy,
    TrainExample,
};
use atgen_data::{load_dataset_with, LoadContext};
use atgen_metrics::MetricConfig;
use atgen_models::bert::BertEmbedder;
use atgen_strategies::{ColdStart, StrategyConfig};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// The field of an [`Example`] handed to the human labeller that holds the current model's
/// greedy output for it (a draft to post-edit).
pub const MODEL_DRAFT_FIELD: &str = "atgen_model_draft";

/// How to run.
#[derive(Clone)]
pub struct RunOptions {
    /// Base for relative paths (data files, model checkpoint).
    pub base_dir: PathBuf,
    /// Set to request a stop (signal handler, web app).
    pub stop_flag: Arc<AtomicBool>,
    /// While set, the loop waits after the current step (web app's pause); a stop ends the wait.
    pub pause_flag: Arc<AtomicBool>,
    /// Fault injection for tests: abort the process right after this phase of this round.
    pub crash_after: Option<(usize, Phase)>,
    /// Builds the labeller for `labeller.type=human` (the web app's annotation queue).
    pub human_labeller: Option<HumanLabellerFactory>,
    /// Told of every step, label batch, finished round and the end (web app's dashboard).
    pub observer: Option<Observer>,
}

/// Makes the labeller that asks people (it is handed each round's whole query at once).
pub type HumanLabellerFactory = Arc<dyn Fn() -> Result<Box<dyn Labeller>> + Send + Sync>;
/// Receives [`RunEvent`]s on the run's thread; keep it quick.
pub type Observer = Arc<dyn Fn(&RunEvent) + Send + Sync>;

/// Progress of a run, as it happens.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// The whole pool, `(id, input)` in order (sent before `Started`, on every start or resume).
    Pool { texts: Vec<(String, String)> },
    /// The run directory is known (first event of a run or a resume).
    Started { dir: PathBuf },
    /// A phase of a round begins (Label: the labeller is about to be called).
    Step { round: usize, phase: Phase },
    /// Labels were recorded: totals so far.
    Labeled { n_labeled: usize, cost: f64 },
    /// A round was trained and evaluated.
    Round(RoundMetrics),
    /// The loop waits for `pause_flag` to clear.
    Paused { round: usize },
    /// The run ended: `status` is completed, stopped or failed.
    Ended {
        status: String,
        reason: Option<String>,
    },
}

impl RunOptions {
    fn emit(&self, event: RunEvent) {
        if let Some(o) = &self.observer {
            o(&event);
        }
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            base_dir: PathBuf::from("."),
            stop_flag: Arc::new(AtomicBool::new(false)),
            pause_flag: Arc::new(AtomicBool::new(false)),
            crash_after: None,
            human_labeller: None,
            observer: None,
        }
    }
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub dir: PathBuf,
    pub record: RunRecord,
    pub curve: Vec<RoundMetrics>,
}

/// Metrics named in the config (names, or `{type: ..., params}`).
pub fn build_metrics(specs: &[Spec]) -> Result<Vec<Box<dyn Metric>>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for s in specs {
        let cfg = if s.params.is_empty() {
            MetricConfig::from_name(&s.kind)?
        } else {
            s.deserialize_into::<MetricConfig>().map_err(|e| {
                EngineError::Invalid(format!("evaluation.metrics: `{}`: {e}", s.kind))
            })?
        };
        let key = format!("{cfg:?}");
        if seen.insert(key) {
            out.push(cfg.build()?);
        }
    }
    Ok(out)
}

fn generation_params(cfg: &Config) -> GenerationParams {
    GenerationParams {
        max_new_tokens: cfg.inference.max_new_tokens,
        temperature: cfg.inference.temperature,
        top_p: cfg.inference.top_p,
        seed: cfg.seed,
        ..GenerationParams::default()
    }
}

fn strategy_config(cfg: &Config) -> Result<StrategyConfig> {
    cfg.al
        .strategy
        .deserialize_into::<StrategyConfig>()
        .map_err(|e| EngineError::Invalid(format!("al.strategy: {e}")))
}

/// Everything a run needs, built and checked before anything is spent.
struct Parts {
    pool: Vec<Example>,
    test: Vec<Example>,
    model: LocalModel,
    strategy: Box<dyn Strategy>,
    cold_start: ColdStart,
    labeller: Box<dyn Labeller>,
    metrics: Vec<Box<dyn Metric>>,
    prompter: Prompter,
    encoder: Option<BertEmbedder>,
    /// Texts handed to the labeller per call: API labellers take a whole query at
    /// once (they parallelise or batch it, and their response cache makes partial
    /// progress durable); others get small chunks, each persisted before the next.
    label_chunk: usize,
}

/// `spent`: money the run already spent (its recorded cost when resuming), for the labeller's hard budget.
fn build(cfg: &Config, opts: &RunOptions, spent: f64) -> Result<Parts> {
    let sc = strategy_config(cfg)?;
    let mut specs = cfg.evaluation.metrics.clone();
    specs.extend(cfg.evaluation.additional_metrics.iter().cloned());
    let metrics = build_metrics(&specs)?;
    let human = match (&cfg.labeller.kind, &opts.human_labeller) {
        (LabellerKind::Human, Some(make)) => Some(make()?),
        (LabellerKind::Human, None) => {
            return Err(EngineError::Invalid(
                "labeller.type=human needs the web app (`atgen serve`), where people annotate the queue; use golden, api_llm or local_llm with `atgen run`".into(),
            ))
        }
        _ => None,
    };
    let ctx = LoadContext {
        base_dir: opts.base_dir.clone(),
        ..LoadContext::default()
    };
    let data = load_dataset_with(&cfg.data, &ctx)?;
    let labeller: Box<dyn Labeller> = match cfg.labeller.kind {
        LabellerKind::ApiLlm => {
            // The LLM sees the dataset's prompt (system prompt, demonstrations, template).
            let prompt = data.prompt.clone();
            let to_messages: atgen_labellers::PromptFn = Box::new(move |ex: &Example| {
                prompt
                    .messages(ex)
                    .map(|ms| {
                        ms.into_iter()
                            .map(|m| atgen_labellers::ChatMessage::new(m.role, m.content))
                            .collect()
                    })
                    .map_err(|e| e.to_string())
            });
            Box::new(
                atgen_labellers::build_api_labeller(
                    &cfg.labeller,
                    cfg.al.budget,
                    spent,
                    Some(&opts.base_dir.join(&cfg.output_dir)),
                    to_messages,
                )
                .map_err(|e| EngineError::Core(e.into()))?,
            )
        }
        LabellerKind::LocalLlm => Box::new(crate::labeller::LocalLlmLabeller::new(
            &cfg.labeller,
            data.prompt.clone(),
            &opts.base_dir,
            cfg.model.device,
        )?),
        _ => match human {
            Some(h) => h,
            None => Box::new(GoldenLabeller),
        },
    };
    if data.report.skipped_total() > 0 {
        eprintln!(
            "data: skipped {} bad rows (data.skip_bad_rows)",
            data.report.skipped_total()
        );
    }
    if data.train.is_empty() {
        return Err(EngineError::Invalid(
            "the pool (train split) is empty".into(),
        ));
    }
    let model = LocalModel::load(cfg, &data.train, &opts.base_dir)?;
    // HADAS and LD-CAL get their scorers here; a missing one fails now, before anything is spent.
    let scorers = crate::scorers::build_scorers(&cfg.al.scorers, &opts.base_dir, model.base())?;
    let strategy = atgen_strategies::build_with(&sc, &scorers)?;
    let prompter = Prompter::new(
        data.prompt.clone(),
        cfg.model.use_chat_template,
        cfg.inference.max_new_tokens,
    );
    let encoder = match &cfg.al.embedder {
        Some(dir) => Some(BertEmbedder::load(
            &opts.base_dir.join(dir),
            model.base().device(),
        )?),
        None => None,
    };
    Ok(Parts {
        pool: data.train,
        test: data.test,
        model,
        cold_start: sc.cold_start(),
        strategy,
        labeller,
        metrics,
        prompter,
        encoder,
        // People see the whole round's queue (done / total); API labellers batch it.
        label_chunk: if matches!(
            cfg.labeller.kind,
            LabellerKind::ApiLlm | LabellerKind::Human
        ) {
            usize::MAX
        } else {
            16
        },
    })
}

/// State rebuilt from the run directory.
struct Progress {
    record: RunRecord,
    labels: BTreeMap<String, LabelRow>,
    curve: Vec<RoundMetrics>,
}

fn load_progress(dir: &RunDir) -> Result<Progress> {
    let record: RunRecord = dir.read_json(&dir.root().join("run.json"))?;
    let mut labels = BTreeMap::new();
    let mut curve = Vec::new();
    for round in 0..=record.round {
        let d = dir.iter_dir(round)?;
        for row in dir.read_jsonl::<LabelRow>(&d.join("labeled.jsonl"))? {
            labels.insert(row.id.clone(), row);
        }
        let m = d.join("metrics.json");
        if m.is_file() {
            curve.push(dir.read_json(&m)?);
        }
    }
    Ok(Progress {
        record,
        labels,
        curve,
    })
}

fn write_curve(dir: &RunDir, curve: &[RoundMetrics]) -> Result<()> {
    let names: Vec<String> = curve
        .iter()
        .flat_map(|c| c.metrics.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut csv = format!("iteration,n_labeled,cost,{}\n", names.join(","));
    for c in curve {
        let vals: Vec<String> = names
            .iter()
            .map(|n| {
                c.metrics
                    .get(n)
                    .map(|v| format!("{v:.6}"))
                    .unwrap_or_default()
            })
            .collect();
        csv.push_str(&format!(
            "{},{},{:.6},{}\n",
            c.round,
            c.n_labeled,
            c.cost,
            vals.join(",")
        ));
    }
    dir.write_atomic(&dir.root().join("curve.csv"), csv.as_bytes())
}

/// Starts a new run of `cfg`.
pub fn run(cfg: &Config, opts: &RunOptions) -> Result<RunSummary> {
    cfg.validate()?;
    let parts = build(cfg, opts, 0.0)?;
    let dir = RunDir::create(&opts.base_dir.join(&cfg.output_dir), &cfg.name)?;
    dir.write_atomic(
        &dir.root().join("config.yaml"),
        cfg.to_yaml_redacted().as_bytes(),
    )?;
    dir.write_json(&dir.root().join("run.json"), &RunRecord::default())?;
    eprintln!("run directory: {}", dir.root().display());
    drive(cfg, parts, dir, opts)
}

/// Continues the run in `run_dir` with its saved config (secrets come from the environment again).
pub fn resume(
    run_dir: &Path,
    overrides_cfg: Option<&Config>,
    opts: &RunOptions,
) -> Result<RunSummary> {
    let dir = RunDir::open(run_dir)?;
    let cfg = match overrides_cfg {
        Some(c) => c.clone(),
        None => {
            atgen_config::from_yaml_str(&fs_err::read_to_string(dir.root().join("config.yaml"))?)?
        }
    };
    let spent = dir
        .read_json::<RunRecord>(&dir.root().join("run.json"))
        .map(|r| r.cost)
        .unwrap_or(0.0);
    let parts = build(&cfg, opts, spent)?;
    eprintln!("resuming {}", dir.root().display());
    drive(&cfg, parts, dir, opts)
}

fn drive(cfg: &Config, parts: Parts, dir: RunDir, opts: &RunOptions) -> Result<RunSummary> {
    let started = Instant::now();
    let mut progress = load_progress(&dir)?;
    let base_elapsed = progress.record.elapsed_s;
    if opts.observer.is_some() {
        let texts = parts.pool.iter().map(|e| (e.id.clone(), e.input.clone()));
        opts.emit(RunEvent::Pool {
            texts: texts.collect(),
        });
    }
    opts.emit(RunEvent::Started {
        dir: dir.root().to_path_buf(),
    });
    let result = drive_inner(cfg, parts, &dir, opts, &mut progress, started, base_elapsed);
    if let Err(e) = &result {
        progress.record.status = "failed".into();
        progress.record.error = Some(e.to_string());
        progress.record.elapsed_s = base_elapsed + started.elapsed().as_secs_f64();
        dir.write_json(&dir.root().join("run.json"), &progress.record)?;
    }
    opts.emit(RunEvent::Ended {
        status: progress.record.status.clone(),
        reason: progress
            .record
            .stop_reason
            .clone()
            .or_else(|| progress.record.error.clone()),
    });
    result?;
    Ok(RunSummary {
        dir: dir.root().to_path_buf(),
        record: progress.record,
        curve: progress.curve,
    })
}

#[allow(clippy::too_many_lines)]
fn drive_inner(
    cfg: &Config,
    mut parts: Parts,
    dir: &RunDir,
    opts: &RunOptions,
    progress: &mut Progress,
    started: Instant,
    base_elapsed: f64,
) -> Result<()> {
    if matches!(progress.record.status.as_str(), "completed" | "stopped") {
        eprintln!(
            "the run already ended: {}",
            progress.record.stop_reason.clone().unwrap_or_default()
        );
        return Ok(());
    }
    progress.record.status = "running".into();
    progress.record.error = None;
    let stop_rules = criteria(
        &cfg.al,
        ExternalStop {
            flag: opts.stop_flag.clone(),
            stop_file: dir.root().join("STOP"),
        },
    );
    let params = generation_params(cfg);
    let by_id: HashMap<String, usize> = parts
        .pool
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.clone(), i))
        .collect();
    // Sentence-encoder embeddings persist across rounds and runs ($ATGEN_CACHE_DIR, else .cache/atgen).
    let mut embedding_cache = match &cfg.al.embedder {
        Some(dir) => {
            let root = std::env::var_os("ATGEN_CACHE_DIR")
                .map_or_else(|| opts.base_dir.join(".cache").join("atgen"), PathBuf::from);
            Some(crate::embedding_cache::EmbeddingCache::open(
                &root.join("embeddings"),
                &opts.base_dir.join(dir),
            )?)
        }
        None => None,
    };
    let save = |p: &mut Progress, phase: Phase| -> Result<()> {
        p.record.phases_done.push(phase);
        p.record.elapsed_s = base_elapsed + started.elapsed().as_secs_f64();
        dir.write_json(&dir.root().join("run.json"), &p.record)?;
        if opts.crash_after == Some((p.record.round, phase)) {
            eprintln!(
                "ATGEN_CRASH_AFTER: aborting after {phase:?} of round {}",
                p.record.round
            );
            std::process::abort();
        }
        wait_while_paused(opts, p.record.round);
        Ok(())
    };
    loop {
        let round = progress.record.round;
        let rdir = dir.iter_dir(round)?;
        let seed = cfg.seed.wrapping_add(round as u64);
        let mut timings = BTreeMap::new();
        // Query.
        let query: Vec<QueryRow> = if progress.record.phases_done.contains(&Phase::Query) {
            dir.read_jsonl(&rdir.join("query.jsonl"))?
        } else {
            opts.emit(RunEvent::Step {
                round,
                phase: Phase::Query,
            });
            let t = Instant::now();
            let unlabeled: Vec<Example> = parts
                .pool
                .iter()
                .filter(|e| !progress.labels.contains_key(&e.id))
                .cloned()
                .collect();
            let k = if round == 0 {
                cfg.al.init_query_size.resolve(parts.pool.len())
            } else {
                cfg.al.query_size.resolve(parts.pool.len())
            };
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut candidates = unlabeled;
            if let Some(sub) = &cfg.al.subsample_size {
                let n = sub.resolve(parts.pool.len());
                if n < candidates.len() {
                    candidates.shuffle(&mut rng);
                    candidates.truncate(n);
                }
            }
            let labeled: Vec<Example> = progress
                .labels
                .values()
                .filter_map(|l| {
                    Some(Example {
                        references: vec![l.label.clone()?],
                        ..parts.pool[*by_id.get(&l.id)?].clone()
                    })
                })
                .collect();
            let picked = if round == 0 && parts.cold_start == ColdStart::Random {
                let mut c = candidates.clone();
                c.shuffle(&mut rng);
                c.into_iter()
                    .take(k)
                    .map(|e| atgen_core::ScoredId {
                        id: e.id,
                        score: 0.0,
                    })
                    .collect()
            } else {
                let embedder = match (&parts.encoder, embedding_cache.as_mut()) {
                    (Some(enc), Some(cache)) => EmbedderChoice::Encoder(enc, cache),
                    _ => EmbedderChoice::Model,
                };
                let mut outputs =
                    OutputsCache::new(&parts.model, &parts.prompter, params.clone(), embedder);
                let mut ctx = SelectionContext {
                    unlabeled: &candidates,
                    labeled: &labeled,
                    iteration: round,
                    seed,
                    outputs: Some(&mut outputs),
                };
                parts.strategy.select(&mut ctx, k)?
            };
            let rows: Vec<QueryRow> = picked
                .into_iter()
                .enumerate()
                .map(|(rank, s)| QueryRow {
                    id: s.id,
                    rank,
                    score: s.score,
                })
                .collect();
            dir.write_jsonl(&rdir.join("query.jsonl"), &rows)?;
            timings.insert("query_s", t.elapsed().as_secs_f64());
            save(progress, Phase::Query)?;
            rows
        };
        // Label: only what has no label yet, each label persisted as it arrives.
        if !progress.record.phases_done.contains(&Phase::Label) {
            opts.emit(RunEvent::Step {
                round,
                phase: Phase::Label,
            });
            let t = Instant::now();
            let mut todo: Vec<Example> = query
                .iter()
                .filter(|q| !progress.labels.contains_key(&q.id))
                .filter_map(|q| by_id.get(&q.id).map(|&i| parts.pool[i].clone()))
                .collect();
            if cfg.labeller.kind == LabellerKind::Human && !todo.is_empty() {
                // People post-edit the current model's output instead of typing from scratch.
                let drafts = evaluate(&parts.model, &parts.prompter, &todo, &[], &params)?;
                for (ex, row) in todo.iter_mut().zip(drafts.rows) {
                    ex.fields.insert(MODEL_DRAFT_FIELD.into(), row.prediction);
                }
            }
            for chunk in todo.chunks(parts.label_chunk) {
                if progress.record.budget_exhausted {
                    break;
                }
                let outcomes = parts.labeller.label(chunk);
                // Money a failed call (or a refused text's earlier attempts) paid for nothing.
                let lost = parts.labeller.take_unreported_cost();
                progress.record.cost += lost;
                progress.record.lost_cost += lost;
                for outcome in outcomes? {
                    // Refused by the hard budget: never sent, so the text stays in the pool.
                    let refused = outcome.label.is_none()
                        && outcome
                            .note
                            .as_deref()
                            .is_some_and(|n| n.starts_with(atgen_labellers::BUDGET_NOTE_PREFIX));
                    if refused {
                        progress.record.budget_exhausted = true;
                        progress.record.cost += outcome.cost;
                        progress.record.lost_cost += outcome.cost;
                        continue;
                    }
                    let row = LabelRow {
                        id: outcome.id.clone(),
                        label: outcome.label,
                        cost: outcome.cost,
                        note: outcome.note,
                    };
                    dir.append_jsonl(&rdir.join("labeled.jsonl"), &row)?;
                    progress.record.cost += row.cost;
                    progress.labels.insert(row.id.clone(), row);
                }
            }
            progress.record.n_labeled = progress
                .labels
                .values()
                .filter(|l| l.label.is_some())
                .count();
            progress.record.n_unlabeled_returns = progress.labels.len() - progress.record.n_labeled;
            opts.emit(RunEvent::Labeled {
                n_labeled: progress.record.n_labeled,
                cost: progress.record.cost,
            });
            timings.insert("label_s", t.elapsed().as_secs_f64());
            save(progress, Phase::Label)?;
        }
        // Train and evaluate (always redone together after a crash: deterministic, and free).
        let train: Vec<TrainExample> = progress
            .labels
            .values()
            .filter_map(|l| {
                let ex = &parts.pool[*by_id.get(&l.id)?];
                let (prompt, target) = parts
                    .prompter
                    .training_pair(parts.model.lm(), ex, l.label.as_deref()?)
                    .ok()?;
                Some(TrainExample { prompt, target })
            })
            .collect();
        if !progress.record.phases_done.contains(&Phase::Evaluate) {
            opts.emit(RunEvent::Step {
                round,
                phase: Phase::Train,
            });
            let t = Instant::now();
            if round > 0
                && !cfg.al.train_from_scratch
                && progress.record.phases_done.contains(&Phase::Label)
            {
                let prev = dir
                    .root()
                    .join(format!("iter_{:03}", round - 1))
                    .join("adapter");
                if prev.is_dir() {
                    parts.model.restore(&prev)?;
                }
            }
            let report = if train.is_empty() {
                atgen_core::TrainReport::default()
            } else {
                parts
                    .model
                    .fit(&train, None, seed, cfg.al.train_from_scratch)?
            };
            parts.model.save(&rdir.join("adapter"))?;
            parts.model.save(&dir.adapter_dir())?;
            let run_id = dir
                .root()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            parts.model.publish(
                &rdir.join("adapter"),
                &format!("atgen-{run_id}-round{round}"),
            )?;
            timings.insert("train_s", t.elapsed().as_secs_f64());
            save(progress, Phase::Train)?;
            opts.emit(RunEvent::Step {
                round,
                phase: Phase::Evaluate,
            });
            let t = Instant::now();
            let eval = evaluate(
                &parts.model,
                &parts.prompter,
                &parts.test,
                &parts.metrics,
                &params,
            )?;
            dir.write_jsonl(&rdir.join("generations.jsonl"), &eval.rows)?;
            let rm = RoundMetrics {
                round,
                n_labeled: progress.record.n_labeled,
                cost: progress.record.cost,
                metrics: eval.metrics.clone(),
                train: report,
            };
            dir.write_json(&rdir.join("metrics.json"), &rm)?;
            progress.curve.retain(|c| c.round != round);
            opts.emit(RunEvent::Round(rm.clone()));
            progress.curve.push(rm);
            write_curve(dir, &progress.curve)?;
            progress.record.metrics = eval.metrics;
            timings.insert("evaluate_s", t.elapsed().as_secs_f64());
            if let Some(mib) = crate::peak_rss_mib() {
                timings.insert("peak_rss_mib", mib);
            }
            dir.write_json(&rdir.join("timings.json"), &timings)?;
            print_round(round, &progress.record);
            save(progress, Phase::Evaluate)?;
        }
        let pool_left = parts.pool.len() - progress.labels.len();
        let state = LoopState {
            iteration: round,
            n_labeled: progress.record.n_labeled,
            cost: progress.record.cost,
            metrics: progress.record.metrics.clone(),
            pool_left,
        };
        let budget_reason = progress.record.budget_exhausted.then(|| {
            format!(
                "budget spent: the next label could cross al.budget = {}",
                cfg.al.budget.unwrap_or(0.0)
            )
        });
        let reason = budget_reason
            .or_else(|| first_stop(&stop_rules, &state))
            .or_else(|| (pool_left == 0).then(|| "the pool is exhausted".to_string()));
        if let Some(reason) = reason {
            progress.record.status = if reason.contains("user") {
                "stopped"
            } else {
                "completed"
            }
            .into();
            progress.record.stop_reason = Some(reason.clone());
            progress.record.elapsed_s = base_elapsed + started.elapsed().as_secs_f64();
            dir.write_json(&dir.root().join("run.json"), &progress.record)?;
            eprintln!("stopped: {reason}");
            print_table(&progress.curve);
            return Ok(());
        }
        progress.record.round += 1;
        progress.record.phases_done.clear();
        dir.write_json(&dir.root().join("run.json"), &progress.record)?;
    }
}

/// Blocks while the run is paused (a stop request ends the wait).
fn wait_while_paused(opts: &RunOptions, round: usize) {
    use std::sync::atomic::Ordering;
    if !opts.pause_flag.load(Ordering::SeqCst) {
        return;
    }
    opts.emit(RunEvent::Paused { round });
    while opts.pause_flag.load(Ordering::SeqCst) && !opts.stop_flag.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn print_round(round: usize, r: &RunRecord) {
    let m: Vec<String> = r
        .metrics
        .iter()
        .map(|(k, v)| format!("{k} {v:.4}"))
        .collect();
    eprintln!(
        "round {round:>3} | labeled {:>5} | cost {:>8.4} | {}",
        r.n_labeled,
        r.cost,
        m.join(" | ")
    );
}

fn print_table(curve: &[RoundMetrics]) {
    let names: Vec<String> = curve
        .iter()
        .flat_map(|c| c.metrics.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    println!(
        "{:>5} {:>9} {:>9} {}",
        "round",
        "n_labeled",
        "cost",
        names.iter().map(|n| format!("{n:>10}")).collect::<String>()
    );
    for c in curve {
        let vals: String = names
            .iter()
            .map(|n| format!("{:>10.4}", c.metrics.get(n).copied().unwrap_or(f64::NAN)))
            .collect();
        println!("{:>5} {:>9} {:>9.4} {vals}", c.round, c.n_labeled, c.cost);
    }
}
