// atgen web app: progressive enhancement only; every page works as plain HTML forms.
(function () {
  "use strict";
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  const page = document.body.dataset.page;
  const debounce = (f, ms) => { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => f(...a), ms); }; };

  // Annotator name: saved on change.
  const me = document.querySelector("form.me input[name=name]");
  if (me) me.addEventListener("change", () => me.form.submit());

  if (page === "new") {
    const form = document.getElementById("new-run-form");
    const preview = document.getElementById("preview");
    const resolved = document.getElementById("resolved");
    const refresh = debounce(async () => {
      const body = new FormData(form);
      const r = await fetch("/api/preview", { method: "POST", body, headers: { "x-csrf-token": csrf() } });
      const j = await r.json().catch(() => ({}));
      form.querySelectorAll("span.error.live").forEach((e) => e.remove());
      if (j.preview !== undefined) {
        preview.textContent = j.preview; resolved.textContent = j.resolved;
        document.getElementById("columns").textContent = (j.columns || []).join(", ");
      }
      for (const [field, msg] of Object.entries(j.errors || {})) {
        const el = form.querySelector(`[name="${field}"]`);
        const span = document.createElement("span");
        span.className = "error live"; span.dataset.field = field; span.textContent = msg;
        (el ? (el.closest("label") || el) : form).after(span);
      }
    }, 400);
    // Show only the inputs of the chosen data source and labeller (all of them without JS).
    const sync = () => {
      const pick = (name) => (form.querySelector(`input[name=${name}]:checked`) || {}).value;
      const source = pick("data_source"), labeller = pick("labeller");
      form.querySelectorAll("[data-when-source]").forEach((e) => { e.hidden = e.dataset.whenSource !== source; });
      form.querySelectorAll("[data-when-labeller]").forEach((e) => { e.hidden = e.dataset.whenLabeller !== labeller; });
    };
    sync();
    form.addEventListener("change", sync);
    form.addEventListener("input", refresh);
    form.addEventListener("change", refresh);
  }

  if (page === "dashboard") {
    const live = document.getElementById("live");
    const run = live.dataset.run;
    const es = new EventSource(`/runs/${run}/events`);
    const set = (id, v) => { const e = document.getElementById(id); if (e) e.textContent = v; };
    // Only the controls that apply to the current status are shown.
    const controls = (status) => document.querySelectorAll("#controls form").forEach((f) => {
      f.hidden = !f.dataset.when.split(" ").includes(status);
    });
    controls(document.getElementById("controls").dataset.status);
    const refreshCurves = async () => {
      const r = await fetch(`/runs/${run}/curves`);
      if (r.ok) document.getElementById("curves").innerHTML = await r.text();
    };
    // Marks the page live once the stream is open (what happened before is in the first event).
    es.addEventListener("open", () => { document.body.dataset.live = "1"; });
    es.addEventListener("status", (ev) => {
      const s = JSON.parse(ev.data);
      // Status events are few (one per step): refetching the curves on each one means a
      // round finished while the stream was (re)connecting is never missed.
      refreshCurves();
      const st = document.getElementById("status");
      st.textContent = s.status; st.className = `status s-${s.status}`;
      set("step", s.step); set("n_labeled", s.n_labeled); set("cost", `$${Number(s.cost).toFixed(4)}`);
      set("run-error", s.error || "");
      controls(s.status);
      const b = document.getElementById("budget"); if (b) b.value = s.cost;
    });
    // The labeled table of the latest round follows submissions and collected labels live.
    const box = document.getElementById("labeled-box");
    const refreshRows = debounce(async () => {
      if (!box || !box.dataset.live) return;
      const r = await fetch(`/runs/${run}/labeled?q=${encodeURIComponent(box.dataset.q || "")}`);
      if (r.ok) box.innerHTML = await r.text();
    }, 200);
    es.addEventListener("queue", (ev) => { const q = JSON.parse(ev.data); set("queue", `${q.done} / ${q.total}`); refreshRows(); });
    es.addEventListener("status", refreshRows);
    es.addEventListener("round", () => { refreshCurves(); refreshRows(); });
  }

  if (page === "annotate") {
    const run = document.getElementById("progress").dataset.run;
    const label = document.getElementById("label");
    const click = (id) => { const e = document.getElementById(id); if (e) e.click(); };
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey && e.key === "Enter") { e.preventDefault(); click("submit"); }
      else if (e.altKey && (e.key === "s" || e.key === "S")) { e.preventDefault(); click("skip"); }
      else if (e.altKey && (e.key === "u" || e.key === "U")) { e.preventDefault(); click("undo"); }
      else if (e.altKey && (e.key === "b" || e.key === "B")) { e.preventDefault(); click("back"); }
    });
    if (label) {
      const status = document.getElementById("autosave");
      const save = debounce(async () => {
        const body = new URLSearchParams({ item: label.dataset.item, text: label.value });
        const r = await fetch(`/runs/${run}/annotate/draft`, { method: "POST", body, headers: { "x-csrf-token": csrf() } });
        status.textContent = r.ok ? "Draft saved." : "Draft not saved.";
      }, 500);
      label.addEventListener("input", save);
      label.focus();
      label.setSelectionRange(label.value.length, label.value.length);
    }
    const es = new EventSource(`/runs/${run}/events`);
    es.addEventListener("queue", (ev) => {
      const q = JSON.parse(ev.data);
      const d = document.getElementById("done"), t = document.getElementById("total");
      if (d && t) { d.textContent = q.done; t.textContent = q.total; }
      if (!label && q.done < q.total) location.reload();
    });
  }
})();
