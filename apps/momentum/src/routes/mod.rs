//! Momentum's HTTP surface: handlers extract, call one service function and answer in the
//! envelope. Paths as seed 002 writes them, plus the original's aliases (originals §2.1).

pub mod access;
mod auth;
mod comments;
mod cycles;
mod invitations;
mod issues;
mod labels;
mod project_statuses;
mod projects;
mod sync;
mod teams;
mod workflows;
mod workspaces;

use utoipa_axum::router::OpenApiRouter;

use crate::state::MomentumState;

/// Every Momentum route.
pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(sync::router())
        .merge(workspaces::router())
        .merge(invitations::router())
        .merge(comments::router())
        .merge(cycles::router())
        .merge(labels::router())
        .merge(project_statuses::router())
        .merge(projects::router())
        .merge(teams::router())
        .merge(workflows::router())
        .merge(issues::router())
}
