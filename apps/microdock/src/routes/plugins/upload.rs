//! `POST /api/plugins/upload`: multipart `file` + `plugin_key` (+ `upload_secret` when
//! configured). The file streams to a temporary blob with its size enforced and SHA-256
//! computed, the archive is inspected without extraction, the key is checked (the first
//! upload of a name binds it), then the file moves to `{name}/{name}@{version}.zip` and the
//! release is recorded in one transaction. Any failure leaves nothing behind.

use axum::extract::{Multipart, State};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use trellis_identity::ClientCtx;
use trellis_kernel::ApiError;

use crate::domain::archive;
use crate::domain::manifest::Manifest;
use crate::envelope::{Reply, done};
use crate::error::{invalid_file, invalid_params, version_exists, wrong_key, wrong_upload_secret};
use crate::routes::multipart::{self, Form};
use crate::state::MdState;
use crate::store::plugins::{self, Plugin, PluginVersion, Release};

/// Where a version's file lives, relative to the plugin store (what clients see).
pub fn file_path(name: &str, version: &str) -> String {
    format!("{name}/{name}@{version}.zip")
}

/// The blob key of a stored plugin file.
pub fn blob_key(file_path: &str) -> String {
    format!("microdock/plugins/{file_path}")
}

/// Upload a plugin version (multipart: `file`, `plugin_key`, optional `upload_secret`).
#[utoipa::path(post, path = "/api/plugins/upload", tag = "microdock",
    request_body(content_type = "multipart/form-data", description = "file (.zip), plugin_key, upload_secret?"),
    responses((status = 200, body = Plugin), (status = 400, description = "文件格式不支持、plugin.json 缺失或格式错误"),
        (status = 403, description = "插件密钥错误"), (status = 409, description = "插件版本已存在"),
        (status = 413, description = "文件大小超过限制"), (status = 422, description = "参数验证失败")))]
pub async fn upload(State(st): State<MdState>, ctx: ClientCtx, mp: Multipart) -> Reply<Plugin> {
    let blobs = &st.platform().blobs;
    let form = multipart::read(mp, blobs, st.settings.max_upload_size).await?;
    let result = publish(&st, &form, &ctx).await;
    if result.is_err() {
        form.discard(blobs).await;
    }
    Ok(done("插件上传成功", result?))
}

async fn publish(st: &MdState, form: &Form, ctx: &ClientCtx) -> Result<Plugin, ApiError> {
    let file = form
        .file
        .as_ref()
        .ok_or_else(|| invalid_params("缺少 file 文件字段"))?;
    let key = form
        .text("plugin_key")
        .ok_or_else(|| invalid_params("缺少 plugin_key"))?;
    if key.len() > 256 {
        return Err(invalid_params("plugin_key 过长"));
    }
    if let Some(secret) = &st.settings.upload_secret {
        let given = form.text("upload_secret").unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(secret.expose_secret().as_bytes())) {
            return Err(wrong_upload_secret());
        }
    }
    if !file.client_name.to_ascii_lowercase().ends_with(".zip") {
        return Err(invalid_file("仅支持 .zip 格式的文件"));
    }
    let manifest = inspect(st, &file.key).await?;
    let name = manifest.name.as_str();
    let version = manifest.version.to_string();
    let db = &st.platform().db;
    let key_hash = match plugins::key_hash(db, name).await? {
        Some(stored) => {
            if !st.identity.verify_secret(key, &stored).await? {
                return Err(wrong_key());
            }
            stored
        }
        None => st.identity.hash_secret(key).await?,
    };
    // One upload of a given version at a time, across instances: the file key is fixed, so
    // a concurrent upload of the same version must not overwrite the file this one records.
    let kv = &st.platform().kv;
    let lock = format!("md_upload:{name}@{version}");
    if !kv
        .set_nx(&lock, "1", std::time::Duration::from_secs(120))
        .await?
    {
        return Err(version_exists(&version));
    }
    let outcome = record(st, &manifest, file, &key_hash, ctx).await;
    let _ = kv.del(&lock).await;
    outcome
}

async fn record(
    st: &MdState,
    manifest: &Manifest,
    file: &multipart::TempFile,
    key_hash: &str,
    ctx: &ClientCtx,
) -> Result<Plugin, ApiError> {
    let name = manifest.name.as_str();
    let version = manifest.version.to_string();
    let db = &st.platform().db;
    if plugins::version(db, name, &version).await?.is_some() {
        return Err(version_exists(&version));
    }
    let now = st.platform().clock.now();
    let path = file_path(name, &version);
    let plugin = Plugin {
        name: name.to_string(),
        display_name: manifest.display_name.clone(),
        description: manifest.description.clone(),
        author: manifest.author.clone(),
        license: manifest.license.clone(),
        homepage: manifest.homepage.clone(),
        main_dll: manifest.main.clone(),
        entry_class: manifest.entry_class.clone(),
        current_version: version.clone(),
        is_enabled: true,
        is_deprecated: false,
        deprecation_message: None,
        replacement: None,
        created_at: now,
        updated_at: now,
    };
    let release = PluginVersion {
        plugin_name: name.to_string(),
        version: version.clone(),
        file_name: format!("{name}@{version}.zip"),
        file_path: path.clone(),
        file_size: file.info.size as i64,
        file_hash: file.info.sha256.clone(),
        changelog: manifest.changelog.clone(),
        dependencies: manifest.dependencies.clone(),
        engines: manifest.engines.clone(),
        is_deprecated: false,
        deprecation_message: None,
        replacement: None,
        download_count: 0,
        created_at: now,
    };
    let blobs = &st.platform().blobs;
    blobs
        .rename(&file.key, &blob_key(&path))
        .await
        .map_err(ApiError::internal)?;
    let recorded = plugins::publish(
        db,
        &Release {
            plugin: &plugin,
            key_hash,
            version: &release,
        },
    )
    .await;
    if let Err(e) = recorded {
        // The version row is what makes the file reachable; without it the file goes too.
        let _ = blobs.delete(&blob_key(&path)).await;
        return Err(e);
    }
    st.list_cache.invalidate();
    tracing::info!(plugin.name = name, plugin.version = %version, size_bytes = file.info.size, "plugin uploaded");
    st.identity
        .audit_event(
            None,
            "plugin_uploaded",
            Some(ctx.ip),
            serde_json::json!({"plugin": name, "version": version, "sha256": file.info.sha256}),
        )
        .await?;
    plugins::get(db, name)
        .await?
        .ok_or_else(|| ApiError::internal("plugin vanished after publish"))
}

async fn inspect(st: &MdState, key: &str) -> Result<Manifest, ApiError> {
    let file = st
        .platform()
        .blobs
        .get(key)
        .await
        .map_err(ApiError::internal)?
        .file
        .into_std()
        .await;
    let limits = st.settings.zip.clone();
    tokio::task::spawn_blocking(move || archive::inspect(std::io::BufReader::new(file), &limits))
        .await
        .map_err(ApiError::internal)?
        .map_err(invalid_file)
}
