//! `mm_labels`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{StoreError, Tx};
use trellis_kernel::on_tx;
use uuid::Uuid;

use crate::domain::LabelLevel;

/// The unique constraint on `(workspace_id, name)`.
pub const NAME_KEY: &str = "mm_labels_workspace_id_name_key";

/// A label of a workspace.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Label {
    /// Id.
    pub id: Uuid,
    /// The workspace it belongs to.
    pub workspace_id: Uuid,
    /// Name, unique in the workspace (1–50 characters).
    pub name: String,
    /// `#RRGGBB`.
    pub color: String,
    /// `issue` or `project`.
    pub level: LabelLevel,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// Inserts a label.
pub async fn insert(tx: &mut Tx, l: &Label) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_labels (id, workspace_id, name, color, level, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(l.id).bind(l.workspace_id).bind(&l.name).bind(&l.color).bind(l.level.as_str())
        .bind(l.created_at).bind(l.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
