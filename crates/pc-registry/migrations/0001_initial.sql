-- phonecert registry: initial schema.
--
-- Portable between SQLite and PostgreSQL on purpose: ids are application-generated random hex TEXT
-- (no AUTOINCREMENT/SERIAL dialect split), timestamps are BIGINT unix seconds, flags and counters are
-- BIGINT (read as i64 by both drivers), enumerations are TEXT with CHECK constraints.

-- Companies whose phones are certified.
CREATE TABLE manufacturers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

-- Accounts. Manufacturer accounts are tied to their company and see only its data.
CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,  -- argon2id PHC string
    role            TEXT NOT NULL CHECK (role IN ('admin', 'engineer', 'reviewer', 'manufacturer', 'public')),
    manufacturer_id TEXT REFERENCES manufacturers (id),
    disabled        BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);

-- API tokens: only the SHA-256 of the secret is stored, so a database leak does not leak tokens.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    token_sha256 TEXT NOT NULL UNIQUE,
    label        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT
);

-- Browser sessions: again only the hash of the cookie value is stored; the CSRF token is per session.
CREATE TABLE sessions (
    id_sha256   TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    csrf_token  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Failed logins, for rate limiting by account and by client address.
CREATE TABLE login_failures (
    id      TEXT PRIMARY KEY,
    email   TEXT NOT NULL,
    client  TEXT NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX login_failures_email_at ON login_failures (email, at);
CREATE INDEX login_failures_client_at ON login_failures (client, at);

CREATE TABLE device_models (
    id              TEXT PRIMARY KEY,
    manufacturer_id TEXT NOT NULL REFERENCES manufacturers (id),
    name            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (manufacturer_id, name)
);

-- One firmware image of a device model (the thing a certificate is about).
CREATE TABLE firmware_builds (
    id              TEXT PRIMARY KEY,
    device_model_id TEXT NOT NULL REFERENCES device_models (id),
    version         TEXT NOT NULL,
    fingerprint     TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    UNIQUE (device_model_id, version)
);

-- A case submitted for certification, with its case.toml and uploaded artifacts.
CREATE TABLE submissions (
    id                TEXT PRIMARY KEY,
    firmware_build_id TEXT NOT NULL REFERENCES firmware_builds (id),
    submitted_by      TEXT REFERENCES users (id),
    state             TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'testing', 'review', 'closed')),
    case_toml         TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL
);

-- Content-addressed files: stored once under artifacts/<sha256[..2]>/<sha256>.
CREATE TABLE artifacts (
    sha256      TEXT PRIMARY KEY,
    size        BIGINT NOT NULL,
    path        TEXT NOT NULL,  -- relative to the artifact folder
    media_type  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Which artifacts a submission has, under which (validated, flat) file name.
CREATE TABLE submission_artifacts (
    submission_id   TEXT NOT NULL REFERENCES submissions (id),
    name            TEXT NOT NULL,
    artifact_sha256 TEXT NOT NULL REFERENCES artifacts (sha256),
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (submission_id, name)
);

-- Analysis runs, which double as the durable job queue. A worker claims a run by setting
-- lease_owner/lease_until and must keep renewing the lease; a run whose lease expired (worker
-- crashed) is claimed again and its attempts counter grows.
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    progress      BIGINT NOT NULL DEFAULT 0,  -- permille, 0..=1000
    attempts      BIGINT NOT NULL DEFAULT 0,
    lease_owner   TEXT,
    lease_until   BIGINT,
    error         TEXT,
    created_at    BIGINT NOT NULL,
    started_at    BIGINT,
    finished_at   BIGINT
);
CREATE INDEX runs_state_created ON runs (state, created_at);

-- What a run found (a transmitted identifier, a suspicious APK …); detail is JSON.
CREATE TABLE findings (
    id        TEXT PRIMARY KEY,
    run_id    TEXT NOT NULL REFERENCES runs (id),
    kind      TEXT NOT NULL,
    severity  TEXT NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    detail    TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

-- The technical verdict of a run.
CREATE TABLE verdicts (
    id            TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES runs (id),
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    outcome       TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'inconclusive')),
    summary       TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL
);

-- A reviewer's decision on a submission (four-eyes principle before a certificate is issued).
CREATE TABLE reviews (
    id            TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    reviewer_id   TEXT NOT NULL REFERENCES users (id),
    decision      TEXT NOT NULL CHECK (decision IN ('approve', 'reject', 'changes')),
    comment       TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL
);

CREATE TABLE certificates (
    id             TEXT PRIMARY KEY,
    number         TEXT NOT NULL UNIQUE,
    submission_id  TEXT NOT NULL REFERENCES submissions (id),
    state          TEXT NOT NULL CHECK (state IN ('issued', 'revoked', 'superseded')),
    reason         TEXT,  -- why revoked or superseded
    superseded_by  TEXT REFERENCES certificates (id),
    issued_at      BIGINT NOT NULL,
    changed_at     BIGINT
);

-- Append-only audit log. seq gives the total order (assigned as max+1 under a UNIQUE constraint, so
-- concurrent writers retry rather than interleave); each entry hashes its predecessor's hash, so
-- any later edit or deletion breaks the chain and is detected by verification.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    object     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
