//! Start-up reconciliation of the blob store with the database (issue 7, item 11).
//!
//! Uploads write the object first and the row second (`blobs.commit`, then one transaction
//! with the row and its audit entry), and deletions move objects aside under `trash/`
//! before deleting rows. A crash between the two steps leaves an object no row points to:
//! never a row without its object. This pass removes such objects: plugin files and backups
//! with no row, and whatever `trash/` holds. Only objects last written more than
//! `MICRODOCK_ORPHAN_GRACE_SECONDS` ago (default 3600) are touched, so an upload another
//! instance is finishing right now is left alone.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use crate::state::MicroDockState;
use crate::storage;
use crate::store;

/// What one pass removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Objects removed because no row referenced them (or they were in the trash).
    pub removed: usize,
}

/// Removes unreferenced objects older than `grace`; failures are logged and skipped.
pub async fn run(st: &MicroDockState, grace: Duration) -> Reconciled {
    let mut out = Reconciled::default();
    let before = SystemTime::now()
        .checked_sub(grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let db = &st.platform.db;
    let blobs = &st.platform.blobs;
    let referenced: HashSet<String> = match (
        store::plugins::all_file_paths(db).await,
        store::backups::all_file_paths(db).await,
    ) {
        (Ok(p), Ok(b)) => p
            .iter()
            .map(|f| storage::plugin_key(f))
            .chain(b.iter().map(|f| storage::backup_key(f)))
            .collect(),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "blob reconciliation skipped: cannot read file paths");
            return out;
        }
    };
    for prefix in ["microdock/plugins", "microdock/backups", "microdock/trash"] {
        let keys = match blobs.list_written_before(prefix, before).await {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, prefix, "blob reconciliation: cannot list");
                continue;
            }
        };
        for key in keys.into_iter().filter(|k| !referenced.contains(k)) {
            match blobs.delete(&key).await {
                Ok(()) => out.removed += 1,
                Err(e) => tracing::warn!(error = %e, key, "blob reconciliation: cannot delete"),
            }
        }
    }
    if out.removed > 0 {
        tracing::info!(
            objects = out.removed,
            "removed stored files that no row references (left by a crash)"
        );
    }
    out
}
