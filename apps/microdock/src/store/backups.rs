//! `backups` rows. The owner's key is the only secret guarding a backup, so it is stored
//! only as a keyed hash (HMAC-SHA256 with a server secret, [`OwnerKey`]): a leaked table
//! cannot be brute-forced offline, and administrators see nothing of the key (issue 7
//! item 14). Rows written before that carry the unsalted SHA-256; lookups accept both.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db, on_db_read, on_tx};

/// A backup owner's key with the two forms rows may hold it in.
pub struct OwnerKey {
    /// The key in clear (shown back to its owner only).
    pub key: String,
    /// HMAC-SHA256(server secret, key), lower-case hex: what new rows store.
    pub hash: String,
    /// SHA-256(key), lower-case hex: what rows written before issue 7 store.
    pub legacy: String,
}

impl OwnerKey {
    /// The forms of `user_key` under the server's backup-key `secret`.
    pub fn new(secret: &[u8], user_key: &str) -> OwnerKey {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
        let hash = match Hmac::<Sha256>::new_from_slice(secret) {
            Ok(mut mac) => {
                mac.update(user_key.as_bytes());
                hex::encode(mac.finalize().into_bytes())
            }
            Err(_) => hex::encode(Sha256::digest(user_key.as_bytes())),
        };
        OwnerKey {
            key: user_key.to_string(),
            hash,
            legacy: hex::encode(Sha256::digest(user_key.as_bytes())),
        }
    }
}

/// What administrators see of an owner's key: nothing.
pub const KEY_HINT: &str = "***";

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

/// A backup to record.
pub struct NewBackup<'a> {
    /// The owner's key; only its keyed hash is stored.
    pub owner: &'a OwnerKey,
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
        .bind(&b.owner.hash).bind(KEY_HINT).bind(b.backup_type).bind(b.plugin_name)
        .bind(b.file_name).bind(b.file_path).bind(b.file_size).bind(b.file_hash).bind(b.description).bind(b.now)
        .fetch_one(&mut *c).await)?;
    Ok(Backup {
        id,
        user_key: b.owner.key.clone(),
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
pub async fn list_for(db: &Db, owner: &OwnerKey) -> Result<Vec<Backup>, StoreError> {
    let mut rows: Vec<Backup> = on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(),
        " FROM backups WHERE user_key_hash IN ($1, $2) ORDER BY id DESC"))
        .bind(&owner.hash).bind(&owner.legacy).fetch_all(pool).await)?;
    for r in &mut rows {
        r.user_key = owner.key.clone();
    }
    Ok(rows)
}

/// One backup, only if it belongs to `owner` (a wrong key looks exactly like a missing id).
pub async fn get_for(db: &Db, owner: &OwnerKey, id: i64) -> Result<Option<Backup>, StoreError> {
    let row: Option<Backup> = on_db!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(),
        " FROM backups WHERE id = $1 AND user_key_hash IN ($2, $3)"))
        .bind(id).bind(&owner.hash).bind(&owner.legacy).fetch_optional(pool).await)?;
    Ok(row.map(|mut b| {
        b.user_key = owner.key.clone();
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

/// Serializes the backup writes of one owner until the caller's transaction ends, so a quota
/// check, the insert and the pruning see every other upload of that owner (issue 7 item 2).
/// PostgreSQL: a transaction-level advisory lock on the key hash; SQLite: nothing to do, a
/// write transaction (`BEGIN IMMEDIATE`) already holds the only writer.
pub async fn lock_owner(tx: &mut Tx, owner: &OwnerKey) -> Result<(), StoreError> {
    if let Tx::Postgres(t) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 4004))")
            .bind(&owner.hash)
            .execute(&mut **t)
            .await?;
    }
    Ok(())
}

/// Bytes and number of a user's backups, in the caller's transaction (after
/// [`lock_owner`], so no concurrent upload of the owner is missed).
pub async fn usage(tx: &mut Tx, owner: &OwnerKey) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(file_size), 0) AS BIGINT) FROM backups WHERE user_key_hash IN ($1, $2)")
        .bind(&owner.hash).bind(&owner.legacy).fetch_one(&mut *c).await)?)
}

/// Bytes all backups take together, in the caller's transaction. On PostgreSQL it first takes
/// a transaction-scoped lock shared by every uploader, so concurrent uploads of different
/// owners cannot each see the room only one of them has (SQLite serializes writers already).
pub async fn total_usage(tx: &mut Tx) -> Result<i64, StoreError> {
    if let Tx::Postgres(t) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock(4004)")
            .execute(&mut **t)
            .await?;
    }
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(file_size), 0) AS BIGINT) FROM backups")
        .fetch_one(&mut *c).await)?)
}

/// Removes all but the newest `keep` backups of one user and type; returns the removed
/// rows' storage paths.
pub async fn prune(
    tx: &mut Tx,
    owner: &OwnerKey,
    backup_type: &str,
    keep: u32,
) -> Result<Vec<String>, StoreError> {
    let old: Vec<(i64, String)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id, file_path FROM backups WHERE user_key_hash IN ($1, $5) AND backup_type = $2 ORDER BY id DESC LIMIT $4 OFFSET $3")
        .bind(&owner.hash).bind(backup_type).bind(keep as i64).bind(i64::MAX).bind(&owner.legacy)
        .fetch_all(&mut *c).await)?;
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
