//! `/api/v1/proxy`: pools (seed 000 "代理池管理 API": list, create, status, test; plus read,
//! edit, delete), their proxies, and leases with their reports (issue 11).

mod leases;
mod pools;
mod proxies;

use utoipa_axum::router::OpenApiRouter;

use crate::state::WorkflowState;

/// Every `/api/v1/proxy` route with its OpenAPI entry.
pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .merge(pools::router())
        .merge(proxies::router())
        .merge(leases::router())
}
