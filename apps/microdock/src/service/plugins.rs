//! Plugin operations: publish an uploaded release, enable/disable, deprecate (plugin or
//! version), delete (all or nothing), rotate the upload key. Every change is audited in the
//! transaction that makes it.

use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

use trellis_kernel::blob::BlobError;

use crate::domain::archive;
use crate::domain::manifest::Manifest;
use crate::error::MicroDockError;
use crate::routes::multipart::{Form, TempFile};
use crate::service::{Actor, audit, discard_blob, lookup_name, lookup_version};
use crate::state::MicroDockState;
use crate::storage;
use crate::store::plugins::{self, Deprecation, Plugin, PluginVersion, Published, Release};

/// Publishes the release in an upload form (`file`, `plugin_key`, `upload_secret` when
/// configured): checks the form, inspects the archive without extracting it, checks the key
/// (the first upload of a name binds it), moves the file to its final key and records the
/// release with its audit row in one transaction. On any failure nothing is left behind.
pub async fn publish(
    st: &MicroDockState,
    mut form: Form,
    actor: Actor,
) -> Result<Plugin, MicroDockError> {
    let file = form
        .file
        .take()
        .ok_or_else(|| MicroDockError::InvalidParams("缺少 file 文件字段".into()))?;
    let raw_key = form
        .text("plugin_key")
        .ok_or_else(|| MicroDockError::InvalidParams("缺少 plugin_key".into()))?;
    let key = &canonical_key(raw_key);
    if key.len() > 256 {
        return Err(MicroDockError::InvalidParams("plugin_key 过长".into()));
    }
    if let Some(secret) = &st.settings.upload_secret {
        let given = form.text("upload_secret").unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(secret.expose_secret().as_bytes())) {
            return Err(MicroDockError::WrongUploadSecret);
        }
    }
    if !file.client_name.to_ascii_lowercase().ends_with(".zip") {
        return Err(MicroDockError::InvalidFile("仅支持 .zip 格式的文件".into()));
    }
    let manifest = inspect(st, &file).await?;
    let name = manifest.name.as_str();
    let version = manifest.version.to_string();
    let db = &st.platform.db;
    let key_hash = match plugins::key_hash(db, name).await? {
        Some(stored) => {
            if !verify_key(st, key, raw_key, &stored).await? {
                return Err(MicroDockError::WrongKey);
            }
            stored
        }
        None => st.identity.hash_secret(key).await?,
    };
    // One upload of a given version at a time, across instances: the file key is fixed, so
    // a concurrent upload of the same version must not overwrite the file this one records.
    let kv = &st.platform.kv;
    let lock = format!("md_upload:{name}@{version}");
    if !kv
        .set_nx(&lock, "1", std::time::Duration::from_secs(120))
        .await?
    {
        return Err(MicroDockError::VersionExists(version));
    }
    let outcome = record(st, &manifest, file, ((key, raw_key), key_hash), actor).await;
    if let Err(e) = kv.del(&lock).await {
        tracing::debug!(error = %e, "upload lock not released; it expires by itself");
    }
    outcome
}

/// The canonical form of a plugin key: NFC (Unicode normalization form C, UAX #15), so a key
/// typed on a system that sends NFD (macOS input) matches the one hashed from NFC (issue 7
/// item 3). Surrounding whitespace is already trimmed by the form reader.
fn canonical_key(key: &str) -> String {
    key.nfc().collect()
}

/// Checks a key against a stored hash: its NFC form, and for hashes stored before keys were
/// normalized, the form it arrived in.
async fn verify_key(
    st: &MicroDockState,
    nfc: &str,
    raw: &str,
    stored: &str,
) -> Result<bool, MicroDockError> {
    if st.identity.verify_secret(nfc, stored).await? {
        return Ok(true);
    }
    Ok(raw != nfc && st.identity.verify_secret(raw, stored).await?)
}

