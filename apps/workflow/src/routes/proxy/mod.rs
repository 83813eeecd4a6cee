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

/// A 1-based page request (`page` ≥ 1, `page_size` 1 to 100, default 20).
fn paging(page: Option<i64>, size: Option<i64>) -> Result<(i64, i64), crate::error::WorkflowError> {
    let (page, size) = (page.unwrap_or(1), size.unwrap_or(20));
    if page < 1 || !(1..=100).contains(&size) {
        return Err(crate::error::WorkflowError::field(
            if page < 1 { "page" } else { "page_size" },
            "out_of_range",
            "page is 1 or more and page_size 1 to 100",
        ));
    }
    Ok((page, size))
}
