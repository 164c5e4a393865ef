//! The `api_llm` labeller: one chat request per example, sent by a few
//! worker threads, retried with backoff, paid within a hard budget, and
//! cached so that no request is paid for twice.

use crate::budget::BUDGET_NOTE_PREFIX;
use crate::budget::{estimate_prompt_tokens, Budget};
use crate::cache::ResponseCache;
use crate::clean::clean_label;
use crate::error::{LabellerError, Result};
use crate::http::{Attempt, Transport};
use crate::provider::{parse, prepare, ChatMessage, Prepared, Reply, TokenLogprob};
use crate::settings::ApiSettings;
use atgen_core::{Example, LabelOutcome, Labeller};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// Builds the chat messages of an example (the dataset's prompt template, demonstrations, ...).
pub type PromptFn =
    Box<dyn Fn(&Example) -> std::result::Result<Vec<ChatMessage>, String> + Send + Sync>;

/// The default prompt: the example's input as the only user message.
pub fn input_as_prompt() -> PromptFn {
    Box::new(|ex: &Example| Ok(vec![ChatMessage::new("user", ex.input.clone())]))
}

/// A label outcome with the reply's token log-probabilities (when asked for and returned).
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub outcome: LabelOutcome,
    /// The raw reply's tokens (before reasoning is stripped), from a fresh or a cached response.
    pub logprobs: Option<Vec<TokenLogprob>>,
}

/// An LLM behind an HTTP API, labelling through [`Labeller`].
pub struct ApiLabeller {
    pub(crate) settings: ApiSettings,
    pub(crate) transport: Transport,
    pub(crate) budget: Budget,
    pub(crate) cache: Option<ResponseCache>,
    prompt: PromptFn,
    /// Money spent that no returned outcome carries yet (see [`Labeller::take_unreported_cost`]).
    unreported: Mutex<f64>,
}

impl std::fmt::Debug for ApiLabeller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiLabeller")
            .field("settings", &self.settings)
            .field("budget", &self.budget)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// One example's request.
pub(crate) struct Job {
    pub(crate) prepared: Prepared,
    /// Cache key: provider, URL and body.
    pub(crate) key: String,
    /// Worst-case cost at the undiscounted prices.
    pub(crate) worst: f64,
}

impl ApiLabeller {
    /// A labeller spending at most `budget` (none: no limit), of which `spent` is already gone
    /// (pass the run's recorded cost when resuming).
    pub fn new(settings: ApiSettings, budget: Option<f64>, spent: f64) -> Result<Self> {
        let cache = match &settings.cache_path {
            Some(p) => Some(ResponseCache::open(p)?),
            None => None,
        };
        Ok(ApiLabeller {
            transport: Transport::new(&settings),
            budget: Budget::new(budget, spent),
            cache,
            prompt: input_as_prompt(),
            unreported: Mutex::new(0.0),
            settings,
        })
    }

    /// Uses `prompt` to turn examples into messages.
    pub fn with_prompt(mut self, prompt: PromptFn) -> Self {
        self.prompt = prompt;
        self
    }

    /// Money spent so far, including what `new` was told.
    pub fn spent(&self) -> f64 {
        self.budget.spent()
    }

