-- Issue 7 (hardening).
-- Each session remembers which app's API its access tokens are for (the JWT `aud`), so a
-- refresh mints tokens for the same audience.
ALTER TABLE sessions ADD COLUMN audience TEXT NOT NULL DEFAULT 'api';

-- A refresh token spent by a rotation records its successor's hash: presenting the spent
-- token again within the grace window answers with that same successor (derived from the
-- spent token with the server key) instead of forking the session into parallel chains.
ALTER TABLE refresh_tokens ADD COLUMN successor_hash TEXT;

-- Failed logins counted per account AND source (client IP), so that nobody can lock the real
-- user out from elsewhere. An attempt is reserved here before the password is verified.
CREATE TABLE login_attempts (
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source          TEXT NOT NULL,
    failures        INTEGER NOT NULL,
    locked_until    TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, source)
);
