//! `/api/v1/subscription`: the plans catalogue, the caller's subscription and usage, and
//! the admin view of any user's.

mod admin;
mod mine;

use utoipa_axum::router::OpenApiRouter;

use crate::state::WorkflowState;

/// Every `/api/v1/subscription` route with its OpenAPI entry.
pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .merge(mine::router())
        .merge(admin::router())
}
