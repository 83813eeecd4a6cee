//! `mm_members`: who belongs to which workspace, with which role.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use super::UserSummary;
use crate::domain::WorkspaceRole;

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

/// A workspace member as the API shows it: `{user_id, workspace_id, role, joined_at, user}`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumMember)]
pub struct Member {
    /// The member's account id.
    pub user_id: Uuid,
    /// The workspace.
    pub workspace_id: Uuid,
    /// The member's role there.
    pub role: WorkspaceRole,
    /// When the member joined (UTC).
    pub joined_at: DateTime<Utc>,
    /// The person.
    pub user: UserSummary,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    workspace_id: Uuid,
    role: String,
    joined_at: DateTime<Utc>,
    #[sqlx(flatten)]
    user: UserSummary,
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Self {
        Member {
            user_id: r.user.id,
            workspace_id: r.workspace_id,
            role: WorkspaceRole::parse(&r.role).unwrap_or(WorkspaceRole::Guest),
            joined_at: r.joined_at,
            user: r.user,
        }
    }
}

macro_rules! member_select {
    () => {
        concat!(
            "SELECT m.workspace_id, m.role, m.joined_at, ",
            crate::user_summary_columns!(),
            " FROM mm_members m JOIN users u ON u.id = m.user_id LEFT JOIN mm_profiles p ON p.user_id = u.id "
        )
    };
}

/// The members of a workspace, oldest membership first (one query).
pub async fn list(db: &Db, workspace_id: Uuid) -> Result<Vec<Member>, StoreError> {
    let rows: Vec<MemberRow> = on_db_read!(db, pool => sqlx::query_as(concat!(member_select!(),
        "WHERE m.workspace_id = $1 ORDER BY m.joined_at, m.user_id"))
        .bind(workspace_id).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(Member::from).collect())
}

/// The member `user_id` of `workspace_id`, read inside `tx`.
pub async fn get_tx(
    tx: &mut Tx,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<Option<Member>, StoreError> {
    let row: Option<MemberRow> = on_tx!(tx, c => sqlx::query_as(concat!(member_select!(),
        "WHERE m.workspace_id = $1 AND m.user_id = $2"))
        .bind(workspace_id).bind(user_id).fetch_optional(&mut *c).await)?;
    Ok(row.map(Member::from))
}

/// Sets a member's role; `false` when not a member.
pub async fn set_role(
    tx: &mut Tx,
    workspace_id: Uuid,
    user_id: Uuid,
    role: &str,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE mm_members SET role = $3 WHERE workspace_id = $1 AND user_id = $2")
        .bind(workspace_id).bind(user_id).bind(role)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Removes a member; `false` when not a member.
pub async fn remove(tx: &mut Tx, workspace_id: Uuid, user_id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM mm_members WHERE workspace_id = $1 AND user_id = $2")
        .bind(workspace_id).bind(user_id)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Removes `user_id` from every team of `workspace_id`; returns the teams they left.
pub async fn leave_teams(
    tx: &mut Tx,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<Vec<Uuid>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "DELETE FROM mm_team_members WHERE user_id = $1 \
         AND team_id IN (SELECT id FROM mm_teams WHERE workspace_id = $2) RETURNING team_id")
        .bind(user_id).bind(workspace_id).fetch_all(&mut *c).await)?)
}

/// How many owners a workspace has (inside `tx`).
pub async fn count_owners(tx: &mut Tx, workspace_id: Uuid) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM mm_members WHERE workspace_id = $1 AND role = 'owner'")
        .bind(workspace_id).fetch_one(&mut *c).await)?)
}

/// Whether the account with this (lower-cased) e-mail is a member of `workspace_id`.
pub async fn has_email(tx: &mut Tx, workspace_id: Uuid, email: &str) -> Result<bool, StoreError> {
    let n: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM mm_members m JOIN users u ON u.id = m.user_id \
         WHERE m.workspace_id = $1 AND u.email = $2")
        .bind(workspace_id).bind(email).fetch_one(&mut *c).await)?;
    Ok(n > 0)
}
