//! Pet diet planner (seed 003, issue 12): the seed's auth API over the shared identity
//! (`/api/v1/auth`), pets, diet plans made by durable engine tasks (queue `dietplan`) and
//! streamed over SSE with loss-free resume (`/api/v1/plans`, `/api/v1/tasks`), and the meal
//! records of an applied plan (`/api/v1/meals`).
//!
//! Layout: `routes/` extract and answer, `service/` owns each operation, `store/` holds the
//! SQL (`diet_*` tables), `nutrition/` the offline engine, `pipeline/` the plan task's nodes
//! (engine step handlers) and `stream/` the SSE follower hub.

pub mod console;
pub mod envelope;
pub mod error;
pub mod nutrition;
pub mod pipeline;
pub mod routes;
pub mod service;
pub mod settings;
pub mod state;
pub mod store;
pub mod stream;

use std::sync::Arc;

use trellis_identity::{AppContext, AppDescriptor};
use trellis_kernel::app::Routes;
use trellis_kernel::db::Migrations;
use trellis_kernel::envelope::Profile;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::state::DietState;

/// The URL prefixes this app owns (its envelope renders their errors).
pub const PREFIXES: &[&str] = &[
    "/api/v1/auth",
    "/api/v1/pets",
    "/api/v1/plans",
    "/api/v1/tasks",
    "/api/v1/meals",
];

/// The app, as the server mounts it.
pub const APP: AppDescriptor = AppDescriptor {
    name: "dietplan",
    seed: "seed 003",
    prefixes: PREFIXES,
    profile,
    migrations: Some(migrations),
    check_settings,
    router,
};

/// Problems with the app's settings and the LLM providers', for start-up.
fn check_settings(vars: &std::collections::HashMap<String, String>) -> Vec<String> {
    let mut errors = settings::DietSettings::from_vars(vars)
        .err()
        .unwrap_or_default();
    errors.extend(trellis_llm::check_settings(vars));
    errors
}

fn profile() -> Arc<dyn Profile> {
    Arc::new(envelope::DietProfile)
}

/// The diet planner's tables (versions 6xxx).
pub fn migrations() -> Migrations {
    Migrations::new(
        sqlx::migrate!("migrations/sqlite"),
        sqlx::migrate!("migrations/postgres"),
    )
}

#[derive(utoipa::OpenApi)]
#[openapi(
    components(schemas(routes::plans::PetType, store::tasks::TaskStatus)),
    tags((name = "dietplan", description = "Pet diet planner (seed 003): auth, pets, plans streamed over SSE, tasks, meals"))
)]
struct ApiDoc;

/// The app's routes and their OpenAPI description.
pub fn router(ctx: &AppContext) -> Result<Routes, String> {
    let vars = &ctx.platform.config.vars;
    let settings = settings::DietSettings::from_vars(vars).map_err(|e| e.join("; "))?;
    let llm = trellis_llm::Llm::from_vars(vars).map_err(|e| e.join("; "))?;
    let engine = pipeline::start_engine(&ctx.platform, llm.clone(), settings.clone())?;
    let hub = stream::Hub::start(&ctx.platform, engine.clone());
    let state = DietState {
        platform: ctx.platform.clone(),
        identity: ctx.identity.clone(),
        engine,
        llm,
        settings,
        hub,
    };
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::auth::router())
        .merge(routes::pets::router())
        .merge(routes::plans::router())
        .merge(routes::tasks::router())
        .merge(routes::meals::router())
        .with_state(state.clone())
        .split_for_parts();
    // The console's diet pages, outside the OpenAPI document (HTML for browsers).
    let router = router.merge(console::router().with_state(state));
    trellis_kernel::docs::document_app(&mut doc, "dietplan", &envelope::openapi_envelope());
    Ok((router, doc))
}
