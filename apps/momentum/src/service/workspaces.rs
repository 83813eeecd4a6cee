//! Workspaces and their members (seed 002 "工作区管理", issue 8 "Workspaces"): list mine,
//! create (provisioned like registration's), get, update, delete (owner only; everything
//! inside goes with it), switch, current; members with roles, role changes and removal, where
//! a workspace always keeps at least one owner.
//!
//! A workspace addressed by id answers 404 to anyone who is not a member, exactly like a
//! missing one; members without the role an action needs get 403.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::Tx;
use uuid::Uuid;

use super::{Action, Scope, log_change, provision};
use crate::domain::{Check, Patch, WorkspaceRole};
use crate::error::MomentumError;
use crate::state::MomentumState;
use crate::store::invitations::{self, Invitation};
use crate::store::members::{self, Member};
use crate::store::profiles;
use crate::store::workspaces::{self, Workspace};

/// Longest URL key.
pub const URL_KEY_MAX: usize = 50;

/// A workspace with the caller's role in it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumWorkspace)]
pub struct WorkspaceView {
    /// Id.
    pub id: Uuid,
    /// Name (1–100 characters).
    pub name: String,
    /// URL key, unique across the server: 2–50 lower-case letters, digits and `-`.
    pub url_key: String,
    /// Logo URL, if set (a relative one is prefixed with `ASSETS_URL` when configured).
    pub logo_url: Option<String>,
    /// The caller's role in the workspace.
    pub role: WorkspaceRole,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// The members of a workspace and, for its admins, its pending invitations
/// (`GET /workspace-member-and-invitations`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumMembersAndInvitations)]
pub struct MembersAndInvitations {
    /// Every member, oldest membership first.
    pub members: Vec<Member>,
    /// Pending invitations (expired ones shown as `expired`); empty for non-admins.
    pub invitations: Vec<Invitation>,
}

fn view(st: &MomentumState, w: Workspace, role: WorkspaceRole) -> WorkspaceView {
    let logo_url = w.logo_url.map(|u| match &st.settings.assets_url {
        Some(base) if u.starts_with('/') => format!("{base}{u}"),
        _ => u,
    });
    WorkspaceView {
        id: w.id,
        name: w.name,
        url_key: w.url_key,
        logo_url,
        role,
        created_at: w.created_at,
        updated_at: w.updated_at,
    }
}

fn role_of(s: &str) -> WorkspaceRole {
    WorkspaceRole::parse(s).unwrap_or(WorkspaceRole::Guest)
}

fn not_found() -> MomentumError {
    MomentumError::NotFound("workspace")
}

fn url_key_exists() -> MomentumError {
    MomentumError::conflict(
        "WORKSPACE_URL_KEY_EXISTS",
        "a workspace with this url_key already exists",
    )
}

fn last_owner() -> MomentumError {
    MomentumError::conflict(
        "LAST_OWNER",
        "a workspace keeps at least one owner: make another member owner first, or delete the workspace",
    )
}

/// Checks an explicit URL key: 2–50 lower-case ASCII letters, digits and `-`.
fn check_url_key(check: &mut Check, field: &str, v: &str) -> Option<String> {
    let ok = (2..=URL_KEY_MAX).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Some(v.to_string())
    } else {
        check.fail(
            field,
            "invalid_url_key",
            format!("must be 2-{URL_KEY_MAX} lower-case letters, digits and '-'"),
        );
        None
    }
}

/// A logo URL: `Some(None)` clears it.
fn check_logo(check: &mut Check, v: &str) -> Option<Option<String>> {
    check
        .url("logo_url", v)
        .map(|v| Some(v).filter(|v| !v.is_empty()))
}

/// The workspaces `user_id` belongs to, with the role in each, oldest membership first.
pub async fn list_mine(
    st: &MomentumState,
    user_id: Uuid,
) -> Result<Vec<WorkspaceView>, MomentumError> {
    Ok(workspaces::of_user(&st.platform.db, user_id)
        .await?
        .into_iter()
        .map(|(w, role)| view(st, w, role_of(&role)))
        .collect())
}

