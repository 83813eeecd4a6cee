//! Momentum (seed 002): team collaboration in the shape of Linear — workspaces with members
//! and invitations, teams with workflows (states and transition rules), projects with
//! statuses, issues with per-team keys (`ENG-123`), labels, comments, cycles, relations,
//! history, and a per-workspace change log the realtime layer builds on.
//!
//! Layout: `routes/` extract and answer, `service/` owns each operation (one transaction
//! with its change-log entry), `store/` holds the SQL (`mm_*` tables), `domain/` the
//! parsers. One account works in every Trellis app (`trellis_identity`); Momentum's own
//! part of a user (name, avatar, current workspace) is `mm_profiles`.

mod console;
pub mod domain;
pub mod envelope;
pub mod error;
pub mod realtime;
pub(crate) mod routes;
pub mod service;
pub mod settings;
pub mod state;
pub mod store;

use std::sync::Arc;

use trellis_identity::{AppContext, AppDescriptor};
use trellis_kernel::app::Routes;
use trellis_kernel::db::Migrations;
use trellis_kernel::envelope::Profile;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::settings::Settings;
use crate::state::MomentumState;

/// The URL prefixes this app owns (seed 002's paths at the root, and the original's).
pub const PREFIXES: &[&str] = &[
    "/auth",
    "/workspaces",
    "/workspace-members",
    "/workspace-member-and-invitations",
    "/invitations",
    "/teams",
    "/user",
    "/users",
    "/workflows",
    "/projects",
    "/project-statuses",
    "/issues",
    "/labels",
    "/comments",
    "/cycles",
    "/sync",
    "/ws",
];

/// The app, as the server mounts it.
pub const APP: AppDescriptor = AppDescriptor {
    name: "momentum",
    seed: "seed 002",
    prefixes: PREFIXES,
    profile,
    migrations: Some(migrations),
    check_settings,
    router,
};

fn profile() -> Arc<dyn Profile> {
    Arc::new(envelope::MomentumProfile)
}

fn check_settings(vars: &std::collections::HashMap<String, String>) -> Vec<String> {
    Settings::from_vars(vars).err().unwrap_or_default()
}

/// Momentum's tables (versions 5xxx).
pub fn migrations() -> Migrations {
    Migrations::new(
        sqlx::migrate!("migrations/sqlite"),
        sqlx::migrate!("migrations/postgres"),
    )
}

#[derive(utoipa::OpenApi)]
#[openapi(tags((name = "momentum", description = "Momentum (seed 002): workspaces, teams, workflows, projects, issues, labels, comments, cycles, invitations")))]
struct ApiDoc;

/// The app's routes and their OpenAPI description.
pub fn router(ctx: &AppContext) -> Result<Routes, String> {
    let settings = Settings::from_vars(&ctx.platform.config.vars).map_err(|e| e.join("; "))?;
    let live = Arc::new(realtime::Live::new(&ctx.platform, &settings));
    let state = MomentumState {
        platform: ctx.platform.clone(),
        identity: ctx.identity.clone(),
        settings: Arc::new(settings),
        memberships: Arc::default(),
        live,
    };
    realtime::Live::start(&state);
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::router())
        .merge(realtime::router())
        .with_state(state.clone())
        .split_for_parts();
    // The console's issue pages (HTML, outside the OpenAPI document), under the same layers.
    let router = router.merge(console::router().with_state(state.clone()));
    let router = router
        .layer(axum::middleware::from_fn_with_state(
            state,
            realtime::notify_changes,
        ))
        .layer(axum::middleware::from_fn(routes::access::response_headers));
    trellis_kernel::docs::document_app(&mut doc, "momentum", &envelope::openapi_envelope());
    Ok((router, doc))
}
