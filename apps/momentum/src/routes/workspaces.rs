//! `/workspaces…` (seed 002 "工作区管理") and the original's aliases
//! `POST /auth/switch-workspace`, `GET /workspace-members`,
//! `GET /workspace-member-and-invitations`.

use axum::extract::State;
use serde::Deserialize;
use trellis_kernel::extract::{Json, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::{Account, Caller};
use crate::domain::{Patch, WorkspaceRole};
use crate::envelope::{ListReply, Listed, Reply, created, ok};
use crate::service::workspaces::{
    self, MembersAndInvitations, NewWorkspace, WorkspaceChange, WorkspaceView,
};
use crate::state::MomentumState;
use crate::store::members::Member;

pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .routes(routes!(list_workspaces, create_workspace))
        .routes(routes!(current_workspace))
        .routes(routes!(switch_workspace))
        .routes(routes!(switch_workspace_alias))
        .routes(routes!(get_workspace, update_workspace, delete_workspace))
        .routes(routes!(list_members))
        .routes(routes!(update_member, remove_member))
        .routes(routes!(current_members))
        .routes(routes!(current_members_and_invitations))
}

/// `POST /workspaces`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumCreateWorkspaceBody)]
struct CreateBody {
    /// Name, 1–100 characters.
    #[serde(default)]
    #[schema(
        required = true,
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    name: String,
    /// URL key, unique across the server: 2–50 lower-case letters, digits and `-`; absent:
    /// derived from the name (`acme`, `acme-2`, …).
    #[schema(min_length = 2, max_length = 50, pattern = "^[a-z0-9-]{2,50}$")]
    url_key: Option<String>,
    /// Logo URL (http(s) or a path).
    #[schema(
        max_length = 2048,
        pattern = r"^((https?://|/)[^\s\x00-\x1f\x7f-\x9f]*)?$"
    )]
    logo_url: Option<String>,
}

/// The caller's workspaces, with the caller's role in each, oldest membership first.
#[utoipa::path(get, path = "/workspaces", tag = "momentum",
    responses((status = 200, body = Vec<WorkspaceView>)), security(("bearer" = [])))]
async fn list_workspaces(
    State(st): State<MomentumState>,
    Account(p): Account,
) -> ListReply<WorkspaceView> {
    Ok(Listed::all(
        workspaces::list_mine(&st, p.user_id).await?,
        "workspaces",
    ))
}

/// Creates a workspace: the caller becomes its owner and works in it; it starts with project
/// statuses, labels and a first team with its default workflow.
#[utoipa::path(post, path = "/workspaces", tag = "momentum", request_body = CreateBody,
    responses((status = 201, body = WorkspaceView),
        (status = 409, description = "WORKSPACE_URL_KEY_EXISTS")),
    security(("bearer" = [])))]
async fn create_workspace(
    State(st): State<MomentumState>,
    Account(p): Account,
    Json(b): Json<CreateBody>,
) -> Reply<WorkspaceView> {
    let n = NewWorkspace {
        name: &b.name,
        url_key: b.url_key.as_deref(),
        logo_url: b.logo_url.as_deref(),
    };
    Ok(created(
        workspaces::create(&st, p.user_id, n).await?,
        "workspace created",
    ))
}

/// The workspace the caller works in, with the caller's role.
#[utoipa::path(get, path = "/workspaces/current", tag = "momentum",
    responses((status = 200, body = WorkspaceView), (status = 409, description = "NO_WORKSPACE")),
    security(("bearer" = [])))]
async fn current_workspace(State(st): State<MomentumState>, c: Caller) -> Reply<WorkspaceView> {
    Ok(ok(
        workspaces::current(&st, c.workspace_id(), c.role()).await?,
        "current workspace",
    ))
}

/// `POST /workspaces/switch`, `POST /auth/switch-workspace`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumSwitchWorkspaceBody)]
struct SwitchBody {
    /// A workspace the caller is a member of.
    #[serde(default)]
    #[schema(required = true, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    workspace_id: String,
}

/// Makes another of the caller's workspaces the current one; a workspace the caller is not
/// a member of is 422 naming `workspace_id`.
#[utoipa::path(post, path = "/workspaces/switch", tag = "momentum", request_body = SwitchBody,
    responses((status = 200, body = WorkspaceView)), security(("bearer" = [])))]
async fn switch_workspace(
    State(st): State<MomentumState>,
    Account(p): Account,
    Json(b): Json<SwitchBody>,
) -> Reply<WorkspaceView> {
    Ok(ok(
        workspaces::switch(&st, p.user_id, &b.workspace_id).await?,
        "workspace switched",
    ))
}

/// The original's path for [`switch_workspace`].
#[utoipa::path(post, path = "/auth/switch-workspace", tag = "momentum", request_body = SwitchBody,
    responses((status = 200, body = WorkspaceView)), security(("bearer" = [])))]
async fn switch_workspace_alias(
    State(st): State<MomentumState>,
    Account(p): Account,
    Json(b): Json<SwitchBody>,
) -> Reply<WorkspaceView> {
    Ok(ok(
        workspaces::switch(&st, p.user_id, &b.workspace_id).await?,
        "workspace switched",
    ))
}

/// One of the caller's workspaces; any other id is 404.
#[utoipa::path(get, path = "/workspaces/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Workspace id")),
    responses((status = 200, body = WorkspaceView)), security(("bearer" = [])))]
