//! `/api/v1/users`: public code sending and logout, auth, the caller's own account, admin.

mod admin;
mod auth;
mod me;
mod public;

use utoipa_axum::router::OpenApiRouter;

use crate::state::WorkflowState;

/// Every `/api/v1/users` route with its OpenAPI entry.
pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .merge(public::router())
        .merge(auth::router())
        .merge(me::router())
        .merge(admin::router())
}