    /// Money spent that no returned outcome carries, reset by the call: attempts that may have
    /// been billed in a [`ApiLabeller::label_batch`] that failed, and the responses that batch
    /// received but could not return.
    pub fn take_unreported_cost(&self) -> f64 {
        std::mem::take(
            &mut *self
                .unreported
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    fn add_unreported(&self, cost: f64) {
        *self
            .unreported
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += cost;
    }

    /// The resolved settings.
    pub fn settings(&self) -> &ApiSettings {
        &self.settings
    }

    fn job(&self, ex: &Example) -> Result<Job> {
        let messages = (self.prompt)(ex).map_err(|reason| LabellerError::Prompt {
            id: ex.id.clone(),
            reason,
        })?;
        let prepared = prepare(&self.settings, &messages);
        let texts = self
            .settings
            .system
            .iter()
            .map(String::as_str)
            .chain(messages.iter().map(|m| m.content.as_str()));
        let prompt_tokens = estimate_prompt_tokens(texts, self.settings.bytes_per_token);
        let worst = self
            .settings
            .prices
            .cost(prompt_tokens, u64::from(self.settings.max_tokens));
        let key = format!(
            "{}\n{}\n{}",
            self.settings.provider.name(),
            prepared.url,
            prepared.body
        );
        Ok(Job {
            prepared,
            key,
            worst,
        })
    }

    /// Labels `batch` in order; `Err` only for failures a retry later may fix
    /// (retries exhausted) or that need the user (bad key, unknown model).
    pub fn label_batch(&self, batch: &[Example]) -> Result<Vec<LabelOutcome>> {
        Ok(self
            .complete_batch(batch)?
            .into_iter()
            .map(|c| c.outcome)
            .collect())
    }

    /// [`ApiLabeller::label_batch`] keeping each reply's token log-probabilities.
    pub fn complete_batch(&self, batch: &[Example]) -> Result<Vec<Completion>> {
        let jobs = batch
            .iter()
            .map(|e| self.job(e))
            .collect::<Result<Vec<_>>>()?;
        let mut outcomes: Vec<Option<Completion>> = vec![None; batch.len()];
        let mut to_claim: Vec<&str> = Vec::new();
        if let Some(cache) = &self.cache {
            for (i, (ex, job)) in batch.iter().zip(&jobs).enumerate() {
                if let Some(hit) = cache.get(&job.key)? {
                    let cost = if hit.claimed { 0.0 } else { hit.cost };
                    if !hit.claimed {
                        self.budget.record(cost);
                        to_claim.push(&job.key);
                    }
                    outcomes[i] = Some(outcome(ex, &hit.reply, cost, 0.0, Some("cached response")));
                }
            }
        }
        let todo: Vec<usize> = (0..batch.len())
            .filter(|&i| outcomes[i].is_none())
            .collect();
        if self.settings.batch && !todo.is_empty() {
            for (i, o) in self.label_via_batch(batch, &jobs, &todo)? {
                to_claim.push(&jobs[i].key);
                outcomes[i] = Some(o);
            }
            if let Some(cache) = &self.cache {
                cache.claim(&to_claim)?;
            }
            return Ok(outcomes.into_iter().flatten().collect());
        }
        let results: Mutex<Vec<Option<Result<Completion>>>> =
            Mutex::new((0..todo.len()).map(|_| None).collect());
        let next = AtomicUsize::new(0);
        let workers = self.settings.concurrency.min(todo.len());
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let j = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = todo.get(j) else { break };
                    let r = self.label_one(&batch[i], &jobs[i]);
                    results.lock().unwrap_or_else(PoisonError::into_inner)[j] = Some(r);
                });
            }
        });
        let results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
        let mut failure = None;
        for (j, r) in results.into_iter().enumerate() {
            let i = todo[j];
            match r.unwrap_or_else(|| {
                Err(LabellerError::Internal {
                    what: "a worker thread that did not finish".into(),
                })
            }) {
                Ok(o) => {
                    if o.outcome.label.is_some() || o.outcome.cost > 0.0 {
                        to_claim.push(&jobs[i].key);
                    }
                    outcomes[i] = Some(o);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            // The batch fails as a whole, but what it paid is reported now: the answers it
            // got are claimed in the cache (a resumed run reuses them at no cost) and their
            // cost joins the money of the failed attempts.
            let paid: f64 = outcomes.iter().flatten().map(|o| o.outcome.cost).sum();
            self.add_unreported(paid);
            if let Some(cache) = &self.cache {
                cache.claim(&to_claim)?;
            }
            return Err(e);
        }
        if let Some(cache) = &self.cache {
            cache.claim(&to_claim)?;
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    fn label_one(&self, ex: &Example, job: &Job) -> Result<Completion> {
        let s = &self.settings;
        let provider = s.provider.name();
        // Money of attempts that may have been billed but returned no usage.
        let mut charged = 0.0;
        let mut last = String::new();
        for attempt in 0..=s.max_retries {
            let Some(reservation) = self.budget.reserve(job.worst) else {
                let left = self.budget.remaining().unwrap_or(f64::INFINITY);
                return Ok(no_label(
                    ex,
                    charged,
                    format!(
                        "{BUDGET_NOTE_PREFIX} not sent, its worst case {:.6} exceeds what is left of al.budget ({left:.6})",
                        job.worst
                    ),
                ));
            };
            let retry_after = match self.transport.post(&job.prepared.url, &job.prepared.body) {
                Attempt::Success(body) => match parse(s.provider, &body) {
                    Ok(reply) => {
                        let cost = s.prices.cost(reply.input_tokens, reply.output_tokens);
                        self.budget.settle(reservation, cost);
                        if let Some(cache) = &self.cache {
                            cache.put(&job.key, provider, &s.model, &reply, cost + charged)?;
                        }
                        return Ok(outcome(ex, &reply, cost, charged, None));
                    }
                    Err(why) => {
                        // The server ran the request: count it at its worst case.
                        self.budget.settle(reservation, job.worst);
                        charged += job.worst;
                        last = why;
                        None
                    }
                },
                Attempt::Retryable {
                    reason,
                    retry_after,
                    maybe_billed,
                } => {
                    let lost = if maybe_billed || s.bills_failed_attempts {
                        job.worst
                    } else {
                        0.0
                    };
                    self.budget.settle(reservation, lost);
                    charged += lost;
                    last = reason;
                    retry_after
                }
                Attempt::Rejected { status, message } => {
                    self.budget.settle(reservation, 0.0);
                    return Ok(no_label(
                        ex,
                        charged,
                        format!("{provider} rejected the request (HTTP {status}): {message}"),
                    ));
                }
                Attempt::Fatal { status, message } => {
                    self.budget.settle(reservation, 0.0);
                    self.add_unreported(charged);
                    return Err(match status {
                        Some(status) => LabellerError::Http {
                            provider,
                            url: job.prepared.url.clone(),
                            status,
                            message,
                        },
                        None => LabellerError::parameter("base_url", message),
                    });
                }
            };
            s.wait_before_retry(attempt, retry_after);
        }
        self.add_unreported(charged);
        Err(LabellerError::RetriesExhausted {
            provider,
            url: job.prepared.url.clone(),
            attempts: s.max_retries + 1,
            last,
            lost: charged,
        })
    }
}

pub(crate) fn no_label(ex: &Example, cost: f64, note: String) -> Completion {
    Completion {
        outcome: LabelOutcome {
            id: ex.id.clone(),
            label: None,
            cost,
            note: Some(note),
        },
        logprobs: None,
    }
}

/// The outcome of a response: `cost` of the reply plus `charged` for lost attempts.
pub(crate) fn outcome(
    ex: &Example,
    reply: &Reply,
    cost: f64,
    charged: f64,
    note: Option<&str>,
) -> Completion {
    let mut notes: Vec<String> = note.map(String::from).into_iter().collect();
    if charged > 0.0 {
        notes.push(format!(
            "includes {charged:.6} for attempts that may have been billed without a usable response"
        ));
    }
    let label = match &reply.refusal {
        Some(r) => {
            notes.push(format!("could not label: the model refused ({r})"));
            None
        }
        None => {
            let l = clean_label(&reply.text);
            if l.is_none() {
                notes.push("could not label: empty answer once reasoning is removed".into());
            } else if reply.truncated {
                notes.push("answer cut at max_tokens".into());
            }
            l
        }
    };
    Completion {
        outcome: LabelOutcome {
            id: ex.id.clone(),
            label,
            cost: cost + charged,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        },
        logprobs: reply.logprobs.clone(),
    }
}

impl Labeller for ApiLabeller {
    fn label(&mut self, batch: &[Example]) -> atgen_core::Result<Vec<LabelOutcome>> {
        Ok(self.label_batch(batch)?)
    }

    fn take_unreported_cost(&mut self) -> f64 {
        ApiLabeller::take_unreported_cost(self)
    }
}