async fn get_workspace(
    State(st): State<MomentumState>,
    Account(p): Account,
    Path(id): Path<Uuid>,
) -> Reply<WorkspaceView> {
    Ok(ok(workspaces::get(&st, p.user_id, id).await?, "workspace"))
}

/// `PUT /workspaces/{id}`: absent fields stay.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumUpdateWorkspaceBody)]
struct UpdateBody {
    /// New name, 1–100 characters.
    #[schema(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    name: Option<String>,
    /// New URL key: 2–50 lower-case letters, digits and `-`.
    #[schema(min_length = 2, max_length = 50, pattern = "^[a-z0-9-]{2,50}$")]
    url_key: Option<String>,
    /// New logo URL (http(s) or a path); `null` or `""` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2048, pattern = r"^((https?://|/)[^\s\x00-\x1f\x7f-\x9f]*)?$")]
    logo_url: Patch<String>,
}

/// Renames a workspace or changes its URL key or logo; owners and admins.
#[utoipa::path(put, path = "/workspaces/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Workspace id")), request_body = UpdateBody,
    responses((status = 200, body = WorkspaceView), (status = 403),
        (status = 409, description = "WORKSPACE_URL_KEY_EXISTS")),
    security(("bearer" = [])))]
async fn update_workspace(
    State(st): State<MomentumState>,
    Account(p): Account,
    Path(id): Path<Uuid>,
    Json(b): Json<UpdateBody>,
) -> Reply<WorkspaceView> {
    let c = WorkspaceChange {
        name: b.name,
        url_key: b.url_key,
        logo_url: b.logo_url,
    };
    Ok(ok(
        workspaces::update(&st, p.user_id, id, c).await?,
        "workspace updated",
    ))
}

/// Deletes a workspace and everything in it; owners only. Its members keep working in
/// another of their workspaces.
#[utoipa::path(delete, path = "/workspaces/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Workspace id")),
    responses((status = 200), (status = 403)), security(("bearer" = [])))]
async fn delete_workspace(
    State(st): State<MomentumState>,
    Account(p): Account,
    Path(id): Path<Uuid>,
) -> Reply<()> {
    workspaces::delete(&st, p.user_id, id).await?;
    Ok(ok((), "workspace deleted"))
}

/// The members of one of the caller's workspaces, oldest first.
#[utoipa::path(get, path = "/workspaces/{id}/members", tag = "momentum",
    params(("id" = Uuid, Path, description = "Workspace id")),
    responses((status = 200, body = Vec<Member>)), security(("bearer" = [])))]
async fn list_members(
    State(st): State<MomentumState>,
    Account(p): Account,
    Path(id): Path<Uuid>,
) -> ListReply<Member> {
    Ok(Listed::all(
        workspaces::members_of(&st, p.user_id, id).await?,
        "members",
    ))
}

/// `PUT /workspaces/{id}/members/{user_id}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumMemberRoleBody)]
struct RoleBody {
    /// `owner`, `admin`, `member` or `guest` (any case).
    #[serde(default)]
    #[schema(required = true, value_type = WorkspaceRole)]
    role: String,
}

/// Changes a member's role: owners and admins; only an owner grants or takes away `owner`;
/// the last owner cannot be demoted.
#[utoipa::path(put, path = "/workspaces/{id}/members/{user_id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Workspace id"),
        ("user_id" = Uuid, Path, description = "The member's account id")),
    request_body = RoleBody,
    responses((status = 200, body = Member), (status = 403), (status = 409, description = "LAST_OWNER")),
    security(("bearer" = [])))]
async fn update_member(
    State(st): State<MomentumState>,
    Account(p): Account,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
    Json(b): Json<RoleBody>,
) -> Reply<Member> {
    Ok(ok(
        workspaces::set_role(&st, p.user_id, id, user_id, &b.role).await?,
        "member updated",
    ))
}

/// Removes a member (admins), or leaves (any member, their own id); the member's team
/// memberships in the workspace go too. The last owner cannot leave.
#[utoipa::path(delete, path = "/workspaces/{id}/members/{user_id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Workspace id"),
        ("user_id" = Uuid, Path, description = "The member's account id")),
    responses((status = 200, body = Member), (status = 403), (status = 409, description = "LAST_OWNER")),
    security(("bearer" = [])))]
async fn remove_member(
    State(st): State<MomentumState>,
    Account(p): Account,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
) -> Reply<Member> {
    Ok(ok(
        workspaces::remove_member(&st, p.user_id, id, user_id).await?,
        "member removed",
    ))
}

/// The original's: the members of the caller's current workspace.
#[utoipa::path(get, path = "/workspace-members", tag = "momentum",
    responses((status = 200, body = Vec<Member>),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn current_members(State(st): State<MomentumState>, c: Caller) -> ListReply<Member> {
    Ok(Listed::all(
        workspaces::members_of(&st, c.user_id(), c.workspace_id()).await?,
        "members",
    ))
}

/// The original's: the members of the current workspace and, for its admins, its pending
/// invitations.
#[utoipa::path(get, path = "/workspace-member-and-invitations", tag = "momentum",
    responses((status = 200, body = MembersAndInvitations),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn current_members_and_invitations(
    State(st): State<MomentumState>,
    c: Caller,
) -> Reply<MembersAndInvitations> {
    Ok(ok(
        workspaces::members_and_invitations(&st, &c.scope).await?,
        "members and invitations",
    ))
}
