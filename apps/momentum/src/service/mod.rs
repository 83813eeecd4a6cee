//! One function per operation: validate, run the stores in one transaction with the
//! change-log entry, answer Momentum's error enum.

pub mod auth;
pub mod comments;
pub mod cycles;
pub mod invitations;
pub mod issues;
pub mod labels;
pub mod project_statuses;
pub mod projects;
pub mod provision;
pub mod teams;
pub mod transitions;
pub mod workflows;
pub mod workspaces;

use serde::Serialize;
use trellis_kernel::db::Tx;
use uuid::Uuid;

use crate::error::MomentumError;
use crate::store::changes::{self, Entry};

/// What a mutation did, for the change log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Created.
    Create,
    /// Changed.
    Update,
    /// Deleted.
    Delete,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// Who does a mutation, where, when: the caller's workspace and role, and the platform
/// clock's now (read once per operation).
#[derive(Clone, Copy, Debug)]
pub struct Scope {
    /// The workspace the mutation happens in.
    pub workspace_id: Uuid,
    /// The acting user.
    pub actor: Uuid,
    /// The actor's role in the workspace (read from the database for this request).
    pub role: crate::domain::WorkspaceRole,
    /// Now, by the platform clock.
    pub now: chrono::DateTime<chrono::Utc>,
}

impl Scope {
    /// `Ok` when the actor may change content (not a guest).
    pub fn require_writer(&self) -> Result<(), MomentumError> {
        if self.role.can_write() {
            Ok(())
        } else {
            Err(MomentumError::Forbidden("guests cannot change this"))
        }
    }

    /// `Ok` for owners and admins.
    pub fn require_admin(&self) -> Result<(), MomentumError> {
        if self.role.is_admin() {
            Ok(())
        } else {
            Err(MomentumError::Forbidden(
                "only workspace owners and admins can do this",
            ))
        }
    }
}

/// Appends a change-log entry in the mutation's transaction `tx` (issue 8 "Change log");
/// returns its `sync_id`. `data` is the object after the change (or the deleted object).
pub async fn log_change<T: Serialize>(
    tx: &mut Tx,
    scope: &Scope,
    entity: &str,
    entity_id: Uuid,
    action: Action,
    data: &T,
) -> Result<i64, MomentumError> {
    let data = serde_json::to_string(data)
        .map_err(|e| MomentumError::Api(trellis_kernel::ApiError::internal(e)))?;
    Ok(changes::append(
        tx,
        &Entry {
            workspace_id: scope.workspace_id,
            entity,
            entity_id,
            action: action.as_str(),
            data: &data,
            actor: Some(scope.actor),
            now: scope.now,
        },
    )
    .await?)
}

/// `scope.now` at the databases' precision (microseconds, PostgreSQL's), so an object a
/// mutation answers with equals the one a later read returns.
pub fn stamp(scope: &Scope) -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    scope.now.trunc_subsecs(6)
}
