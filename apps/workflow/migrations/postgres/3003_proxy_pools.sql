-- Proxy pools (issue 11, seed 000 "代理池管理 API"): pools per owner, their proxies
-- (credentials sealed with the secrets key, never returned), and health per (proxy, target
-- host), so a proxy blocked by one site stays usable for the others.

CREATE TABLE wf_proxy_pools (
    id              UUID PRIMARY KEY,
    owner_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT,
    strategy        TEXT NOT NULL,
    settings        TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT wf_proxy_pools_owner_id_name_key UNIQUE (owner_id, name)
);
CREATE INDEX wf_proxy_pools_owner ON wf_proxy_pools (owner_id, created_at);

CREATE TABLE wf_proxies (
    id              UUID PRIMARY KEY,
    pool_id         UUID NOT NULL REFERENCES wf_proxy_pools (id) ON DELETE CASCADE,
    scheme          TEXT NOT NULL,
    host            TEXT NOT NULL,
    port            BIGINT NOT NULL,
    credentials     BYTEA,
    source          TEXT,
    region          TEXT,
    anonymity       TEXT,
    latency_ms      DOUBLE PRECISION,
    successes       BIGINT NOT NULL DEFAULT 0,
    failures        BIGINT NOT NULL DEFAULT 0,
    blocks          BIGINT NOT NULL DEFAULT 0,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    score           DOUBLE PRECISION NOT NULL DEFAULT 0.5,
    state           TEXT NOT NULL,
    cooldown_until_ms BIGINT,
    last_checked_at TIMESTAMPTZ,
    last_error      TEXT,
    version         BIGINT NOT NULL DEFAULT 1,
    created_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT wf_proxies_pool_id_endpoint_key UNIQUE (pool_id, scheme, host, port)
);
CREATE INDEX wf_proxies_pool ON wf_proxies (pool_id, state);

CREATE TABLE wf_proxy_health (
    proxy_id        UUID NOT NULL REFERENCES wf_proxies (id) ON DELETE CASCADE,
    target          TEXT NOT NULL,
    successes       BIGINT NOT NULL DEFAULT 0,
    failures        BIGINT NOT NULL DEFAULT 0,
    blocks          BIGINT NOT NULL DEFAULT 0,
    consecutive_blocks BIGINT NOT NULL DEFAULT 0,
    latency_ms      DOUBLE PRECISION,
    score           DOUBLE PRECISION NOT NULL DEFAULT 0.5,
    state           TEXT NOT NULL,
    cooldown_until_ms BIGINT,
    updated_at_ms   BIGINT NOT NULL,
    PRIMARY KEY (proxy_id, target)
);
