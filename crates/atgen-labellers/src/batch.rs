//! Batch APIs at a discount: OpenAI Batch (upload a JSONL file with
//! `purpose=batch`, create, poll, join the output and error files on
//! `custom_id`) and Anthropic Message Batches (create, poll
//! `processing_status`, read `results_url`).
//!
//! Every request's worst case, at the discounted prices, is reserved before
//! the batch is submitted; requests that do not fit stay out of it. A
//! submitted batch's id is kept in the response cache until its results are
//! collected, so a run that stops while waiting polls the same batch when
//! resumed instead of paying for it again.

use crate::api::Completion;
use crate::api::{no_label, outcome, ApiLabeller, Job};
use crate::budget::Reservation;
use crate::budget::BUDGET_NOTE_PREFIX;
use crate::error::{LabellerError, Result};
use crate::http::Attempt;
use crate::provider::{error_message, parse, Reply};
use crate::settings::Provider;
use crate::wire::{anthropic_batch as ab, openai, openai_batch as ob};
use atgen_core::Example;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::time::Instant;

/// Each request's result: a reply, or why there is none.
type Results = HashMap<String, std::result::Result<Reply, String>>;

fn custom_id(i: usize) -> String {
    format!("req-{i}")
}

impl ApiLabeller {
    /// Labels `batch[todo]` through the provider's batch API.
    pub(crate) fn label_via_batch(
        &self,
        batch: &[Example],
        jobs: &[Job],
        todo: &[usize],
    ) -> Result<Vec<(usize, Completion)>> {
        let s = &self.settings;
        let prices = s.prices.discounted(s.batch_discount);
        let scale = 1.0 - s.batch_discount;
        let mut out = Vec::new();
        let mut sent: Vec<(usize, Reservation)> = Vec::new();
        for &i in todo {
            let worst = jobs[i].worst * scale;
            match self.budget.try_reserve(worst) {
                Some(r) => sent.push((i, r)),
                None => out.push((
                    i,
                    no_label(
                        &batch[i],
                        0.0,
                        format!(
                            "{BUDGET_NOTE_PREFIX} not sent, its worst case {worst:.6} exceeds what is left of al.budget ({:.6})",
                            self.budget.remaining().unwrap_or(f64::INFINITY)
                        ),
                    ),
                )),
            }
        }
        if sent.is_empty() {
            return Ok(out);
        }
        let ids: Vec<usize> = sent.iter().map(|(i, _)| *i).collect();
        let request_set: String = ids
            .iter()
            .map(|&i| format!("{}\n{}\n", custom_id(i), jobs[i].key))
            .collect();
        let results = match s.provider {
            Provider::Anthropic => self.anthropic_batch(jobs, &ids, &request_set),
            Provider::Openai | Provider::OpenaiCompatible => {
                self.openai_batch(jobs, &ids, &request_set)
            }
        };
        let mut results = match results {
            Ok(r) => r,
            Err(e) => {
                // The batch may still run and bill: keep its worst case counted.
                for (i, r) in sent {
                    let worst = jobs[i].worst * scale;
                    self.budget.settle(r, worst);
                }
                return Err(e);
            }
        };
        for (i, r) in sent {
            let ex = &batch[i];
            match results.remove(&custom_id(i)) {
                Some(Ok(reply)) => {
                    let cost = prices.cost(reply.input_tokens, reply.output_tokens);
                    self.budget.settle(r, cost);
                    if let Some(cache) = &self.cache {
                        cache.put(&jobs[i].key, s.provider.name(), &s.model, &reply, cost)?;
                    }
                    out.push((i, outcome(ex, &reply, cost, 0.0, Some("batch"))));
                }
                Some(Err(why)) => {
                    self.budget.settle(r, 0.0);
                    out.push((
                        i,
                        no_label(ex, 0.0, format!("could not label (batch): {why}")),
                    ));
                }
                None => {
                    self.budget.settle(r, 0.0);
                    out.push((
                        i,
                        no_label(
                            ex,
                            0.0,
                            "could not label (batch): no result for this request".into(),
                        ),
                    ));
                }
            }
        }
        if let Some(cache) = &self.cache {
            cache.drop_pending_batch(&request_set)?;
        }
        Ok(out)
    }

