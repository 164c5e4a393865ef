//! End to end in a real headless Chromium: create a run from the form on a bundled dataset with
//! the human labeller, annotate the queue with the keyboard, undo once, watch the dashboard's
//! curve gain a point live, and export. Screenshots of each page land in
//! `target/e2e-screenshots/`, and in `docs/screenshots/` with `ATGEN_UPDATE_SCREENSHOTS=1`.

use crate::support::*;
use crate::webdriver::{Browser, ALT, CTRL, ENTER};
use std::path::PathBuf;

fn save(b: &Browser, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    b.js("window.scrollTo(0, 0); document.activeElement && document.activeElement.blur && document.activeElement.blur()")?;
    let png = b.screenshot()?;
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut dirs = vec![root.join("target").join("e2e-screenshots")];
    if std::env::var_os("ATGEN_UPDATE_SCREENSHOTS").is_some() {
        dirs.push(root.join("docs").join("screenshots"));
    }
    for d in dirs {
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join(format!("{name}.png")), &png)?;
    }
    Ok(())
}

/// The count of points on the dashboard's labeled-count curve.
const POINTS: &str =
    "return document.querySelectorAll('#curves svg[data-axis=labeled] circle.pt').length";

#[test]
fn browser_create_annotate_with_keys_undo_watch_the_curve_and_export() -> TestResult {
    // Short leases: the browser's annotator may hold a round-1 text when it leaves for the dashboard.
    let s = TestServer::start_with(|c| c.lease = std::time::Duration::from_secs(2))?;
    let b = Browser::start()?;
    let base = s.base.clone();

    // New run, from the form: bundled TriviaQA, people label, a tiny model.
    b.goto(&format!("{base}/runs/new"))?;
    b.type_into("#name", "TriviaQA with people")?;
    b.click("#bundled option[value=triviaqa]")?;
    b.wait_js(
        "return document.getElementById('preview').textContent.includes('Question: Brunswick')",
        "the live preview of a TriviaQA row",
    )?;
    b.type_into("#num_iterations", "1")?;
    b.type_into("#init_query_size", "3")?;
    b.type_into("#query_size", "2")?;
    b.type_into("#test_size", "4")?;
    b.click("details summary")?;
    b.type_into("#overrides", FAST)?;
    b.type_into(
        "textarea[name=guidelines]",
        "Answer in a few words, as on a quiz card.",
    )?;
    b.wait_js(
        "return document.getElementById('resolved').textContent.includes('hidden_size: 32')",
        "the resolved config",
    )?;
    save(&b, "new-run")?;
    b.click("#start")?;
    b.wait_js(
        "return /\\/runs\\/\\d+$/.test(location.pathname)",
        "the dashboard",
    )?;
    let run_url = b.url()?;
    let id: i64 = run_url.rsplit('/').next().unwrap_or_default().parse()?;
    b.wait_js(
        "return document.getElementById('status').textContent === 'waiting'",
        "the queue (live status)",
    )?;

    // Annotate with the keyboard: type, Ctrl+Enter; undo the second one with Alt+U and redo it.
    b.click("#annotate-link")?;
    b.wait_js("return !!document.getElementById('label')", "an item")?;
    save(&b, "annotate")?;
    let mut answers = Vec::new();
    for i in 0..3 {
        b.wait_js(&format!("return document.getElementById('done') && document.getElementById('done').textContent === '{i}'"), "the progress")?;
        let item = b
            .js("return document.getElementById('label').dataset.item")?
            .as_str()
            .unwrap_or_default()
            .to_string();
        let answer = format!("answer {i}");
        // The model's draft is there to post-edit; replace it.
        assert!(!b
            .js("return document.getElementById('label').value")?
            .as_str()
            .unwrap_or_default()
            .is_empty());
        b.clear("#label")?;
        b.type_into("#label", &format!("{answer}{CTRL}{ENTER}"))?;
        if i == 1 {
            b.wait_js(
                "return document.getElementById('done').textContent === '2'",
                "the second submission",
            )?;
            b.type_into("body", &format!("{ALT}u"))?;
            b.wait_js(
                "return location.search.includes('notice=undone')",
                "the undo",
            )?;
            assert_eq!(
                b.js("return document.getElementById('label').value")?,
                "answer 1"
            );
            assert_eq!(b.text("#done")?, "1");
            b.clear("#label")?;
            b.type_into("#label", &format!("answer 1, corrected{CTRL}{ENTER}"))?;
            answers.push((item, "answer 1, corrected".to_string()));
        } else {
            answers.push((item, answer));
        }
    }
    // Round 0 is trained and evaluated: the dashboard shows one point.
    let mut http = s.client();
    http.get("/");
    http.wait_for(id, "round 1's queue", |s| {
        s["points"] == 1 && s["status"] == "waiting" && s["queue"]["round"] == 1
    });
    b.open(&run_url)?;
    b.wait_js(&format!("{POINTS} === 1"), "round 0's point")?;
    b.wait_js(
        "return document.body.dataset.live === '1'",
        "the live stream",
    )?;
    // A second annotator does round 1 while the dashboard stays open: the curve gains a point live.
    let mut other = s.client();
    other.get("/");
    let t = std::time::Instant::now();
    loop {
        let j = other.get(&format!("/runs/{id}/annotate/next.json")).json();
        if j["queue"]["round"] == 1 && j["queue"]["done"] == j["queue"]["total"] {
            break;
        }
        match j["item"]["item_id"].as_str() {
            Some(item) => {
                let r = other.post_form(
                    &format!("/runs/{id}/annotate/submit"),
                    &[("item", item), ("label", "from bob")],
                );
                assert_eq!(r.status, 303);
            }
            // A text still leased to the browser's annotator comes free when the lease ends.
            None => std::thread::sleep(std::time::Duration::from_millis(200)),
        }
        assert!(t.elapsed().as_secs() < 60, "round 1 not annotated: {j}");
    }
    // Round 1's rows appear in the open dashboard's table without a reload.
    b.wait_js(
        "return document.getElementById('labeled').textContent.includes('from bob')",
        "round 1's labeled rows, live",
    )?;
    b.wait_js(
        &format!("{POINTS} === 2"),
        "the second point, pushed over server-sent events",
    )?;
    b.wait_js(
        "return document.getElementById('status').textContent === 'completed'",
        "the end of the run",
    )?;
    // A reload shows the same rows, now collected by the engine.
    b.open(&run_url)?;
    assert!(b.text("#labeled")?.contains("from bob"));
    save(&b, "dashboard")?;

    // Export from the page's link: what the browser typed is what comes out.
    let href = b
        .js("return document.getElementById('export-jsonl').href")?
        .as_str()
        .unwrap_or_default()
        .to_string();
    let jsonl = b
        .js(&format!("return fetch('{href}').then(r => r.text())"))?
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(jsonl.lines().count(), 5, "{jsonl}");
    for (item, answer) in &answers {
        let line = jsonl
            .lines()
            .find(|l| l.contains(&format!("\"id\":\"{item}\"")))
            .unwrap_or_default();
        assert!(
            line.contains(&format!("\"label\":\"{answer}\"")),
            "{item}: {line}"
        );
    }
    assert!(
        !jsonl.contains("\"label\":\"answer 1\""),
        "the undone label is not exported"
    );
    b.open(&format!("{base}/"))?;
    save(&b, "runs")?;
    Ok(())
}
