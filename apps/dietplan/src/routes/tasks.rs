//! `/api/v1/tasks`: the caller's plan tasks, their result, and cancellation.

use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use trellis_identity::Principal;
use trellis_identity::admin::Page;
use trellis_kernel::extract::{Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::envelope::{Done, Reply};
use crate::error::DietError;
use crate::routes::{page_of, paging};
use crate::service::tasks::{self as svc, TaskView};
use crate::state::DietState;
use crate::store::tasks::{self, Task, TaskStatus};

/// The routes of `/api/v1/tasks`.
pub fn router() -> OpenApiRouter<DietState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get, cancel_by_delete))
        .routes(routes!(result))
        .routes(routes!(cancel))
}

/// Filter and page of `GET /tasks`.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// `pending|running|completed|failed|cancelled`.
    pub status: Option<TaskStatus>,
    /// 1-based page (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Page size (default 20, 1 to 100).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

/// The caller's tasks, newest first.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "dietplan", params(ListQuery),
    responses((status = 200, body = Page<Task>), (status = 422, description = "Bad filter")),
    security(("bearer" = [])))]
async fn list(
    State(s): State<DietState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> Reply<Page<Task>> {
    let (page, size) = paging(q.page, q.page_size)?;
    let status = q.status;
    let (items, total) = tasks::list(
        &s.platform.db,
        p.user_id,
        status,
        size,
        (page - 1).saturating_mul(size),
    )
    .await
    .map_err(DietError::from)?;
    Ok(Done::ok(page_of(items, total, page, size), "获取成功"))
}

/// One task with its nodes (status and tries per node) and LLM usage.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "dietplan",
    params(("id" = Uuid, Path, description = "Task id")),
    responses((status = 200, body = TaskView), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn get(State(s): State<DietState>, p: Principal, Path(id): Path<Uuid>) -> Reply<TaskView> {
    Ok(Done::ok(svc::view(&s, &p, id).await?, "获取成功"))
}

/// The completed task's output `{plan_id, plan_data}` (409 until it completes).
#[utoipa::path(get, path = "/api/v1/tasks/{id}/result", tag = "dietplan",
    params(("id" = Uuid, Path, description = "Task id")),
    responses((status = 200, body = Object), (status = 404, description = "Not found"),
              (status = 409, description = "Not completed")), security(("bearer" = [])))]
async fn result(State(s): State<DietState>, p: Principal, Path(id): Path<Uuid>) -> Reply<Value> {
    Ok(Done::ok(svc::result(&s, &p, id).await?, "获取成功"))
}

/// Cancel the task: its running node and any upstream LLM request stop at once, completed
/// nodes' outputs are kept (`output_data.partial`), it ends `cancelled`. 409 when finished.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/cancel", tag = "dietplan",
    params(("id" = Uuid, Path, description = "Task id")),
    responses((status = 200, body = Task), (status = 404, description = "Not found"),
              (status = 409, description = "Already finished")), security(("bearer" = [])))]
async fn cancel(State(s): State<DietState>, p: Principal, Path(id): Path<Uuid>) -> Reply<Task> {
    Ok(Done::ok(svc::cancel(&s, &p, id).await?, "任务已取消"))
}

/// Cancel the task (the seed's `DELETE /tasks/{id}`; same as `POST /tasks/{id}/cancel`).
#[utoipa::path(delete, path = "/api/v1/tasks/{id}", tag = "dietplan",
    params(("id" = Uuid, Path, description = "Task id")),
    responses((status = 200, body = Task), (status = 404, description = "Not found"),
              (status = 409, description = "Already finished")), security(("bearer" = [])))]
async fn cancel_by_delete(
    State(s): State<DietState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> Reply<Task> {
    Ok(Done::ok(svc::cancel(&s, &p, id).await?, "任务已取消"))
}
