//! Live updates: run threads publish [`Event`]s on a broadcast channel; each dashboard or
//! annotate page listens through a server-sent-events stream filtered to its run.

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::Stream;
use serde::Serialize;
use std::convert::Infallible;
use tokio::sync::broadcast;

/// Something that changed in a run.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub run_id: i64,
    /// `status` (status/step/totals), `round` (a new curve point), `queue` (done/total).
    pub kind: &'static str,
    pub data: serde_json::Value,
}

/// The publish side, cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Events(broadcast::Sender<Event>);

impl Default for Events {
    fn default() -> Self {
        Events(broadcast::channel(256).0)
    }
}

impl Events {
    /// Publishes (nobody listening is fine).
    pub fn send(&self, run_id: i64, kind: &'static str, data: serde_json::Value) {
        let _ = self.0.send(Event { run_id, kind, data });
    }

    /// An SSE response: `first` now, then every event of `run_id`.
    pub fn stream(
        &self,
        run_id: i64,
        first: Event,
    ) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
        let rx = self.0.subscribe();
        let stream =
            futures_util::stream::unfold((Some(first), rx), move |(first, mut rx)| async move {
                if let Some(ev) = first {
                    return Some((Ok(to_sse(&ev)), (None, rx)));
                }
                loop {
                    match rx.recv().await {
                        Ok(ev) if ev.run_id == run_id => {
                            return Some((Ok(to_sse(&ev)), (None, rx)))
                        }
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            });
        Sse::new(stream).keep_alive(KeepAlive::default())
    }
}

fn to_sse(ev: &Event) -> SseEvent {
    SseEvent::default().event(ev.kind).data(ev.data.to_string())
}
