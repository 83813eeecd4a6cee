//! `mm_profiles`: Momentum's part of an account (display name, avatar, current workspace).

use chrono::{DateTime, Utc};
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use super::UserSummary;

/// Creates the profile row; `false` (and nothing written) if it exists already.
pub async fn insert(
    tx: &mut Tx,
    user_id: Uuid,
    name: &str,
    current_workspace_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_profiles (user_id, name, current_workspace_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (user_id) DO NOTHING")
        .bind(user_id).bind(name).bind(current_workspace_id).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Whether the user has a Momentum profile.
pub async fn exists(db: &Db, user_id: Uuid) -> Result<bool, StoreError> {
    let n: i64 = on_db_read!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM mm_profiles WHERE user_id = $1")
        .bind(user_id).fetch_one(pool).await)?;
    Ok(n > 0)
}

/// The user as members see them.
pub async fn summary(db: &Db, user_id: Uuid) -> Result<Option<UserSummary>, StoreError> {
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", crate::user_summary_columns!(),
        " FROM users u LEFT JOIN mm_profiles p ON p.user_id = u.id WHERE u.id = $1"))
        .bind(user_id).fetch_optional(pool).await)?,
    )
}

/// Sets the current workspace.
pub async fn set_current_workspace(
    tx: &mut Tx,
    user_id: Uuid,
    workspace_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("UPDATE mm_profiles SET current_workspace_id = $2, updated_at = $3 WHERE user_id = $1")
        .bind(user_id).bind(workspace_id).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Sets name and avatar (`None` keeps; `Some(None)` clears the avatar).
pub async fn update(
    tx: &mut Tx,
    user_id: Uuid,
    name: Option<&str>,
    avatar_url: Option<Option<&str>>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (set_avatar, avatar) = match avatar_url {
        Some(a) => (true, a),
        None => (false, None),
    };
    on_tx!(tx, c => sqlx::query(
        "UPDATE mm_profiles SET name = COALESCE($2, name), \
         avatar_url = CASE WHEN $3 THEN $4 ELSE avatar_url END, updated_at = $5 WHERE user_id = $1")
        .bind(user_id).bind(name).bind(set_avatar).bind(avatar).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
