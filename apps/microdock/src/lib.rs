//! MicroDock PluginServer (seed 004): a plugin registry (zip + `plugin.json`, immutable
//! semver versions, checksummed downloads) and per-user backups. GET and POST only, no path
//! parameters, `{success, message, data}` envelopes, messages in Chinese as in the seed.

pub mod domain;
pub mod envelope;
pub mod error;
mod routes;
pub mod settings;
pub mod state;
pub mod store;

use std::sync::Arc;

use axum::Router;
use trellis_identity::Identity;
use trellis_kernel::db::Migrations;
use trellis_kernel::envelope::{Envelope, Profiles};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::settings::Settings;
use crate::state::MdState;

/// The URL prefixes this app owns.
pub const PREFIXES: &[&str] = &["/api/auth", "/api/plugins", "/api/backups", "/api/health"];

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
pub fn router(identity: Identity, settings: Settings) -> (Router, utoipa::openapi::OpenApi) {
    let max_upload = settings.max_upload_size;
    let state = MdState {
        identity,
        settings: Arc::new(settings),
        list_cache: Arc::default(),
    };
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::router(max_upload))
        .with_state(state)
        .split_for_parts()
}

/// Registers this app's envelope for its paths.
pub fn register_envelope(profiles: &mut Profiles) {
    let env: Arc<dyn Envelope> = Arc::new(envelope::MicrodockEnvelope);
    for p in PREFIXES {
        profiles.add(p, env.clone());
    }
}
