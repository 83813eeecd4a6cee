-- Workflow definitions (issue 10 §2): a named DAG per owner; every save is a new immutable
-- version, and executions pin the version they ran.

CREATE TABLE wf_definitions (
    id              BLOB PRIMARY KEY,
    owner_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT,
    version         BIGINT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT wf_definitions_owner_id_name_key UNIQUE (owner_id, name)
);
CREATE INDEX wf_definitions_owner ON wf_definitions (owner_id, updated_at);

CREATE TABLE wf_definition_versions (
    definition_id   BLOB NOT NULL REFERENCES wf_definitions (id) ON DELETE CASCADE,
    version         BIGINT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (definition_id, version)
);
