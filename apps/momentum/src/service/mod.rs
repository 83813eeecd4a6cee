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

/// Something an operation did that live connections must learn about once it has committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A change-log entry was written (it may yet roll back; readers of the log find out).
    Logged {
        /// The workspace.
        workspace_id: Uuid,
        /// The entry's `sync_id`.
        sync_id: i64,
    },
    /// A workspace (and its log) was deleted.
    WorkspaceDeleted(Uuid),
}

tokio::task_local! {
    static NOTICES: std::cell::RefCell<Vec<Notice>>;
}

/// Runs `op` (a REST handler, a WebSocket command) and answers its output with the
/// [`Notice`]s its operations recorded, so the caller can wake the realtime feeds once the
/// transactions have committed.
pub async fn recording<F: std::future::Future>(op: F) -> (F::Output, Vec<Notice>) {
    NOTICES
        .scope(std::cell::RefCell::new(Vec::new()), async move {
            let out = op.await;
            let notices = NOTICES.with(|n| std::mem::take(&mut *n.borrow_mut()));
            (out, notices)
        })
        .await
}

/// Records `notice` for the enclosing [`recording`] (nothing outside one).
pub fn notice(notice: Notice) {
    let _ = NOTICES.try_with(|n| n.borrow_mut().push(notice));
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
    let sync_id = changes::append(
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
    .await?;
    notice(Notice::Logged {
        workspace_id: scope.workspace_id,
        sync_id,
    });
    Ok(sync_id)
}

/// `scope.now` at the databases' precision (microseconds, PostgreSQL's), so an object a
/// mutation answers with equals the one a later read returns.
pub fn stamp(scope: &Scope) -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    scope.now.trunc_subsecs(6)
}
