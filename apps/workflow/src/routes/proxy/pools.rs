//! `/api/v1/proxy/pools`, `/api/v1/proxy/pools/{id}`, `…/status` and `…/test`.

use axum::extract::State;
use serde::Deserialize;
use trellis_identity::Principal;
use trellis_identity::admin::Page;
use trellis_kernel::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::envelope::{Done, Reply};
use crate::proxy::pool::PoolBody;
use crate::proxy::validate::{TestReport, TestRequest};
use crate::routes::paging;
use crate::routes::workflow::Deleted;
use crate::service::proxy::{self as svc, PoolStatus};
use crate::state::WorkflowState;
use crate::store::proxy::Pool;

pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(status))
        .routes(routes!(test))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// 1-based page (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Page size (default 20, 1 to 100).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

/// The caller's proxy pools (everyone's for admins), newest first.
#[utoipa::path(get, path = "/api/v1/proxy/pools", tag = "workflow", params(ListQuery),
    responses((status = 200, body = Page<Pool>)), security(("bearer" = [])))]
async fn list(
    State(s): State<WorkflowState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> Reply<Page<Pool>> {
    let (page, size) = paging(q.page, q.page_size)?;
    let owner = (!p.role.is_admin()).then_some(p.user_id);
    let (items, total) =
        crate::store::proxy::pools(&s.platform.db, owner, size, (page - 1).saturating_mul(size))
            .await
            .map_err(crate::error::WorkflowError::from)?;
    Ok(Done::ok(
        crate::routes::page_of(items, total, page, size),
        "获取成功",
    ))
}

/// Create a pool (402 beyond the plan's `proxy_pools`; 409 `POOL_EXISTS` for a name in use).
#[utoipa::path(post, path = "/api/v1/proxy/pools", tag = "workflow", request_body = PoolBody,
    responses((status = 201, body = Pool), (status = 402, description = "Plan limit reached"),
              (status = 409, description = "Name in use"), (status = 422, description = "Invalid settings")),
    security(("bearer" = [])))]
async fn create(
    State(s): State<WorkflowState>,
    p: Principal,
    Json(b): Json<PoolBody>,
) -> Reply<Pool> {
    Ok(Done::created(svc::create(&s, &p, b).await?, "代理池已创建"))
}

/// One pool.
#[utoipa::path(get, path = "/api/v1/proxy/pools/{id}", tag = "workflow",
    params(("id" = Uuid, Path, description = "Pool id")),
    responses((status = 200, body = Pool), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn get(State(s): State<WorkflowState>, p: Principal, Path(id): Path<Uuid>) -> Reply<Pool> {
    Ok(Done::ok(svc::get(&s, &p, id).await?, "获取成功"))
}

/// Replace a pool's name, strategy and settings.
#[utoipa::path(put, path = "/api/v1/proxy/pools/{id}", tag = "workflow", request_body = PoolBody,
    params(("id" = Uuid, Path, description = "Pool id")),
    responses((status = 200, body = Pool), (status = 404, description = "Not found"),
              (status = 409, description = "Name in use"), (status = 422, description = "Invalid settings")),
    security(("bearer" = [])))]
async fn update(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(b): Json<PoolBody>,
) -> Reply<Pool> {
    Ok(Done::ok(svc::update(&s, &p, id, b).await?, "代理池已更新"))
}

/// Delete a pool with its proxies and their health.
#[utoipa::path(delete, path = "/api/v1/proxy/pools/{id}", tag = "workflow",
    params(("id" = Uuid, Path, description = "Pool id")),
    responses((status = 200, body = Deleted), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn delete(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> Reply<Deleted> {
    svc::delete(&s, &p, id).await?;
    Ok(Done::ok(Deleted { id }, "代理池已删除"))
}

/// Counts by state, median latency, success rate and health per target host.
#[utoipa::path(get, path = "/api/v1/proxy/pools/{id}/status", tag = "workflow",
    params(("id" = Uuid, Path, description = "Pool id")),
    responses((status = 200, body = PoolStatus), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn status(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> Reply<PoolStatus> {
    Ok(Done::ok(svc::status(&s, &p, id).await?, "获取成功"))
}

/// Test every proxy of the pool against a judge URL (or a target host), concurrently;
/// updates latency, anonymity and state. The body is optional.
#[utoipa::path(post, path = "/api/v1/proxy/pools/{id}/test", tag = "workflow", request_body = Option<TestRequest>,
    params(("id" = Uuid, Path, description = "Pool id")),
    responses((status = 200, body = TestReport), (status = 404, description = "Not found"),
              (status = 422, description = "Invalid or refused URL")), security(("bearer" = [])))]
async fn test(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
    body: axum::body::Bytes,
) -> Reply<TestReport> {
    svc::get(&s, &p, id).await?;
    let req: TestRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TestRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            crate::error::WorkflowError::field("body", "invalid_json", e.to_string())
        })?
    };
    if req.url.as_ref().is_some_and(|u| u.chars().count() > 2048)
        || req.target.as_ref().is_some_and(|t| t.chars().count() > 253)
    {
        return Err(crate::error::WorkflowError::field(
            "url",
            "too_long",
            "url ≤ 2048 and target ≤ 253 characters",
        )
        .into());
    }
    if req.concurrency.is_some_and(|c| !(1..=200).contains(&c)) {
        return Err(
            crate::error::WorkflowError::field("concurrency", "out_of_range", "1 to 200").into(),
        );
    }
    if req.timeout_seconds.is_some_and(|t| !(1..=60).contains(&t)) {
        return Err(crate::error::WorkflowError::field(
            "timeout_seconds",
            "out_of_range",
            "1 to 60",
        )
        .into());
    }
    Ok(Done::ok(
        s.proxies.test_pool(id, &req, None).await?,
        "测试完成",
    ))
}
