//! Administration of plugins: enable, disable, deprecate / undeprecate (plugin or version),
//! delete (all or nothing), rotate the upload key. Every change is audited.

use axum::extract::State;
use serde::Deserialize;
use trellis_identity::ClientCtx;
use trellis_kernel::ApiError;
use trellis_kernel::extract::Json;

use super::NameBody;
use super::upload::blob_key;
use crate::domain::names::PluginName;
use crate::envelope::{Reply, done};
use crate::error::{invalid_params, plugin_not_found, version_not_found};
use crate::routes::access::Admin;
use crate::state::MdState;
use crate::store::plugins::{self, Plugin, PluginVersion};

async fn audit(
    st: &MdState,
    admin: &Admin,
    ctx: &ClientCtx,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    st.list_cache.invalidate();
    Ok(st
        .identity
        .audit_event(Some(admin.0.user_id), action, Some(ctx.ip), detail)
        .await?)
}

/// Sets `is_enabled` and audits the change.
async fn toggle(
    st: &MdState,
    admin: &Admin,
    ctx: &ClientCtx,
    name: &str,
    enabled: bool,
) -> Result<Plugin, ApiError> {
    let name = PluginName::lookup(name)?;
    let p = plugins::set_enabled(
        &st.platform().db,
        name.as_str(),
        enabled,
        st.platform().clock.now(),
    )
    .await?
    .ok_or_else(plugin_not_found)?;
    let action = if enabled {
        "plugin_enabled"
    } else {
        "plugin_disabled"
    };
    audit(
        st,
        admin,
        ctx,
        action,
        serde_json::json!({"plugin": p.name}),
    )
    .await?;
    Ok(p)
}

