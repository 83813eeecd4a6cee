//! `mm_members`: who belongs to which workspace, with which role.

use chrono::{DateTime, Utc};
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

/// The caller's current workspace and role in it, as stored: `(current_workspace_id,
/// role there if still a member)`; `None` when the user has no Momentum profile.
pub async fn current(
    db: &Db,
    user_id: Uuid,
) -> Result<Option<(Option<Uuid>, Option<String>)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        current_workspace_id: Option<Uuid>,
        role: Option<String>,
    }
    let row: Option<Row> = on_db_read!(db, pool => sqlx::query_as(
        "SELECT p.current_workspace_id, m.role FROM mm_profiles p \
         LEFT JOIN mm_members m ON m.workspace_id = p.current_workspace_id AND m.user_id = p.user_id \
         WHERE p.user_id = $1")
        .bind(user_id).fetch_optional(pool).await)?;
    Ok(row.map(|r| (r.current_workspace_id, r.role)))
}

/// The user's oldest membership other than `except`: `(workspace_id, role)`.
pub async fn first_other(
    db: &Db,
    user_id: Uuid,
    except: Option<Uuid>,
) -> Result<Option<(Uuid, String)>, StoreError> {
    Ok(on_db_read!(db, pool => sqlx::query_as(
        "SELECT workspace_id, role FROM mm_members WHERE user_id = $1 AND ($2 IS NULL OR workspace_id <> $2) \
         ORDER BY joined_at, workspace_id LIMIT 1")
        .bind(user_id).bind(except).fetch_optional(pool).await)?)
}

/// The role of `user_id` in `workspace_id`, if a member.
pub async fn role(
    db: &Db,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<Option<String>, StoreError> {
    Ok(on_db_read!(db, pool => sqlx::query_scalar(
        "SELECT role FROM mm_members WHERE workspace_id = $1 AND user_id = $2")
        .bind(workspace_id).bind(user_id).fetch_optional(pool).await)?)
}

/// Adds a member (or keeps the existing membership); returns whether a row was added.
pub async fn insert(
    tx: &mut Tx,
    workspace_id: Uuid,
    user_id: Uuid,
    role: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_members (workspace_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace_id, user_id) DO NOTHING")
        .bind(workspace_id).bind(user_id).bind(role).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
