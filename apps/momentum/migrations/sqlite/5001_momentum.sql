-- Momentum (seed 002): workspaces and their members, invitations, teams, workflows with
-- states and transition rules, project statuses, projects, labels, cycles, issues with
-- labels, relations and history, comments, and the per-workspace change log.
-- Tables are prefixed `mm_` (the Workflow Platform has `workflows` of its own).

CREATE TABLE mm_workspaces (
    id              BLOB PRIMARY KEY,
    name            TEXT NOT NULL,
    url_key         TEXT NOT NULL,
    logo_url        TEXT,
    last_sync_id    BIGINT NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT mm_workspaces_url_key_key UNIQUE (url_key)
);

-- Momentum's part of an account: display name, avatar, current workspace.
CREATE TABLE mm_profiles (
    user_id              BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    avatar_url           TEXT,
    current_workspace_id BLOB REFERENCES mm_workspaces (id) ON DELETE SET NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

CREATE TABLE mm_members (
    workspace_id    BLOB NOT NULL REFERENCES mm_workspaces (id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT NOT NULL CONSTRAINT mm_members_role_check CHECK (role IN ('owner', 'admin', 'member', 'guest')),
    joined_at       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX mm_members_user ON mm_members (user_id, joined_at);

CREATE TABLE mm_invitations (
    id              BLOB PRIMARY KEY,
    workspace_id    BLOB NOT NULL REFERENCES mm_workspaces (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    role            TEXT NOT NULL CONSTRAINT mm_invitations_role_check CHECK (role IN ('owner', 'admin', 'member', 'guest')),
    status          TEXT NOT NULL CONSTRAINT mm_invitations_status_check CHECK (status IN ('pending', 'accepted', 'declined', 'revoked')),
    invited_by      BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);
-- One pending invitation per address and workspace.
CREATE UNIQUE INDEX mm_invitations_workspace_id_email_key ON mm_invitations (workspace_id, email) WHERE status = 'pending';
CREATE INDEX mm_invitations_email ON mm_invitations (email, status);

CREATE TABLE mm_teams (
    id              BLOB PRIMARY KEY,
    workspace_id    BLOB NOT NULL REFERENCES mm_workspaces (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    team_key        TEXT NOT NULL,
    description     TEXT,
    icon_url        TEXT,
    is_private      BOOLEAN NOT NULL DEFAULT FALSE,
    -- The last issue number handed out (`ENG-<n>`); only ever grows.
    issue_counter   BIGINT NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT mm_teams_workspace_id_team_key_key UNIQUE (workspace_id, team_key)
);

CREATE TABLE mm_team_members (
    team_id         BLOB NOT NULL REFERENCES mm_teams (id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT NOT NULL CONSTRAINT mm_team_members_role_check CHECK (role IN ('admin', 'member')),
    joined_at       TEXT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX mm_team_members_user ON mm_team_members (user_id);

CREATE TABLE mm_workflows (
    id              BLOB PRIMARY KEY,
    team_id         BLOB NOT NULL REFERENCES mm_teams (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT,
    is_default      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT mm_workflows_team_id_name_key UNIQUE (team_id, name)
);

CREATE TABLE mm_workflow_states (
    id              BLOB PRIMARY KEY,
    workflow_id     BLOB NOT NULL REFERENCES mm_workflows (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT,
    color           TEXT NOT NULL,
    category        TEXT NOT NULL CONSTRAINT mm_workflow_states_category_check CHECK (category IN ('triage', 'backlog', 'unstarted', 'started', 'completed', 'canceled')),
    position        INTEGER NOT NULL,
    is_default      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT mm_workflow_states_workflow_id_name_key UNIQUE (workflow_id, name)
);

-- Transition rules as data: a workflow with none allows every move.
CREATE TABLE mm_workflow_transitions (
    id              BLOB PRIMARY KEY,
    workflow_id     BLOB NOT NULL REFERENCES mm_workflows (id) ON DELETE CASCADE,
    from_state_id   BLOB REFERENCES mm_workflow_states (id) ON DELETE CASCADE,
    to_state_id     BLOB NOT NULL REFERENCES mm_workflow_states (id) ON DELETE CASCADE,
    -- JSON array of workspace roles allowed; NULL = everyone.
    roles           TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX mm_workflow_transitions_workflow ON mm_workflow_transitions (workflow_id);

CREATE TABLE mm_project_statuses (
    id              BLOB PRIMARY KEY,
    workspace_id    BLOB NOT NULL REFERENCES mm_workspaces (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT,
    color           TEXT NOT NULL,
    category        TEXT NOT NULL CONSTRAINT mm_project_statuses_category_check CHECK (category IN ('backlog', 'planned', 'in_progress', 'completed', 'canceled')),
    position        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT mm_project_statuses_workspace_id_name_key UNIQUE (workspace_id, name)
);

CREATE TABLE mm_projects (
    id                BLOB PRIMARY KEY,
    workspace_id      BLOB NOT NULL REFERENCES mm_workspaces (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    project_key       TEXT NOT NULL,
    description       TEXT,
    target_date       TEXT,
    project_status_id BLOB NOT NULL REFERENCES mm_project_statuses (id),
    priority          TEXT NOT NULL CONSTRAINT mm_projects_priority_check CHECK (priority IN ('none', 'low', 'medium', 'high', 'urgent')),
    owner_id          BLOB REFERENCES users (id) ON DELETE SET NULL,
    roadmap           TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    CONSTRAINT mm_projects_workspace_id_project_key_key UNIQUE (workspace_id, project_key)
);

CREATE TABLE mm_labels (
    id              BLOB PRIMARY KEY,
    workspace_id    BLOB NOT NULL REFERENCES mm_workspaces (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    color           TEXT NOT NULL,
    level           TEXT NOT NULL CONSTRAINT mm_labels_level_check CHECK (level IN ('issue', 'project')),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT mm_labels_workspace_id_name_key UNIQUE (workspace_id, name)
);

CREATE TABLE mm_cycles (
    id              BLOB PRIMARY KEY,
    workspace_id    BLOB NOT NULL REFERENCES mm_workspaces (id) ON DELETE CASCADE,
    team_id         BLOB NOT NULL REFERENCES mm_teams (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT,
    goal            TEXT,
    start_date      TEXT NOT NULL,
    end_date        TEXT NOT NULL,
    completed_at    TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT mm_cycles_dates_check CHECK (end_date >= start_date)
);
CREATE INDEX mm_cycles_team ON mm_cycles (team_id, start_date);

CREATE TABLE mm_issues (
    id                BLOB PRIMARY KEY,
    workspace_id      BLOB NOT NULL REFERENCES mm_workspaces (id) ON DELETE CASCADE,
    team_id           BLOB NOT NULL REFERENCES mm_teams (id) ON DELETE CASCADE,
    number            BIGINT NOT NULL,
    title             TEXT NOT NULL,
    description       TEXT,
    priority          TEXT NOT NULL CONSTRAINT mm_issues_priority_check CHECK (priority IN ('none', 'low', 'medium', 'high', 'urgent')),
    workflow_id       BLOB REFERENCES mm_workflows (id),
    workflow_state_id BLOB REFERENCES mm_workflow_states (id),
    project_id        BLOB REFERENCES mm_projects (id) ON DELETE SET NULL,
    cycle_id          BLOB REFERENCES mm_cycles (id) ON DELETE SET NULL,
    parent_issue_id   BLOB REFERENCES mm_issues (id) ON DELETE SET NULL,
    creator_id        BLOB REFERENCES users (id) ON DELETE SET NULL,
    assignee_id       BLOB REFERENCES users (id) ON DELETE SET NULL,
    estimate          REAL,
    due_date          TEXT,
    sort_order        REAL NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    CONSTRAINT mm_issues_team_id_number_key UNIQUE (team_id, number)
);
CREATE INDEX mm_issues_workspace ON mm_issues (workspace_id, id);
CREATE INDEX mm_issues_assignee ON mm_issues (assignee_id);
CREATE INDEX mm_issues_project ON mm_issues (project_id);
CREATE INDEX mm_issues_cycle ON mm_issues (cycle_id);
CREATE INDEX mm_issues_parent ON mm_issues (parent_issue_id);
CREATE INDEX mm_issues_state ON mm_issues (workflow_state_id);

CREATE TABLE mm_issue_labels (
    issue_id        BLOB NOT NULL REFERENCES mm_issues (id) ON DELETE CASCADE,
    label_id        BLOB NOT NULL REFERENCES mm_labels (id) ON DELETE CASCADE,
    PRIMARY KEY (issue_id, label_id)
);
CREATE INDEX mm_issue_labels_label ON mm_issue_labels (label_id);

-- One row per relation, stored in its canonical direction (`blocks`, `related`,
-- `duplicate_of`); `blocked_by` is a `blocks` row read from the other side.
CREATE TABLE mm_issue_relations (
    id               BLOB PRIMARY KEY,
    issue_id         BLOB NOT NULL REFERENCES mm_issues (id) ON DELETE CASCADE,
    related_issue_id BLOB NOT NULL REFERENCES mm_issues (id) ON DELETE CASCADE,
    type             TEXT NOT NULL CONSTRAINT mm_issue_relations_type_check CHECK (type IN ('blocks', 'related', 'duplicate_of')),
    created_by       BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL,
    CONSTRAINT mm_issue_relations_issue_id_related_issue_id_type_key UNIQUE (issue_id, related_issue_id, type)
);
CREATE INDEX mm_issue_relations_related ON mm_issue_relations (related_issue_id);

CREATE TABLE mm_issue_history (
    id              BLOB PRIMARY KEY,
    issue_id        BLOB NOT NULL REFERENCES mm_issues (id) ON DELETE CASCADE,
    actor_id        BLOB REFERENCES users (id) ON DELETE SET NULL,
    field           TEXT NOT NULL,
    -- JSON values.
    old_value       TEXT,
    new_value       TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX mm_issue_history_issue ON mm_issue_history (issue_id, created_at);

CREATE TABLE mm_comments (
    id                BLOB PRIMARY KEY,
    workspace_id      BLOB NOT NULL REFERENCES mm_workspaces (id) ON DELETE CASCADE,
    issue_id          BLOB NOT NULL REFERENCES mm_issues (id) ON DELETE CASCADE,
    author_id         BLOB REFERENCES users (id) ON DELETE SET NULL,
    parent_comment_id BLOB REFERENCES mm_comments (id) ON DELETE CASCADE,
    content           TEXT NOT NULL,
    content_type      TEXT NOT NULL DEFAULT 'markdown',
    is_edited         BOOLEAN NOT NULL DEFAULT FALSE,
    is_deleted        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX mm_comments_issue ON mm_comments (issue_id, created_at);

-- The change log: every mutation, in the mutation's transaction, numbered per workspace.
CREATE TABLE mm_changes (
    workspace_id    BLOB NOT NULL REFERENCES mm_workspaces (id) ON DELETE CASCADE,
    sync_id         BIGINT NOT NULL,
    entity          TEXT NOT NULL,
    entity_id       BLOB NOT NULL,
    action          TEXT NOT NULL CONSTRAINT mm_changes_action_check CHECK (action IN ('create', 'update', 'delete')),
    data            TEXT NOT NULL,
    actor_id        BLOB,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (workspace_id, sync_id)
);
