//! The operations of MicroDock: each function owns one client-visible operation (checks,
//! storage, blobs, audit in one transaction) and returns a [`MicroDockError`]. Handlers in
//! `routes/` extract the request, call one of these, and answer.

pub mod backups;
pub mod plugins;
pub mod reconcile;

use std::net::IpAddr;

use trellis_kernel::db::Tx;
use uuid::Uuid;

use crate::domain::manifest::canonical_version;
use crate::domain::names::PluginName;
use crate::error::MicroDockError;
use crate::state::MicroDockState;
use crate::store::plugins::{self as plugin_store, Plugin};

/// A plugin name from a lookup request, in the spelling it is stored under: names are
/// unique and looked up in their canonical form, ASCII lower case (issue 7 item 3), so
/// `COM.Example.X` finds `com.example.x`. A malformed name cannot exist (404); a well-formed
/// unknown one is returned as given (the caller's read then answers 404).
pub async fn lookup_name(st: &MicroDockState, name: &str) -> Result<PluginName, MicroDockError> {
    let parsed = PluginName::lookup(name.trim()).ok_or(MicroDockError::PluginNotFound)?;
    Ok(
        match plugin_store::stored_name(&st.platform.db, parsed.as_str()).await? {
            Some(stored) => PluginName::lookup(&stored).unwrap_or(parsed),
            None => parsed,
        },
    )
}

/// A version from a lookup request in its canonical form ([`canonical_version`]: build
/// metadata dropped); a version that is not semver cannot exist (404).
pub fn lookup_version(version: &str) -> Result<String, MicroDockError> {
    canonical_version(version)
        .map(|v| v.to_string())
        .ok_or(MicroDockError::VersionNotFound)
}

/// A plugin as `admin` (or an anonymous caller) may see it: a disabled plugin is
/// [`MicroDockError::PluginDisabled`] for everyone but administrators, the same on detail,
/// versions, version detail and downloads (issue 7 item 14); administrators see all.
pub async fn visible_plugin(
    st: &MicroDockState,
    name: &PluginName,
    admin: bool,
) -> Result<Plugin, MicroDockError> {
    let plugin = plugin_store::get(&st.platform.db, name.as_str())
        .await?
        .ok_or(MicroDockError::PluginNotFound)?;
    if !plugin.is_enabled && !admin {
        return Err(MicroDockError::PluginDisabled);
    }
    Ok(plugin)
}

/// Who asked, for the audit log.
#[derive(Clone, Copy, Debug)]
pub struct Actor {
    /// The administrator's account, or `None` for a key-holder's upload.
    pub user_id: Option<Uuid>,
    /// The client address.
    pub ip: IpAddr,
}

/// Writes an audit row for `action` in `tx`.
pub(crate) async fn audit(
    st: &MicroDockState,
    tx: &mut Tx,
    actor: Actor,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), MicroDockError> {
    st.identity
        .audit_event(tx, actor.user_id, action, Some(actor.ip), detail)
        .await?;
    Ok(())
}

/// Deletes a blob that is no longer referenced; a failure is logged (the start-up
/// reconciliation of the hardening issue will collect it), never answered.
pub(crate) async fn discard_blob(st: &MicroDockState, key: &str) {
    if let Err(e) = st.platform.blobs.delete(key).await {
        tracing::warn!(error = %e, blob.key = key, "could not delete unreferenced blob");
    }
}
