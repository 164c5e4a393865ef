//! The annotate page and its actions, with a human run driven through the queue.

use crate::support::*;

fn item_on_page(html: &str) -> Option<String> {
    let at = html.find(r#"name="item" value=""#)? + r#"name="item" value=""#.len();
    Some(html[at..].split('"').next()?.to_string())
}

fn input_on_page(html: &str) -> String {
    let at = html
        .find(r#"<pre class="input" id="input">"#)
        .map_or(0, |i| i + 30);
    html[at..]
        .split("</pre>")
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The reversal of a toy input ("a b c" -> "c b a").
fn reverse(input: &str) -> String {
    input.split(' ').rev().collect::<Vec<_>>().join(" ")
}

#[test]
fn people_annotate_a_human_run_to_the_end_with_skip_undo_back_and_drafts() -> TestResult {
    let s = TestServer::start()?;
    let mut c = s.client();
    let id = create_toy_run(
        &mut c,
        "human demo",
        "human",
        &[("guidelines", "Reverse the <three> letters.")],
    );
    c.wait_for(id, "round 0's queue", |s| {
        s["status"] == "waiting" && s["queue"]["total"] == 3
    });
    let page = c.get(&format!("/runs/{id}/annotate")).text();
    assert!(
        page.contains("Reverse the &lt;three&gt; letters."),
        "guidelines are shown, escaped"
    );
    assert!(
        page.contains(r#"<b id="done">0</b> / <b id="total">3</b>"#),
        "{page}"
    );
    let first = item_on_page(&page).expect("an item");
    // Skip it: the next page offers another item, and the skipped one comes back last.
    assert_eq!(
        c.post_form(&format!("/runs/{id}/annotate/skip"), &[("item", &first)])
            .status,
        303
    );
    let page = c.get(&format!("/runs/{id}/annotate")).text();
    let second = item_on_page(&page).expect("an item");
    assert_ne!(first, second);
    // A draft is autosaved and shown again.
    assert_eq!(
        c.post_form(
            &format!("/runs/{id}/annotate/draft"),
            &[("item", &second), ("text", "half done")]
        )
        .status,
        204
    );
    assert!(c
        .get(&format!("/runs/{id}/annotate"))
        .text()
        .contains(">half done</textarea>"));
    // An empty submission is refused with the field named.
    let r = c.post_form(
        &format!("/runs/{id}/annotate/submit"),
        &[("item", &second), ("label", "  ")],
    );
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("label:"));
    // Submit a wrong label, undo it, submit the right one.
    let input = input_on_page(&page);
    assert_eq!(
        c.post_form(
            &format!("/runs/{id}/annotate/submit"),
            &[("item", &second), ("label", "wrong")]
        )
        .status,
        303
    );
    let r = c.post_form(&format!("/runs/{id}/annotate/undo"), &[]);
    assert!(r
        .location
        .as_deref()
        .unwrap_or_default()
        .contains("notice=undone"));
    let page = c.get(r.location.as_deref().unwrap_or_default()).text();
    assert!(
        page.contains(">wrong</textarea>"),
        "the undone label comes back to edit"
    );
    c.post_form(
        &format!("/runs/{id}/annotate/submit"),
        &[("item", &second), ("label", &reverse(&input))],
    );
    // Go back: the page links the last submission, showing its label.
    let page = c.get(&format!("/runs/{id}/annotate")).text();
    assert!(page.contains(&format!("annotate?item={second}")), "{page}");
    // Going back twice walks the history: the second submission, then nothing older.
    let page = c.get(&format!("/runs/{id}/annotate?item={second}")).text();
    assert!(
        page.contains(&format!(">{}</textarea>", reverse(&input))),
        "shows my label to edit"
    );
    assert!(
        !page.contains(r#"id="back""#),
        "nothing older to go back to"
    );
    // Annotate the rest of every round through the pages.
    let mut answered = vec![(second.clone(), reverse(&input))];
    loop {
        let st = c.get(&format!("/runs/{id}/status.json")).json();
        if st["active"] == false {
            assert_eq!(st["status"], "completed", "{st}");
            break;
        }
        let page = c.get(&format!("/runs/{id}/annotate")).text();
        match item_on_page(&page) {
            Some(item) => {
                let label = reverse(&input_on_page(&page));
                let r = c.post_form(
                    &format!("/runs/{id}/annotate/submit"),
                    &[("item", &item), ("label", &label)],
                );
                assert_eq!(r.status, 303);
                answered.push((item, label));
            }
            None => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
    // Every label exported is the one submitted last, each text once.
    let jsonl = c.get(&format!("/runs/{id}/export/labeled.jsonl")).text();
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(rows.len(), 5);
    for r in &rows {
        let want = answered
            .iter()
            .find(|(i, _)| r["id"] == i.as_str())
            .map(|(_, l)| l.clone());
        assert_eq!(r["label"].as_str().map(str::to_string), want, "{r}");
        assert!(
            r["annotator"]
                .as_str()
                .is_some_and(|a| a.starts_with("annotator-")),
            "{r}"
        );
    }
    // A collected label can no longer be undone.
    let r = c.post_form(&format!("/runs/{id}/annotate/undo"), &[]);
    assert!(r
        .location
        .as_deref()
        .unwrap_or_default()
        .contains("notice=final"));
    assert!(c
        .get(&format!("/runs/{id}/annotate"))
        .text()
        .contains("the run has ended"));
    Ok(())
}

#[test]
fn two_annotators_never_get_the_same_item() -> TestResult {
    let s = TestServer::start()?;
    let mut ann = s.client();
    let id = create_toy_run(&mut ann, "pair", "human", &[]);
    ann.wait_for(id, "the queue", |s| s["queue"]["total"] == 3);
    let mut bob = s.client();
    bob.get("/");
    assert_eq!(bob.post_form("/me", &[("name", "bob")]).status, 303);
    ann.get("/");
    ann.post_form("/me", &[("name", "ann")]);
    let a = ann.get(&format!("/runs/{id}/annotate/next.json")).json();
    let b = bob.get(&format!("/runs/{id}/annotate/next.json")).json();
    assert!(a["item"]["item_id"].is_string() && b["item"]["item_id"].is_string());
    // Each text comes with the model's output as a draft to post-edit.
    assert!(
        a["item"]["draft"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty()),
        "{a}"
    );
    assert_ne!(a["item"]["item_id"], b["item"]["item_id"]);
    // Asking again keeps each one's lease.
    assert_eq!(
        ann.get(&format!("/runs/{id}/annotate/next.json")).json()["item"]["item_id"],
        a["item"]["item_id"]
    );
    assert_eq!(bob.post_form("/me", &[("name", "")]).status, 400);
    ann.post_form(&format!("/runs/{id}/stop"), &[]);
    Ok(())
}

#[test]
fn with_overlap_each_text_is_annotated_by_two_people() -> TestResult {
    let s = TestServer::start()?;
    let mut ann = s.client();
    let id = create_toy_run(&mut ann, "overlap", "human", &[("overlap", "2")]);
    ann.wait_for(id, "the queue", |s| s["queue"]["total"] == 3);
    let mut bob = s.client();
    bob.get("/");
    bob.post_form("/me", &[("name", "bob")]);
    ann.post_form("/me", &[("name", "ann")]);
    let first =
        ann.get(&format!("/runs/{id}/annotate/next.json")).json()["item"]["item_id"].clone();
    let item = first.as_str().unwrap_or_default().to_string();
    ann.post_form(
        &format!("/runs/{id}/annotate/submit"),
        &[("item", &item), ("label", "by ann")],
    );
    // The dashboard's live table lists the submission while the round is open.
    let rows = ann.get(&format!("/runs/{id}/labeled")).text();
    assert!(
        rows.contains("by ann") && rows.contains("(pending)"),
        "{rows}"
    );
    // One annotation of two: not done yet, and bob is offered the same text.
    assert_eq!(
        ann.get(&format!("/runs/{id}/status.json")).json()["queue"]["done"],
        0
    );
    assert_eq!(
        bob.get(&format!("/runs/{id}/annotate/next.json")).json()["item"]["item_id"],
        first
    );
    bob.post_form(
        &format!("/runs/{id}/annotate/submit"),
        &[("item", &item), ("label", "by bob")],
    );
    assert_eq!(
        ann.get(&format!("/runs/{id}/status.json")).json()["queue"]["done"],
        1
    );
    // Ann is never offered it again.
    assert_ne!(
        ann.get(&format!("/runs/{id}/annotate/next.json")).json()["item"]["item_id"],
        first
    );
    ann.post_form(&format!("/runs/{id}/stop"), &[]);
    Ok(())
}

#[test]
fn owner_decides_waits_for_the_owners_pick_and_exports_every_annotation() -> TestResult {
    let s = TestServer::start()?;
    let mut ann = s.client();
    ann.get("/");
    ann.post_form("/me", &[("name", "ann")]);
    let id = create_toy_run(
        &mut ann,
        "owner",
        "human",
        &[("overlap", "2"), ("overlap_rule", "owner")],
    );
    ann.wait_for(id, "the queue", |s| s["queue"]["total"] == 3);
    let mut bob = s.client();
    bob.get("/");
    bob.post_form("/me", &[("name", "bob")]);
    for (who, me) in [(&mut ann, "ann"), (&mut bob, "bob")] {
        for _ in 0..3 {
            let next = who.get(&format!("/runs/{id}/annotate/next.json")).json();
            let item = next["item"]["item_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let r = who.post_form(
                &format!("/runs/{id}/annotate/submit"),
                &[("item", &item), ("label", &format!("{item} by {me}"))],
            );
            assert_eq!(r.status, 303);
        }
    }
    assert_eq!(
        ann.get(&format!("/runs/{id}/status.json")).json()["queue"]["done"],
        3
    );
    // Every text is annotated twice, but the run waits for the owner's picks.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        ann.get(&format!("/runs/{id}/status.json")).json()["n_labeled"],
        0
    );
    assert!(!bob
        .get(&format!("/runs/{id}/annotate"))
        .text()
        .contains(r#"id="to-pick""#));
    let page = ann.get(&format!("/runs/{id}/annotate")).text();
    let ids: Vec<String> = page
        .split(r#"name="annotation" value=""#)
        .skip(1)
        .filter_map(|p| p.split('"').next().map(str::to_string))
        .collect();
    let items: Vec<String> = page
        .split(r#"<div class="pick" data-item=""#)
        .skip(1)
        .filter_map(|p| p.split('"').next().map(str::to_string))
        .collect();
    assert_eq!((ids.len(), items.len()), (6, 3), "{page}");
    let refused = bob.post_form(
        &format!("/runs/{id}/annotate/pick"),
        &[("item", &items[0]), ("annotation", &ids[1])],
    );
    assert_eq!(refused.status, 400);
    // Ann picks bob's annotation of each text (ann submitted first, so bob's comes second).
    for (item, pair) in items.iter().zip(ids.chunks(2)) {
        let r = ann.post_form(
            &format!("/runs/{id}/annotate/pick"),
            &[("item", item), ("annotation", &pair[1])],
        );
        assert_eq!(r.status, 303);
    }
    ann.wait_for(id, "the picked labels", |s| s["n_labeled"] == 3);
    let dash = ann.get(&format!("/runs/{id}?iter=0")).text();
    assert!(dash.contains("<b>0 / 3</b> texts unanimous"), "{dash}");
    let jsonl = ann.get(&format!("/runs/{id}/export/labeled.jsonl")).text();
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(rows.len(), 6, "{jsonl}");
    for r in &rows {
        let by_bob = r["annotator"] == "bob";
        assert_eq!(r["used"], by_bob, "{r}");
        assert!(r["label"]
            .as_str()
            .unwrap_or_default()
            .ends_with(if by_bob { "by bob" } else { "by ann" }));
    }
    ann.post_form(&format!("/runs/{id}/stop"), &[]);
    Ok(())
}
