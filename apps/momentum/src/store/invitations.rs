//! `mm_invitations`: invitations to join a workspace, one pending per address and workspace.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use crate::domain::{InvitationStatus, WorkspaceRole};

/// The partial unique index: one `pending` invitation per `(workspace_id, email)`.
pub const PENDING_KEY: &str = "mm_invitations_workspace_id_email_key";

/// An invitation as stored.
#[derive(Clone, Debug)]
pub struct NewInvitation {
    /// Id.
    pub id: Uuid,
    /// The workspace it invites to.
    pub workspace_id: Uuid,
    /// The invited address (lower-cased).
    pub email: String,
    /// The role the invitee gets.
    pub role: WorkspaceRole,
    /// Who invited.
    pub invited_by: Uuid,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Open until (UTC).
    pub expires_at: DateTime<Utc>,
}

/// An invitation as the API shows it; `status` is `expired` for a pending one past its
/// expiry.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumInvitation)]
pub struct Invitation {
    /// Id.
    pub id: Uuid,
    /// The workspace it invites to.
    pub workspace_id: Uuid,
    /// That workspace's name.
    pub workspace_name: String,
    /// That workspace's URL key.
    pub workspace_url_key: String,
    /// The invited address (lower-cased).
    pub email: String,
    /// The role the invitee gets on accepting.
    pub role: WorkspaceRole,
    /// `pending`, `accepted`, `declined`, `revoked`, or `expired` (pending past `expires_at`).
    pub status: InvitationStatus,
    /// Who invited (null once that account is gone).
    pub invited_by: Option<Uuid>,
    /// The inviter's display name.
    pub invited_by_name: Option<String>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
    /// Open until (UTC).
    pub expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    workspace_id: Uuid,
    workspace_name: String,
    workspace_url_key: String,
    email: String,
    role: String,
    status: String,
    invited_by: Option<Uuid>,
    invited_by_name: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl Row {
    fn view(self, now: DateTime<Utc>) -> Invitation {
        let mut status = InvitationStatus::parse(&self.status).unwrap_or(InvitationStatus::Revoked);
        if status == InvitationStatus::Pending && self.expires_at <= now {
            status = InvitationStatus::Expired;
        }
        Invitation {
            id: self.id,
            workspace_id: self.workspace_id,
            workspace_name: self.workspace_name,
            workspace_url_key: self.workspace_url_key,
            email: self.email,
            role: WorkspaceRole::parse(&self.role).unwrap_or(WorkspaceRole::Guest),
            status,
            invited_by: self.invited_by,
            invited_by_name: self.invited_by_name,
            created_at: self.created_at,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
        }
    }
}

macro_rules! select {
    () => {
        "SELECT i.id, i.workspace_id, w.name AS workspace_name, w.url_key AS workspace_url_key, \
         i.email, i.role, i.status, i.invited_by, COALESCE(p.name, u.username) AS invited_by_name, \
         i.created_at, i.updated_at, i.expires_at \
         FROM mm_invitations i JOIN mm_workspaces w ON w.id = i.workspace_id \
         LEFT JOIN users u ON u.id = i.invited_by LEFT JOIN mm_profiles p ON p.user_id = u.id "
    };
}

/// Inserts a pending invitation (a pending one for the address violates [`PENDING_KEY`]).
pub async fn insert(tx: &mut Tx, i: &NewInvitation) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_invitations (id, workspace_id, email, role, status, invited_by, created_at, updated_at, expires_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5, $6, $6, $7)")
        .bind(i.id).bind(i.workspace_id).bind(&i.email).bind(i.role.as_str()).bind(i.invited_by)
        .bind(i.created_at).bind(i.expires_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Deletes the pending invitations of `email` to `workspace_id` that expired by `now`
/// (a new invitation replaces them); returns their ids.
pub async fn delete_expired(
    tx: &mut Tx,
    workspace_id: Uuid,
    email: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "DELETE FROM mm_invitations WHERE workspace_id = $1 AND email = $2 AND status = 'pending' \
         AND expires_at <= $3 RETURNING id")
        .bind(workspace_id).bind(email).bind(now).fetch_all(&mut *c).await)?)
}

/// The invitation `id`.
pub async fn get(db: &Db, id: Uuid, now: DateTime<Utc>) -> Result<Option<Invitation>, StoreError> {
    let row: Option<Row> = on_db_read!(db, pool => sqlx::query_as(concat!(select!(), "WHERE i.id = $1"))
        .bind(id).fetch_optional(pool).await)?;
    Ok(row.map(|r| r.view(now)))
}

/// The invitation `id`, read inside `tx`.
pub async fn get_tx(
    tx: &mut Tx,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Invitation>, StoreError> {
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(concat!(select!(), "WHERE i.id = $1"))
        .bind(id).fetch_optional(&mut *c).await)?;
    Ok(row.map(|r| r.view(now)))
}

/// Invitations addressed to `email`, and those of `workspace_id` when given; newest first
/// (one query).
pub async fn list_for(
    db: &Db,
    email: &str,
    workspace_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Vec<Invitation>, StoreError> {
    let rows: Vec<Row> = on_db_read!(db, pool => sqlx::query_as(concat!(select!(),
        "WHERE i.email = $1 OR i.workspace_id = $2 ORDER BY i.created_at DESC, i.id DESC"))
        .bind(email).bind(workspace_id).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|r| r.view(now)).collect())
}

/// The pending invitations of a workspace (expired ones included, shown as `expired`),
/// newest first (one query).
pub async fn pending_of(
    db: &Db,
    workspace_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Invitation>, StoreError> {
    let rows: Vec<Row> = on_db_read!(db, pool => sqlx::query_as(concat!(select!(),
        "WHERE i.workspace_id = $1 AND i.status = 'pending' ORDER BY i.created_at DESC, i.id DESC"))
        .bind(workspace_id).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|r| r.view(now)).collect())
}

/// Closes a pending invitation with `status`, only if it is still pending and, when
/// `unexpired`, not yet expired at `now`; `false` when it was not (a concurrent accept,
/// decline or revoke, or expiry, won).
pub async fn close(
    tx: &mut Tx,
    id: Uuid,
    status: InvitationStatus,
    unexpired: bool,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE mm_invitations SET status = $2, updated_at = $3 \
         WHERE id = $1 AND status = 'pending' AND (NOT $4 OR expires_at > $3)")
        .bind(id).bind(status.as_str()).bind(now).bind(unexpired)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