    /// One control call, retried like a labelling request. `idempotent: false`
    /// retries only failures where the server did not run the call.
    fn call(&self, url: &str, idempotent: bool, f: impl Fn() -> Attempt) -> Result<String> {
        let s = &self.settings;
        let provider = s.provider.name();
        let mut last = String::new();
        for attempt in 0..=s.max_retries {
            let retry_after = match f() {
                Attempt::Success(body) => return Ok(body),
                Attempt::Retryable {
                    reason,
                    retry_after,
                    maybe_billed,
                } => {
                    if maybe_billed && !idempotent {
                        return Err(LabellerError::RetriesExhausted {
                            provider,
                            url: url.into(),
                            attempts: attempt + 1,
                            last: format!(
                                "{reason} (not retried: the server may have acted on it)"
                            ),
                            // Batch calls cost nothing until a batch runs; a submitted batch
                            // is remembered and polled on resume.
                            lost: 0.0,
                        });
                    }
                    last = reason;
                    retry_after
                }
                Attempt::Rejected { status, message }
                | Attempt::Fatal {
                    status: Some(status),
                    message,
                } => {
                    return Err(LabellerError::Http {
                        provider,
                        url: url.into(),
                        status,
                        message,
                    })
                }
                Attempt::Fatal {
                    status: None,
                    message,
                } => return Err(LabellerError::parameter("base_url", message)),
            };
            s.wait_before_retry(attempt, retry_after);
        }
        Err(LabellerError::RetriesExhausted {
            provider,
            url: url.into(),
            attempts: s.max_retries + 1,
            last,
            lost: 0.0,
        })
    }

    fn call_json<T: DeserializeOwned>(
        &self,
        url: &str,
        idempotent: bool,
        f: impl Fn() -> Attempt,
    ) -> Result<T> {
        let body = self.call(url, idempotent, f)?;
        serde_json::from_str(&body).map_err(|e| LabellerError::Batch {
            provider: self.settings.provider.name(),
            id: url.into(),
            reason: format!("malformed response: {e}"),
        })
    }

    /// Polls `url` until `done` says the batch ended, within `batch_max_wait`.
    fn poll<T: DeserializeOwned>(
        &self,
        id: &str,
        url: &str,
        done: impl Fn(&T) -> bool,
    ) -> Result<T> {
        let started = Instant::now();
        loop {
            let b: T = self.call_json(url, true, || self.transport.get(url))?;
            if done(&b) {
                return Ok(b);
            }
            if started.elapsed() >= self.settings.batch_max_wait {
                return Err(LabellerError::Batch {
                    provider: self.settings.provider.name(),
                    id: id.into(),
                    reason: format!(
                        "not ended after {:?}; resume the run to keep waiting for it",
                        self.settings.batch_max_wait
                    ),
                });
            }
            std::thread::sleep(self.settings.batch_poll);
        }
    }

    /// The id of a batch this request set was already submitted as (kept by the cache).
    fn pending_batch(&self, request_set: &str) -> Result<Option<String>> {
        match &self.cache {
            Some(c) => c.pending_batch(request_set),
            None => Ok(None),
        }
    }

