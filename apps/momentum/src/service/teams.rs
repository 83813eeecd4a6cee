//! Teams and their members (issue 8 "Teams"): a `team_key` of 2–10 upper-case letters and
//! digits unique in the workspace, a private flag, members with roles `admin|member`.
//!
//! Who sees what: public teams are visible to every member of the workspace; private teams
//! to their members and the workspace's owners and admins only. A team the caller may not
//! see answers 404 exactly like a missing one. Team admins and workspace admins manage a
//! team and its members (guests never change anything); deleting a team takes a workspace
//! admin; anyone may leave a team.

use serde::Deserialize;
use trellis_kernel::db::{ConstraintKind, StoreError};
use uuid::Uuid;

use super::{Action, Scope, log_change, provision};
use crate::domain::check::LONG_TEXT;
use crate::domain::{Check, Patch, TeamRole};
use crate::error::MomentumError;
use crate::state::MomentumState;
use crate::store::members;
use crate::store::teams::{self, MyTeam, Team, TeamAccess, TeamMember};

/// `POST /teams`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumNewTeam)]
pub struct NewTeam {
    /// 1–100 characters.
    #[serde(default)]
    #[schema(
        required = true,
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// 2–10 letters and digits starting with a letter, unique in the workspace (upper-cased).
    #[serde(default)]
    #[schema(
        required = true,
        min_length = 2,
        max_length = 10,
        pattern = "^[A-Za-z][A-Za-z0-9]{1,9}$"
    )]
    pub team_key: String,
    /// At most 10,000 characters.
    #[schema(
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub description: Option<String>,
    /// http(s) URL (or a path) of an icon.
    #[schema(
        max_length = 2048,
        pattern = r"^((https?://|/)[^\s\x00-\x1f\x7f-\x9f]*)?$"
    )]
    pub icon_url: Option<String>,
    /// Private teams are visible to their members and workspace admins only (default false).
    #[serde(default)]
    pub is_private: bool,
}

/// `PUT /teams/{id}`: absent fields stay; `null` clears `description` and `icon_url`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumTeamChange)]
pub struct TeamChange {
    /// 1–100 characters.
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// 2–10 letters and digits starting with a letter, unique in the workspace.
    #[schema(
        min_length = 2,
        max_length = 10,
        pattern = "^[A-Za-z][A-Za-z0-9]{1,9}$"
    )]
    pub team_key: Option<String>,
    /// At most 10,000 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub description: Patch<String>,
    /// http(s) URL (or a path) of an icon.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2048, pattern = r"^((https?://|/)[^\s\x00-\x1f\x7f-\x9f]*)?$")]
    pub icon_url: Patch<String>,
    /// Private or not.
    pub is_private: Option<bool>,
}

/// `POST /teams/{id}/members`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumNewTeamMember)]
pub struct NewTeamMember {
    /// A member of the workspace.
    #[serde(default)]
    #[schema(required = true, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub user_id: String,
    /// `admin` or `member` (default `member`).
    #[schema(value_type = Option<TeamRole>)]
    pub role: Option<String>,
}

/// `PUT /teams/{id}/members/{user_id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumTeamMemberChange)]
pub struct TeamMemberChange {
    /// `admin` or `member`.
    #[serde(default)]
    #[schema(required = true, value_type = TeamRole)]
    pub role: String,
}

/// Whether a write failed on a foreign key: a referenced row vanished (or a referencing
/// one appeared) in a concurrent transaction.
pub fn is_foreign_key(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Constraint {
            kind: ConstraintKind::ForeignKey,
            ..
        }
    )
}

/// Whether the caller sees a team: public, or a member, or a workspace admin.
pub fn can_see(scope: &Scope, private: bool, my_role: Option<TeamRole>) -> bool {
    !private || my_role.is_some() || scope.role.is_admin()
}

/// `Ok` for team admins and workspace owners and admins (never guests).
pub fn require_manager(scope: &Scope, my_role: Option<TeamRole>) -> Result<(), MomentumError> {
    scope.require_writer()?;
    if scope.role.is_admin() || my_role == Some(TeamRole::Admin) {
        Ok(())
    } else {
        Err(MomentumError::Forbidden(
            "only team admins and workspace owners and admins can do this",
        ))
    }
}

/// The team `id` as the caller sees it: 404 when missing, in another workspace, or private
/// to others.
pub async fn access(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
) -> Result<TeamAccess, MomentumError> {
    match teams::access(&st.platform.db, scope.workspace_id, id, scope.actor).await? {
        Some(a) if can_see(scope, a.team.is_private, a.my_role) => Ok(a),
        _ => Err(MomentumError::NotFound("team")),
    }
}

