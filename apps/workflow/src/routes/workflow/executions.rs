//! `/api/v1/workflow/executions*`: start (with `Idempotency-Key`), list, read, cancel, retry.

use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use trellis_engine::RunStatus;
use trellis_identity::Principal;
use trellis_identity::admin::Page;
use trellis_kernel::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::envelope::{Done, Reply};
use crate::error::WorkflowError;
use crate::service::executions::{self as svc, Execution, ExecutionDetail, ListFilter};
use crate::state::WorkflowState;

pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .routes(routes!(list, start))
        .routes(routes!(get))
        .routes(routes!(cancel))
        .routes(routes!(retry))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StartBody {
    /// A definition the caller owns.
    pub definition_id: Uuid,
    /// The execution's input (any JSON; default `{}`), at most the request body limit.
    #[serde(default)]
    pub input: Option<Value>,
    /// The same key (per user) returns the same execution instead of starting another;
    /// also accepted as the `Idempotency-Key` header. 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub idempotency_key: Option<String>,
}

/// Start an execution: the monthly quota is reserved in the same transaction as the enqueue
/// (402 `QUOTA_EXCEEDED` with the meter, limit and reset time when used up). Over
/// `concurrent_executions` the execution is accepted and waits `queued`. A repeated
/// idempotency key answers 200 with the first execution.
#[utoipa::path(post, path = "/api/v1/workflow/executions", tag = "workflow", request_body = StartBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key, same execution")),
    responses((status = 201, body = Execution), (status = 200, body = Execution, description = "Idempotent repeat"),
              (status = 402, description = "Quota used up"), (status = 422, description = "Invalid request")),
    security(("bearer" = [])))]
async fn start(
    State(s): State<WorkflowState>,
    p: Principal,
    headers: HeaderMap,
    Json(b): Json<StartBody>,
) -> Reply<Execution> {
    let header_key = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| {
                    WorkflowError::field(
                        "Idempotency-Key",
                        "invalid",
                        "the Idempotency-Key header must be visible ASCII",
                    )
                })?
                .to_string(),
        ),
        None => None,
    };
    let key = b.idempotency_key.or(header_key);
    let input = b.input.unwrap_or_else(|| Value::Object(Default::default()));
    let started = svc::start(&s, &p, b.definition_id, input, key).await?;
    Ok(if started.created {
        Done::created(started.execution, "执行已启动")
    } else {
        Done::ok(started.execution, "执行已存在")
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Only this definition's executions.
    pub definition_id: Option<Uuid>,
    /// Only executions in this state.
    pub status: Option<RunStatus>,
    /// Created at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// 1-based page (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Page size (default 20, 1 to 100).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

/// The caller's executions (everyone's for admins), newest first.
#[utoipa::path(get, path = "/api/v1/workflow/executions", tag = "workflow", params(ListQuery),
    responses((status = 200, body = Page<Execution>)), security(("bearer" = [])))]
async fn list(
    State(s): State<WorkflowState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> Reply<Page<Execution>> {
    let f = ListFilter {
        definition_id: q.definition_id,
        status: q.status,
        from: q.from,
        to: q.to,
    };
    Ok(Done::ok(
        svc::list(&s, &p, f, q.page.unwrap_or(1), q.page_size.unwrap_or(20)).await?,
        "获取成功",
    ))
}

/// One execution: state, per-step records of every attempt (tries, timings, outputs,
/// errors, logs) and every state transition.
#[utoipa::path(get, path = "/api/v1/workflow/executions/{execution_id}", tag = "workflow",
    params(("execution_id" = Uuid, Path, description = "Execution id")),
    responses((status = 200, body = ExecutionDetail), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn get(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> Reply<ExecutionDetail> {
    Ok(Done::ok(svc::detail(&s, &p, id).await?, "获取成功"))
}

/// Cancel: a queued execution ends `cancelled` at once; a running one goes `cancelling` and
/// ends `cancelled` within two heartbeat intervals. 409 `EXECUTION_STATE` once it has ended.
#[utoipa::path(post, path = "/api/v1/workflow/executions/{execution_id}/cancel", tag = "workflow",
    params(("execution_id" = Uuid, Path, description = "Execution id")),
    responses((status = 200, body = Execution), (status = 404, description = "Not found"), (status = 409, description = "Already ended")),
    security(("bearer" = [])))]
async fn cancel(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> Reply<Execution> {
    Ok(Done::ok(svc::cancel(&s, &p, id).await?, "已请求取消"))
}

#[derive(Deserialize, utoipa::ToSchema, Default)]
pub struct RetryBody {
    /// Restart from this step (it and its dependents run again; other outputs are reused).
    pub from_step: Option<String>,
    /// Run every step again (default false: restart from the failed steps).
    #[serde(default)]
    pub from_start: bool,
    /// Run the definition's newest version (outputs reused only for unchanged steps).
    #[serde(default)]
    pub use_latest_definition: bool,
}

/// Retry a failed, timed-out, crashed or cancelled execution as its next attempt (the
/// earlier attempts' step records are kept). Counts against the monthly quota.
#[utoipa::path(post, path = "/api/v1/workflow/executions/{execution_id}/retry", tag = "workflow",
    params(("execution_id" = Uuid, Path, description = "Execution id")), request_body = RetryBody,
    responses((status = 200, body = Execution), (status = 404, description = "Not found"),
              (status = 409, description = "Not retryable in its state"), (status = 402, description = "Quota used up")),
    security(("bearer" = [])))]
async fn retry(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
    body: Option<Json<RetryBody>>,
) -> Reply<Execution> {
    let b = body.map(|Json(b)| b).unwrap_or_default();
    Ok(Done::ok(
        svc::retry(
            &s,
            &p,
            id,
            b.from_step,
            b.from_start,
            b.use_latest_definition,
        )
        .await?,
        "已重新排队",
    ))
}
