//! `mm_teams` and `mm_team_members`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use super::UserSummary;
use crate::domain::TeamRole;

/// The unique constraint on `(workspace_id, team_key)`.
pub const TEAM_KEY_KEY: &str = "mm_teams_workspace_id_team_key_key";

/// A team.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = MomentumTeam)]
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

/// The team `id`, read in an open transaction (after [`lock`]).
pub async fn get_in(tx: &mut Tx, id: Uuid) -> Result<Option<Team>, StoreError> {
    Ok(
        on_tx!(tx, c => sqlx::query_as(concat!("SELECT ", crate::team_columns!(),
        " FROM mm_teams t WHERE t.id = $1"))
        .bind(id).fetch_optional(&mut *c).await)?,
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

/// A team and the caller's role in it, for the visibility and permission checks.
#[derive(Clone, Debug)]
pub struct TeamAccess {
    /// The team.
    pub team: Team,
    /// The caller's team role; `None` when not a member.
    pub my_role: Option<TeamRole>,
}

#[derive(sqlx::FromRow)]
struct TeamRoleRow {
    #[sqlx(flatten)]
    team: Team,
    my_role: Option<String>,
}

/// The team `id` of `workspace_id` with the role of `user_id` in it (another workspace's
/// team is `None`).
pub async fn access(
    db: &Db,
    workspace_id: Uuid,
    id: Uuid,
    user_id: Uuid,
) -> Result<Option<TeamAccess>, StoreError> {
    let row: Option<TeamRoleRow> = on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", crate::team_columns!(),
        ", m.role AS my_role FROM mm_teams t \
         LEFT JOIN mm_team_members m ON m.team_id = t.id AND m.user_id = $3 \
         WHERE t.id = $1 AND t.workspace_id = $2"))
        .bind(id).bind(workspace_id).bind(user_id).fetch_optional(pool).await)?;
    Ok(row.map(|r| TeamAccess {
        team: r.team,
        my_role: r.my_role.as_deref().and_then(TeamRole::parse),
    }))
}

/// The teams of `workspace_id` that `user_id` may see, oldest first: every public team,
/// and the private ones the user belongs to (all of them when `see_private`).
pub async fn list_visible(
    db: &Db,
    workspace_id: Uuid,
    user_id: Uuid,
    see_private: bool,
) -> Result<Vec<Team>, StoreError> {
    Ok(
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", crate::team_columns!(),
        " FROM mm_teams t WHERE t.workspace_id = $1 AND (NOT t.is_private OR $2 \
         OR EXISTS (SELECT 1 FROM mm_team_members m WHERE m.team_id = t.id AND m.user_id = $3)) \
         ORDER BY t.created_at, t.id"))
        .bind(workspace_id).bind(see_private).bind(user_id).fetch_all(pool).await)?,
    )
}

/// A team the caller belongs to, with the caller's role (`GET /user/teams`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumMyTeam)]
pub struct MyTeam {
    /// The team.
    #[serde(flatten)]
    pub team: Team,
    /// The caller's role in it.
    pub role: TeamRole,
}

/// The teams of `workspace_id` that `user_id` is a member of, oldest first.
pub async fn list_of_member(
    db: &Db,
    workspace_id: Uuid,
    user_id: Uuid,
) -> Result<Vec<MyTeam>, StoreError> {
    let rows: Vec<TeamRoleRow> = on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", crate::team_columns!(),
        ", m.role AS my_role FROM mm_teams t JOIN mm_team_members m ON m.team_id = t.id AND m.user_id = $2 \
         WHERE t.workspace_id = $1 ORDER BY t.created_at, t.id"))
        .bind(workspace_id).bind(user_id).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .map(|r| MyTeam {
            team: r.team,
            role: r
                .my_role
                .as_deref()
                .and_then(TeamRole::parse)
                .unwrap_or(TeamRole::Member),
        })
        .collect())
}

