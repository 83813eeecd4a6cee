//! `/projects` (seed 002 "项目管理"): offset-paged list with filters, create, get, update,
//! delete.

use axum::extract::State;
use serde::Deserialize;
use trellis_kernel::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::access::Caller;
use crate::domain::Priority;
use crate::envelope::{ListReply, Listed, Reply, created, ok};
use crate::service::projects::{self, NewProject, ProjectChange, ProjectQuery};
use crate::state::MomentumState;
use crate::store::projects::ProjectView;

pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
}

/// `GET /projects` filters and page.
#[derive(Deserialize, utoipa::IntoParams)]
struct ListQuery {
    /// Only projects with this status.
    #[param(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    status_id: Option<String>,
    /// Only projects owned by this user.
    #[param(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    owner_id: Option<String>,
    /// Only projects of this priority: `none, low, medium, high, urgent` (any case).
    #[param(value_type = Option<Priority>)]
    priority: Option<String>,
    /// Only projects whose name, key or description contains this (any case, at most 100
    /// characters; blank: no filter).
    #[param(
        max_length = 100,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    search: Option<String>,
    /// 1-based page (default 1).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000000)]
    page: Option<String>,
    /// Projects per page, 1–100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    per_page: Option<String>,
}

/// The caller's workspace's projects, newest first, with their status, owner and issue
/// count; `meta.pagination` says where the page is.
#[utoipa::path(get, path = "/projects", tag = "momentum", params(ListQuery),
    responses((status = 200, body = Vec<ProjectView>),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn list(
    State(st): State<MomentumState>,
    c: Caller,
    Query(q): Query<ListQuery>,
) -> ListReply<ProjectView> {
    let q = ProjectQuery {
        status_id: q.status_id,
        owner_id: q.owner_id,
        priority: q.priority,
        search: q.search,
        page: q.page,
        per_page: q.per_page,
    };
    let (items, pagination) = projects::list(&st, &c.scope, &q).await?;
    Ok(Listed {
        items,
        pagination: Some(pagination),
        next_cursor: None,
        message: "projects",
    })
}

/// Creates a project (members and admins). Only `name` and `project_key` are needed: the
/// status defaults to the workspace's first `backlog` status, the owner to the caller, the
/// priority to `none`.
#[utoipa::path(post, path = "/projects", tag = "momentum", request_body = NewProject,
    responses((status = 201, body = ProjectView), (status = 403, description = "FORBIDDEN (guests)"),
        (status = 409, description = "PROJECT_KEY_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn create(
    State(st): State<MomentumState>,
    c: Caller,
    Json(b): Json<NewProject>,
) -> Reply<ProjectView> {
    Ok(created(
        projects::create(&st, &c.scope, &b).await?,
        "project created",
    ))
}

/// One project with its status, owner and issue count.
#[utoipa::path(get, path = "/projects/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Project id")),
    responses((status = 200, body = ProjectView),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")), security(("bearer" = [])))]
async fn get(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Reply<ProjectView> {
    Ok(ok(projects::get(&st, &c.scope, id).await?, "project"))
}

/// Changes a project (members and admins; absent fields stay, `null` clears description,
/// target date, owner and roadmap).
#[utoipa::path(put, path = "/projects/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Project id")), request_body = ProjectChange,
    responses((status = 200, body = ProjectView), (status = 403, description = "FORBIDDEN (guests)"),
        (status = 409, description = "PROJECT_KEY_EXISTS; NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn update(
    State(st): State<MomentumState>,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<ProjectChange>,
) -> Reply<ProjectView> {
    Ok(ok(
        projects::update(&st, &c.scope, id, &b).await?,
        "project updated",
    ))
}

/// Deletes a project (members and admins); its issues stay, without a project.
#[utoipa::path(delete, path = "/projects/{id}", tag = "momentum",
    params(("id" = Uuid, Path, description = "Project id")),
    responses((status = 200), (status = 403, description = "FORBIDDEN (guests)"),
        (status = 409, description = "NO_WORKSPACE: the caller belongs to no workspace")),
    security(("bearer" = [])))]
async fn delete(State(st): State<MomentumState>, c: Caller, Path(id): Path<Uuid>) -> Reply<()> {
    projects::delete(&st, &c.scope, id).await?;
    Ok(ok((), "project deleted"))
}
