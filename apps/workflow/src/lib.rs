//! Workflow Platform (seed 000). This part serves the user-management API under
//! `/api/v1/users`, the suite's reference account API; subscriptions, workflows and proxy
//! pools follow in their own issues.

pub mod envelope;
pub mod routes;

use std::sync::Arc;

use axum::Router;
use trellis_identity::Identity;
use trellis_kernel::envelope::{Envelope, Profiles};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

/// The URL prefixes this app owns (its envelope renders their errors). `/api/v1` itself is
/// shared with the diet planner, so only the workflow's own resources are claimed.
pub const PREFIXES: &[&str] = &[
    "/api/v1/users",
    "/api/v1/subscription",
    "/api/v1/workflow",
    "/api/v1/proxy",
];

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Trellis", description = "One server for the Workflow Platform, Momentum, the pet diet planner and MicroDock."),
    tags((name = "workflow", description = "Workflow Platform (seed 000): user management"))
)]
struct ApiDoc;

/// The app's routes and their OpenAPI description.
pub fn router(identity: Identity) -> (Router, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::users::router())
        .with_state(identity)
        .split_for_parts();
    (router, api)
}

/// Registers this app's envelope for its paths.
pub fn register_envelope(profiles: &mut Profiles) {
    let env: Arc<dyn Envelope> = Arc::new(envelope::WorkflowEnvelope);
    for p in PREFIXES {
        profiles.add(p, env.clone());
    }
}
