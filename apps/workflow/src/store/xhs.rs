//! `wf_xhs_accounts` (the user's own logged-in Xiaohongshu sessions, cookies sealed) and
//! `wf_collector_settings` (the terms acknowledgement, whether authors are kept).

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

/// An account as shown: never its cookies.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Account {
    /// UUID v7.
    pub id: Uuid,
    /// The owner.
    pub owner_id: Uuid,
    /// A name the owner chose, unique per owner.
    pub name: String,
    /// `active | paused | restricted | expired`.
    pub status: String,
    /// End of a pause (Unix ms), after a rate-limit or captcha block.
    pub paused_until_ms: Option<i64>,
    /// Why it was paused.
    pub last_error: Option<String>,
    /// Last use by a collector.
    pub last_used_at: Option<DateTime<Utc>>,
    /// RFC 3339.
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, owner_id, name, status, paused_until_ms, last_error, last_used_at, created_at";

/// Adds an account; a name in use violates `wf_xhs_accounts_owner_id_name_key`.
pub async fn insert(
    tx: &mut Tx,
    id: Uuid,
    owner: Uuid,
    name: &str,
    sealed_cookies: &[u8],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO wf_xhs_accounts (id, owner_id, name, cookies, status, created_at) VALUES ($1, $2, $3, $4, 'active', $5)")
        .bind(id).bind(owner).bind(name).bind(sealed_cookies).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The owner's accounts, oldest first.
pub async fn list(db: &Db, owner: Uuid) -> Result<Vec<Account>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM wf_xhs_accounts WHERE owner_id = $1 ORDER BY created_at, id"
    );
    Ok(
        on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(owner).fetch_all(p).await)?,
    )
}

/// One account with its sealed cookies.
pub async fn get(db: &Db, id: Uuid) -> Result<Option<(Account, Vec<u8>)>, StoreError> {
    let sql = format!("SELECT {COLUMNS}, cookies FROM wf_xhs_accounts WHERE id = $1");
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        account: Account,
        cookies: Vec<u8>,
    }
    let row: Option<Row> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await)?;
    Ok(row.map(|r| (r.account, r.cookies)))
}

/// Deletes an account; false if it was not there.
pub async fn delete(tx: &mut Tx, owner: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM wf_xhs_accounts WHERE id = $1 AND owner_id = $2")
        .bind(id).bind(owner).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Sets an account's status (a block pauses or restricts it; a use records the time).
pub async fn set_status(
    db: &Db,
    id: Uuid,
    status: &str,
    paused_until_ms: Option<i64>,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(
        "UPDATE wf_xhs_accounts SET status = $2, paused_until_ms = $3, last_error = $4, last_used_at = $5 WHERE id = $1")
        .bind(id).bind(status).bind(paused_until_ms).bind(error).bind(now).execute(&mut *c).await.map(|_| ()))?;
    tx.commit().await
}

/// An owner's collector settings.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Settings {
    /// When the owner accepted the Xiaohongshu terms (null: not accepted).
    pub xhs_accepted_at: Option<DateTime<Utc>>,
    /// Keep authors' ids and nicknames as collected (default false: pseudonymised).
    pub keep_authors: bool,
}

/// The owner's settings (defaults when none were saved).
pub async fn settings(db: &Db, owner: Uuid) -> Result<Settings, StoreError> {
    let row: Option<(Option<DateTime<Utc>>, bool)> = on_db_read!(db, p => sqlx::query_as(
        "SELECT xhs_accepted_at, keep_authors FROM wf_collector_settings WHERE owner_id = $1")
        .bind(owner).fetch_optional(p).await)?;
    Ok(row
        .map(|(xhs_accepted_at, keep_authors)| Settings {
            xhs_accepted_at,
            keep_authors,
        })
        .unwrap_or_default())
}

/// Records the acknowledgement (and the authors choice).
pub async fn acknowledge(
    tx: &mut Tx,
    owner: Uuid,
    keep_authors: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO wf_collector_settings (owner_id, xhs_accepted_at, keep_authors, updated_at) VALUES ($1, $2, $3, $2) \
         ON CONFLICT (owner_id) DO UPDATE SET xhs_accepted_at = excluded.xhs_accepted_at, \
            keep_authors = excluded.keep_authors, updated_at = excluded.updated_at")
        .bind(owner).bind(now).bind(keep_authors).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
