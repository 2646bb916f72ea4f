-- phonecert registry: the certification workflow (runs' results, reviewers' overrides,
-- signed certificates). Portable between SQLite and PostgreSQL like 0001: one column per
-- ALTER TABLE, no dialect-specific types.

-- A run's per-requirement verdicts, copied from its report.json so pages and the API can list
-- and filter them without parsing reports.
CREATE TABLE run_results (
    run_id       TEXT NOT NULL REFERENCES runs (id),
    position     BIGINT NOT NULL,  -- catalogue order
    requirement  TEXT NOT NULL,
    title        TEXT NOT NULL,
    level        TEXT NOT NULL,
    automatic    TEXT NOT NULL,  -- the check's verdict (PASS, FAIL, …)
    summary      TEXT NOT NULL,  -- the check's one or two sentences
    evidence     TEXT NOT NULL DEFAULT '[]',  -- JSON array of the evidence references
    PRIMARY KEY (run_id, requirement)
);

-- The files a run produced (report.json, report.html, report.sarif), in the artifact store.
CREATE TABLE run_outputs (
    run_id          TEXT NOT NULL REFERENCES runs (id),
    name            TEXT NOT NULL,
    artifact_sha256 TEXT NOT NULL REFERENCES artifacts (sha256),
    PRIMARY KEY (run_id, name)
);

-- A reviewer's override of one requirement's verdict, with the reason that every report and
-- certificate shows. The latest override of a requirement wins; older ones stay as history.
CREATE TABLE verdict_overrides (
    id            TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    run_id        TEXT NOT NULL REFERENCES runs (id),
    requirement   TEXT NOT NULL,
    verdict       TEXT NOT NULL CHECK (verdict IN ('PASS', 'FAIL', 'INCONCLUSIVE', 'NOT_APPLICABLE', 'NOT_TESTED')),
    reason        TEXT NOT NULL,
    reviewer_id   TEXT NOT NULL REFERENCES users (id),
    created_at    BIGINT NOT NULL
);
CREATE INDEX verdict_overrides_submission ON verdict_overrides (submission_id, created_at);

ALTER TABLE runs ADD COLUMN requested_by TEXT REFERENCES users (id);
ALTER TABLE reviews ADD COLUMN run_id TEXT REFERENCES runs (id);

-- The signed certificate itself (JWS, flattened JSON) and what verification needs to show.
ALTER TABLE certificates ADD COLUMN run_id TEXT REFERENCES runs (id);
ALTER TABLE certificates ADD COLUMN serial TEXT;
ALTER TABLE certificates ADD COLUMN jws TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN not_after TEXT NOT NULL DEFAULT '';
ALTER TABLE certificates ADD COLUMN issued_by TEXT REFERENCES users (id);
CREATE UNIQUE INDEX certificates_serial ON certificates (serial);

CREATE INDEX submissions_build ON submissions (firmware_build_id);
CREATE INDEX runs_submission ON runs (submission_id, created_at);
CREATE INDEX sessions_user ON sessions (user_id);
