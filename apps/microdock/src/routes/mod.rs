//! HTTP routes: GET and POST only, parameters in JSON bodies (multipart for uploads).

mod access;
mod auth;
mod backups;
mod files;
pub(crate) mod multipart;
mod plugins;
mod system;

use utoipa_axum::router::OpenApiRouter;

use crate::state::MicroDockState;

pub fn router(max_upload: u64) -> OpenApiRouter<MicroDockState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(plugins::router(max_upload))
        .merge(backups::router(max_upload))
        .merge(system::router())
}
