-- Projects become a table (runs belong to one); each run's pool is mirrored from its run
-- directory so pages and export can query it.
CREATE TABLE projects (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
INSERT INTO projects(name, created_at)
    SELECT project, min(created_at) FROM runs GROUP BY project ORDER BY min(id);
INSERT OR IGNORE INTO projects(name, created_at) VALUES ('default', CAST(strftime('%s', 'now') AS INTEGER));
ALTER TABLE runs ADD COLUMN project_id INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET project_id = (SELECT p.id FROM projects p WHERE p.name = runs.project);
ALTER TABLE runs DROP COLUMN project;
CREATE INDEX runs_by_project ON runs(project_id);

-- Every text of a run's pool. state: unlabeled | queued (selected in `round`, no label yet) |
-- labeled (in `round`, by `source`) | returned (the labeller gave no label; out of the pool).
CREATE TABLE pool_texts (
    run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    item_id  TEXT NOT NULL,
    position INTEGER NOT NULL,
    input    TEXT NOT NULL,
    state    TEXT NOT NULL DEFAULT 'unlabeled',
    round    INTEGER,
    label    TEXT,
    source   TEXT,
    PRIMARY KEY (run_id, item_id)
);
CREATE INDEX pool_by_state ON pool_texts(run_id, state);
