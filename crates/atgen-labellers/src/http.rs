//! One blocking HTTP attempt, classified for the retry loop, and the backoff schedule.

use crate::provider::error_message;
use crate::settings::{ApiSettings, Provider};
use crate::wire::anthropic;
use atgen_config::Secret;
use std::time::Duration;

/// How one attempt ended.
#[derive(Debug)]
pub enum Attempt {
    /// A 2xx response and its body.
    Success(String),
    /// Worth another try (429, 5xx, timeouts, dropped connections).
    Retryable {
        reason: String,
        /// What the server asked for in `Retry-After` / `retry-after-ms`.
        retry_after: Option<Duration>,
        /// The server may have run (and billed) the request: the connection
        /// broke or timed out after it was sent.
        maybe_billed: bool,
    },
    /// The server refused this request's prompt (413, or a 400 about the prompt):
    /// another example may still work.
    Rejected { status: u16, message: String },
    /// The server refused the configuration (other 4xx: key, model, parameters), or the URL is unusable.
    Fatal {
        status: Option<u16>,
        message: String,
    },
}

/// Replaces every occurrence of the key in `text` with `***`.
pub fn redact(text: &str, key: Option<&Secret>) -> String {
    match key {
        Some(k) if !k.is_empty() => text.replace(k.expose(), atgen_config::REDACTED),
        _ => text.to_string(),
    }
}

/// A blocking client for one provider; cheap to share between threads.
pub struct Transport {
    agent: ureq::Agent,
    provider: Provider,
    api_key: Option<Secret>,
    anthropic_version: String,
}

impl Transport {
    /// A client with the settings' timeout.
    pub fn new(s: &ApiSettings) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(s.timeout.min(Duration::from_secs(30)))
            .timeout(s.timeout)
            .build();
        Transport {
            agent,
            provider: s.provider,
            api_key: s.api_key.clone(),
            anthropic_version: s.anthropic_version.clone(),
        }
    }

    /// Posts the JSON `body` to `url` once.
    pub fn post(&self, url: &str, body: &str) -> Attempt {
        self.send("POST", url, "application/json", body.as_bytes())
    }

    /// Gets `url` once.
    pub fn get(&self, url: &str) -> Attempt {
        self.send("GET", url, "", &[])
    }

    /// Sends one request with the provider's authentication headers.
    pub fn send(&self, method: &str, url: &str, content_type: &str, body: &[u8]) -> Attempt {
        let mut req = self.agent.request(method, url);
        if !content_type.is_empty() {
            req = req.set("content-type", content_type);
        }
        match self.provider {
            Provider::Anthropic => {
                req = req.set(anthropic::VERSION_HEADER, &self.anthropic_version);
                if let Some(k) = &self.api_key {
                    req = req.set(anthropic::API_KEY_HEADER, k.expose());
                }
            }
            Provider::Openai | Provider::OpenaiCompatible => {
                if let Some(k) = &self.api_key {
                    req = req.set("authorization", &format!("Bearer {}", k.expose()));
                }
            }
        }
        let key = self.api_key.as_ref();
        let sent = if method == "GET" {
            req.call()
        } else {
            req.send_bytes(body)
        };
        match sent {
            Ok(resp) => match read_body(resp) {
                Ok(text) => Attempt::Success(text),
                Err(e) => Attempt::Retryable {
                    reason: redact(&format!("reading the response: {e}"), key),
                    retry_after: None,
                    maybe_billed: true,
                },
            },
            Err(ureq::Error::Status(status, resp)) => {
                let retry_after = retry_after(&resp);
                let text = resp.into_string().unwrap_or_default();
                let message = redact(&error_message(&text), key);
                match status {
                    408 | 409 | 429 | 500..=599 => Attempt::Retryable {
                        reason: format!("HTTP {status}: {message}"),
                        retry_after,
                        maybe_billed: false,
                    },
                    413 => Attempt::Rejected { status, message },
                    400 if is_about_the_prompt(&message) => Attempt::Rejected { status, message },
                    _ => Attempt::Fatal {
                        status: Some(status),
                        message,
                    },
                }
            }
            Err(ureq::Error::Transport(t)) => {
                let reason = redact(&t.to_string(), key);
                match t.kind() {
                    ureq::ErrorKind::Dns | ureq::ErrorKind::ConnectionFailed => {
                        Attempt::Retryable {
                            reason,
                            retry_after: None,
                            maybe_billed: false,
                        }
                    }
                    ureq::ErrorKind::Io
                    | ureq::ErrorKind::BadStatus
                    | ureq::ErrorKind::BadHeader => Attempt::Retryable {
                        reason,
                        retry_after: None,
                        maybe_billed: true,
                    },
                    _ => Attempt::Fatal {
                        status: None,
                        message: reason,
                    },
                }
            }
        }
    }
}

