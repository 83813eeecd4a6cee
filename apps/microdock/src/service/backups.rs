//! Backup operations: store an uploaded backup (quota, pruning), delete one (administrators).

use crate::domain::names::{
    PluginName, backup_type, display_file_name, plain_text, storage_file_name, user_key,
};
use crate::error::MicroDockError;
use crate::routes::multipart::Form;
use crate::service::{Actor, audit, discard_blob};
use crate::state::MicroDockState;
use crate::storage;
use crate::store::backups::{self, Backup, NewBackup};

/// Checks a `user_key` parameter.
pub fn parse_user_key(s: &str) -> Result<&str, MicroDockError> {
    user_key(s).map_err(MicroDockError::InvalidParams)
}

/// Stores the backup in an upload form (`file`, `user_key`, `backup_type` program|plugin,
/// `description`?, `plugin_name`? for plugin backups): checks the form and the per-user
/// quota, moves the file into place, records the row and prunes the user's oldest backups
/// beyond `BACKUP_MAX_PER_USER`, in one transaction.
pub async fn store(st: &MicroDockState, mut form: Form) -> Result<Backup, MicroDockError> {
    let file = form
        .file
        .take()
        .ok_or_else(|| MicroDockError::InvalidParams("缺少 file 文件字段".into()))?;
    let key = parse_user_key(form.text("user_key").unwrap_or(""))?;
    let kind = backup_type(form.text("backup_type").unwrap_or(""))
        .ok_or(MicroDockError::InvalidBackupType)?;
    let description = form.text("description");
    if description.is_some_and(|d| d.chars().count() > 500) {
        return Err(MicroDockError::InvalidParams(
            "description 超过 500 个字符".into(),
        ));
    }
    if let Some(d) = description {
        plain_text("description", d, true).map_err(MicroDockError::InvalidParams)?;
    }
    let plugin_name = match (kind, form.text("plugin_name")) {
        ("plugin", Some(n)) => Some(PluginName::parse(n).map_err(MicroDockError::InvalidParams)?),
        _ => None,
    };
    let (db, blobs) = (&st.platform.db, &st.platform.blobs);
    let owner = st.owner_key(key);
    let now = st.platform.clock.now();
    let shown = display_file_name(&file.client_name);
    // A UUID in every key (issue 7 item 8): two backups of one user with one file name in
    // the same millisecond must never share a storage path. Nothing of the owner's key is
    // in it (administrators see `file_path`).
    let path = format!(
        "{kind}/{}_{}",
        uuid::Uuid::now_v7().simple(),
        storage_file_name(&shown)
    );
    let blob = storage::backup_key(&path);
    blobs.commit(file.spooled, &blob).await?;
    let saved = async {
        let mut tx = db.begin().await?;
        // The quota is checked and the row written under the owner's lock, in one
        // transaction: concurrent uploads cannot each see the room only one of them has.
        backups::lock_owner(&mut tx, &owner).await?;
        if let Some(quota) = st.settings.backup_quota_bytes {
            let used = backups::usage(&mut tx, &owner).await?.max(0) as u64;
            if used.saturating_add(file.info.size) > quota {
                return Err(MicroDockError::QuotaExceeded(quota));
            }
        }
        if let Some(total) = st.settings.backup_total_bytes {
            let used = backups::total_usage(&mut tx).await?.max(0) as u64;
            if used.saturating_add(file.info.size) > total {
                return Err(MicroDockError::BackupStorageFull(total));
            }
        }
        let saved = backups::insert(
            &mut tx,
            &NewBackup {
                owner: &owner,
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
        .await?;
        let pruned = match st.settings.backup_max_per_user {
            Some(keep) => backups::prune(&mut tx, &owner, kind, keep).await?,
            None => Vec::new(),
        };
        tx.commit().await?;
        Ok::<_, MicroDockError>((saved, pruned))
    }
    .await;
    let (saved, pruned) = match saved {
        Ok(s) => s,
        Err(e) => {
            discard_blob(st, &blob).await;
            return Err(e);
        }
    };
    for old in pruned {
        discard_blob(st, &storage::backup_key(&old)).await;
    }
    tracing::info!(
        backup.id = saved.id,
        size_bytes = saved.file_size,
        "backup uploaded"
    );
    Ok(saved)
}

/// Deletes a backup (administrators). With `user_key`, the backup must belong to it.
pub async fn delete(
    st: &MicroDockState,
    actor: Actor,
    user_key: Option<&str>,
    id: i64,
) -> Result<(), MicroDockError> {
    let db = &st.platform.db;
    let backup = match user_key.filter(|k| !k.is_empty()) {
        Some(k) => backups::get_for(db, &st.owner_key(parse_user_key(k)?), id).await?,
        None => backups::get(db, id).await?,
    }
    .ok_or(MicroDockError::BackupNotFound)?;
    let mut tx = db.begin().await?;
    if !backups::delete(&mut tx, backup.id).await? {
        return Err(MicroDockError::BackupNotFound);
    }
    audit(
        st,
        &mut tx,
        actor,
        "backup_deleted",
        serde_json::json!({"backup_id": backup.id}),
    )
    .await?;
    tx.commit().await?;
    discard_blob(st, &storage::backup_key(&backup.file_path)).await;
    Ok(())
}
