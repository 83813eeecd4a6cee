//! `/project-statuses` (the original's routes): members read, workspace owners and admins
//! create, change and delete.

use axum::extract::State;
use trellis_kernel::extract::{Json, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::Caller;
use crate::envelope::{ListReply, Listed, Reply, created, ok};
use crate::service::project_statuses::{self, NewStatus, StatusChange};
use crate::state::MomentumState;
use crate::store::project_statuses::ProjectStatus;

pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
}

/// The project statuses of the caller's workspace, in display order.
#[utoipa::path(get, path = "/project-statuses", tag = "momentum",
    responses((status = 200, body = Vec<ProjectStatus>),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn list(State(st): State<MomentumState>, c: Caller) -> ListReply<ProjectStatus> {
    Ok(Listed::all(
        project_statuses::list(&st, &c.scope).await?,
        "project statuses",
    ))
}

/// Creates a project status (workspace owners and admins); `position` defaults to after the
/// last one.
#[utoipa::path(post, path = "/project-statuses", tag = "momentum", request_body = NewStatus,
    responses((status = 201, body = ProjectStatus), (status = 403, description = "FORBIDDEN (not an admin)"),
        (status = 409, description = "PROJECT_STATUS_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn create(
    State(st): State<MomentumState>,
    c: Caller,
    Json(b): Json<NewStatus>,
) -> Reply<ProjectStatus> {
    Ok(created(
        project_statuses::create(&st, &c.scope, &b).await?,
        "project status created",
    ))
}

/// One project status.
#[utoipa::path(get, path = "/project-statuses/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Project status id")),
    responses((status = 200, body = ProjectStatus),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn get(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Reply<ProjectStatus> {
    Ok(ok(
        project_statuses::get(&st, &c.scope, id).await?,
        "project status",
    ))
}

/// Changes a project status (workspace owners and admins; absent fields stay).
#[utoipa::path(put, path = "/project-statuses/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Project status id")), request_body = StatusChange,
    responses((status = 200, body = ProjectStatus), (status = 403, description = "FORBIDDEN (not an admin)"),
        (status = 409, description = "PROJECT_STATUS_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn update(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<StatusChange>,
) -> Reply<ProjectStatus> {
    Ok(ok(
        project_statuses::update(&st, &c.scope, id, &b).await?,
        "project status updated",
    ))
}

/// Deletes a project status no project has (workspace owners and admins).
#[utoipa::path(delete, path = "/project-statuses/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Project status id")),
    responses((status = 200), (status = 403, description = "FORBIDDEN (not an admin)"),
        (status = 409, description = "IN_USE; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn delete(State(st): State<MomentumState>, c: Caller, Path(id): Path<Uuid>) -> Reply<()> {
    project_statuses::delete(&st, &c.scope, id).await?;
    Ok(ok((), "project status deleted"))
}
