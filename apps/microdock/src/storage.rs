//! Where MicroDock keeps files in the blob store. Keys are relative and validated by the
//! kernel; `file_path` values are what clients see (never a server path).

/// A new version's file path as clients see it: `{name}/{uuid}/{name}@{version}.zip`. The
/// UUID (v7) makes every upload's key its own (issue 7 item 8): two uploads of one version
/// that both reach the blob store (a lock expired during a slow S3 commit, where large
/// commits cannot be create-only) write two objects, the version's unique key picks one row,
/// and the other upload removes only its own file. Rows stored before keep
/// `{name}/{name}@{version}.zip`.
pub fn plugin_file_path(name: &str, version: &str) -> String {
    format!(
        "{name}/{}/{name}@{version}.zip",
        uuid::Uuid::now_v7().simple()
    )
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
