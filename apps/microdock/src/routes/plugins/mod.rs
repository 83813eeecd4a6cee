//! `/api/plugins/*`.

mod download;
mod manage;
mod read;
mod upload;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use trellis_kernel::Platform;
use trellis_kernel::http::slow::upload_layer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

use crate::state::MicroDockState;

pub fn router(max_upload: u64, platform: &Platform) -> OpenApiRouter<MicroDockState> {
    // Room for the multipart framing around the file; the file itself is held to
    // MAX_UPLOAD_SIZE while it streams.
    let upload_limit = DefaultBodyLimit::max((max_upload + 1024 * 1024) as usize);
    OpenApiRouter::new()
        .routes(routes!(read::list))
        .routes(routes!(read::detail))
        .routes(routes!(read::versions))
        .routes(routes!(read::version_detail))
        .routes(
            routes!(upload::upload)
                .layer(upload_limit)
                .layer(from_fn_with_state(platform.clone(), upload_layer)),
        )
        .routes(routes!(manage::enable))
        .routes(routes!(manage::disable))
        .routes(routes!(manage::deprecate))
        .routes(routes!(manage::undeprecate))
        .routes(routes!(manage::delete))
        .routes(routes!(manage::deprecate_version))
        .routes(routes!(manage::rotate_key))
        .routes(routes!(download::download))
        .routes(routes!(download::download_version))
}

/// `{name}` bodies.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct NameBody {
    pub name: String,
}

/// `{name, version}` bodies.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct VersionBody {
    pub name: String,
    pub version: String,
}
