//! `POST /api/plugins/upload`: multipart `file` + `plugin_key` (+ `upload_secret` when
//! configured). The file streams to a local spool with its size enforced and SHA-256
//! computed; [`service::plugins::publish`] does the rest. Any failure leaves nothing behind
//! (the spool is removed when the form is dropped).

use axum::extract::{Multipart, State};
use trellis_identity::ClientCtx;

use crate::envelope::{Reply, done};
use crate::routes::multipart;
use crate::service::{self, Actor};
use crate::state::MicroDockState;
use crate::store::plugins::Plugin;

/// The plugin upload form (seed 004 `POST /api/plugins/upload`).
#[derive(utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "documents the multipart form that `multipart::read` parses"
)]
pub struct PluginForm {
    /// The plugin archive (.zip with `plugin.json`).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The plugin's upload key.
    #[schema(min_length = 1)]
    plugin_key: String,
    /// The server's upload secret, when one is configured.
    upload_secret: Option<String>,
}

/// Upload a plugin version (multipart: `file`, `plugin_key`, optional `upload_secret`).
#[utoipa::path(post, path = "/api/plugins/upload", tag = "microdock",
    request_body(content_type = "multipart/form-data", content = PluginForm),
    responses((status = 200, body = Plugin), (status = 400, description = "文件格式不支持、plugin.json 缺失或格式错误"),
        (status = 403, description = "插件密钥错误"), (status = 409, description = "插件版本已存在"),
        (status = 413, description = "文件大小超过限制"), (status = 422, description = "参数验证失败")))]
pub async fn upload(
    State(st): State<MicroDockState>,
    ctx: ClientCtx,
    mp: Multipart,
) -> Reply<Plugin> {
    let form = multipart::read(mp, &st.platform.blobs, st.settings.max_upload_size).await?;
    let actor = Actor {
        user_id: None,
        ip: ctx.ip,
    };
    Ok(done(
        "插件上传成功",
        service::plugins::publish(&st, form, actor).await?,
    ))
}
