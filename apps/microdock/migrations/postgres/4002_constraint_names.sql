-- A version is unique per plugin; name the key the way the kernel derives it from SQLite's
-- "UNIQUE constraint failed: plugin_versions.plugin_name, plugin_versions.version".
ALTER TABLE plugin_versions RENAME CONSTRAINT plugin_versions_pkey TO plugin_versions_plugin_name_version_key;
