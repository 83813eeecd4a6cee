//! Where MicroDock keeps files in the blob store. Keys are relative and validated by the
//! kernel; `file_path` values are what clients see (never a server path).

/// A version's file path as clients see it: `{name}/{name}@{version}.zip`.
pub fn plugin_file_path(name: &str, version: &str) -> String {
    format!("{name}/{name}@{version}.zip")
}

/// The blob key of a stored plugin file.
pub fn plugin_key(file_path: &str) -> String {
    format!("microdock/plugins/{file_path}")
}

/// The blob key of a stored backup.
pub fn backup_key(file_path: &str) -> String {
    format!("microdock/backups/{file_path}")
}

/// Where a deleted plugin's files wait while its rows are deleted.
pub fn trash_prefix() -> String {
    format!("microdock/trash/{}", uuid::Uuid::new_v4().simple())
}
