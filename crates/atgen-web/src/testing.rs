//! Test support shared by this crate's tests, the CLI's `atgen serve` tests and the browser
//! tests: a browser-like HTTP client (keeps the session cookie, reads the CSRF token from pages)
//! and a fast toy run created through the real new-run form.

use std::time::{Duration, Instant};

/// Overrides that make a run take well under a second: a tiny model, few texts.
pub const FAST: &str = "data.train_subset_size=40\ndata.test_subset_size=4\nmodel.init.hidden_size=32\n\
model.init.intermediate_size=64\nmodel.init.layers=1\nmodel.init.heads=2\nmodel.init.kv_heads=1\n\
model.init.vocab_size=300\nmodel.init.pretrain_epochs=0\ntraining.num_epochs=1\ninference.max_new_tokens=4";

/// A browser-like client: keeps the session cookie, reads the CSRF token from pages.
pub struct Client {
    pub base: String,
    agent: ureq::Agent,
    pub cookie: Option<String>,
    pub csrf: String,
}

pub struct Resp {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find(r#"name="csrf-token" content=""#)? + r#"name="csrf-token" content=""#.len();
    Some(html[at..].split('"').next()?.to_string())
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_string(),
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(60))
                .build(),
            cookie: None,
            csrf: String::new(),
        }
    }

    fn send(&mut self, req: ureq::Request, body: Option<(&str, Vec<u8>)>) -> Resp {
        let req = match &self.cookie {
            Some(c) => req.set("Cookie", c),
            None => req,
        };
        let r = match body {
            Some((ct, b)) => req.set("Content-Type", ct).send_bytes(&b),
            None => req.call(),
        };
        let r = match r {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        if let Some(c) = r.header("set-cookie") {
            self.cookie = c.split(';').next().map(str::to_string);
        }
        let status = r.status();
        let location = r.header("location").map(str::to_string);
        let content_type = r.content_type().to_string();
        let mut body = Vec::new();
        let _ = std::io::Read::read_to_end(&mut r.into_reader(), &mut body);
        let resp = Resp {
            status,
            location,
            content_type,
            body,
        };
        if let Some(t) = csrf_of(&resp.text()) {
            self.csrf = t;
        }
        resp
    }

    pub fn get(&mut self, path: &str) -> Resp {
        let req = self.agent.get(&format!("{}{path}", self.base));
        self.send(req, None)
    }

    /// A urlencoded form post; `csrf` is added unless `fields` has one.
    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut pairs: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            pairs.push(("csrf".into(), self.csrf.clone()));
        }
        let body: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        let req = self.agent.post(&format!("{}{path}", self.base));
        self.send(
            req,
            Some((
                "application/x-www-form-urlencoded",
                body.join("&").into_bytes(),
            )),
        )
    }

    /// A multipart post (the new-run form); `file` is (field, filename, bytes).
    pub fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, &[u8])>,
    ) -> Resp {
        let boundary = "----atgenTestBoundary7d3f";
        let mut body = Vec::new();
        let mut add = |head: String, data: &[u8]| {
            body.extend_from_slice(format!("--{boundary}\r\n{head}\r\n\r\n").as_bytes());
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        };
        let mut all: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            all.push(("csrf".into(), self.csrf.clone()));
        }
        for (k, v) in &all {
            add(
                format!("Content-Disposition: form-data; name=\"{k}\""),
                v.as_bytes(),
            );
        }
        if let Some((field, name, data)) = file {
            add(
                format!("Content-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream"),
                data,
            );
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let req = self.agent.post(&format!("{}{path}", self.base));
        self.send(
            req,
            Some((&format!("multipart/form-data; boundary={boundary}"), body)),
        )
    }

    /// Polls `/runs/{id}/status.json` until `done(status)` or the timeout.
    pub fn wait_for(
        &mut self,
        id: i64,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let t = Instant::now();
        loop {
            let s = self.get(&format!("/runs/{id}/status.json")).json();
            if done(&s) {
                return s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "timed out waiting for {what}: {s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A toy dataset: reverse three letters; `n` rows.
pub fn toy_jsonl(n: usize) -> String {
    let l = ["a", "b", "c", "d", "e"];
    (0..n)
        .map(|k| {
            let w = [l[k % 5], l[(k / 5) % 5], l[(k / 25) % 5]];
            format!(
                "{{\"id\": \"r{k}\", \"text\": \"{} {} {}\", \"label\": \"{} {} {}\"}}\n",
                w[0], w[1], w[2], w[2], w[1], w[0]
            )
        })
        .collect()
}

/// The fields of a fast run on the uploaded toy data.
pub fn toy_run_fields<'a>(name: &'a str, labeller: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("data_source", "upload"),
        ("input_column", "text"),
        ("output_column", "label"),
        ("id_column", "id"),
        ("prompt_template", "Reverse: {text} =>"),
        ("strategy", "random"),
        ("labeller", labeller),
        ("model", "tiny"),
        ("training", "tiny"),
        ("num_iterations", "1"),
        ("init_query_size", "3"),
        ("query_size", "2"),
        ("test_size", "4"),
        ("overrides", FAST),
        ("advanced_yaml", "data:\n  metrics: [exact_match]\n"),
    ]
}

/// Creates a run from the form with the toy upload; returns its id.
pub fn create_toy_run(c: &mut Client, name: &str, labeller: &str, extra: &[(&str, &str)]) -> i64 {
    c.get("/runs/new");
    let mut fields = toy_run_fields(name, labeller);
    fields.extend_from_slice(extra);
    let data = toy_jsonl(30);
    let r = c.post_multipart(
        "/runs",
        &fields,
        Some(("upload", "toy.jsonl", data.as_bytes())),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let loc = r.location.unwrap_or_default();
    loc.trim_start_matches("/runs/")
        .parse()
        .unwrap_or_else(|_| panic!("redirect to {loc}"))
}