/// The teams of the caller's workspace the caller may see, oldest first.
pub async fn list(st: &MomentumState, scope: &Scope) -> Result<Vec<Team>, MomentumError> {
    Ok(teams::list_visible(
        &st.platform.db,
        scope.workspace_id,
        scope.actor,
        scope.role.is_admin(),
    )
    .await?)
}

/// The teams of the caller's workspace the caller belongs to, with the caller's role.
pub async fn mine(st: &MomentumState, scope: &Scope) -> Result<Vec<MyTeam>, MomentumError> {
    Ok(teams::list_of_member(&st.platform.db, scope.workspace_id, scope.actor).await?)
}

/// One team.
pub async fn get(st: &MomentumState, scope: &Scope, id: Uuid) -> Result<Team, MomentumError> {
    Ok(access(st, scope, id).await?.team)
}

fn description(check: &mut Check, v: &str) -> Option<String> {
    check
        .text("description", v, 0, LONG_TEXT)
        .filter(|s| !s.is_empty())
}

fn icon(check: &mut Check, v: &str) -> Option<String> {
    check.url("icon_url", v).filter(|s| !s.is_empty())
}

fn key_taken(key: &str) -> MomentumError {
    MomentumError::conflict(
        "TEAM_KEY_EXISTS",
        format!("team key {key} is already used in this workspace"),
    )
}

/// Creates a team (members and up) with the caller as its admin and its default workflow
/// (six states); a taken key is 409 `TEAM_KEY_EXISTS`.
pub async fn create(st: &MomentumState, scope: &Scope, b: NewTeam) -> Result<Team, MomentumError> {
    scope.require_writer()?;
    let mut check = Check::new();
    let name = check.text("name", &b.name, 1, 100);
    let key = check.key("team_key", &b.team_key, 2, 10);
    let description = b
        .description
        .as_deref()
        .and_then(|d| description(&mut check, d));
    let icon_url = b.icon_url.as_deref().and_then(|u| icon(&mut check, u));
    check.finish()?;
    let (Some(name), Some(team_key)) = (name, key) else {
        return Err(MomentumError::field("name", "required", "is required"));
    };
    let t = Team {
        id: Uuid::now_v7(),
        workspace_id: scope.workspace_id,
        name,
        team_key,
        description,
        icon_url,
        is_private: b.is_private,
        created_at: scope.now,
        updated_at: scope.now,
    };
    let mut tx = st.platform.db.begin().await?;
    provision::team(&mut tx, scope, &t).await?;
    tx.commit().await?;
    Ok(t)
}

/// Changes a team (team admins, workspace admins).
pub async fn update(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
    b: TeamChange,
) -> Result<Team, MomentumError> {
    let a = access(st, scope, id).await?;
    require_manager(scope, a.my_role)?;
    let mut check = Check::new();
    let name = b.name.as_deref().map(|n| check.text("name", n, 1, 100));
    let key = b
        .team_key
        .as_deref()
        .map(|k| check.key("team_key", k, 2, 10));
    let desc = b.description.map(|d| description(&mut check, &d));
    let icon_url = b.icon_url.map(|u| icon(&mut check, &u));
    check.finish()?;
    let mut tx = st.platform.db.begin().await?;
    if !teams::lock(&mut tx, id).await? {
        return Err(MomentumError::NotFound("team"));
    }
    let mut t = teams::get_in(&mut tx, id)
        .await?
        .ok_or(MomentumError::NotFound("team"))?;
    if let Some(Some(n)) = name {
        t.name = n;
    }
    if let Some(Some(k)) = key {
        t.team_key = k;
    }
    t.description = match desc {
        Patch::Absent => t.description,
        Patch::Null => None,
        Patch::Value(v) => v,
    };
    t.icon_url = match icon_url {
        Patch::Absent => t.icon_url,
        Patch::Null => None,
        Patch::Value(v) => v,
    };
    if let Some(p) = b.is_private {
        t.is_private = p;
    }
    t.updated_at = scope.now;
    let found = teams::update(&mut tx, &t).await.map_err(|e| {
        if e.violates(teams::TEAM_KEY_KEY) {
            key_taken(&t.team_key)
        } else {
            e.into()
        }
    })?;
    if !found {
        return Err(MomentumError::NotFound("team"));
    }
    log_change(&mut tx, scope, "team", t.id, Action::Update, &t).await?;
    tx.commit().await?;
    Ok(t)
}

