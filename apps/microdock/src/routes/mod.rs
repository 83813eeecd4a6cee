//! HTTP routes: GET and POST only, parameters in JSON bodies (multipart for uploads).

mod access;
mod auth;
mod backups;
mod files;
pub(crate) mod multipart;
mod plugins;
mod system;

use trellis_kernel::Platform;
use utoipa_axum::router::OpenApiRouter;

use crate::state::MicroDockState;

/// Every route; upload routes get a body limit of `max_upload` (plus multipart framing) and
/// the platform's per-IP upload limit and concurrent-upload cap
/// ([`trellis_kernel::http::slow::upload_layer`]).
pub fn router(max_upload: u64, platform: &Platform) -> OpenApiRouter<MicroDockState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(plugins::router(max_upload, platform))
        .merge(backups::router(max_upload, platform))
        .merge(system::router())
}
