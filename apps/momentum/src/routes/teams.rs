//! `/teams…` (seed 002 "团队管理") and the original's `/teams/{id}/members…` and
//! `GET /user/teams` (originals §2.1).

use axum::extract::State;
use trellis_kernel::extract::{Json, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::Caller;
use crate::envelope::{ListReply, Listed, Reply, created, ok};
use crate::service::teams::{self, NewTeam, NewTeamMember, TeamChange, TeamMemberChange};
use crate::state::MomentumState;
use crate::store::teams::{MyTeam, Team, TeamMember};

pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team, update_team, delete_team))
        .routes(routes!(my_teams))
        .routes(routes!(list_members, add_member))
        .routes(routes!(update_member, remove_member))
}

/// The teams of the caller's workspace: public ones, and private ones the caller belongs to
/// (all for workspace owners and admins); oldest first.
#[utoipa::path(get, path = "/teams", tag = "momentum",
    responses((status = 200, body = Vec<Team>),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn list_teams(State(st): State<MomentumState>, c: Caller) -> ListReply<Team> {
    Ok(Listed::all(teams::list(&st, &c.scope).await?, "teams"))
}

/// Creates a team (members and up) with the caller as its admin and a default workflow
/// with six states.
#[utoipa::path(post, path = "/teams", tag = "momentum", request_body = NewTeam,
    responses((status = 201, body = Team), (status = 403, description = "guests cannot create teams"),
        (status = 409, description = "TEAM_KEY_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn create_team(
    State(st): State<MomentumState>,
    c: Caller,
    Json(b): Json<NewTeam>,
) -> Reply<Team> {
    Ok(created(
        teams::create(&st, &c.scope, b).await?,
        "team created",
    ))
}

/// One team (404 for a private team the caller is not in, unless a workspace admin).
#[utoipa::path(get, path = "/teams/{id}", tag = "momentum", params(("id" = Uuid, Path)),
    responses((status = 200, body = Team), (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn get_team(State(st): State<MomentumState>, c: Caller, Path(id): Path<Uuid>) -> Reply<Team> {
    Ok(ok(teams::get(&st, &c.scope, id).await?, "team"))
}

/// Changes a team (team admins, workspace owners and admins).
#[utoipa::path(put, path = "/teams/{id}", tag = "momentum", params(("id" = Uuid, Path)),
    request_body = TeamChange,
    responses((status = 200, body = Team), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "TEAM_KEY_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn update_team(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<TeamChange>,
) -> Reply<Team> {
    Ok(ok(
        teams::update(&st, &c.scope, id, b).await?,
        "team updated",
    ))
}

/// Deletes a team with its members, workflows, cycles and issues (workspace owners and
/// admins).
#[utoipa::path(delete, path = "/teams/{id}", tag = "momentum", params(("id" = Uuid, Path)),
    responses((status = 200), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "IN_USE; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn delete_team(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Reply<()> {
    teams::delete(&st, &c.scope, id).await?;
    Ok(ok((), "team deleted"))
}

/// The teams of the current workspace the caller belongs to, with the caller's role.
#[utoipa::path(get, path = "/user/teams", tag = "momentum",
    responses((status = 200, body = Vec<MyTeam>),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn my_teams(State(st): State<MomentumState>, c: Caller) -> ListReply<MyTeam> {
    Ok(Listed::all(teams::mine(&st, &c.scope).await?, "teams"))
}

/// The members of a team, in joining order.
#[utoipa::path(get, path = "/teams/{id}/members", tag = "momentum", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<TeamMember>), (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn list_members(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> ListReply<TeamMember> {
    Ok(Listed::all(
        teams::members(&st, &c.scope, id).await?,
        "team members",
    ))
}

/// Adds a member of the workspace to the team (team admins, workspace owners and admins).
#[utoipa::path(post, path = "/teams/{id}/members", tag = "momentum", params(("id" = Uuid, Path)),
    request_body = NewTeamMember,
    responses((status = 201, body = TeamMember), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "ALREADY_MEMBER; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn add_member(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<NewTeamMember>,
) -> Reply<TeamMember> {
    Ok(created(
        teams::add_member(&st, &c.scope, id, b).await?,
        "team member added",
    ))
}

/// Changes a member's team role (team admins, workspace owners and admins).
#[utoipa::path(put, path = "/teams/{id}/members/{user_id}", tag = "momentum",
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)), request_body = TeamMemberChange,
    responses((status = 200, body = TeamMember), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn update_member(
    State(st): State<MomentumState>,
    c: Caller,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
    Json(b): Json<TeamMemberChange>,
) -> Reply<TeamMember> {
    Ok(ok(
        teams::set_member_role(&st, &c.scope, id, user_id, b).await?,
        "team member updated",
    ))
}

/// Removes a member from the team (team admins, workspace owners and admins; anyone may
/// remove themself).
#[utoipa::path(delete, path = "/teams/{id}/members/{user_id}", tag = "momentum",
    params(("id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 200), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn remove_member(
    State(st): State<MomentumState>,
    c: Caller,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
) -> Reply<()> {
    teams::remove_member(&st, &c.scope, id, user_id).await?;
    Ok(ok((), "team member removed"))
}
