//! `/workflows…` (seed 002 "工作流管理"), transition rules as data, and the original's
//! `/teams/{id}/workflows…` aliases (originals §2.1).

use axum::extract::State;
use serde::Deserialize;
use trellis_kernel::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::Caller;
use crate::domain::Check;
use crate::envelope::{ListReply, Listed, Reply, created, ok};
use crate::service::workflows::{
    self, NewState, NewTeamWorkflow, NewWorkflow, StateChange, StateOrder, Target, TeamRef,
    TransitionSet, Transitions, WorkflowChange, WorkflowDetail,
};
use crate::state::MomentumState;
use crate::store::workflows::WorkflowState;

pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .routes(routes!(list_workflows, create_workflow))
        .routes(routes!(list_team_workflows, create_team_workflow))
        .routes(routes!(get_workflow, update_workflow, delete_workflow))
        .routes(routes!(list_states, add_state))
        .routes(routes!(update_state, delete_state))
        .routes(routes!(reorder_states))
        .routes(routes!(list_default_states, add_default_state))
        .routes(routes!(update_default_state))
        .routes(routes!(get_transitions, put_transitions))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct WorkflowQuery {
    /// Only this team's workflows.
    #[param(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    team_id: Option<String>,
}

/// The workflows of the teams the caller sees (optionally of one team), each with its
/// states by position.
#[utoipa::path(get, path = "/workflows", tag = "momentum", params(WorkflowQuery),
    responses((status = 200, body = Vec<WorkflowDetail>),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn list_workflows(
    State(st): State<MomentumState>,
    c: Caller,
    Query(q): Query<WorkflowQuery>,
) -> ListReply<WorkflowDetail> {
    let team_id = match q.team_id.as_deref() {
        None => None,
        Some(s) => {
            let mut check = Check::new();
            let id = check.uuid("team_id", s);
            check.finish()?;
            id
        }
    };
    Ok(Listed::all(
        workflows::list(&st, &c.scope, team_id).await?,
        "workflows",
    ))
}

/// Creates a workflow for a team (team admins, workspace owners and admins) with the six
/// default states; `is_default` makes it the team's default.
#[utoipa::path(post, path = "/workflows", tag = "momentum", request_body = NewWorkflow,
    responses((status = 201, body = WorkflowDetail), (status = 403, description = "FORBIDDEN"),
        (status = 409, description = "WORKFLOW_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn create_workflow(
    State(st): State<MomentumState>,
    c: Caller,
    Json(b): Json<NewWorkflow>,
) -> Reply<WorkflowDetail> {
    let body = NewTeamWorkflow {
        name: b.name,
        description: b.description,
        is_default: b.is_default,
    };
    Ok(created(
        workflows::create(&st, &c.scope, TeamRef::Body(b.team_id), body).await?,
        "workflow created",
    ))
}

/// The workflows of one team, each with its states (the original's path).
#[utoipa::path(get, path = "/teams/{id}/workflows", tag = "momentum", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<WorkflowDetail>), (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn list_team_workflows(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> ListReply<WorkflowDetail> {
    Ok(Listed::all(
        workflows::list_of_team(&st, &c.scope, id).await?,
        "workflows",
    ))
}

/// Creates a workflow for the team of the path (the original's path).
#[utoipa::path(post, path = "/teams/{id}/workflows", tag = "momentum", params(("id" = Uuid, Path)),
    request_body = NewTeamWorkflow,
    responses((status = 201, body = WorkflowDetail), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "WORKFLOW_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn create_team_workflow(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<NewTeamWorkflow>,
) -> Reply<WorkflowDetail> {
    Ok(created(
        workflows::create(&st, &c.scope, TeamRef::Path(id), b).await?,
        "workflow created",
    ))
}

/// One workflow with its states.
#[utoipa::path(get, path = "/workflows/{id}", tag = "momentum", params(("id" = Uuid, Path)),
    responses((status = 200, body = WorkflowDetail), (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn get_workflow(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Reply<WorkflowDetail> {
    Ok(ok(workflows::get(&st, &c.scope, id).await?, "workflow"))
}

/// Changes a workflow's name, description or default flag (team admins, workspace owners
/// and admins).
#[utoipa::path(put, path = "/workflows/{id}", tag = "momentum", params(("id" = Uuid, Path)),
    request_body = WorkflowChange,
    responses((status = 200, body = WorkflowDetail), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "WORKFLOW_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn update_workflow(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<WorkflowChange>,
) -> Reply<WorkflowDetail> {
    Ok(ok(
        workflows::update(&st, &c.scope, id, b).await?,
        "workflow updated",
    ))
}

/// Deletes a workflow with its states and rules (team admins, workspace owners and admins);
/// not the team's default, not while issues use it.
#[utoipa::path(delete, path = "/workflows/{id}", tag = "momentum", params(("id" = Uuid, Path)),
    responses((status = 200), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "DEFAULT_WORKFLOW or IN_USE; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn delete_workflow(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Reply<()> {
    workflows::delete(&st, &c.scope, id).await?;
    Ok(ok((), "workflow deleted"))
}

/// The states of a workflow, by position.
#[utoipa::path(get, path = "/workflows/{id}/states", tag = "momentum", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<WorkflowState>), (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn list_states(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> ListReply<WorkflowState> {
    Ok(Listed::all(
        workflows::states(&st, &c.scope, Target::Workflow(id)).await?,
        "workflow states",
    ))
}

/// Adds a state to a workflow (team admins, workspace owners and admins).
#[utoipa::path(post, path = "/workflows/{id}/states", tag = "momentum", params(("id" = Uuid, Path)),
    request_body = NewState,
    responses((status = 201, body = WorkflowState), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "STATE_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn add_state(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<NewState>,
) -> Reply<WorkflowState> {
    Ok(created(
        workflows::add_state(&st, &c.scope, Target::Workflow(id), b).await?,
        "workflow state created",
    ))
}

/// Changes a state (team admins, workspace owners and admins).
#[utoipa::path(put, path = "/workflows/{id}/states/{state_id}", tag = "momentum",
    params(("id" = Uuid, Path), ("state_id" = Uuid, Path)), request_body = StateChange,
    responses((status = 200, body = WorkflowState), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "STATE_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn update_state(
    State(st): State<MomentumState>,
    c: Caller,
    Path((id, state_id)): Path<(Uuid, Uuid)>,
    Json(b): Json<StateChange>,
) -> Reply<WorkflowState> {
    Ok(ok(
        workflows::update_state(&st, &c.scope, Target::Workflow(id), state_id, b).await?,
        "workflow state updated",
    ))
}

/// Deletes a state (team admins, workspace owners and admins); not the last one, not while
/// issues are in it or transition rules name it.
#[utoipa::path(delete, path = "/workflows/{id}/states/{state_id}", tag = "momentum",
    params(("id" = Uuid, Path), ("state_id" = Uuid, Path)),
    responses((status = 200), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "LAST_STATE or IN_USE; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn delete_state(
    State(st): State<MomentumState>,
    c: Caller,
    Path((id, state_id)): Path<(Uuid, Uuid)>,
) -> Reply<()> {
    workflows::delete_state(&st, &c.scope, Target::Workflow(id), state_id).await?;
    Ok(ok((), "workflow state deleted"))
}

/// Puts the workflow's states in the given order (team admins, workspace owners and
/// admins); answers the states by their new positions.
#[utoipa::path(put, path = "/workflows/{id}/states/reorder", tag = "momentum",
    params(("id" = Uuid, Path)), request_body = StateOrder,
    responses((status = 200, body = Vec<WorkflowState>), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn reorder_states(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<StateOrder>,
) -> ListReply<WorkflowState> {
    Ok(Listed::all(
        workflows::reorder(&st, &c.scope, Target::Workflow(id), b).await?,
        "workflow states reordered",
    ))
}

/// The states of the team's default workflow (the original's path).
#[utoipa::path(get, path = "/teams/{id}/workflows/default/states", tag = "momentum",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<WorkflowState>), (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn list_default_states(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> ListReply<WorkflowState> {
    Ok(Listed::all(
        workflows::states(&st, &c.scope, Target::TeamDefault(id)).await?,
        "workflow states",
    ))
}

/// Adds a state to the team's default workflow (the original's path).
#[utoipa::path(post, path = "/teams/{id}/workflows/default/states", tag = "momentum",
    params(("id" = Uuid, Path)), request_body = NewState,
    responses((status = 201, body = WorkflowState), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "STATE_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn add_default_state(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<NewState>,
) -> Reply<WorkflowState> {
    Ok(created(
        workflows::add_state(&st, &c.scope, Target::TeamDefault(id), b).await?,
        "workflow state created",
    ))
}

/// Changes a state of the team's default workflow (the original's path).
#[utoipa::path(put, path = "/teams/{id}/workflows/default/states/{state_id}", tag = "momentum",
    params(("id" = Uuid, Path), ("state_id" = Uuid, Path)), request_body = StateChange,
    responses((status = 200, body = WorkflowState), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"), (status = 409, description = "STATE_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn update_default_state(
    State(st): State<MomentumState>,
    c: Caller,
    Path((id, state_id)): Path<(Uuid, Uuid)>,
    Json(b): Json<StateChange>,
) -> Reply<WorkflowState> {
    Ok(ok(
        workflows::update_state(&st, &c.scope, Target::TeamDefault(id), state_id, b).await?,
        "workflow state updated",
    ))
}

/// The workflow's transition rules (none: every move allowed).
#[utoipa::path(get, path = "/workflows/{id}/transitions", tag = "momentum",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Transitions), (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn get_transitions(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Reply<Transitions> {
    Ok(ok(
        workflows::transitions(&st, &c.scope, id).await?,
        "transition rules",
    ))
}

/// Replaces the workflow's transition rules (workspace owners and admins).
#[utoipa::path(put, path = "/workflows/{id}/transitions", tag = "momentum",
    params(("id" = Uuid, Path)), request_body = TransitionSet,
    responses((status = 200, body = Transitions), (status = 403, description = "FORBIDDEN"),
        (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn put_transitions(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<TransitionSet>,
) -> Reply<Transitions> {
    Ok(ok(
        workflows::replace_transitions(&st, &c.scope, id, b).await?,
        "transition rules replaced",
    ))
}