/// Locks the team row until the transaction ends (PostgreSQL; SQLite's single writer
/// already serializes), so changes to its workflows' defaults do not interleave; `false`
/// when the team is gone.
pub async fn lock(tx: &mut Tx, id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE mm_teams SET updated_at = updated_at WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Writes a team's editable fields (name, key, description, icon, privacy, updated_at);
/// `false` when the team is gone.
pub async fn update(tx: &mut Tx, t: &Team) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE mm_teams SET name = $3, team_key = $4, description = $5, icon_url = $6, is_private = $7, updated_at = $8 \
         WHERE id = $1 AND workspace_id = $2")
        .bind(t.id).bind(t.workspace_id).bind(&t.name).bind(&t.team_key).bind(&t.description)
        .bind(&t.icon_url).bind(t.is_private).bind(t.updated_at)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Deletes a team; its members, workflows, cycles and issues go with it (foreign-key
/// cascades). `false` when it was already gone.
pub async fn delete(tx: &mut Tx, workspace_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM mm_teams WHERE id = $1 AND workspace_id = $2")
        .bind(id).bind(workspace_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A member of a team.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumTeamMember)]
pub struct TeamMember {
    /// The team.
    pub team_id: Uuid,
    /// The member's account id.
    pub user_id: Uuid,
    /// `admin` or `member`.
    pub role: TeamRole,
    /// When they joined (UTC).
    pub joined_at: DateTime<Utc>,
    /// Who they are.
    pub user: UserSummary,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    team_id: Uuid,
    user_id: Uuid,
    role: String,
    joined_at: DateTime<Utc>,
    #[sqlx(flatten)]
    user: UserSummary,
}

impl From<MemberRow> for TeamMember {
    fn from(r: MemberRow) -> Self {
        TeamMember {
            team_id: r.team_id,
            user_id: r.user_id,
            role: TeamRole::parse(&r.role).unwrap_or(TeamRole::Member),
            joined_at: r.joined_at,
            user: r.user,
        }
    }
}

/// Columns of a member row from `mm_team_members m`, `users u`, `mm_profiles p`.
macro_rules! member_select {
    () => {
        concat!(
            "SELECT m.team_id, m.user_id, m.role, m.joined_at, ",
            crate::user_summary_columns!(),
            " FROM mm_team_members m JOIN users u ON u.id = m.user_id \
             LEFT JOIN mm_profiles p ON p.user_id = u.id"
        )
    };
}

/// The members of a team, in joining order.
pub async fn members(db: &Db, team_id: Uuid) -> Result<Vec<TeamMember>, StoreError> {
    let rows: Vec<MemberRow> = on_db_read!(db, pool => sqlx::query_as(concat!(member_select!(),
        " WHERE m.team_id = $1 ORDER BY m.joined_at, m.user_id"))
        .bind(team_id).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(TeamMember::from).collect())
}

/// One member of a team, read in the transaction that changed it.
pub async fn member(
    tx: &mut Tx,
    team_id: Uuid,
    user_id: Uuid,
) -> Result<Option<TeamMember>, StoreError> {
    let row: Option<MemberRow> = on_tx!(tx, c => sqlx::query_as(concat!(member_select!(),
        " WHERE m.team_id = $1 AND m.user_id = $2"))
        .bind(team_id).bind(user_id).fetch_optional(&mut *c).await)?;
    Ok(row.map(TeamMember::from))
}

/// Changes a member's role; `false` when not a member.
pub async fn set_member_role(
    tx: &mut Tx,
    team_id: Uuid,
    user_id: Uuid,
    role: &str,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("UPDATE mm_team_members SET role = $3 WHERE team_id = $1 AND user_id = $2")
        .bind(team_id).bind(user_id).bind(role).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Removes a member; `false` when not a member.
pub async fn remove_member(tx: &mut Tx, team_id: Uuid, user_id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM mm_team_members WHERE team_id = $1 AND user_id = $2")
        .bind(team_id).bind(user_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