/// Moves the file into place and records the release (rolled back, file removed, on failure).
async fn record(
    st: &MicroDockState,
    manifest: &Manifest,
    file: TempFile,
    ((key, raw_key), mut key_hash): ((&str, &str), String),
    actor: Actor,
) -> Result<Plugin, MicroDockError> {
    let name = manifest.name.as_str();
    let version = manifest.version.to_string();
    let db = &st.platform.db;
    if plugins::version(db, name, &version).await?.is_some() {
        return Err(MicroDockError::VersionExists(version));
    }
    let now = st.platform.clock.now();
    let path = storage::plugin_file_path(name, &version);
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
    let blob = storage::plugin_key(&path);
    st.platform
        .blobs
        .commit(file.spooled, &blob)
        .await
        .map_err(|e| match e {
            BlobError::Exists => MicroDockError::VersionExists(version.clone()),
            other => other.into(),
        })?;
    let recorded = async {
        // The name's owner is decided inside the transaction (insert-or-nothing, then the
        // stored hash compared). Argon2 never runs with the transaction open: on a mismatch
        // the key is checked against the stored hash outside it, then the release retried
        // (a concurrent first upload with the same key, or a rotation in between).
        let mut attempts = 0;
        let mut tx = loop {
            let mut tx = db.begin().await?;
            let published = plugins::publish(
                &mut tx,
                &Release {
                    plugin: &plugin,
                    key_hash: &key_hash,
                    version: &release,
                },
            )
            .await
            .map_err(|e| {
                if e.violates(plugins::VERSION_KEY) {
                    MicroDockError::VersionExists(version.clone())
                } else {
                    e.into()
                }
            })?;
            match published {
                Published::Added => break tx,
                Published::NameTaken(existing) => return Err(MicroDockError::NameTaken(existing)),
                Published::KeyMismatch(stored) => {
                    drop(tx);
                    attempts += 1;
                    if attempts > 2 || !verify_key(st, key, raw_key, &stored).await? {
                        return Err(MicroDockError::WrongKey);
                    }
                    key_hash = stored;
                }
            }
        };
        audit(
            st,
            &mut tx,
            actor,
            "plugin_uploaded",
            serde_json::json!({"plugin": name, "version": version, "sha256": file.info.sha256}),
        )
        .await?;
        tx.commit().await?;
        Ok::<(), MicroDockError>(())
    }
    .await;
    if let Err(e) = recorded {
        // The version row is what makes the file reachable; without it the file goes too.
        discard_blob(st, &blob).await;
        return Err(e);
    }
    st.list_cache.invalidate();
    tracing::info!(plugin.name = name, plugin.version = %version, size_bytes = file.info.size, "plugin uploaded");
    plugins::get(db, name)
        .await?
        .ok_or_else(|| MicroDockError::Internal("plugin vanished after publish".into()))
}

/// Reads and checks the manifest of the spooled archive on a blocking thread.
async fn inspect(st: &MicroDockState, file: &TempFile) -> Result<Manifest, MicroDockError> {
    let path = file.spooled.path().to_path_buf();
    let limits = st.settings.zip.clone();
    tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&path).map_err(|e| MicroDockError::Internal(e.to_string()))?;
        archive::inspect(std::io::BufReader::new(f), &limits).map_err(MicroDockError::InvalidFile)
    })
    .await
    .map_err(|e| MicroDockError::Internal(e.to_string()))?
}

/// Sets `is_enabled` and audits the change.
pub async fn set_enabled(
    st: &MicroDockState,
    actor: Actor,
    name: &str,
    enabled: bool,
) -> Result<Plugin, MicroDockError> {
    let name = lookup_name(st, name).await?;
    let mut tx = st.platform.db.begin().await?;
    if !plugins::set_enabled(&mut tx, name.as_str(), enabled, st.platform.clock.now()).await? {
        return Err(MicroDockError::PluginNotFound);
    }
    let action = if enabled {
        "plugin_enabled"
    } else {
        "plugin_disabled"
    };
    audit(
        st,
        &mut tx,
        actor,
        action,
        serde_json::json!({"plugin": name.as_str()}),
    )
    .await?;
    tx.commit().await?;
    changed_plugin(st, name.as_str()).await
}

/// Marks a plugin deprecated (`Some((message, replacement))`) or reverses it (`None`).
pub async fn set_deprecated(
    st: &MicroDockState,
    actor: Actor,
    name: &str,
    dep: Deprecation<'_>,
) -> Result<Plugin, MicroDockError> {
    let name = lookup_name(st, name).await?;
    let mut tx = st.platform.db.begin().await?;
    if !plugins::set_deprecated(&mut tx, name.as_str(), dep, st.platform.clock.now()).await? {
        return Err(MicroDockError::PluginNotFound);
    }
    let (action, detail) = match dep {
        Some((message, replacement)) => (
            "plugin_deprecated",
            serde_json::json!({"plugin": name.as_str(), "message": message, "replacement": replacement}),
        ),
        None => (
            "plugin_undeprecated",
            serde_json::json!({"plugin": name.as_str()}),
        ),
    };
    audit(st, &mut tx, actor, action, detail).await?;
    tx.commit().await?;
    changed_plugin(st, name.as_str()).await
}