/// Enable a plugin.
#[utoipa::path(post, path = "/api/plugins/enable", tag = "microdock", request_body = NameBody,
    responses((status = 200, body = Plugin), (status = 401), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn enable(
    State(st): State<MdState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<NameBody>,
) -> Reply<Plugin> {
    Ok(done(
        "插件启用成功",
        toggle(&st, &admin, &ctx, &b.name, true).await?,
    ))
}

/// Disable a plugin: hidden from the public list, downloads refused.
#[utoipa::path(post, path = "/api/plugins/disable", tag = "microdock", request_body = NameBody,
    responses((status = 200, body = Plugin), (status = 401), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn disable(
    State(st): State<MdState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<NameBody>,
) -> Reply<Plugin> {
    Ok(done(
        "插件禁用成功",
        toggle(&st, &admin, &ctx, &b.name, false).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeprecateBody {
    pub name: String,
    /// Only for version deprecation.
    pub version: Option<String>,
    /// Why, shown to users.
    pub message: Option<String>,
    /// What to use instead (a plugin name or version).
    pub replacement: Option<String>,
}

fn note(s: &Option<String>, what: &str) -> Result<Option<String>, ApiError> {
    match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(t) if t.chars().count() > 500 => {
            Err(invalid_params(format!("{what} 超过 500 个字符")))
        }
        other => Ok(other.map(str::to_string)),
    }
}

/// Mark a plugin deprecated (optional `message` and `replacement`).
#[utoipa::path(post, path = "/api/plugins/deprecate", tag = "microdock", request_body = DeprecateBody,
    responses((status = 200, body = Plugin), (status = 401), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn deprecate(
    State(st): State<MdState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<DeprecateBody>,
) -> Reply<Plugin> {
    let name = PluginName::lookup(&b.name)?;
    let (msg, repl) = (
        note(&b.message, "message")?,
        note(&b.replacement, "replacement")?,
    );
    let p = plugins::set_deprecated(
        &st.platform().db,
        name.as_str(),
        Some((msg.as_deref(), repl.as_deref())),
        st.platform().clock.now(),
    )
    .await?
    .ok_or_else(plugin_not_found)?;
    audit(
        &st,
        &admin,
        &ctx,
        "plugin_deprecated",
        serde_json::json!({"plugin": p.name, "message": msg, "replacement": repl}),
    )
    .await?;
    Ok(done("插件标记过时成功", p))
}

/// Reverse a deprecation: of the plugin, or of one version when `version` is given.
#[utoipa::path(post, path = "/api/plugins/undeprecate", tag = "microdock", request_body = DeprecateBody,
    responses((status = 200, description = "Plugin (or version) no longer deprecated"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn undeprecate(
    State(st): State<MdState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<DeprecateBody>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let name = PluginName::lookup(&b.name)?;
    let (db, now) = (&st.platform().db, st.platform().clock.now());
    if let Some(v) = b.version.as_deref().map(str::trim) {
        let ver = plugins::set_version_deprecated(db, name.as_str(), v, None, now)
            .await?
            .ok_or_else(version_not_found)?;
        audit(
            &st,
            &admin,
            &ctx,
            "version_undeprecated",
            serde_json::json!({"plugin": name.as_str(), "version": v}),
        )
        .await?;
        return Ok(done("版本已取消过时标记", ver).into_response());
    }
    let p = plugins::set_deprecated(db, name.as_str(), None, now)
        .await?
        .ok_or_else(plugin_not_found)?;
    audit(
        &st,
        &admin,
        &ctx,
        "plugin_undeprecated",
        serde_json::json!({"plugin": p.name}),
    )
    .await?;
    Ok(done("插件已取消过时标记", p).into_response())
}

/// Mark one version deprecated; the current version is recomputed.
#[utoipa::path(post, path = "/api/plugins/version/deprecate", tag = "microdock", request_body = DeprecateBody,
    responses((status = 200, body = PluginVersion), (status = 401), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn deprecate_version(
    State(st): State<MdState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<DeprecateBody>,
) -> Reply<PluginVersion> {
    let name = PluginName::lookup(&b.name)?;
    let version = b
        .version
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid_params("缺少 version"))?;
    let (msg, repl) = (
        note(&b.message, "message")?,
        note(&b.replacement, "replacement")?,
    );
    let v = plugins::set_version_deprecated(
        &st.platform().db,
        name.as_str(),
        version,
        Some((msg.as_deref(), repl.as_deref())),
        st.platform().clock.now(),
    )
    .await?
    .ok_or_else(version_not_found)?;
    audit(
        &st,
        &admin,
        &ctx,
        "version_deprecated",
        serde_json::json!({"plugin": name.as_str(), "version": version, "message": msg}),
    )
    .await?;
    Ok(done("版本标记过时成功", v))
}

/// Delete a plugin with all its versions, counters and files. The files are first moved
/// aside, so a failed database delete puts them back and nothing is half-removed.
#[utoipa::path(post, path = "/api/plugins/delete", tag = "microdock", request_body = NameBody,
    responses((status = 200, description = "插件删除成功"), (status = 401), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    State(st): State<MdState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<NameBody>,
) -> Reply<()> {
    let name = PluginName::lookup(&b.name)?;
    let (db, blobs) = (&st.platform().db, &st.platform().blobs);
    plugins::get(db, name.as_str())
        .await?
        .ok_or_else(plugin_not_found)?;
    let versions = plugins::versions(db, name.as_str()).await?;
    let trash = format!("microdock/trash/{}", uuid::Uuid::new_v4().simple());
    let mut moved = Vec::new();
    for v in &versions {
        let aside = format!("{trash}/{}", v.file_name);
        if blobs.rename(&blob_key(&v.file_path), &aside).await.is_ok() {
            moved.push((blob_key(&v.file_path), aside));
        }
    }
    let deleted = plugins::delete(db, name.as_str()).await;
    if !matches!(deleted, Ok(true)) {
        for (original, aside) in &moved {
            let _ = blobs.rename(aside, original).await;
        }
        deleted?;
        return Err(plugin_not_found());
    }
    for (_, aside) in &moved {
        let _ = blobs.delete(aside).await;
    }
    audit(
        &st,
        &admin,
        &ctx,
        "plugin_deleted",
        serde_json::json!({"plugin": name.as_str(), "versions": versions.len()}),
    )
    .await?;
    Ok(done("插件删除成功", ()))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RotateKeyBody {
    pub name: String,
    pub new_key: String,
}

/// Replace a plugin's upload key.
#[utoipa::path(post, path = "/api/plugins/rotate-key", tag = "microdock", request_body = RotateKeyBody,
    responses((status = 200, description = "密钥已更新"), (status = 401), (status = 403), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn rotate_key(
    State(st): State<MdState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<RotateKeyBody>,
) -> Reply<()> {
    let name = PluginName::lookup(&b.name)?;
    let key = b.new_key.trim();
    if key.is_empty() || key.len() > 256 {
        return Err(invalid_params("new_key 长度须为 1-256"));
    }
    let hash = st.identity.hash_secret(key).await?;
    if !plugins::set_key_hash(
        &st.platform().db,
        name.as_str(),
        &hash,
        st.platform().clock.now(),
    )
    .await?
    {
        return Err(plugin_not_found());
    }
    audit(
        &st,
        &admin,
        &ctx,
        "plugin_key_rotated",
        serde_json::json!({"plugin": name.as_str()}),
    )
    .await?;
    Ok(done("插件密钥已更新", ()))
}