/// Deletes a team (workspace owners and admins); its members, workflows, cycles and issues
/// go with it. One change-log entry, for the team.
pub async fn delete(st: &MomentumState, scope: &Scope, id: Uuid) -> Result<(), MomentumError> {
    let a = access(st, scope, id).await?;
    scope.require_admin()?;
    let mut tx = st.platform.db.begin().await?;
    let found = teams::delete(&mut tx, scope.workspace_id, id)
        .await
        .map_err(|e| {
            if is_foreign_key(&e) {
                MomentumError::conflict(
                    "IN_USE",
                    "issues of other teams still use this team's workflows",
                )
            } else {
                e.into()
            }
        })?;
    if !found {
        return Err(MomentumError::NotFound("team"));
    }
    log_change(&mut tx, scope, "team", id, Action::Delete, &a.team).await?;
    tx.commit().await?;
    Ok(())
}

/// The members of a team the caller sees.
pub async fn members(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
) -> Result<Vec<TeamMember>, MomentumError> {
    access(st, scope, id).await?;
    Ok(teams::members(&st.platform.db, id).await?)
}

fn role(check: &mut Check, v: &str) -> Option<TeamRole> {
    check.one_of("role", v, TeamRole::parse, TeamRole::names)
}

/// Adds a member of the workspace to a team (team admins, workspace admins); an existing
/// member is 409 `ALREADY_MEMBER`, someone outside the workspace 422 on `user_id`.
pub async fn add_member(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
    b: NewTeamMember,
) -> Result<TeamMember, MomentumError> {
    let a = access(st, scope, id).await?;
    require_manager(scope, a.my_role)?;
    let mut check = Check::new();
    let user_id = if b.user_id.trim().is_empty() {
        check.fail("user_id", "required", "is required");
        None
    } else {
        check.uuid("user_id", &b.user_id)
    };
    let team_role = match b.role.as_deref() {
        Some(r) => role(&mut check, r),
        None => Some(TeamRole::Member),
    };
    check.finish()?;
    let (Some(user_id), Some(team_role)) = (user_id, team_role) else {
        return Err(MomentumError::field("user_id", "required", "is required"));
    };
    if members::role(&st.platform.db, scope.workspace_id, user_id)
        .await?
        .is_none()
    {
        return Err(MomentumError::unknown_ref("user_id", "workspace member"));
    }
    let mut tx = st.platform.db.begin().await?;
    let added = teams::add_member(&mut tx, id, user_id, team_role.as_str(), scope.now)
        .await
        .map_err(|e| {
            if is_foreign_key(&e) {
                MomentumError::NotFound("team")
            } else {
                e.into()
            }
        })?;
    if !added {
        return Err(MomentumError::conflict(
            "ALREADY_MEMBER",
            "this user is already a member of the team",
        ));
    }
    let m = teams::member(&mut tx, id, user_id)
        .await?
        .ok_or(MomentumError::NotFound("team member"))?;
    log_change(&mut tx, scope, "team_member", user_id, Action::Create, &m).await?;
    tx.commit().await?;
    Ok(m)
}

/// Changes a member's team role (team admins, workspace admins).
pub async fn set_member_role(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
    user_id: Uuid,
    b: TeamMemberChange,
) -> Result<TeamMember, MomentumError> {
    let a = access(st, scope, id).await?;
    require_manager(scope, a.my_role)?;
    let mut check = Check::new();
    let team_role = if b.role.trim().is_empty() {
        check.fail("role", "required", "is required");
        None
    } else {
        role(&mut check, &b.role)
    };
    check.finish()?;
    let Some(team_role) = team_role else {
        return Err(MomentumError::field("role", "required", "is required"));
    };
    let mut tx = st.platform.db.begin().await?;
    if !teams::set_member_role(&mut tx, id, user_id, team_role.as_str()).await? {
        return Err(MomentumError::NotFound("team member"));
    }
    let m = teams::member(&mut tx, id, user_id)
        .await?
        .ok_or(MomentumError::NotFound("team member"))?;
    log_change(&mut tx, scope, "team_member", user_id, Action::Update, &m).await?;
    tx.commit().await?;
    Ok(m)
}

/// Removes a member from a team: team admins and workspace admins remove anyone, a member
/// removes themself.
pub async fn remove_member(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
    user_id: Uuid,
) -> Result<(), MomentumError> {
    let a = access(st, scope, id).await?;
    if user_id != scope.actor {
        require_manager(scope, a.my_role)?;
    }
    let mut tx = st.platform.db.begin().await?;
    let m = teams::member(&mut tx, id, user_id)
        .await?
        .ok_or(MomentumError::NotFound("team member"))?;
    if !teams::remove_member(&mut tx, id, user_id).await? {
        return Err(MomentumError::NotFound("team member"));
    }
    log_change(&mut tx, scope, "team_member", user_id, Action::Delete, &m).await?;
    tx.commit().await?;
    Ok(())
}