/// Whether a 400 is about this example's prompt (too long, filtered), so
/// other examples may still work. Any other 400 (an unsupported parameter,
/// an unknown model) is the configuration's fault and stops the run, rather
/// than leaving every example unlabeled.
pub fn is_about_the_prompt(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "too long",
        "context length",
        "context_length",
        "maximum context",
        "content filter",
        "content_filter",
        "content management policy",
        "content policy",
        "invalid_prompt",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// The whole body (ureq's `into_string` stops at 10 MB; batch result files can be larger).
fn read_body(resp: ureq::Response) -> std::io::Result<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut resp.into_reader(), &mut text)?;
    Ok(text)
}

/// `retry-after-ms` (OpenAI) or `Retry-After` in seconds or as an HTTP date.
fn retry_after(resp: &ureq::Response) -> Option<Duration> {
    let ms = resp
        .header("retry-after-ms")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v / 1000.0);
    let s = resp.header("retry-after").and_then(|v| {
        let v = v.trim();
        v.parse::<f64>().ok().or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs() as i64;
            http_date_unix(v).map(|t| (t - now).max(0) as f64)
        })
    });
    ms.or(s)
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Seconds since the Unix epoch of an RFC 7231 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date_unix(v: &str) -> Option<i64> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = months.iter().position(|x| x == month)? as i64 + 1;
    let (d, y): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [hh, mm, ss] = hms.as_slice() else {
        return None;
    };
    // Days from civil (Howard Hinnant's algorithm).
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// The wait before retry number `attempt` (0-based): the server's
/// `Retry-After` when given (capped at `max_retry_after`), otherwise
/// exponential backoff `base * 2^attempt` capped at `max`, with jitter
/// drawn in [50%, 100%] so that parallel workers do not retry in lockstep.
pub fn backoff(
    attempt: u32,
    retry_after: Option<Duration>,
    base: Duration,
    max: Duration,
    max_retry_after: Duration,
) -> Duration {
    if let Some(ra) = retry_after {
        return ra.min(max_retry_after);
    }
    let exp = base.saturating_mul(1u32 << attempt.min(20)).min(max);
    exp.mul_f64(0.5 + 0.5 * rand::random::<f64>())
}

#[cfg(test)]
mod date_tests {
    use super::http_date_unix;

    #[test]
    fn http_dates_parse_to_unix_seconds() {
        // RFC 7231's example date, and the epoch.
        assert_eq!(
            http_date_unix("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(http_date_unix("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            http_date_unix("Wed, 29 Feb 2012 12:00:00 GMT"),
            Some(1_330_516_800)
        );
        assert_eq!(http_date_unix("tomorrow"), None);
        assert_eq!(http_date_unix("Sun, 06 Nov 1994 08:49 GMT"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let b = Duration::from_millis(100);
        let m = Duration::from_secs(1);
        for attempt in 0..8 {
            let d = backoff(attempt, None, b, m, m);
            let full = (b * 2u32.pow(attempt)).min(m);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
        let ra = Some(Duration::from_secs(3));
        assert_eq!(
            backoff(0, ra, b, m, Duration::from_secs(10)),
            Duration::from_secs(3)
        );
        assert_eq!(
            backoff(0, ra, b, m, Duration::from_secs(2)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn only_prompt_errors_spare_the_other_examples() {
        assert!(is_about_the_prompt(
            "prompt is too long: 210000 tokens > 200000 maximum"
        ));
        assert!(is_about_the_prompt(
            "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens"
        ));
        assert!(!is_about_the_prompt(
            "Unsupported value: 'temperature' does not support 0.0 with this model."
        ));
        assert!(!is_about_the_prompt("The model `gpt-9` does not exist"));
    }

    #[test]
    fn redaction_removes_every_copy_of_the_key() {
        let k = Secret::new("sk-abc");
        assert_eq!(
            redact("bad key sk-abc (Bearer sk-abc)", Some(&k)),
            "bad key *** (Bearer ***)"
        );
        assert_eq!(redact("x", None), "x");
    }
}
