//! Workflow Platform (seed 000). This part serves the user-management API under
//! `/api/v1/users`, the suite's reference account API; subscriptions, workflows and proxy
//! pools follow in their own issues.

pub mod domain;
pub mod envelope;
pub mod error;
pub mod routes;
pub mod service;
pub mod state;
pub mod steps;
pub mod store;

use std::sync::Arc;

use trellis_identity::{AppContext, AppDescriptor};
use trellis_kernel::app::Routes;
use trellis_kernel::db::Migrations;
use trellis_kernel::envelope::Profile;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::state::WorkflowState;

/// The URL prefixes this app owns (its envelope renders their errors). `/api/v1` itself is
/// shared with the diet planner, so only the workflow's own resources are claimed.
pub const PREFIXES: &[&str] = &[
    "/api/v1/users",
    "/api/v1/subscription",
    "/api/v1/workflow",
    "/api/v1/proxy",
];

/// The app, as the server mounts it.
pub const APP: AppDescriptor = AppDescriptor {
    name: "workflow",
    seed: "seed 000",
    prefixes: PREFIXES,
    profile,
    migrations: Some(migrations),
    check_settings: domain::plans::check_settings,
    router,
};

fn profile() -> Arc<dyn Profile> {
    Arc::new(envelope::WorkflowProfile)
}

/// The workflow app's tables (versions 3xxx).
pub fn migrations() -> Migrations {
    Migrations::new(
        sqlx::migrate!("migrations/sqlite"),
        sqlx::migrate!("migrations/postgres"),
    )
}

#[derive(utoipa::OpenApi)]
#[openapi(
    tags((name = "workflow", description = "Workflow Platform (seed 000): user management"))
)]
struct ApiDoc;

/// The app's routes and their OpenAPI description.
pub fn router(ctx: &AppContext) -> Result<Routes, String> {
    domain::plans::install(&ctx.platform.config.vars)?;
    let state = WorkflowState {
        platform: ctx.platform.clone(),
        identity: ctx.identity.clone(),
    };
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::users::router())
        .merge(routes::subscription::router())
        .with_state(state)
        .split_for_parts();
    trellis_kernel::docs::document_app(&mut doc, "workflow", &envelope::openapi_envelope());
    Ok((router, doc))
}
