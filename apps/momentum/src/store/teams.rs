//! `mm_teams` and `mm_team_members`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

/// The unique constraint on `(workspace_id, team_key)`.
pub const TEAM_KEY_KEY: &str = "mm_teams_workspace_id_team_key_key";

/// A team.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Team {
    /// Id.
    pub id: Uuid,
    /// The workspace it belongs to.
    pub workspace_id: Uuid,
    /// Name (1–100 characters).
    pub name: String,
    /// Key of its issues (`ENG` in `ENG-123`): 2–10 upper-case letters and digits, unique
    /// in the workspace.
    pub team_key: String,
    /// Description, if any.
    pub description: Option<String>,
    /// Icon URL, if any.
    pub icon_url: Option<String>,
    /// Private teams are visible to their members and workspace admins only.
    pub is_private: bool,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// Columns of [`Team`] from `mm_teams t`.
#[macro_export]
macro_rules! team_columns {
    () => {
        "t.id, t.workspace_id, t.name, t.team_key, t.description, t.icon_url, t.is_private, t.created_at, t.updated_at"
    };
}

/// Inserts a team.
pub async fn insert(tx: &mut Tx, t: &Team) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_teams (id, workspace_id, name, team_key, description, icon_url, is_private, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(t.id).bind(t.workspace_id).bind(&t.name).bind(&t.team_key).bind(&t.description)
        .bind(&t.icon_url).bind(t.is_private).bind(t.created_at).bind(t.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The team `id` in `workspace_id` (another workspace's team is `None`).
pub async fn get(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<Option<Team>, StoreError> {
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", crate::team_columns!(),
        " FROM mm_teams t WHERE t.id = $1 AND t.workspace_id = $2"))
        .bind(id).bind(workspace_id).fetch_optional(pool).await)?,
    )
}

/// Adds a team member (or keeps the existing membership).
pub async fn add_member(
    tx: &mut Tx,
    team_id: Uuid,
    user_id: Uuid,
    role: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_team_members (team_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (team_id, user_id) DO NOTHING")
        .bind(team_id).bind(user_id).bind(role).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Takes the next issue number of a team (`ENG-<n>`), inside the creating transaction: the
/// row update serializes concurrent creates, a rolled-back create gives its number back, and
/// numbers are never reused.
pub async fn next_issue_number(tx: &mut Tx, team_id: Uuid) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "UPDATE mm_teams SET issue_counter = issue_counter + 1 WHERE id = $1 RETURNING issue_counter")
        .bind(team_id).fetch_one(&mut *c).await)?)
}
