//! `/api/v1/workflow/definitions*` and `/api/v1/workflow/step-types`.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use trellis_identity::Principal;
use trellis_identity::admin::Page;
use trellis_kernel::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::Deleted;
use crate::domain::definition::DefinitionBody;
use crate::envelope::{Done, Reply};
use crate::service::definitions as svc;
use crate::state::WorkflowState;
use crate::store::definitions::{Definition, Version};

pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(versions))
        .routes(routes!(step_types))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Substring of the name (case-insensitive), at most 100 characters.
    #[param(max_length = 100)]
    pub search: Option<String>,
    /// 1-based page (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Page size (default 20, 1 to 100).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

/// The caller's workflow definitions (everyone's for admins), most recently saved first.
#[utoipa::path(get, path = "/api/v1/workflow/definitions", tag = "workflow", params(ListQuery),
    responses((status = 200, body = Page<Definition>)), security(("bearer" = [])))]
async fn list(
    State(s): State<WorkflowState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> Reply<Page<Definition>> {
    let (page, size) = (q.page.unwrap_or(1), q.page_size.unwrap_or(20));
    if page < 1 || !(1..=100).contains(&size) {
        return Err(crate::error::WorkflowError::field(
            if page < 1 { "page" } else { "page_size" },
            "out_of_range",
            "page is 1 or more and page_size 1 to 100",
        )
        .into());
    }
    let search = q.search.filter(|s| !s.trim().is_empty());
    if search.as_ref().is_some_and(|s| s.chars().count() > 100) {
        return Err(crate::error::WorkflowError::field(
            "search",
            "too_long",
            "search is at most 100 characters",
        )
        .into());
    }
    let owner = (!p.role.is_admin()).then_some(p.user_id);
    let (items, total) = crate::store::definitions::list(
        &s.platform.db,
        owner,
        search.as_deref(),
        size,
        (page - 1).saturating_mul(size),
    )
    .await
    .map_err(crate::error::WorkflowError::from)?;
    Ok(Done::ok(
        crate::routes::page_of(items, total, page, size),
        "获取成功",
    ))
}

/// Create a definition (version 1). 422 lists every problem: cycles, unknown step types,
/// missing dependencies, parameters that fail the type's JSON Schema, unreachable steps.
/// 402 when the plan's `workflow_definitions` are used up; 409 `DEFINITION_EXISTS` for a
/// name already used.
#[utoipa::path(post, path = "/api/v1/workflow/definitions", tag = "workflow", request_body = DefinitionBody,
    responses((status = 201, body = Definition), (status = 402, description = "Plan limit reached"),
              (status = 409, description = "Name in use"), (status = 422, description = "Invalid definition")),
    security(("bearer" = [])))]
async fn create(
    State(s): State<WorkflowState>,
    p: Principal,
    Json(b): Json<DefinitionBody>,
) -> Reply<Definition> {
    Ok(Done::created(
        svc::create(&s, &p, b).await?,
        "工作流定义已创建",
    ))
}

/// One definition (its current version).
#[utoipa::path(get, path = "/api/v1/workflow/definitions/{id}", tag = "workflow",
    params(("id" = Uuid, Path, description = "Definition id")),
    responses((status = 200, body = Definition), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn get(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> Reply<Definition> {
    Ok(Done::ok(svc::get(&s, &p, id).await?, "获取成功"))
}

/// Save a new version (the old ones stay; running executions keep theirs).
#[utoipa::path(put, path = "/api/v1/workflow/definitions/{id}", tag = "workflow", request_body = DefinitionBody,
    params(("id" = Uuid, Path, description = "Definition id")),
    responses((status = 200, body = Definition), (status = 404, description = "Not found"),
              (status = 409, description = "Name in use"), (status = 422, description = "Invalid definition")),
    security(("bearer" = [])))]
async fn update(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(b): Json<DefinitionBody>,
) -> Reply<Definition> {
    Ok(Done::ok(
        svc::update(&s, &p, id, b).await?,
        "工作流定义已更新",
    ))
}

/// Delete a definition and its versions; its executions stay.
#[utoipa::path(delete, path = "/api/v1/workflow/definitions/{id}", tag = "workflow",
    params(("id" = Uuid, Path, description = "Definition id")),
    responses((status = 200, body = Deleted), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn delete(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> Reply<Deleted> {
    svc::delete(&s, &p, id).await?;
    Ok(Done::ok(Deleted { id }, "工作流定义已删除"))
}

/// Every saved version, newest first.
#[utoipa::path(get, path = "/api/v1/workflow/definitions/{id}/versions", tag = "workflow",
    params(("id" = Uuid, Path, description = "Definition id")),
    responses((status = 200, body = Vec<Version>), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn versions(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> Reply<Vec<Version>> {
    Ok(Done::ok(svc::versions(&s, &p, id).await?, "获取成功"))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StepTypeView {
    /// The type name used in `steps[].type`.
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema (draft 2020-12) of its `params`.
    #[schema(value_type = Object)]
    pub params_schema: serde_json::Value,
}

/// The step types with their parameter JSON Schemas (docs/WORKFLOWS.md explains them).
#[utoipa::path(get, path = "/api/v1/workflow/step-types", tag = "workflow",
    responses((status = 200, body = Vec<StepTypeView>)), security(("bearer" = [])))]
async fn step_types(_p: Principal) -> Reply<Vec<StepTypeView>> {
    let list = crate::steps::schema::catalogue()
        .into_iter()
        .map(|t| StepTypeView {
            name: t.name.to_string(),
            description: t.description.to_string(),
            params_schema: t.params_schema,
        })
        .collect();
    Ok(Done::ok(list, "获取成功"))
}
