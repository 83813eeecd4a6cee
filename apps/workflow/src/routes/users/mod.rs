//! `/api/v1/users`: public code sending and logout, auth, the caller's own account, admin.

mod admin;
mod auth;
mod me;
mod public;

use utoipa_axum::router::OpenApiRouter;

use crate::state::WorkflowState;

pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .merge(public::router())
        .merge(auth::router())
        .merge(me::router())
        .merge(admin::router())
}
