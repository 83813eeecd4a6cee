-- Accounts shared by every app, their sessions, refresh tokens and the audit log.
CREATE TABLE users (
    id              UUID PRIMARY KEY,
    username        TEXT NOT NULL,
    username_key    TEXT NOT NULL,
    email           TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'inactive', 'banned', 'pending_verification')),
    role            TEXT NOT NULL CHECK (role IN ('user', 'admin', 'super_admin')),
    display_name    TEXT,
    avatar_url      TEXT,
    bio             TEXT,
    timezone        TEXT,
    language        TEXT,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TIMESTAMPTZ,
    last_login_at   TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username_key),
    CONSTRAINT users_email_key UNIQUE (email)
);
CREATE INDEX users_status_created ON users (status, created_at);
CREATE INDEX users_role ON users (role);

CREATE TABLE sessions (
    id              UUID PRIMARY KEY,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip              TEXT,
    user_agent      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    last_used_at    TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    revoked_at      TIMESTAMPTZ,
    revoked_reason  TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash      TEXT PRIMARY KEY,
    session_id      UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE audit_log (
    id              UUID PRIMARY KEY,
    user_id         UUID,
    actor_id        UUID,
    action          TEXT NOT NULL,
    ip              TEXT,
    detail          TEXT,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_user ON audit_log (user_id, created_at);
