//! `/api/v1/plans`: create a plan task (`POST /plans`, 202), list, read, delete, apply.
//! The streaming routes (`/plans/stream`) are in [`crate::routes::stream`].

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use trellis_identity::Principal;
use trellis_identity::admin::Page;
use trellis_kernel::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::envelope::{Done, Reply};
use crate::error::DietError;
use crate::routes::{Deleted, page_of, paging};
use crate::service::plans::{self as svc, Applied, ApplyBody};
use crate::service::tasks::{self as task_svc, Created, PlanRequest};
use crate::state::DietState;
use crate::store::plans::{Plan, PlanFilter, PlanSummary};

/// The routes of `/api/v1/plans` (without the streams).
pub fn router() -> OpenApiRouter<DietState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, delete))
        .routes(routes!(apply))
        .merge(crate::routes::stream::router())
}

/// The `Idempotency-Key` header, checked.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, DietError> {
    let raw = headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    task_svc::idempotency_key(raw)
}

/// The species filter of `GET /plans`.
#[derive(Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = DietPetType)]
pub enum PetType {
    /// Cats.
    Cat,
    /// Dogs.
    Dog,
}

impl PetType {
    fn as_str(self) -> &'static str {
        match self {
            PetType::Cat => "cat",
            PetType::Dog => "dog",
        }
    }
}

/// Filters and page of `GET /plans`.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// `cat` or `dog`.
    pub pet_type: Option<PetType>,
    /// One pet's plans.
    pub pet_id: Option<Uuid>,
    /// 1-based page (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Page size (default 20, 1 to 100).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

/// The caller's plans, newest first (without their documents; `GET /plans/{id}` has it).
#[utoipa::path(get, path = "/api/v1/plans", tag = "dietplan", params(ListQuery),
    responses((status = 200, body = Page<PlanSummary>), (status = 422, description = "Bad filter")),
    security(("bearer" = [])))]
async fn list(
    State(s): State<DietState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> Reply<Page<PlanSummary>> {
    let (page, size) = paging(q.page, q.page_size)?;
    let f = PlanFilter {
        pet_type: q.pet_type.map(PetType::as_str),
        pet_id: q.pet_id,
    };
    let (items, total) = svc::list(&s, &p, &f, page, size).await?;
    Ok(Done::ok(page_of(items, total, page, size), "获取成功"))
}

/// Create a plan task without streaming (202 with `task_id`; follow it at
/// `GET /plans/stream?task_id=`). At most `TRELLIS_DIET_MAX_ACTIVE_TASKS` (3) pending or
/// running tasks per user (429 beyond); a repeated `Idempotency-Key` answers the earlier task.
#[utoipa::path(post, path = "/api/v1/plans", tag = "dietplan", request_body = PlanRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe creation key")),
    responses((status = 202, body = Created), (status = 404, description = "Pet not found"),
              (status = 422, description = "Invalid pet info or a toxic food"),
              (status = 429, description = "Too many active tasks")),
    security(("bearer" = [])))]
async fn create(
    State(s): State<DietState>,
    p: Principal,
    headers: HeaderMap,
    Json(b): Json<PlanRequest>,
) -> Reply<Created> {
    let key = idempotency_key(&headers)?;
    let created = task_svc::create(&s, &p, &b, key).await?;
    let mut d = Done::ok(created, "任务已创建");
    d.status = StatusCode::ACCEPTED;
    Ok(d)
}

/// One plan with its `plan_data` (`PetDietPlan`).
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "dietplan",
    params(("id" = Uuid, Path, description = "Plan id")),
    responses((status = 200, body = Plan), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn get(State(s): State<DietState>, p: Principal, Path(id): Path<Uuid>) -> Reply<Plan> {
    Ok(Done::ok(svc::get(&s, &p, id).await?, "获取成功"))
}

/// Delete a plan (an active plan's future uncompleted meals go with it).
#[utoipa::path(delete, path = "/api/v1/plans/{id}", tag = "dietplan",
    params(("id" = Uuid, Path, description = "Plan id")),
    responses((status = 200, body = Deleted), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn delete(State(s): State<DietState>, p: Principal, Path(id): Path<Uuid>) -> Reply<Deleted> {
    svc::delete(&s, &p, id).await?;
    Ok(Done::ok(Deleted { id }, "饮食计划已删除"))
}

/// Make the plan the pet's active plan and generate its meal records (28 days from
/// `start_date`, default today); the pet's other plans are deactivated and its future
/// meals that were not fed are replaced. The body is optional.
#[utoipa::path(post, path = "/api/v1/plans/{id}/apply", tag = "dietplan", request_body = Option<ApplyBody>,
    params(("id" = Uuid, Path, description = "Plan id")),
    responses((status = 200, body = Applied), (status = 404, description = "Not found"),
              (status = 422, description = "No pet to apply it to")), security(("bearer" = [])))]
async fn apply(
    State(s): State<DietState>,
    p: Principal,
    Path(id): Path<Uuid>,
    b: Option<Json<Option<ApplyBody>>>,
) -> Reply<Applied> {
    let b = b.and_then(|Json(b)| b).unwrap_or_default();
    Ok(Done::ok(svc::apply(&s, &p, id, b).await?, "计划已应用"))
}
