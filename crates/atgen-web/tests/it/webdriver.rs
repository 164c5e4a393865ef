//! A small W3C WebDriver client over HTTP (JSON wire protocol), driving chromedriver.

use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// WebDriver key codes.
pub const CTRL: &str = "\u{E009}";
pub const ALT: &str = "\u{E00A}";
pub const ENTER: &str = "\u{E007}";

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// chromedriver plus one headless Chromium session; both end on drop.
pub struct Browser {
    driver: Child,
    base: String,
    agent: ureq::Agent,
}

fn free_port() -> Res<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn which(names: &[&str]) -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
            .map(|p| p.display().to_string())
    })
}

impl Browser {
    pub fn start() -> Res<Browser> {
        let driver_bin = which(&["chromedriver"]).ok_or("chromedriver not found: run scripts/fetch-test-assets (installs Debian's chromium and chromium-driver)")?;
        let chrome = which(&["chromium", "chromium-browser", "google-chrome"])
            .ok_or("chromium not found: run scripts/fetch-test-assets")?;
        let port = free_port()?;
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let root = format!("http://127.0.0.1:{port}");
        let t = Instant::now();
        while agent.get(&format!("{root}/status")).call().is_err() {
            if t.elapsed() > Duration::from_secs(20) {
                return Err("chromedriver did not start".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chrome,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000", "--force-device-scale-factor=1"]
        }}}});
        let mut b = Browser {
            driver,
            base: root.clone(),
            agent,
        };
        let v = b.call("POST", "/session", Some(caps))?;
        let id = v["sessionId"].as_str().ok_or("no session id")?.to_string();
        b.base = format!("{root}/session/{id}");
        Ok(b)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Res<Value> {
        let url = format!("{}{path}", self.base);
        let req = self.agent.request(method, &url);
        let r = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        let v: Value = match r {
            Ok(r) => r.into_json()?,
            Err(ureq::Error::Status(code, r)) => {
                let v: Value = r.into_json().unwrap_or(Value::Null);
                return Err(format!(
                    "webdriver {method} {path}: {code} {}",
                    v["value"]["message"]
                )
                .into());
            }
            Err(e) => return Err(e.into()),
        };
        Ok(v["value"].clone())
    }

    pub fn goto(&self, url: &str) -> Res<()> {
        self.call("POST", "/url", Some(json!({ "url": url })))?;
        Ok(())
    }

    /// Navigates to `url` and makes sure it stays there: a page that reloads itself (the
    /// annotate page does when new texts arrive) can cancel a navigation started just before.
    pub fn open(&self, url: &str) -> Res<()> {
        for _ in 0..5 {
            self.goto(url)?;
            std::thread::sleep(Duration::from_millis(300));
            if self.url()? == url {
                return Ok(());
            }
        }
        Err(format!("could not stay on {url}").into())
    }

    pub fn url(&self) -> Res<String> {
        Ok(self
            .call("GET", "/url", None)?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    pub fn find(&self, css: &str) -> Res<String> {
        let v = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        Ok(v[ELEMENT]
            .as_str()
            .ok_or_else(|| {
                format!(
                    "no element {css}: {v} at {}",
                    self.url().unwrap_or_default()
                )
            })?
            .to_string())
    }

    pub fn click(&self, css: &str) -> Res<()> {
        let e = self.find(css)?;
        self.call("POST", &format!("/element/{e}/click"), Some(json!({})))?;
        Ok(())
    }

    /// Types into the element (`CTRL`/`ALT` stay pressed until the end of `text`).
    pub fn type_into(&self, css: &str, text: &str) -> Res<()> {
        let e = self.find(css)?;
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        )?;
        Ok(())
    }

    pub fn clear(&self, css: &str) -> Res<()> {
        let e = self.find(css)?;
        self.call("POST", &format!("/element/{e}/clear"), Some(json!({})))?;
        Ok(())
    }

    pub fn text(&self, css: &str) -> Res<String> {
        let e = self.find(css)?;
        Ok(self
            .call("GET", &format!("/element/{e}/text"), None)?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Runs `script` in the page (a returned promise is awaited).
    pub fn js(&self, script: &str) -> Res<Value> {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Polls `script` until it returns true.
    pub fn wait_js(&self, script: &str, what: &str) -> Res<()> {
        let t = Instant::now();
        loop {
            if self.js(script)? == Value::Bool(true) {
                return Ok(());
            }
            if t.elapsed() > Duration::from_secs(90) {
                return Err(format!("timed out waiting for {what}").into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Res<Vec<u8>> {
        use base64::Engine;
        let v = self.call("GET", "/screenshot", None)?;
        Ok(base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default())?)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.base).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
