//! Plugin downloads: current version or a given one, streamed with checksums and ranges,
//! counted once when a response delivered the whole file. Disabled plugins answer 403
//! `plugin_disabled` to everyone, as detail, versions and version detail do to anyone but
//! administrators.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use trellis_kernel::ApiError;
use trellis_kernel::extract::Json;

use super::{NameBody, VersionBody};
use crate::error::MicroDockError;
use crate::routes::files::{self, Download};
use crate::service::{lookup_name, lookup_version, visible_plugin};
use crate::state::MicroDockState;
use crate::storage;
use crate::store::plugins;

async fn send(
    st: &MicroDockState,
    name: &str,
    version: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let name = lookup_name(st, name).await?;
    let db = &st.platform.db;
    // Disabled means unavailable (seed §4.2.5), so downloads are refused to everyone, the
    // seed's own client (which holds an admin token) included.
    let plugin = visible_plugin(st, &name, false).await?;
    let version = match version {
        Some(v) => lookup_version(v)?,
        None => plugin.current_version.clone(),
    };
    let v = plugins::version(db, name.as_str(), &version)
        .await?
        .ok_or(MicroDockError::VersionNotFound)?;
    let (db, n, ver) = (db.clone(), v.plugin_name.clone(), v.version.clone());
    let tasks = st.platform.tasks.clone();
    files::send(
        &st.platform.blobs,
        Download {
            key: &storage::plugin_key(&v.file_path),
            file_name: &v.file_name,
            sha256: &v.file_hash,
            content_type: "application/zip",
        },
        headers,
        Box::new(move || {
            // Tracked, so a shutdown waits for the count instead of dropping it.
            tasks.spawn(async move {
                if let Err(e) = plugins::count_download(&db, &n, &ver).await {
                    tracing::warn!(error = %e, "download not counted");
                }
            });
        }),
    )
    .await
}

/// Download the current version (application/zip stream).
#[utoipa::path(post, path = "/api/plugins/download", tag = "microdock", request_body = NameBody,
    responses((status = 200, content_type = "application/zip", description = "The file"), (status = 206, description = "A range"),
        (status = 403, description = "插件已被禁用"), (status = 404, description = "插件不存在")))]
pub async fn download(
    State(st): State<MicroDockState>,
    headers: HeaderMap,
    Json(b): Json<NameBody>,
) -> Result<Response, ApiError> {
    send(&st, &b.name, None, &headers).await
}

/// Download a given version.
#[utoipa::path(post, path = "/api/plugins/version/download", tag = "microdock", request_body = VersionBody,
    responses((status = 200, content_type = "application/zip", description = "The file"), (status = 206, description = "A range"),
        (status = 403, description = "插件已被禁用"), (status = 404, description = "插件或版本不存在")))]
pub async fn download_version(
    State(st): State<MicroDockState>,
    headers: HeaderMap,
    Json(b): Json<VersionBody>,
) -> Result<Response, ApiError> {
    send(&st, &b.name, Some(&b.version), &headers).await
}