/// A new workspace (`POST /workspaces`).
pub struct NewWorkspace<'a> {
    /// Name, 1–100 characters.
    pub name: &'a str,
    /// URL key; absent: derived from the name and made unique.
    pub url_key: Option<&'a str>,
    /// Logo URL.
    pub logo_url: Option<&'a str>,
}

/// Creates a workspace provisioned like registration's (the caller as owner, project
/// statuses, labels, a first team with its default workflow) and makes it the caller's
/// current one. A taken explicit `url_key` is 409 `WORKSPACE_URL_KEY_EXISTS`.
pub async fn create(
    st: &MomentumState,
    user_id: Uuid,
    n: NewWorkspace<'_>,
) -> Result<WorkspaceView, MomentumError> {
    let mut check = Check::new();
    let name = check.text("name", n.name, 1, 100);
    let url_key = n
        .url_key
        .and_then(|k| check_url_key(&mut check, "url_key", k));
    let logo = n.logo_url.and_then(|l| check_logo(&mut check, l)).flatten();
    check.finish()?;
    let name = name.unwrap_or_default();
    let base = {
        let s = provision::slug(&name);
        if s.len() < 2 {
            format!("{s}-workspace")
        } else {
            s
        }
    };
    // A derived key can lose a race with a concurrent create of the same name; try again
    // with the next free one. An explicit key that is taken is the client's conflict.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let now = st.now();
        let mut tx = st.platform.db.begin().await?;
        let key = match &url_key {
            Some(k) => k.clone(),
            None => provision::free_url_key(&mut tx, &base).await?,
        };
        let team = format!("{name} Team");
        match provision::workspace(&mut tx, user_id, &name, &key, logo.clone(), &team, now).await {
            Ok(ws) => {
                tx.commit().await?;
                st.memberships.forget(user_id);
                return Ok(view(st, ws, WorkspaceRole::Owner));
            }
            Err(MomentumError::Conflict {
                code: "WORKSPACE_URL_KEY_EXISTS",
                ..
            }) if url_key.is_none() && attempts < 10 => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The workspace `id` with the caller's role; 404 unless the caller is a member.
pub async fn get(
    st: &MomentumState,
    user_id: Uuid,
    id: Uuid,
) -> Result<WorkspaceView, MomentumError> {
    let (w, role) = workspaces::of_member(&st.platform.db, id, user_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(view(st, w, role_of(&role)))
}

/// The caller's current workspace (`GET /workspaces/current`).
pub async fn current(
    st: &MomentumState,
    workspace_id: Uuid,
    role: WorkspaceRole,
) -> Result<WorkspaceView, MomentumError> {
    let w = workspaces::get(&st.platform.db, workspace_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(view(st, w, role))
}

/// The caller's membership of `id` as a [`Scope`] for the change log; 404 unless a member.
async fn member_scope(
    st: &MomentumState,
    tx: &mut Tx,
    user_id: Uuid,
    id: Uuid,
) -> Result<Scope, MomentumError> {
    let me = members::get_tx(tx, id, user_id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Scope {
        workspace_id: id,
        actor: user_id,
        role: me.role,
        now: st.now(),
    })
}

/// A workspace change (`PUT /workspaces/{id}`): absent fields stay.
pub struct WorkspaceChange {
    /// New name.
    pub name: Option<String>,
    /// New URL key.
    pub url_key: Option<String>,
    /// New logo (`null` or `""` clears).
    pub logo_url: Patch<String>,
}

/// Updates name, URL key or logo; owners and admins only.
pub async fn update(
    st: &MomentumState,
    user_id: Uuid,
    id: Uuid,
    c: WorkspaceChange,
) -> Result<WorkspaceView, MomentumError> {
    let mut check = Check::new();
    let name = c
        .name
        .as_deref()
        .and_then(|n| check.text("name", n, 1, 100));
    let url_key = c
        .url_key
        .as_deref()
        .and_then(|k| check_url_key(&mut check, "url_key", k));
    let logo = match &c.logo_url {
        Patch::Value(v) => check_logo(&mut check, v),
        Patch::Null => Some(None),
        Patch::Absent => None,
    };
    check.finish()?;
    let mut tx = st.platform.db.begin().await?;
    let scope = member_scope(st, &mut tx, user_id, id).await?;
    scope.require_admin()?;
    let mut w = workspaces::get_tx(&mut tx, id)
        .await?
        .ok_or_else(not_found)?;
    if let Some(n) = name {
        w.name = n;
    }
    if let Some(k) = url_key {
        w.url_key = k;
    }
    if let Some(l) = logo {
        w.logo_url = l;
    }
    w.updated_at = scope.now;
    workspaces::update(&mut tx, &w).await.map_err(|e| {
        if e.violates(workspaces::URL_KEY_KEY) {
            url_key_exists()
        } else {
            e.into()
        }
    })?;
    log_change(&mut tx, &scope, "workspace", w.id, Action::Update, &w).await?;
    tx.commit().await?;
    Ok(view(st, w, scope.role))
}

/// Deletes a workspace and everything in it (foreign keys cascade); owners only. Members
/// whose current workspace it was fall back to another membership on their next request
/// (`service::auth::current_workspace`).
///
/// No change-log entry: the workspace's log is part of what is deleted.
pub async fn delete(st: &MomentumState, user_id: Uuid, id: Uuid) -> Result<(), MomentumError> {
    let mut tx = st.platform.db.begin().await?;
    let scope = member_scope(st, &mut tx, user_id, id).await?;
    if scope.role != WorkspaceRole::Owner {
        return Err(MomentumError::Forbidden(
            "only a workspace owner can delete it",
        ));
    }
    if !workspaces::delete(&mut tx, id).await? {
        return Err(not_found());
    }
    tx.commit().await?;
    st.memberships.forget_all();
    super::notice(super::Notice::WorkspaceDeleted(id));
    Ok(())
}

/// Makes `workspace_id` (a body field) the caller's current workspace; 422 naming the field
/// unless the caller is a member.
pub async fn switch(
    st: &MomentumState,
    user_id: Uuid,
    workspace_id: &str,
) -> Result<WorkspaceView, MomentumError> {
    let mut check = Check::new();
    let id = check.uuid("workspace_id", workspace_id);
    check.finish()?;
    let id = id.unwrap_or_default();
    let mut tx = st.platform.db.begin().await?;
    let Some(me) = members::get_tx(&mut tx, id, user_id).await? else {
        return Err(MomentumError::unknown_ref("workspace_id", "workspace"));
    };
    let w = workspaces::get_tx(&mut tx, id)
        .await?
        .ok_or_else(not_found)?;
    profiles::set_current_workspace(&mut tx, user_id, Some(id), st.now()).await?;
    tx.commit().await?;
    st.memberships.forget(user_id);
    Ok(view(st, w, me.role))
}

/// The members of workspace `id`; 404 unless the caller is one.
pub async fn members_of(
    st: &MomentumState,
    user_id: Uuid,
    id: Uuid,
) -> Result<Vec<Member>, MomentumError> {
    if members::role(&st.platform.db, id, user_id).await?.is_none() {
        return Err(not_found());
    }
    Ok(members::list(&st.platform.db, id).await?)
}

/// The members of the caller's current workspace and, for admins, its pending invitations.
pub async fn members_and_invitations(
    st: &MomentumState,
    scope: &Scope,
) -> Result<MembersAndInvitations, MomentumError> {
    let members = members::list(&st.platform.db, scope.workspace_id).await?;
    let invitations = if scope.role.is_admin() {
        invitations::pending_of(&st.platform.db, scope.workspace_id, scope.now).await?
    } else {
        Vec::new()
    };
    Ok(MembersAndInvitations {
        members,
        invitations,
    })
}

/// Changes a member's role: owners and admins; only an owner grants or takes away `owner`;
/// the last owner cannot be demoted (409 `LAST_OWNER`).
pub async fn set_role(
    st: &MomentumState,
    user_id: Uuid,
    id: Uuid,
    target: Uuid,
    role: &str,
) -> Result<Member, MomentumError> {
    let mut check = Check::new();
    let role = check.one_of("role", role, WorkspaceRole::parse, WorkspaceRole::names);
    check.finish()?;
    let role = role.unwrap_or(WorkspaceRole::Member);
    let mut tx = st.platform.db.begin().await?;
    // Serializes role changes and removals in this workspace, so two owners demoting each
    // other at once cannot leave it without one.
    if !workspaces::lock(&mut tx, id).await? {
        return Err(not_found());
    }
    let scope = member_scope(st, &mut tx, user_id, id).await?;
    scope.require_admin()?;
    let old = members::get_tx(&mut tx, id, target)
        .await?
        .ok_or(MomentumError::NotFound("member"))?;
    let touches_owner = old.role == WorkspaceRole::Owner || role == WorkspaceRole::Owner;
    if touches_owner && scope.role != WorkspaceRole::Owner {
        return Err(MomentumError::Forbidden(
            "only an owner can grant or take away the owner role",
        ));
    }
    if old.role == role {
        return Ok(old);
    }
    members::set_role(&mut tx, id, target, role.as_str()).await?;
    if old.role == WorkspaceRole::Owner && members::count_owners(&mut tx, id).await? == 0 {
        return Err(last_owner());
    }
    let m = Member { role, ..old };
    log_change(&mut tx, &scope, "member", target, Action::Update, &m).await?;
    tx.commit().await?;
    st.memberships.forget(target);
    Ok(m)
}

/// A team membership that went with a workspace membership (change-log data).
#[derive(Serialize)]
struct TeamMembershipGone {
    team_id: Uuid,
    user_id: Uuid,
}

/// Removes a member: admins remove others (only an owner removes an owner), anyone removes
/// themself (leaves); the last owner cannot go (409 `LAST_OWNER`). The member's team
/// memberships in the workspace go too.
pub async fn remove_member(
    st: &MomentumState,
    user_id: Uuid,
    id: Uuid,
    target: Uuid,
) -> Result<Member, MomentumError> {
    let mut tx = st.platform.db.begin().await?;
    if !workspaces::lock(&mut tx, id).await? {
        return Err(not_found());
    }
    let scope = member_scope(st, &mut tx, user_id, id).await?;
    if target != user_id {
        scope.require_admin()?;
    }
    let old = members::get_tx(&mut tx, id, target)
        .await?
        .ok_or(MomentumError::NotFound("member"))?;
    if old.role == WorkspaceRole::Owner && scope.role != WorkspaceRole::Owner {
        return Err(MomentumError::Forbidden(
            "only an owner can remove an owner",
        ));
    }
    members::remove(&mut tx, id, target).await?;
    if old.role == WorkspaceRole::Owner && members::count_owners(&mut tx, id).await? == 0 {
        return Err(last_owner());
    }
    let teams = members::leave_teams(&mut tx, id, target).await?;
    log_change(&mut tx, &scope, "member", target, Action::Delete, &old).await?;
    for team_id in teams {
        let gone = TeamMembershipGone {
            team_id,
            user_id: target,
        };
        log_change(
            &mut tx,
            &scope,
            "team_member",
            team_id,
            Action::Delete,
            &gone,
        )
        .await?;
    }
    tx.commit().await?;
    st.memberships.forget(target);
    Ok(old)
}
