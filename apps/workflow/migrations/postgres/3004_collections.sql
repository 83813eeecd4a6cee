-- Collections (issue 11, seed 000 "多平台数据采集"): one row per collector step of an
-- execution and query, with its checkpoint (so an interrupted run resumes where it
-- stopped); items deduplicated by natural key per owner (upserted, never duplicated across
-- runs) and linked to every collection that saw them; the Xiaohongshu accounts (cookies
-- sealed with the secrets key) and each owner's collector settings (the XHS terms
-- acknowledgement, whether authors are kept or pseudonymised).

CREATE TABLE wf_collections (
    id              UUID PRIMARY KEY,
    owner_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    execution_id    UUID,
    step_id         TEXT,
    source          TEXT NOT NULL,
    operation       TEXT NOT NULL,
    query           TEXT NOT NULL,
    query_key       TEXT NOT NULL,
    status          TEXT NOT NULL,
    checkpoint      TEXT,
    requests        BIGINT NOT NULL DEFAULT 0,
    items_new       BIGINT NOT NULL DEFAULT 0,
    items_updated   BIGINT NOT NULL DEFAULT 0,
    error           TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    CONSTRAINT wf_collections_job_key UNIQUE (owner_id, execution_id, step_id, query_key)
);
CREATE INDEX wf_collections_owner ON wf_collections (owner_id, created_at);

CREATE TABLE wf_collection_items (
    id              UUID PRIMARY KEY,
    owner_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    natural_key     TEXT NOT NULL,
    data            TEXT NOT NULL,
    first_seen_at   TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT wf_collection_items_key UNIQUE (owner_id, source, kind, natural_key)
);

CREATE TABLE wf_collection_refs (
    collection_id   UUID NOT NULL REFERENCES wf_collections (id) ON DELETE CASCADE,
    item_id         UUID NOT NULL REFERENCES wf_collection_items (id) ON DELETE CASCADE,
    position        BIGINT NOT NULL,
    PRIMARY KEY (collection_id, item_id)
);
CREATE INDEX wf_collection_refs_order ON wf_collection_refs (collection_id, position);

CREATE TABLE wf_xhs_accounts (
    id              UUID PRIMARY KEY,
    owner_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    cookies         BYTEA NOT NULL,
    status          TEXT NOT NULL,
    paused_until_ms BIGINT,
    last_error      TEXT,
    last_used_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT wf_xhs_accounts_owner_id_name_key UNIQUE (owner_id, name)
);

CREATE TABLE wf_collector_settings (
    owner_id        UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    xhs_accepted_at TIMESTAMPTZ,
    keep_authors    BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at      TIMESTAMPTZ NOT NULL
);