    fn openai_batch(&self, jobs: &[Job], ids: &[usize], request_set: &str) -> Result<Results> {
        let base = &self.settings.base_url;
        let provider = self.settings.provider.name();
        let id = match self.pending_batch(request_set)? {
            Some(id) => id,
            None => {
                let mut lines = String::new();
                for &i in ids {
                    let body: openai::ChatCompletionRequest =
                        serde_json::from_str(&jobs[i].prepared.body).map_err(|e| {
                            LabellerError::Internal {
                                what: format!("re-reading a prepared request: {e}"),
                            }
                        })?;
                    let line = ob::InputLine {
                        custom_id: custom_id(i),
                        method: "POST".into(),
                        url: format!("/v1{}", openai::CHAT_COMPLETIONS_PATH),
                        body,
                    };
                    lines.push_str(&serde_json::to_string(&line).unwrap_or_default());
                    lines.push('\n');
                }
                let boundary = format!("atgen-{:016x}", rand::random::<u64>());
                let form = format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n\
                     --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"atgen-batch.jsonl\"\r\n\
                     Content-Type: application/jsonl\r\n\r\n{lines}\r\n--{boundary}--\r\n"
                );
                let files_url = format!("{base}{}", ob::FILES_PATH);
                let ctype = format!("multipart/form-data; boundary={boundary}");
                let file: ob::FileObject = self.call_json(&files_url, true, || {
                    self.transport
                        .send("POST", &files_url, &ctype, form.as_bytes())
                })?;
                let create = ob::CreateBatch {
                    input_file_id: file.id,
                    endpoint: format!("/v1{}", openai::CHAT_COMPLETIONS_PATH),
                    completion_window: ob::COMPLETION_WINDOW.into(),
                };
                let url = format!("{base}{}", ob::BATCHES_PATH);
                let body = serde_json::to_string(&create).unwrap_or_default();
                let b: ob::Batch =
                    self.call_json(&url, false, || self.transport.post(&url, &body))?;
                if let Some(c) = &self.cache {
                    c.save_pending_batch(request_set, provider, &b.id)?;
                }
                b.id
            }
        };
        let url = format!("{base}{}/{id}", ob::BATCHES_PATH);
        let b: ob::Batch = self.poll(&id, &url, |b: &ob::Batch| b.status.is_terminal())?;
        if b.status == ob::BatchStatus::Failed {
            return Err(LabellerError::Batch {
                provider,
                id,
                reason: "status `failed`: the input file was rejected".into(),
            });
        }
        // Completed, expired and cancelled batches all keep finished requests in the output file.
        let mut results = Results::new();
        for file_id in [b.output_file_id, b.error_file_id].into_iter().flatten() {
            let url = format!("{base}{}/{file_id}/content", ob::FILES_PATH);
            let text = self.call(&url, true, || self.transport.get(&url))?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let Ok(line) = serde_json::from_str::<ob::OutputLine>(line) else {
                    continue;
                };
                let result = match (&line.response, &line.error) {
                    (Some(r), _) if r.status_code == 200 => {
                        parse(Provider::Openai, &r.body.to_string())
                    }
                    (Some(r), _) => Err(format!(
                        "HTTP {}: {}",
                        r.status_code,
                        error_message(&r.body.to_string())
                    )),
                    (None, Some(e)) => Err(format!(
                        "{}: {}",
                        e.code.as_deref().unwrap_or("error"),
                        e.message.as_deref().unwrap_or("")
                    )),
                    (None, None) => Err("empty result line".into()),
                };
                results.insert(line.custom_id, result);
            }
        }
        Ok(results)
    }

    fn anthropic_batch(&self, jobs: &[Job], ids: &[usize], request_set: &str) -> Result<Results> {
        let base = &self.settings.base_url;
        let provider = self.settings.provider.name();
        let id = match self.pending_batch(request_set)? {
            Some(id) => id,
            None => {
                let mut requests = Vec::new();
                for &i in ids {
                    let params = serde_json::from_str(&jobs[i].prepared.body).map_err(|e| {
                        LabellerError::Internal {
                            what: format!("re-reading a prepared request: {e}"),
                        }
                    })?;
                    requests.push(ab::BatchRequest {
                        custom_id: custom_id(i),
                        params,
                    });
                }
                let url = format!("{base}{}", ab::BATCHES_PATH);
                let body = serde_json::to_string(&ab::CreateBatch { requests }).unwrap_or_default();
                let b: ab::MessageBatch =
                    self.call_json(&url, false, || self.transport.post(&url, &body))?;
                if let Some(c) = &self.cache {
                    c.save_pending_batch(request_set, provider, &b.id)?;
                }
                b.id
            }
        };
        let url = format!("{base}{}/{id}", ab::BATCHES_PATH);
        let b: ab::MessageBatch = self.poll(&id, &url, |b: &ab::MessageBatch| {
            b.processing_status == ab::ProcessingStatus::Ended
        })?;
        let results_url = b.results_url.ok_or_else(|| LabellerError::Batch {
            provider,
            id: id.clone(),
            reason: "ended without a results_url".into(),
        })?;
        let text = self.call(&results_url, true, || self.transport.get(&results_url))?;
        let mut results = Results::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(line) = serde_json::from_str::<ab::ResultLine>(line) else {
                continue;
            };
            let result = match line.result {
                ab::BatchResult::Succeeded { message } => parse(
                    Provider::Anthropic,
                    &serde_json::to_string(&message).unwrap_or_default(),
                ),
                ab::BatchResult::Errored { error } => {
                    Err(format!("{}: {}", error.error.kind, error.error.message))
                }
                ab::BatchResult::Canceled => Err("canceled".into()),
                ab::BatchResult::Expired => Err("expired".into()),
            };
            results.insert(line.custom_id, result);
        }
        Ok(results)
    }
}
