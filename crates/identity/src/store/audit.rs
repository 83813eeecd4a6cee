//! `audit_log` rows: who did what to which account, from where.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

/// One audit entry.
pub struct Entry<'a> {
    pub user_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: &'a str,
    pub ip: Option<String>,
    pub detail: Option<serde_json::Value>,
    pub now: DateTime<Utc>,
}

/// Writes one audit row inside the caller's transaction, so the row commits with the change
/// it records or not at all.
pub async fn record(tx: &mut Tx, e: &Entry<'_>) -> Result<(), StoreError> {
    let detail = e.detail.as_ref().map(|d| d.to_string());
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO audit_log (id, user_id, actor_id, action, ip, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(Uuid::now_v7()).bind(e.user_id).bind(e.actor_id).bind(e.action).bind(&e.ip).bind(&detail).bind(e.now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A stored audit entry.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Stored {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub ip: Option<String>,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The newest entries about one account.
pub async fn for_user(db: &Db, user_id: Uuid, limit: i64) -> Result<Vec<Stored>, StoreError> {
    let rows = on_db_read!(db, pool => sqlx::query_as(
        "SELECT id, user_id, actor_id, action, ip, detail, created_at FROM audit_log WHERE user_id = $1 ORDER BY id DESC LIMIT $2")
        .bind(user_id).bind(limit).fetch_all(pool).await)?;
    Ok(rows)
}
