//! CSRF, escaping, secrets, sign-in off loopback.

use crate::support::*;

#[test]
fn state_changing_requests_without_the_csrf_token_are_refused() -> TestResult {
    let s = TestServer::start()?;
    let mut c = s.client();
    let id = create_toy_run(&mut c, "csrf", "human", &[]);
    c.wait_for(id, "the queue", |s| s["status"] == "waiting");
    for path in [
        format!("/runs/{id}/stop"),
        format!("/runs/{id}/annotate/undo"),
        "/me".to_string(),
    ] {
        let r = c.post_form(&path, &[("csrf", "forged")]);
        assert_eq!(r.status, 403, "{path}");
    }
    let r = c.post_multipart("/runs", &[("csrf", "forged"), ("name", "x")], None);
    assert_eq!(r.status, 403);
    // Another browser's token does not work either.
    let mut other = s.client();
    other.get("/");
    let stolen = c.csrf.clone();
    assert_eq!(
        other
            .post_form(&format!("/runs/{id}/stop"), &[("csrf", &stolen)])
            .status,
        403
    );
    assert_eq!(
        c.get(&format!("/runs/{id}/status.json")).json()["status"],
        "waiting"
    );
    c.post_form(&format!("/runs/{id}/stop"), &[]);
    Ok(())
}

#[test]
fn user_text_is_escaped_everywhere() -> TestResult {
    let s = TestServer::start()?;
    let mut c = s.client();
    let evil = "<script>alert('x')</script>";
    let id = create_toy_run(&mut c, evil, "golden", &[]);
    let list = c.get("/").text();
    assert!(!list.contains(evil) && list.contains("&lt;script&gt;"));
    let dash = c.get(&format!("/runs/{id}?q=%3Cscript%3E")).text();
    assert!(!dash.contains(evil) && !dash.contains("value=\"<script>"));
    Ok(())
}

#[test]
fn an_api_key_is_stored_but_never_sent_back() -> TestResult {
    let s = TestServer::start()?;
    let mut c = s.client();
    let key = "sk-test-DO-NOT-LEAK-1234";
    // The provider is unreachable, so the run fails at its first label: errors must not carry the key either.
    let overrides = format!("{FAST}\n++labeller.parameters.max_retries=0");
    let id = create_toy_run(
        &mut c,
        "api",
        "api_llm",
        &[
            ("overrides", &overrides),
            ("api_model", "gpt-4o-mini"),
            ("api_key", key),
            ("base_url", "http://127.0.0.1:9/v1"),
            ("price_input", "0.15"),
            ("price_output", "0.6"),
        ],
    );
    c.wait_for(id, "the run to fail", |s| {
        s["active"] == false && s["status"] != "queued"
    });
    let mut seen = String::new();
    for path in [
        "/".to_string(),
        format!("/runs/{id}"),
        format!("/runs/{id}/status.json"),
        format!("/runs/{id}/export/config.yaml"),
        format!("/runs/{id}/annotate"),
    ] {
        seen.push_str(&c.get(&path).text());
    }
    assert!(!seen.contains(key), "the key leaked");
    assert!(
        seen.contains("labeller.api_key</code> (set)"),
        "the dashboard says it is set"
    );
    let mut db = std::fs::read(s.dir.path().join("atgen.db"))?;
    db.extend(std::fs::read(s.dir.path().join("atgen.db-wal")).unwrap_or_default());
    assert!(
        db.windows(key.len()).any(|w| w == key.as_bytes()),
        "kept server-side"
    );
    let cfg = std::fs::read_dir(s.dir.path().join("runs").join(format!("run-{id}")))?
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read_to_string(e.path().join("config.yaml")).unwrap_or_default())
        .collect::<String>();
    assert!(!cfg.contains(key) && cfg.contains("api_key"));
    Ok(())
}

#[test]
fn off_loopback_the_server_needs_a_token_and_asks_for_it() -> TestResult {
    // Binding beyond loopback without a token is refused outright.
    let e = TestServer::start_with(|c| c.host = "0.0.0.0".into())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("access token"), "{e}");
    // With a token (loopback here, so the test stays local) every page asks to sign in first.
    let s = TestServer::start_with(|c| c.access_token = Some("open-sesame".into()))?;
    let mut c = s.client();
    let r = c.get("/");
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some("/login"));
    assert_eq!(c.get("/healthz").text(), "ok");
    let login = c.get("/login");
    assert!(login.text().contains(r#"name="token""#));
    assert_eq!(c.post_form("/runs/1/stop", &[]).status, 401);
    let r = c.post_form("/login", &[("token", "wrong"), ("name", "ann")]);
    assert_eq!(r.status, 401);
    assert!(r.text().contains("Wrong access token."));
    let r = c.post_form("/login", &[("token", "open-sesame"), ("name", "ann")]);
    assert_eq!(r.status, 303);
    let home = c.get("/");
    assert_eq!(home.status, 200);
    assert!(home.text().contains(r#"value="ann""#));
    Ok(())
}

#[test]
fn pages_forbid_framing_sniffing_and_foreign_scripts() -> TestResult {
    let s = TestServer::start()?;
    let agent = ureq::AgentBuilder::new().build();
    let r = agent.get(&format!("{}/runs/new", s.base)).call()?;
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r
        .header("content-security-policy")
        .is_some_and(|c| c.contains("default-src 'self'")));
    assert!(r
        .header("set-cookie")
        .is_some_and(|c| c.contains("HttpOnly") && c.contains("SameSite=Strict")));
    Ok(())
}
