//! `backups` rows. The owner's key is stored only as its SHA-256 (plus a short hint for
//! admins), since it is the only secret guarding the backup.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db, on_db_read, on_tx};

/// A backup as clients see it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Backup {
    /// Backup id, for download and delete.
    pub id: i64,
    /// The owner's key for its owner; a hint (`abc***`) in the admin listing.
    #[sqlx(rename = "user_key_hint")]
    pub user_key: String,
    /// `program` (the host application's data) or `plugin` (one plugin's data).
    pub backup_type: String,
    /// The plugin a `plugin` backup belongs to; null for `program`.
    pub plugin_name: Option<String>,
    /// The uploaded file's name reduced to its last path component and safe characters.
    pub file_name: String,
    /// Storage key relative to the backup store, never a server path.
    pub file_path: String,
    /// File size in bytes.
    pub file_size: i64,
    /// SHA-256 of the file, lower-case hex.
    pub file_hash: String,
    /// The uploader's note (at most 500 characters).
    pub description: Option<String>,
    /// Upload time (UTC).
    pub created_at: DateTime<Utc>,
}

/// The columns of [`Backup`], as a literal so queries stay `&'static str`.
macro_rules! columns {
    () => {
        "id, user_key_hint, backup_type, plugin_name, file_name, file_path, file_size, file_hash, \
         description, created_at"
    };
}

/// The stored form of a `user_key` (lower-case hex SHA-256).
pub fn key_hash(user_key: &str) -> String {
    hex::encode(Sha256::digest(user_key.as_bytes()))
}

/// What administrators see of a key: its first three characters.
pub fn key_hint(user_key: &str) -> String {
    format!("{}***", user_key.chars().take(3).collect::<String>())
}

/// A backup to record.
pub struct NewBackup<'a> {
    /// The owner's key in clear; only its hash and hint are stored.
    pub user_key: &'a str,
    /// `program` or `plugin`.
    pub backup_type: &'a str,
    /// For `plugin` backups, the plugin's name.
    pub plugin_name: Option<&'a str>,
    /// Display file name.
    pub file_name: &'a str,
    /// Storage key relative to the backup store.
    pub file_path: &'a str,
    /// Size in bytes.
    pub file_size: i64,
    /// SHA-256, lower-case hex.
    pub file_hash: &'a str,
    /// Uploader's note.
    pub description: Option<&'a str>,
    /// Upload time.
    pub now: DateTime<Utc>,
}

/// Records a backup in the caller's transaction.
pub async fn insert(tx: &mut Tx, b: &NewBackup<'_>) -> Result<Backup, StoreError> {
    let id: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "INSERT INTO backups (user_key_hash, user_key_hint, backup_type, plugin_name, file_name, file_path, file_size, \
         file_hash, description, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id")
        .bind(key_hash(b.user_key)).bind(key_hint(b.user_key)).bind(b.backup_type).bind(b.plugin_name)
        .bind(b.file_name).bind(b.file_path).bind(b.file_size).bind(b.file_hash).bind(b.description).bind(b.now)
        .fetch_one(&mut *c).await)?;
    Ok(Backup {
        id,
        user_key: b.user_key.to_string(),
        backup_type: b.backup_type.to_string(),
        plugin_name: b.plugin_name.map(str::to_string),
        file_name: b.file_name.to_string(),
        file_path: b.file_path.to_string(),
        file_size: b.file_size,
        file_hash: b.file_hash.to_string(),
        description: b.description.map(str::to_string),
        created_at: b.now,
    })
}

/// A user's backups, newest first, with their own key shown.
pub async fn list_for(db: &Db, user_key: &str) -> Result<Vec<Backup>, StoreError> {
    let mut rows: Vec<Backup> = on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(),
        " FROM backups WHERE user_key_hash = $1 ORDER BY id DESC"))
        .bind(key_hash(user_key)).fetch_all(pool).await)?;
    for r in &mut rows {
        r.user_key = user_key.to_string();
    }
    Ok(rows)
}

/// One backup, only if it belongs to `user_key` (a wrong key looks exactly like a missing id).
pub async fn get_for(db: &Db, user_key: &str, id: i64) -> Result<Option<Backup>, StoreError> {
    let row: Option<Backup> = on_db!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(),
        " FROM backups WHERE id = $1 AND user_key_hash = $2"))
        .bind(id).bind(key_hash(user_key)).fetch_optional(pool).await)?;
    Ok(row.map(|mut b| {
        b.user_key = user_key.to_string();
        b
    }))
}

/// One backup by id (administrators).
pub async fn get(db: &Db, id: i64) -> Result<Option<Backup>, StoreError> {
    Ok(
        on_db!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(), " FROM backups WHERE id = $1"))
        .bind(id).fetch_optional(pool).await)?,
    )
}

/// Every backup, newest first (administrators).
pub async fn list_all(db: &Db) -> Result<Vec<Backup>, StoreError> {
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(), " FROM backups ORDER BY id DESC"))
        .fetch_all(pool).await)?,
    )
}

/// Deletes one backup row; `false` if it was already gone.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM backups WHERE id = $1").bind(id).execute(&mut *c).await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Bytes a user's backups take (read through the writer, so the caller's quota check sees
/// the latest committed upload).
pub async fn usage(db: &Db, user_key: &str) -> Result<i64, StoreError> {
    Ok(on_db!(db, pool => sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(file_size), 0) AS BIGINT) FROM backups WHERE user_key_hash = $1")
        .bind(key_hash(user_key)).fetch_one(pool).await)?)
}

/// Bytes all backups take together (read through the writer, like [`usage`]).
pub async fn total_usage(db: &Db) -> Result<i64, StoreError> {
    Ok(on_db!(db, pool => sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(file_size), 0) AS BIGINT) FROM backups")
        .fetch_one(pool).await)?)
}

/// Removes all but the newest `keep` backups of one user and type; returns the removed
/// rows' storage paths.
pub async fn prune(
    tx: &mut Tx,
    user_key: &str,
    backup_type: &str,
    keep: u32,
) -> Result<Vec<String>, StoreError> {
    let hash = key_hash(user_key);
    let old: Vec<(i64, String)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id, file_path FROM backups WHERE user_key_hash = $1 AND backup_type = $2 ORDER BY id DESC LIMIT $4 OFFSET $3")
        .bind(&hash).bind(backup_type).bind(keep as i64).bind(i64::MAX).fetch_all(&mut *c).await)?;
    let mut paths = Vec::new();
    for (id, path) in old {
        if delete(tx, id).await? {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// Every stored backup's `file_path`, for reconciling the blob store at start-up.
pub async fn all_file_paths(db: &Db) -> Result<Vec<String>, StoreError> {
    Ok(
        on_db!(db, pool => sqlx::query_scalar("SELECT file_path FROM backups")
        .fetch_all(pool).await)?,
    )
}
