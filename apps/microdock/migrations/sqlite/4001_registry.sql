-- MicroDock: plugins, their immutable versions, and per-user backups.
CREATE TABLE plugins (
    name                TEXT PRIMARY KEY,
    display_name        TEXT,
    description         TEXT,
    author              TEXT,
    license             TEXT,
    homepage            TEXT,
    main_dll            TEXT NOT NULL,
    entry_class         TEXT NOT NULL,
    current_version     TEXT NOT NULL,
    is_enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    is_deprecated       BOOLEAN NOT NULL DEFAULT FALSE,
    deprecation_message TEXT,
    replacement         TEXT,
    upload_key_hash     TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);

CREATE TABLE plugin_versions (
    plugin_name         TEXT NOT NULL REFERENCES plugins (name) ON DELETE CASCADE,
    version             TEXT NOT NULL,
    file_name           TEXT NOT NULL,
    file_path           TEXT NOT NULL,
    file_size           BIGINT NOT NULL,
    file_hash           TEXT NOT NULL,
    changelog           TEXT,
    dependencies        TEXT NOT NULL,
    engines             TEXT NOT NULL,
    is_deprecated       BOOLEAN NOT NULL DEFAULT FALSE,
    deprecation_message TEXT,
    replacement         TEXT,
    download_count      BIGINT NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL,
    PRIMARY KEY (plugin_name, version)
);

CREATE TABLE backups (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    user_key_hash       TEXT NOT NULL,
    user_key_hint       TEXT NOT NULL,
    backup_type         TEXT NOT NULL CHECK (backup_type IN ('program', 'plugin')),
    plugin_name         TEXT,
    file_name           TEXT NOT NULL,
    file_path           TEXT NOT NULL,
    file_size           BIGINT NOT NULL,
    file_hash           TEXT NOT NULL,
    description         TEXT,
    created_at          TEXT NOT NULL
);
CREATE INDEX backups_user ON backups (user_key_hash, backup_type, id);
