//! `/api/backups/*`: per-user backups guarded by `user_key` (a wrong key for an existing id
//! answers the same 404 as a missing id), with optional per-user count and byte limits.

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::HeaderMap;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use trellis_identity::ClientCtx;
use trellis_kernel::ApiError;
use trellis_kernel::Platform;
use trellis_kernel::extract::Json;
use trellis_kernel::http::slow::upload_layer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

use super::access::Admin;
use super::files::{self, Download};
use super::multipart;
use crate::envelope::{Reply, done};
use crate::error::MicroDockError;
use crate::service::Actor;
use crate::service::backups as service;
use crate::state::MicroDockState;
use crate::storage;
use crate::store::backups::{self, Backup};

pub fn router(max_upload: u64, platform: &Platform) -> OpenApiRouter<MicroDockState> {
    OpenApiRouter::new()
        .routes(
            routes!(upload)
                .layer(DefaultBodyLimit::max((max_upload + 1024 * 1024) as usize))
                .layer(from_fn_with_state(platform.clone(), upload_layer)),
        )
        .routes(routes!(list))
        .routes(routes!(list_all))
        .routes(routes!(download))
        .routes(routes!(delete))
}

/// The backup upload form (seed 004 `POST /api/backups/upload`).
#[derive(utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "documents the multipart form that `multipart::read` parses"
)]
pub struct BackupForm {
    /// The backup file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The owner's key: 1-128 letters, digits, `_` or `-`.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,128}$")]
    user_key: String,
    /// `program` or `plugin`.
    #[schema(pattern = "^(program|plugin)$")]
    backup_type: String,
    /// Free text.
    description: Option<String>,
    /// The plugin, for plugin backups.
    plugin_name: Option<String>,
}

/// Upload a backup (multipart: `file`, `user_key`, `backup_type` program|plugin,
/// `description`?, `plugin_name`? for plugin backups).
#[utoipa::path(post, path = "/api/backups/upload", tag = "microdock",
    request_body(content_type = "multipart/form-data", content = BackupForm),
    responses((status = 200, body = Backup), (status = 413, description = "文件过大"), (status = 422, description = "参数验证失败"),
        (status = 507, description = "超出用户备份配额")))]
async fn upload(State(st): State<MicroDockState>, mp: Multipart) -> Reply<Backup> {
    let form = multipart::read(mp, &st.platform.blobs, st.settings.max_upload_size).await?;
    Ok(done("备份文件上传成功", service::store(&st, form).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct KeyBody {
    /// The owner's key: 1-128 letters, digits, `_` or `-` (seed 004 backups).
    #[schema(pattern = "^[A-Za-z0-9_-]{1,128}$")]
    pub user_key: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BackupList {
    pub total: usize,
    pub backups: Vec<Backup>,
}

/// A user's backups, newest first.
#[utoipa::path(post, path = "/api/backups/list", tag = "microdock", request_body = KeyBody,
    responses((status = 200, body = BackupList), (status = 422, description = "user_key 无效")))]
async fn list(State(st): State<MicroDockState>, Json(b): Json<KeyBody>) -> Reply<BackupList> {
    let key = service::parse_user_key(&b.user_key)?;
    let backups = backups::list_for(&st.platform.db, &st.owner_key(key)).await?;
    Ok(done(
        "备份列表获取成功",
        BackupList {
            total: backups.len(),
            backups,
        },
    ))
}

/// Every backup (administrators); owners' keys are not shown (`***`).
#[utoipa::path(get, path = "/api/backups/list-all", tag = "microdock",
    responses((status = 200, body = BackupList), (status = 401), (status = 403)), security(("bearer" = [])))]
async fn list_all(State(st): State<MicroDockState>, _admin: Admin) -> Reply<BackupList> {
    let backups = backups::list_all(&st.platform.db).await?;
    Ok(done(
        "备份列表获取成功",
        BackupList {
            total: backups.len(),
            backups,
        },
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BackupRef {
    /// The owner's key; optional for administrators deleting by id.
    #[schema(pattern = "^[A-Za-z0-9_-]{0,128}$")]
    pub user_key: Option<String>,
    #[serde(deserialize_with = "trellis_kernel::json_int::i64")]
    pub id: i64,
}

/// A backup its owner asks for: the key is required (seed 004 `POST /api/backups/download`).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct OwnedBackupRef {
    /// The owner's key: 1-128 letters, digits, `_` or `-`.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,128}$")]
    pub user_key: String,
    /// The backup's id.
    #[serde(deserialize_with = "trellis_kernel::json_int::i64")]
    pub id: i64,
}

/// Download a backup (application/octet-stream).
#[utoipa::path(post, path = "/api/backups/download", tag = "microdock", request_body = OwnedBackupRef,
    responses((status = 200, content_type = "application/octet-stream", description = "The file"), (status = 404, description = "备份不存在")))]
async fn download(
    State(st): State<MicroDockState>,
    headers: HeaderMap,
    Json(b): Json<OwnedBackupRef>,
) -> Result<Response, ApiError> {
    let key = service::parse_user_key(&b.user_key)?;
    let backup = backups::get_for(&st.platform.db, &st.owner_key(key), b.id)
        .await?
        .ok_or(MicroDockError::BackupNotFound)?;
    files::send(
        &st.platform.blobs,
        Download {
            key: &storage::backup_key(&backup.file_path),
            file_name: &backup.file_name,
            sha256: &backup.file_hash,
            content_type: "application/octet-stream",
        },
        &headers,
        Box::new(|| {}),
    )
    .await
}

/// Delete a backup (administrators). With `user_key`, the backup must belong to it.
#[utoipa::path(post, path = "/api/backups/delete", tag = "microdock", request_body = BackupRef,
    responses((status = 200, description = "备份文件删除成功"), (status = 401), (status = 403), (status = 404)), security(("bearer" = [])))]
async fn delete(
    State(st): State<MicroDockState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<BackupRef>,
) -> Reply<()> {
    let actor = Actor {
        user_id: Some(admin.0.user_id),
        ip: ctx.ip,
    };
    service::delete(&st, actor, b.user_key.as_deref(), b.id).await?;
    Ok(done("备份文件删除成功", ()))
}
