//! `mm_project_statuses`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{StoreError, Tx};
use trellis_kernel::on_tx;
use uuid::Uuid;

use crate::domain::ProjectCategory;

/// The unique constraint on `(workspace_id, name)`.
pub const NAME_KEY: &str = "mm_project_statuses_workspace_id_name_key";

/// A project status of a workspace.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectStatus {
    /// Id.
    pub id: Uuid,
    /// The workspace it belongs to.
    pub workspace_id: Uuid,
    /// Name, unique in the workspace.
    pub name: String,
    /// Description, if any.
    pub description: Option<String>,
    /// `#RRGGBB`.
    pub color: String,
    /// One of `backlog, planned, in_progress, completed, canceled`.
    pub category: ProjectCategory,
    /// Display order (0 first).
    pub position: i32,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// Inserts a project status.
pub async fn insert(tx: &mut Tx, s: &ProjectStatus) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_project_statuses (id, workspace_id, name, description, color, category, position, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(s.id).bind(s.workspace_id).bind(&s.name).bind(&s.description).bind(&s.color)
        .bind(s.category.as_str()).bind(s.position).bind(s.created_at).bind(s.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
