-- Runs launched from the web app. `overrides` is the JSON array of config overrides (no secrets);
-- `advanced_yaml` is merged over the composed config; secrets live in run_secrets only.
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    project       TEXT NOT NULL DEFAULT 'default',
    created_at    INTEGER NOT NULL,
    status        TEXT NOT NULL,            -- queued | running | waiting | paused | completed | stopped | failed
    step          TEXT NOT NULL DEFAULT '',
    round         INTEGER NOT NULL DEFAULT 0,
    n_labeled     INTEGER NOT NULL DEFAULT 0,
    cost          REAL NOT NULL DEFAULT 0,
    budget        REAL,
    dir           TEXT,
    overrides     TEXT NOT NULL,
    advanced_yaml TEXT NOT NULL DEFAULT '',
    labeller      TEXT NOT NULL,
    guidelines    TEXT NOT NULL DEFAULT '',
    overlap       INTEGER NOT NULL DEFAULT 1,
    error         TEXT
);

-- API keys typed into the form: read by the run manager only, never rendered or exported.
CREATE TABLE run_secrets (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE uploads (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    path       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    rows       INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE annotators (
    name       TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    token      TEXT PRIMARY KEY,
    csrf       TEXT NOT NULL,
    annotator  TEXT NOT NULL,
    signed_in  INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

-- The texts AL selected, per run and round, waiting for people.
-- status: open (being annotated) | collected (handed to the engine; final).
CREATE TABLE queue_items (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    item_id  TEXT NOT NULL,
    round    INTEGER NOT NULL,
    position INTEGER NOT NULL,
    input    TEXT NOT NULL,
    draft    TEXT,
    status   TEXT NOT NULL DEFAULT 'open',
    PRIMARY KEY (run_id, item_id)
);

-- Who holds an item now; a lease past `expires_at` is abandoned and the item is offered again.
CREATE TABLE leases (
    run_id     INTEGER NOT NULL,
    item_id    TEXT NOT NULL,
    annotator  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, item_id, annotator)
);

-- Every submission; `undone` ones are kept for the audit trail but do not count.
CREATE TABLE annotations (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL,
    item_id    TEXT NOT NULL,
    annotator  TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    undone     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX annotations_by_item ON annotations(run_id, item_id);

CREATE TABLE skips (
    run_id    INTEGER NOT NULL,
    item_id   TEXT NOT NULL,
    annotator TEXT NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (run_id, item_id, annotator)
);

-- Autosaved text of an item an annotator has not submitted yet.
CREATE TABLE drafts (
    run_id     INTEGER NOT NULL,
    item_id    TEXT NOT NULL,
    annotator  TEXT NOT NULL,
    text       TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, item_id, annotator)
);
