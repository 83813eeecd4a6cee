//! `/api/backups/*`: per-user backups guarded by `user_key` (a wrong key for an existing id
//! answers the same 404 as a missing id), with optional per-user count and byte limits.

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use trellis_identity::ClientCtx;
use trellis_kernel::ApiError;
use trellis_kernel::extract::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::router::UtoipaMethodRouterExt;
use utoipa_axum::routes;

use super::access::Admin;
use super::files::{self, Download};
use super::multipart::{self, Form};
use crate::domain::names::{
    PluginName, backup_type, display_file_name, storage_file_name, user_key,
};
use crate::envelope::{Reply, done};
use crate::error::{backup_not_found, invalid_params, quota_exceeded};
use crate::state::MdState;
use crate::store::backups::{self, Backup, NewBackup};

pub fn router(max_upload: u64) -> OpenApiRouter<MdState> {
    OpenApiRouter::new()
        .routes(routes!(upload).layer(DefaultBodyLimit::max((max_upload + 1024 * 1024) as usize)))
        .routes(routes!(list))
        .routes(routes!(list_all))
        .routes(routes!(download))
        .routes(routes!(delete))
}

fn blob_key(file_path: &str) -> String {
    format!("microdock/backups/{file_path}")
}

/// Upload a backup (multipart: `file`, `user_key`, `backup_type` program|plugin,
/// `description`?, `plugin_name`? for plugin backups).
#[utoipa::path(post, path = "/api/backups/upload", tag = "microdock",
    request_body(content_type = "multipart/form-data", description = "file, user_key, backup_type, description?, plugin_name?"),
    responses((status = 200, body = Backup), (status = 413, description = "文件过大"), (status = 422, description = "参数验证失败"),
        (status = 507, description = "超出用户备份配额")))]
async fn upload(State(st): State<MdState>, mp: Multipart) -> Reply<Backup> {
    let blobs = &st.platform().blobs;
    let form = multipart::read(mp, blobs, st.settings.max_upload_size).await?;
    let result = store(&st, &form).await;
    if result.is_err() {
        form.discard(blobs).await;
    }
    Ok(done("备份文件上传成功", result?))
}

async fn store(st: &MdState, form: &Form) -> Result<Backup, ApiError> {
    let file = form
        .file
        .as_ref()
        .ok_or_else(|| invalid_params("缺少 file 文件字段"))?;
    let key = user_key(form.text("user_key").unwrap_or(""))?;
    let kind = backup_type(form.text("backup_type").unwrap_or(""))?;
    let description = form.text("description");
    if description.is_some_and(|d| d.chars().count() > 500) {
        return Err(invalid_params("description 超过 500 个字符"));
    }
    let plugin_name = match (kind, form.text("plugin_name")) {
        ("plugin", Some(n)) => Some(PluginName::parse(n).map_err(invalid_params)?),
        _ => None,
    };
    let (db, blobs) = (&st.platform().db, &st.platform().blobs);
    if let Some(quota) = st.settings.backup_quota_bytes {
        let used = backups::usage(db, key).await? as u64;
        if used + file.info.size > quota {
            return Err(quota_exceeded(quota));
        }
    }
    let now = st.platform().clock.now();
    let shown = display_file_name(&file.client_name);
    let path = format!(
        "{}/{kind}/{}_{}",
        &backups::key_hash(key)[..16],
        now.timestamp_millis(),
        storage_file_name(&shown)
    );
    blobs
        .rename(&file.key, &blob_key(&path))
        .await
        .map_err(ApiError::internal)?;
    let saved = backups::insert(
        db,
        &NewBackup {
            user_key: key,
            backup_type: kind,
            plugin_name: plugin_name.as_ref().map(PluginName::as_str),
            file_name: &shown,
            file_path: &path,
            file_size: file.info.size as i64,
            file_hash: &file.info.sha256,
            description,
            now,
        },
    )
    .await;
    let saved = match saved {
        Ok(b) => b,
        Err(e) => {
            let _ = blobs.delete(&blob_key(&path)).await;
            return Err(e);
        }
    };
    if let Some(keep) = st.settings.backup_max_per_user {
        for old in backups::prune(db, key, kind, keep).await? {
            let _ = blobs.delete(&blob_key(&old)).await;
        }
    }
    tracing::info!(
        backup.id = saved.id,
        size_bytes = saved.file_size,
        "backup uploaded"
    );
    Ok(saved)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct KeyBody {
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
async fn list(State(st): State<MdState>, Json(b): Json<KeyBody>) -> Reply<BackupList> {
    let key = user_key(&b.user_key)?;
    let backups = backups::list_for(&st.platform().db, key).await?;
    Ok(done(
        "备份列表获取成功",
        BackupList {
            total: backups.len(),
            backups,
        },
    ))
}

/// Every backup (administrators); owners' keys are shown as hints.
#[utoipa::path(get, path = "/api/backups/list-all", tag = "microdock",
    responses((status = 200, body = BackupList), (status = 401), (status = 403)), security(("bearer" = [])))]
async fn list_all(State(st): State<MdState>, _admin: Admin) -> Reply<BackupList> {
    let backups = backups::list_all(&st.platform().db).await?;
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
    pub user_key: Option<String>,
    pub id: i64,
}

/// Download a backup (application/octet-stream).
#[utoipa::path(post, path = "/api/backups/download", tag = "microdock", request_body = BackupRef,
    responses((status = 200, content_type = "application/octet-stream", description = "The file"), (status = 404, description = "备份不存在")))]
async fn download(
    State(st): State<MdState>,
    headers: HeaderMap,
    Json(b): Json<BackupRef>,
) -> Result<Response, ApiError> {
    let key = user_key(b.user_key.as_deref().unwrap_or(""))?;
    let backup = backups::get_for(&st.platform().db, key, b.id)
        .await?
        .ok_or_else(backup_not_found)?;
    files::send(
        &st.platform().blobs,
        Download {
            key: &blob_key(&backup.file_path),
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
    State(st): State<MdState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<BackupRef>,
) -> Reply<()> {
    let db = &st.platform().db;
    let backup = match b.user_key.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => backups::get_for(db, user_key(k)?, b.id).await?,
        None => backups::get(db, b.id).await?,
    }
    .ok_or_else(backup_not_found)?;
    if !backups::delete(db, backup.id).await? {
        return Err(backup_not_found());
    }
    let _ = st
        .platform()
        .blobs
        .delete(&blob_key(&backup.file_path))
        .await;
    st.identity
        .audit_event(
            Some(admin.0.user_id),
            "backup_deleted",
            Some(ctx.ip),
            serde_json::json!({"backup_id": backup.id}),
        )
        .await?;
    Ok(done("备份文件删除成功", ()))
}
