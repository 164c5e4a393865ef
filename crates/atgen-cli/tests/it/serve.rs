//! `atgen serve` as a process: flags, the loopback rule, and a human run that survives a
//! server restart without asking for any annotation twice.

use crate::support::atgen;
use atgen_web::testing::{create_toy_run, Client};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

/// Starts `atgen serve --port 0 --db <db>` and returns it with its base URL.
fn serve(db: &std::path::Path, extra: &[&str]) -> (Child, String) {
    let mut child = atgen()
        .args(["serve", "--port", "0", "--db"])
        .arg(db)
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning atgen serve: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let mut lines = BufReader::new(stderr).lines();
    let base = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("atgen serve exited before listening"))
            .unwrap_or_default();
        if let Some(url) = line.strip_prefix("atgen serve: ") {
            break url.trim().to_string();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

#[test]
fn serve_help_lists_its_flags() {
    let out = atgen()
        .args(["serve", "--help"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--host",
        "--port",
        "--db",
        "--token",
        "--max-upload-mib",
        "--lease-minutes",
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
    assert!(help.contains("[default: 127.0.0.1]") && help.contains("[default: 8501]"));
}

#[test]
fn serve_refuses_a_public_address_without_a_token() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = atgen()
        .args(["serve", "--host", "0.0.0.0", "--port", "0", "--db"])
        .arg(dir.path().join("a.db"))
        .env_remove("ATGEN_SERVE_TOKEN")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("set an access token (--token or ATGEN_SERVE_TOKEN)"),
        "{err}"
    );
}

#[test]
fn atgen_run_points_the_human_labeller_to_the_web_app() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = atgen()
        .current_dir(dir.path())
        .args([
            "run",
            "data=triviaqa",
            "labeller=human",
            "data.train_subset_size=20",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("labeller.type=human needs the web app (`atgen serve`)"),
        "{err}"
    );
}

fn item_on_page(html: &str) -> Option<String> {
    let at = html.find(r#"name="item" value=""#)? + r#"name="item" value=""#.len();
    Some(html[at..].split('"').next()?.to_string())
}

#[test]
fn a_human_run_survives_a_server_restart_and_asks_nothing_twice() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("web").join("atgen.db");
    let (mut first, base) = serve(&db, &[]);
    let mut c = Client::new(&base);
    let id = create_toy_run(&mut c, "restart", "human", &[]);
    c.wait_for(id, "round 0's queue", |s| {
        s["status"] == "waiting" && s["queue"]["total"] == 3
    });
    // Annotate two of the three texts, then the server dies.
    let mut done = Vec::new();
    for _ in 0..2 {
        let page = c.get(&format!("/runs/{id}/annotate")).text();
        let item = item_on_page(&page).unwrap_or_else(|| panic!("no item: {page}"));
        assert_eq!(
            c.post_form(
                &format!("/runs/{id}/annotate/submit"),
                &[("item", &item), ("label", "x y z")]
            )
            .status,
            303
        );
        done.push(item);
    }
    first.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = first.wait();
    // The new server resumes the run; the queue still has 2 of 3 done, and only the third is offered.
    let (mut second, base) = serve(&db, &[]);
    let mut c2 = Client::new(&base);
    c2.get("/");
    let st = c2.wait_for(id, "the resumed run to wait", |s| {
        s["status"] == "waiting" && s["active"] == true
    });
    assert_eq!(st["queue"]["done"], 2, "{st}");
    // The SQLite copy of the pool was resynced from the run directory: round 0's 3 texts queued.
    assert_eq!(st["pool"]["queued"], 3, "{st}");
    assert_eq!(st["pool"]["labeled"], 0, "{st}");
    let mut asked = Vec::new();
    loop {
        let st = c2.get(&format!("/runs/{id}/status.json")).json();
        if st["active"] == false {
            assert_eq!(st["status"], "completed", "{st}");
            break;
        }
        match item_on_page(&c2.get(&format!("/runs/{id}/annotate")).text()) {
            Some(item) => {
                assert!(
                    !done.contains(&item) && !asked.contains(&item),
                    "{item} asked twice"
                );
                c2.post_form(
                    &format!("/runs/{id}/annotate/submit"),
                    &[("item", &item), ("label", "c b a")],
                );
                asked.push(item);
            }
            None => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
    // 3 texts in round 0 (2 before the restart), 2 in round 1.
    assert_eq!(asked.len(), 3);
    let st = c2.get(&format!("/runs/{id}/status.json")).json();
    assert_eq!(st["pool"]["labeled"], 5, "{st}");
    assert_eq!(st["pool"]["queued"], 0, "{st}");
    let jsonl = c2.get(&format!("/runs/{id}/export/labeled.jsonl")).text();
    assert_eq!(jsonl.lines().count(), 5);
    for item in &done {
        assert!(jsonl.contains(&format!("\"id\":\"{item}\"")));
    }
    second.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = second.wait();
}
