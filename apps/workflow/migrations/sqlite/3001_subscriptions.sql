-- Workflow Platform subscriptions and usage (seed 000 "订阅管理 API"): one current
-- subscription per user, per-period usage meters with reservations, the usage events that
-- make reserve/commit/release idempotent, and billing lines (subscriptions, proration).
-- Tables are prefixed `wf_`.

CREATE TABLE wf_subscriptions (
    id                    BLOB PRIMARY KEY,
    user_id               BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan_id               TEXT NOT NULL,
    status                TEXT NOT NULL CONSTRAINT wf_subscriptions_status_check CHECK (status IN ('trialing', 'active', 'past_due', 'canceled')),
    billing_cycle         TEXT NOT NULL CONSTRAINT wf_subscriptions_billing_cycle_check CHECK (billing_cycle IN ('monthly', 'yearly')),
    current_period_start  TEXT NOT NULL,
    current_period_end    TEXT NOT NULL,
    cancel_at_period_end  BOOLEAN NOT NULL DEFAULT FALSE,
    canceled_at           TEXT,
    provider              TEXT NOT NULL CONSTRAINT wf_subscriptions_provider_check CHECK (provider IN ('manual')),
    -- Per-user overrides of single entitlements: a JSON object `{meter: limit}`, or NULL.
    limits                TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    CONSTRAINT wf_subscriptions_user_id_key UNIQUE (user_id)
);

-- One row per user, meter and period (`period_start` is the UTC month or day the meter
-- counts in): units counted (`used`) and units held by open reservations (`reserved`).
CREATE TABLE wf_usage (
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    meter           TEXT NOT NULL CONSTRAINT wf_usage_meter_check CHECK (meter IN ('executions_per_month', 'collected_items_per_day')),
    period_start    TEXT NOT NULL,
    used            BIGINT NOT NULL DEFAULT 0,
    reserved        BIGINT NOT NULL DEFAULT 0,
    updated_at      TEXT NOT NULL,
    CONSTRAINT wf_usage_user_id_meter_period_start_key UNIQUE (user_id, meter, period_start)
);

-- One row per reserved unit, keyed by the caller's event id: a unit is counted once.
CREATE TABLE wf_usage_events (
    id              BLOB PRIMARY KEY,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    meter           TEXT NOT NULL CONSTRAINT wf_usage_events_meter_check CHECK (meter IN ('executions_per_month', 'collected_items_per_day')),
    period_start    TEXT NOT NULL,
    state           TEXT NOT NULL CONSTRAINT wf_usage_events_state_check CHECK (state IN ('reserved', 'committed', 'released')),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX wf_usage_events_user ON wf_usage_events (user_id, created_at);

-- What a subscription change charged: a new period (`subscription`) or an upgrade
-- (`proration`: the unused part of the old plan credited, the new plan charged pro rata).
-- Amounts are in the currency's minor unit (fen, cents).
CREATE TABLE wf_billing_lines (
    id              BLOB PRIMARY KEY,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    subscription_id BLOB NOT NULL REFERENCES wf_subscriptions (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CONSTRAINT wf_billing_lines_kind_check CHECK (kind IN ('subscription', 'proration')),
    from_plan_id    TEXT,
    to_plan_id      TEXT NOT NULL,
    billing_cycle   TEXT NOT NULL CONSTRAINT wf_billing_lines_billing_cycle_check CHECK (billing_cycle IN ('monthly', 'yearly')),
    currency        TEXT NOT NULL,
    credit          BIGINT NOT NULL,
    charge          BIGINT NOT NULL,
    amount          BIGINT NOT NULL,
    unused_seconds  BIGINT NOT NULL,
    period_seconds  BIGINT NOT NULL,
    provider        TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX wf_billing_lines_user ON wf_billing_lines (user_id, created_at);
