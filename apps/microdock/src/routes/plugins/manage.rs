//! Administration of plugins: enable, disable, deprecate / undeprecate (plugin or version),
//! delete, rotate the upload key. The operations live in [`crate::service::plugins`].

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use trellis_identity::ClientCtx;
use trellis_kernel::ApiError;
use trellis_kernel::extract::Json;

use super::NameBody;
use crate::domain::names::plain_text;
use crate::envelope::{Reply, done};
use crate::error::MicroDockError;
use crate::routes::access::Admin;
use crate::service::{Actor, plugins as service};
use crate::state::MicroDockState;
use crate::store::plugins::{Plugin, PluginVersion};

fn actor(admin: &Admin, ctx: &ClientCtx) -> Actor {
    Actor {
        user_id: Some(admin.0.user_id),
        ip: ctx.ip,
    }
}

/// Enable a plugin.
#[utoipa::path(post, path = "/api/plugins/enable", tag = "microdock", request_body = NameBody,
    responses((status = 200, body = Plugin), (status = 401), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn enable(
    State(st): State<MicroDockState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<NameBody>,
) -> Reply<Plugin> {
    let p = service::set_enabled(&st, actor(&admin, &ctx), &b.name, true).await?;
    Ok(done("插件启用成功", p))
}

/// Disable a plugin: hidden from the public list, downloads refused.
#[utoipa::path(post, path = "/api/plugins/disable", tag = "microdock", request_body = NameBody,
    responses((status = 200, body = Plugin), (status = 401), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn disable(
    State(st): State<MicroDockState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<NameBody>,
) -> Reply<Plugin> {
    let p = service::set_enabled(&st, actor(&admin, &ctx), &b.name, false).await?;
    Ok(done("插件禁用成功", p))
}

/// `{name, version?, message?, replacement?}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeprecateBody {
    /// The plugin.
    pub name: String,
    /// Only for version deprecation.
    pub version: Option<String>,
    /// Why, shown to users: plain text (no HTML tags, no control characters but line breaks
    /// and tabs), at most 500 characters.
    #[schema(
        max_length = 500,
        pattern = r"^(?:[^<\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|<[^A-Za-z/!?<\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f])*<?$"
    )]
    pub message: Option<String>,
    /// What to use instead (a plugin name or version), plain text like `message`.
    #[schema(
        max_length = 500,
        pattern = r"^(?:[^<\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|<[^A-Za-z/!?<\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f])*<?$"
    )]
    pub replacement: Option<String>,
}

/// A trimmed note of at most 500 characters of plain text (no HTML); empty means none.
fn note(s: &Option<String>, what: &str) -> Result<Option<String>, MicroDockError> {
    match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(t) if t.chars().count() > 500 => Err(MicroDockError::InvalidParams(format!(
            "{what} 超过 500 个字符"
        ))),
        Some(t) => {
            plain_text(what, t, true).map_err(MicroDockError::InvalidParams)?;
            Ok(Some(t.to_string()))
        }
        None => Ok(None),
    }
}

/// Mark a plugin deprecated (optional `message` and `replacement`).
#[utoipa::path(post, path = "/api/plugins/deprecate", tag = "microdock", request_body = DeprecateBody,
    responses((status = 200, body = Plugin), (status = 401), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn deprecate(
    State(st): State<MicroDockState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<DeprecateBody>,
) -> Reply<Plugin> {
    let (msg, repl) = (
        note(&b.message, "message")?,
        note(&b.replacement, "replacement")?,
    );
    let dep = Some((msg.as_deref(), repl.as_deref()));
    let p = service::set_deprecated(&st, actor(&admin, &ctx), &b.name, dep).await?;
    Ok(done("插件标记过时成功", p))
}

/// Reverse a deprecation: of the plugin, or of one version when `version` is given.
#[utoipa::path(post, path = "/api/plugins/undeprecate", tag = "microdock", request_body = DeprecateBody,
    responses((status = 200, description = "Plugin (or version) no longer deprecated"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn undeprecate(
    State(st): State<MicroDockState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<DeprecateBody>,
) -> Result<Response, ApiError> {
    let who = actor(&admin, &ctx);
    if let Some(v) = b.version.as_deref().map(str::trim) {
        let ver = service::set_version_deprecated(&st, who, &b.name, v, None).await?;
        return Ok(done("版本已取消过时标记", ver).into_response());
    }
    let p = service::set_deprecated(&st, who, &b.name, None).await?;
    Ok(done("插件已取消过时标记", p).into_response())
}

/// Body of `POST /api/plugins/version/deprecate`: as [`DeprecateBody`], with `version`
/// required (the document said optional, and the server refused bodies without it).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct VersionDeprecateBody {
    /// The plugin.
    pub name: String,
    /// The version; absent or blank is answered 422 "缺少 version" (so `default`).
    #[serde(default)]
    #[schema(required = true, pattern = r"\S")]
    pub version: String,
    /// Why, shown to users: plain text (no HTML tags, no control characters but line breaks
    /// and tabs), at most 500 characters.
    #[schema(
        max_length = 500,
        pattern = r"^(?:[^<\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|<[^A-Za-z/!?<\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f])*<?$"
    )]
    pub message: Option<String>,
    /// What to use instead (a plugin name or version), plain text like `message`.
    #[schema(
        max_length = 500,
        pattern = r"^(?:[^<\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|<[^A-Za-z/!?<\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f])*<?$"
    )]
    pub replacement: Option<String>,
}

/// Mark one version deprecated; the current version is recomputed.
#[utoipa::path(post, path = "/api/plugins/version/deprecate", tag = "microdock", request_body = VersionDeprecateBody,
    responses((status = 200, body = PluginVersion), (status = 401), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn deprecate_version(
    State(st): State<MicroDockState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<VersionDeprecateBody>,
) -> Reply<PluginVersion> {
    let version = Some(b.version.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| MicroDockError::InvalidParams("缺少 version".into()))?;
    let (msg, repl) = (
        note(&b.message, "message")?,
        note(&b.replacement, "replacement")?,
    );
    let dep = Some((msg.as_deref(), repl.as_deref()));
    let v =
        service::set_version_deprecated(&st, actor(&admin, &ctx), &b.name, version, dep).await?;
    Ok(done("版本标记过时成功", v))
}

/// Delete a plugin with all its versions, counters and files (all or nothing).
#[utoipa::path(post, path = "/api/plugins/delete", tag = "microdock", request_body = NameBody,
    responses((status = 200, description = "插件删除成功"), (status = 401), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    State(st): State<MicroDockState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<NameBody>,
) -> Reply<()> {
    service::delete(&st, actor(&admin, &ctx), &b.name).await?;
    Ok(done("插件删除成功", ()))
}

/// `{name, new_key}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RotateKeyBody {
    /// The plugin.
    pub name: String,
    /// The new upload key (1-256 bytes).
    pub new_key: String,
}

/// Replace a plugin's upload key.
#[utoipa::path(post, path = "/api/plugins/rotate-key", tag = "microdock", request_body = RotateKeyBody,
    responses((status = 200, description = "密钥已更新"), (status = 401), (status = 403), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn rotate_key(
    State(st): State<MicroDockState>,
    admin: Admin,
    ctx: ClientCtx,
    Json(b): Json<RotateKeyBody>,
) -> Reply<()> {
    service::rotate_key(&st, actor(&admin, &ctx), &b.name, &b.new_key).await?;
    Ok(done("插件密钥已更新", ()))
}