/// Marks one version deprecated or reverses it; the current version is recomputed.
pub async fn set_version_deprecated(
    st: &MicroDockState,
    actor: Actor,
    name: &str,
    version: &str,
    dep: Deprecation<'_>,
) -> Result<PluginVersion, MicroDockError> {
    let name = lookup_name(st, name).await?;
    // The stored spelling of the canonical version (rows from before issue 7 may carry build
    // metadata).
    let stored = plugins::version(&st.platform.db, name.as_str(), &lookup_version(version)?)
        .await?
        .ok_or(MicroDockError::VersionNotFound)?;
    let version = stored.version.as_str();
    let mut tx = st.platform.db.begin().await?;
    let now = st.platform.clock.now();
    if !plugins::set_version_deprecated(&mut tx, name.as_str(), version, dep, now).await? {
        return Err(MicroDockError::VersionNotFound);
    }
    let (action, detail) = match dep {
        Some((message, _)) => (
            "version_deprecated",
            serde_json::json!({"plugin": name.as_str(), "version": version, "message": message}),
        ),
        None => (
            "version_undeprecated",
            serde_json::json!({"plugin": name.as_str(), "version": version}),
        ),
    };
    audit(st, &mut tx, actor, action, detail).await?;
    tx.commit().await?;
    st.list_cache.invalidate();
    plugins::version(&st.platform.db, name.as_str(), version)
        .await?
        .ok_or(MicroDockError::VersionNotFound)
}

/// Deletes a plugin with all its versions, counters and files. The files are first moved
/// aside, so a failed database delete puts them back and nothing is half-removed.
pub async fn delete(st: &MicroDockState, actor: Actor, name: &str) -> Result<(), MicroDockError> {
    let name = lookup_name(st, name).await?;
    let (db, blobs) = (&st.platform.db, &st.platform.blobs);
    plugins::get(db, name.as_str())
        .await?
        .ok_or(MicroDockError::PluginNotFound)?;
    let versions = plugins::versions(db, name.as_str()).await?;
    let trash = storage::trash_prefix();
    let mut moved = Vec::new();
    for v in &versions {
        let aside = format!("{trash}/{}", v.file_name);
        let original = storage::plugin_key(&v.file_path);
        match blobs.rename(&original, &aside).await {
            Ok(()) => moved.push((original, aside)),
            Err(e) => {
                tracing::debug!(error = %e, blob.key = original, "plugin file not moved aside")
            }
        }
    }
    let deleted = async {
        let mut tx = db.begin().await?;
        if !plugins::delete(&mut tx, name.as_str()).await? {
            return Err(MicroDockError::PluginNotFound);
        }
        audit(
            st,
            &mut tx,
            actor,
            "plugin_deleted",
            serde_json::json!({"plugin": name.as_str(), "versions": versions.len()}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    if let Err(e) = deleted {
        for (original, aside) in &moved {
            if let Err(e) = blobs.rename(aside, original).await {
                tracing::error!(error = %e, blob.key = original, "could not restore a plugin file after a failed delete");
            }
        }
        return Err(e);
    }
    for (_, aside) in &moved {
        discard_blob(st, aside).await;
    }
    st.list_cache.invalidate();
    Ok(())
}

/// Replaces a plugin's upload key (`new_key`, 1-256 bytes after trimming, stored in NFC).
pub async fn rotate_key(
    st: &MicroDockState,
    actor: Actor,
    name: &str,
    new_key: &str,
) -> Result<(), MicroDockError> {
    let name = lookup_name(st, name).await?;
    let key = &canonical_key(new_key.trim());
    if key.is_empty() || key.len() > 256 {
        return Err(MicroDockError::InvalidParams(
            "new_key 长度须为 1-256".into(),
        ));
    }
    let hash = st.identity.hash_secret(key).await?;
    let mut tx = st.platform.db.begin().await?;
    if !plugins::set_key_hash(&mut tx, name.as_str(), &hash, st.platform.clock.now()).await? {
        return Err(MicroDockError::PluginNotFound);
    }
    audit(
        st,
        &mut tx,
        actor,
        "plugin_key_rotated",
        serde_json::json!({"plugin": name.as_str()}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Invalidates the list cache and re-reads a plugin after a committed change.
async fn changed_plugin(st: &MicroDockState, name: &str) -> Result<Plugin, MicroDockError> {
    st.list_cache.invalidate();
    plugins::get(&st.platform.db, name)
        .await?
        .ok_or(MicroDockError::PluginNotFound)
}
