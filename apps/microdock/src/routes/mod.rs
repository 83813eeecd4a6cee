//! HTTP routes: GET and POST only, parameters in JSON bodies (multipart for uploads).

mod access;
mod auth;
mod backups;
mod files;
pub(crate) mod multipart;
mod plugins;
mod system;

use trellis_kernel::http::slow::ConcurrencyCap;
use utoipa_axum::router::OpenApiRouter;

use crate::state::MicroDockState;

/// Every route; upload routes get a body limit of `max_upload` (plus multipart framing) and
/// hold a permit of the platform's upload cap (`uploads`) while they run.
pub fn router(max_upload: u64, uploads: &ConcurrencyCap) -> OpenApiRouter<MicroDockState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(plugins::router(max_upload, uploads))
        .merge(backups::router(max_upload, uploads))
        .merge(system::router())
}
