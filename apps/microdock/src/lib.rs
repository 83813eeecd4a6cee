//! MicroDock PluginServer (seed 004): a plugin registry (zip + `plugin.json`, immutable
//! semver versions, checksummed downloads) and per-user backups. GET and POST only, no path
//! parameters, `{success, message, data}` envelopes, messages in Chinese as in the seed.
//!
//! Layout: `routes/` extract and answer, `service/` owns each operation (publish, delete,
//! backups), `store/` holds the SQL, `domain/` the parsers, `storage` the blob key layout.

pub mod console;
pub mod domain;
pub mod envelope;
pub mod error;
mod routes;
pub mod service;
pub mod settings;
pub mod state;
pub mod storage;
pub mod store;

use std::sync::Arc;

use trellis_identity::{AppContext, AppDescriptor};
use trellis_kernel::app::Routes;
use trellis_kernel::db::Migrations;
use trellis_kernel::envelope::Profile;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::settings::Settings;
use crate::state::MicroDockState;

/// The URL prefixes this app owns. `/` (the server-info page, seed 004) matches only
/// itself, so its errors (a 429 from the rate limiter) are in MicroDock's envelope too.
pub const PREFIXES: &[&str] = &[
    "/api/plugins",
    "/api/auth",
    "/api/backups",
    "/api/health",
    "/",
];

/// The app, as the server mounts it.
pub const APP: AppDescriptor = AppDescriptor {
    name: "microdock",
    seed: "seed 004",
    prefixes: PREFIXES,
    profile,
    migrations: Some(migrations),
    check_settings,
    router,
};

fn profile() -> Arc<dyn Profile> {
    Arc::new(envelope::MicroDockProfile)
}

fn check_settings(vars: &std::collections::HashMap<String, String>) -> Vec<String> {
    Settings::from_vars(vars).err().unwrap_or_default()
}

/// MicroDock's tables (versions 4xxx).
pub fn migrations() -> Migrations {
    Migrations::new(
        sqlx::migrate!("migrations/sqlite"),
        sqlx::migrate!("migrations/postgres"),
    )
}

#[derive(utoipa::OpenApi)]
#[openapi(tags((name = "microdock", description = "MicroDock PluginServer (seed 004): plugins, versions, backups")))]
struct ApiDoc;

/// The app's routes and their OpenAPI description.
pub fn router(ctx: &AppContext) -> Result<Routes, String> {
    let settings = Settings::from_vars(&ctx.platform.config.vars).map_err(|e| e.join("; "))?;
    let max_upload = settings.max_upload_size;
    let backup_secret = state::backup_secret(&settings, &ctx.platform.config.data_dir)?;
    let state = MicroDockState {
        backup_secret: Arc::new(backup_secret),
        platform: ctx.platform.clone(),
        identity: ctx.identity.clone(),
        settings: Arc::new(settings),
        list_cache: Arc::default(),
    };
    // Start-up reconciliation of stored files with rows (a crash between the two steps of an
    // upload or a delete), in the background: serving does not wait for it.
    let grace = std::time::Duration::from_secs(state.settings.orphan_grace_seconds);
    let reconciling = state.clone();
    ctx.platform.tasks.spawn(async move {
        service::reconcile::run(&reconciling, grace).await;
    });
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::router(max_upload, &ctx.platform))
        .with_state(state.clone())
        .split_for_parts();
    // The console's MicroDock pages, outside the OpenAPI document (HTML for browsers).
    let router = router.merge(console::router(max_upload, &ctx.platform).with_state(state));
    trellis_kernel::docs::document_app(&mut doc, "microdock", &envelope::openapi_envelope());
    Ok((router, doc))
}
