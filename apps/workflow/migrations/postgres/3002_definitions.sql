-- Workflow definitions (issue 10 §2): a named DAG per owner; every save is a new immutable
-- version, and executions pin the version they ran.

CREATE TABLE wf_definitions (
    id              UUID PRIMARY KEY,
    owner_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT,
    version         BIGINT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT wf_definitions_owner_id_name_key UNIQUE (owner_id, name)
);
CREATE INDEX wf_definitions_owner ON wf_definitions (owner_id, updated_at);

CREATE TABLE wf_definition_versions (
    definition_id   UUID NOT NULL REFERENCES wf_definitions (id) ON DELETE CASCADE,
    version         BIGINT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (definition_id, version)
);
