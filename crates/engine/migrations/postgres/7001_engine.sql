-- The durable engine (issue 10 §1): runs (one leased job each), their steps per attempt,
-- the append-only event log, concurrency limits, schedules and the outbox.
-- Times the engine compares (`*_ms`) are BIGINT milliseconds since the Unix epoch, the same
-- on both backends, bound from the platform clock.

CREATE TABLE engine_runs (
    id                  UUID PRIMARY KEY,
    queue               TEXT NOT NULL,
    owner_id            UUID NOT NULL,
    subject_id          UUID,
    subject_version     BIGINT,
    schedule_id         UUID,
    plan                TEXT NOT NULL,
    input               TEXT NOT NULL,
    status              TEXT NOT NULL CONSTRAINT engine_runs_status_check CHECK (status IN ('pending', 'queued', 'running', 'completed', 'failed', 'timed_out', 'crashed', 'cancelling', 'cancelled')),
    reason              TEXT,
    error               TEXT,
    attempt             BIGINT NOT NULL DEFAULT 1,
    idempotency_key     TEXT,
    limit_keys          TEXT NOT NULL DEFAULT '[]',
    run_after_ms        BIGINT NOT NULL,
    lease_owner         TEXT,
    lease_expires_ms    BIGINT,
    takeovers           BIGINT NOT NULL DEFAULT 0,
    cancel_requested_ms BIGINT,
    deadline_ms         BIGINT,
    last_seq            BIGINT NOT NULL DEFAULT 0,
    interrupted         TEXT,
    created_ms          BIGINT NOT NULL,
    queued_ms           BIGINT,
    started_ms          BIGINT,
    finished_ms         BIGINT,
    CONSTRAINT engine_runs_owner_id_idempotency_key_key UNIQUE (owner_id, idempotency_key)
);
CREATE INDEX engine_runs_ready ON engine_runs (queue, status, run_after_ms);
CREATE INDEX engine_runs_lease ON engine_runs (status, lease_expires_ms);
CREATE INDEX engine_runs_owner ON engine_runs (owner_id, created_ms);
CREATE INDEX engine_runs_subject ON engine_runs (subject_id, status);

-- One row per run and limit key while the run holds a slot (running or cancelling).
CREATE TABLE engine_slots (
    limit_key           TEXT NOT NULL,
    run_id              UUID NOT NULL REFERENCES engine_runs (id) ON DELETE CASCADE,
    PRIMARY KEY (limit_key, run_id)
);
CREATE INDEX engine_slots_run ON engine_slots (run_id);

CREATE TABLE engine_limits (
    limit_key           TEXT PRIMARY KEY,
    max_running         BIGINT NOT NULL
);

CREATE TABLE engine_steps (
    run_id              UUID NOT NULL REFERENCES engine_runs (id) ON DELETE CASCADE,
    attempt             BIGINT NOT NULL,
    step_id             TEXT NOT NULL,
    status              TEXT NOT NULL CONSTRAINT engine_steps_status_check CHECK (status IN ('pending', 'running', 'completed', 'failed', 'skipped', 'cancelled', 'timed_out', 'reused')),
    tries               BIGINT NOT NULL DEFAULT 0,
    output              TEXT,
    error               TEXT,
    proceed             BOOLEAN NOT NULL DEFAULT TRUE,
    started_ms          BIGINT,
    finished_ms         BIGINT,
    PRIMARY KEY (run_id, attempt, step_id)
);

CREATE TABLE engine_events (
    run_id              UUID NOT NULL REFERENCES engine_runs (id) ON DELETE CASCADE,
    seq                 BIGINT NOT NULL,
    kind                TEXT NOT NULL,
    step_id             TEXT,
    attempt             BIGINT NOT NULL,
    data                TEXT NOT NULL,
    at_ms               BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE engine_schedules (
    id                  UUID PRIMARY KEY,
    queue               TEXT NOT NULL,
    owner_id            UUID NOT NULL,
    subject_id          UUID NOT NULL,
    cron                TEXT,
    interval_seconds    BIGINT,
    timezone            TEXT NOT NULL,
    overlap             TEXT NOT NULL CONSTRAINT engine_schedules_overlap_check CHECK (overlap IN ('skip', 'buffer_one', 'allow_all')),
    catchup_seconds     BIGINT NOT NULL,
    input               TEXT NOT NULL,
    paused              BOOLEAN NOT NULL DEFAULT FALSE,
    pause_reason        TEXT,
    max_failures        BIGINT NOT NULL,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    buffered            BOOLEAN NOT NULL DEFAULT FALSE,
    next_fire_ms        BIGINT,
    last_fire_ms        BIGINT,
    last_run_id         UUID,
    created_ms          BIGINT NOT NULL,
    updated_ms          BIGINT NOT NULL
);
CREATE INDEX engine_schedules_due ON engine_schedules (queue, paused, next_fire_ms);
CREATE INDEX engine_schedules_owner ON engine_schedules (owner_id, created_ms);

CREATE TABLE engine_outbox (
    id                  UUID PRIMARY KEY,
    queue               TEXT NOT NULL,
    topic               TEXT NOT NULL,
    payload             TEXT NOT NULL,
    created_ms          BIGINT NOT NULL,
    available_ms        BIGINT NOT NULL,
    attempts            BIGINT NOT NULL DEFAULT 0,
    lease_owner         TEXT,
    lease_expires_ms    BIGINT,
    delivered_ms        BIGINT,
    last_error          TEXT
);
CREATE INDEX engine_outbox_pending ON engine_outbox (queue, delivered_ms, available_ms);
