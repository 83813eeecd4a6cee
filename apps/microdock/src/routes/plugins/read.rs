//! Reading the registry: list (cached, ETag), detail, versions, version detail.

use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use trellis_kernel::ApiError;
use trellis_kernel::extract::{Json, Query};

use super::{NameBody, VersionBody};
use crate::envelope::{Reply, done};
use crate::error::MicroDockError;
use crate::routes::access::MaybeAdmin;
use crate::service::{lookup_name, lookup_version, visible_plugin};
use crate::state::{Cached, MicroDockState};
use crate::store::plugins::{self, Plugin, PluginVersion};
use trellis_kernel::envelope::json_response;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Substring of name, display name or description.
    #[param(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]{0,100}$")]
    pub search: Option<String>,
    /// 1-based page; without it every plugin is returned (the seed's behaviour).
    pub page: Option<i64>,
    /// Page size (default 20, at most 100) when `page` is given.
    pub page_size: Option<i64>,
}

fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&Sha256::digest(body)[..16]))
}

fn with_etag(headers: &HeaderMap, body: Bytes, etag: &str) -> Response {
    // RFC 9110 §13.1.2: `*` or any listed tag equal under weak comparison (`W/` ignored).
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim() == "*"
                || v.split(',')
                    .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    let mut res = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        json_response(StatusCode::OK, body.to_vec())
    };
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// List plugins. Disabled plugins are shown only to administrators.
#[utoipa::path(get, path = "/api/plugins/list", tag = "microdock", params(ListQuery),
    responses((status = 200, body = [Plugin]), (status = 304, description = "Unchanged (If-None-Match)")))]
pub async fn list(
    State(st): State<MicroDockState>,
    MaybeAdmin(admin): MaybeAdmin,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Checked before trimming, as the document's pattern says: a trailing control character
    // (U+0085 is both control and white space) was trimmed away and accepted (issue 7, item 13).
    if q.search
        .as_deref()
        .is_some_and(|s| s.chars().count() > 100 || s.chars().any(char::is_control))
    {
        return Err(MicroDockError::InvalidParams("search 过长或包含控制字符".into()).into());
    }
    let search = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let cacheable = admin.is_none() && search.is_none() && q.page.is_none();
    if cacheable && let Some(c) = st.list_cache.get() {
        return Ok(with_etag(&headers, c.body, &c.etag));
    }
    let generation = st.list_cache.generation();
    let (limit, offset) = match q.page {
        None => (i64::MAX, 0),
        Some(p) => {
            let size = q.page_size.unwrap_or(20).clamp(1, 100);
            (size, (p.max(1) - 1).saturating_mul(size))
        }
    };
    let items = plugins::list(&st.platform.db, admin.is_some(), search, limit, offset).await?;
    let body = Bytes::from(done("插件列表获取成功", items).to_bytes()?);
    let etag = etag_of(&body);
    if cacheable {
        st.list_cache.put(Cached {
            generation,
            at: Instant::now(),
            body: body.clone(),
            etag: etag.clone(),
        });
    }
    Ok(with_etag(&headers, body, &etag))
}

/// A plugin with its versions.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PluginDetail {
    /// The plugin.
    pub plugin: Plugin,
    /// Its versions, newest first.
    pub versions: Vec<PluginVersion>,
}

/// Plugin detail with every version, newest first.
#[utoipa::path(post, path = "/api/plugins/detail", tag = "microdock", request_body = NameBody,
    responses((status = 200, body = PluginDetail), (status = 403, description = "插件已被禁用（管理员除外）"), (status = 404, description = "插件不存在")))]
pub async fn detail(
    State(st): State<MicroDockState>,
    MaybeAdmin(admin): MaybeAdmin,
    Json(b): Json<NameBody>,
) -> Reply<PluginDetail> {
    let name = lookup_name(&st, &b.name).await?;
    let db = &st.platform.db;
    let plugin = visible_plugin(&st, &name, admin.is_some()).await?;
    let versions = plugins::versions(db, name.as_str()).await?;
    Ok(done("插件详情获取成功", PluginDetail { plugin, versions }))
}

/// Every version of a plugin, newest first.
#[utoipa::path(post, path = "/api/plugins/versions", tag = "microdock", request_body = NameBody,
    responses((status = 200, body = [PluginVersion]), (status = 403, description = "插件已被禁用（管理员除外）"), (status = 404, description = "插件不存在")))]
pub async fn versions(
    State(st): State<MicroDockState>,
    MaybeAdmin(admin): MaybeAdmin,
    Json(b): Json<NameBody>,
) -> Reply<Vec<PluginVersion>> {
    let name = lookup_name(&st, &b.name).await?;
    let db = &st.platform.db;
    visible_plugin(&st, &name, admin.is_some()).await?;
    Ok(done(
        "版本列表获取成功",
        plugins::versions(db, name.as_str()).await?,
    ))
}

/// One version.
#[utoipa::path(post, path = "/api/plugins/version/detail", tag = "microdock", request_body = VersionBody,
    responses((status = 200, body = PluginVersion), (status = 403, description = "插件已被禁用（管理员除外）"), (status = 404, description = "插件或版本不存在")))]
pub async fn version_detail(
    State(st): State<MicroDockState>,
    MaybeAdmin(admin): MaybeAdmin,
    Json(b): Json<VersionBody>,
) -> Reply<PluginVersion> {
    let name = lookup_name(&st, &b.name).await?;
    let v = plugins::version(&st.platform.db, name.as_str(), &lookup_version(&b.version)?)
        .await?
        .ok_or(MicroDockError::VersionNotFound)?;
    visible_plugin(&st, &name, admin.is_some()).await?;
    Ok(done("版本详情获取成功", v))
}
