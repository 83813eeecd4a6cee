//! `mm_workspaces`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

/// The unique constraint on `url_key`.
pub const URL_KEY_KEY: &str = "mm_workspaces_url_key_key";

/// A workspace.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Workspace {
    /// Id.
    pub id: Uuid,
    /// Name (1–100 characters).
    pub name: String,
    /// URL key, unique across the server (`acme`, `alice-workspace`).
    pub url_key: String,
    /// Logo URL, if set.
    pub logo_url: Option<String>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "w.id, w.name, w.url_key, w.logo_url, w.created_at, w.updated_at"
    };
}

/// Inserts a workspace.
pub async fn insert(tx: &mut Tx, w: &Workspace) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_workspaces (id, name, url_key, logo_url, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(w.id).bind(&w.name).bind(&w.url_key).bind(&w.logo_url).bind(w.created_at).bind(w.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The workspace `id`.
pub async fn get(db: &Db, id: Uuid) -> Result<Option<Workspace>, StoreError> {
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(), " FROM mm_workspaces w WHERE w.id = $1"))
        .bind(id).fetch_optional(pool).await)?,
    )
}

/// The workspaces `user_id` is a member of, oldest membership first, with the role.
pub async fn of_user(db: &Db, user_id: Uuid) -> Result<Vec<(Workspace, String)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        w: Workspace,
        role: String,
    }
    let rows: Vec<Row> = on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(), ", m.role FROM mm_workspaces w \
        JOIN mm_members m ON m.workspace_id = w.id WHERE m.user_id = $1 ORDER BY m.joined_at, w.id"))
        .bind(user_id).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|r| (r.w, r.role)).collect())
}

/// Whether a workspace has this URL key (inside `tx`, to pick a free one).
pub async fn url_key_taken(tx: &mut Tx, url_key: &str) -> Result<bool, StoreError> {
    let n: i64 = on_tx!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM mm_workspaces WHERE url_key = $1")
        .bind(url_key).fetch_one(&mut *c).await)?;
    Ok(n > 0)
}

/// Sets name, URL key and logo.
pub async fn update(tx: &mut Tx, w: &Workspace) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE mm_workspaces SET name = $2, url_key = $3, logo_url = $4, updated_at = $5 WHERE id = $1")
        .bind(w.id).bind(&w.name).bind(&w.url_key).bind(&w.logo_url).bind(w.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Deletes a workspace and everything in it (foreign keys cascade).
pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM mm_workspaces WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Locks the workspace row until the transaction ends (PostgreSQL: a row lock; SQLite: the
/// single writer already serializes), so checks like "at least one owner stays" cannot race;
/// `false` when the workspace does not exist.
pub async fn lock(tx: &mut Tx, id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE mm_workspaces SET last_sync_id = last_sync_id WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The workspace `id`, read inside `tx`.
pub async fn get_tx(tx: &mut Tx, id: Uuid) -> Result<Option<Workspace>, StoreError> {
    Ok(
        on_tx!(tx, c => sqlx::query_as(concat!("SELECT ", columns!(), " FROM mm_workspaces w WHERE w.id = $1"))
        .bind(id).fetch_optional(&mut *c).await)?,
    )
}

/// The workspace `id` with the role of `user_id` in it, if `user_id` is a member (another
/// workspace is `None`, exactly like a missing one).
pub async fn of_member(
    db: &Db,
    id: Uuid,
    user_id: Uuid,
) -> Result<Option<(Workspace, String)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        w: Workspace,
        role: String,
    }
    let row: Option<Row> = on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(), ", m.role FROM mm_workspaces w \
        JOIN mm_members m ON m.workspace_id = w.id WHERE w.id = $1 AND m.user_id = $2"))
        .bind(id).bind(user_id).fetch_optional(pool).await)?;
    Ok(row.map(|r| (r.w, r.role)))
}
