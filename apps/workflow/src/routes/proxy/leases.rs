//! `POST /api/v1/proxy/pools/{id}/lease` and `POST /api/v1/proxy/leases/{lease_id}/report`:
//! the one lease/report path that workflow steps and collectors use too.

use axum::extract::State;
use trellis_identity::Principal;
use trellis_kernel::extract::{Json, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::envelope::{Done, Reply};
use crate::proxy::live::Lease;
use crate::service::proxy::{self as svc, LeaseBody, ReportBody, Reported};
use crate::state::WorkflowState;

pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .routes(routes!(lease))
        .routes(routes!(report))
}

/// Lease a proxy for a target host by the pool's strategy (409 `NO_PROXY_AVAILABLE` when
/// every proxy is cooling, retired or filtered out for that host). Credentials are never
/// shown.
#[utoipa::path(post, path = "/api/v1/proxy/pools/{id}/lease", tag = "workflow", request_body = LeaseBody,
    params(("id" = Uuid, Path, description = "Pool id")),
    responses((status = 200, body = Lease), (status = 404, description = "Not found"),
              (status = 409, description = "No proxy usable for the target")), security(("bearer" = [])))]
async fn lease(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(b): Json<LeaseBody>,
) -> Reply<Lease> {
    Ok(Done::ok(svc::lease(&s, &p, id, b).await?, "租用成功"))
}

/// Report how a lease went (once). Blocks cool the proxy down for that host only.
#[utoipa::path(post, path = "/api/v1/proxy/leases/{lease_id}/report", tag = "workflow", request_body = ReportBody,
    params(("lease_id" = Uuid, Path, description = "Lease id")),
    responses((status = 200, body = Reported), (status = 404, description = "Unknown, expired or reported lease")),
    security(("bearer" = [])))]
async fn report(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(lease_id): Path<Uuid>,
    Json(b): Json<ReportBody>,
) -> Reply<Reported> {
    Ok(Done::ok(svc::report(&s, &p, lease_id, b).await?, "已记录"))
}
