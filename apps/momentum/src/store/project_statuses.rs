//! `mm_project_statuses`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use crate::domain::ProjectCategory;

/// The unique constraint on `(workspace_id, name)`.
pub const NAME_KEY: &str = "mm_project_statuses_workspace_id_name_key";

/// A project status of a workspace.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumProjectStatus)]
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

/// A stored status; `category` is CHECK-constrained text.
#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    workspace_id: Uuid,
    name: String,
    description: Option<String>,
    color: String,
    category: String,
    position: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for ProjectStatus {
    fn from(r: Row) -> ProjectStatus {
        ProjectStatus {
            id: r.id,
            workspace_id: r.workspace_id,
            name: r.name,
            description: r.description,
            color: r.color,
            // The CHECK constraint admits only the five names.
            category: ProjectCategory::parse(&r.category).unwrap_or(ProjectCategory::Backlog),
            position: r.position,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

macro_rules! columns {
    () => {
        "id, workspace_id, name, description, color, category, position, created_at, updated_at"
    };
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

/// The statuses of a workspace in display order.
pub async fn list(db: &Db, workspace_id: Uuid) -> Result<Vec<ProjectStatus>, StoreError> {
    let rows: Vec<Row> = on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(),
        " FROM mm_project_statuses WHERE workspace_id = $1 ORDER BY position, name, id"))
        .bind(workspace_id).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(ProjectStatus::from).collect())
}

/// The status `id` of `workspace_id` (another workspace's is `None`).
pub async fn get(
    db: &Db,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<Option<ProjectStatus>, StoreError> {
    let row: Option<Row> = on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(),
        " FROM mm_project_statuses WHERE id = $1 AND workspace_id = $2"))
        .bind(id).bind(workspace_id).fetch_optional(pool).await)?;
    Ok(row.map(ProjectStatus::from))
}

/// The status `id` of `workspace_id`, read in `tx` and locked until commit on PostgreSQL
/// (a project being given this status waits for a delete to finish, and fails after it).
pub async fn get_for_update(
    tx: &mut Tx,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<Option<ProjectStatus>, StoreError> {
    let sql: &'static str = match tx {
        Tx::Sqlite(_) => concat!(
            "SELECT ",
            columns!(),
            " FROM mm_project_statuses WHERE id = $1 AND workspace_id = $2"
        ),
        Tx::Postgres(_) => concat!(
            "SELECT ",
            columns!(),
            " FROM mm_project_statuses WHERE id = $1 AND workspace_id = $2 FOR UPDATE"
        ),
    };
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(sql)
        .bind(id).bind(workspace_id).fetch_optional(&mut *c).await)?;
    Ok(row.map(ProjectStatus::from))
}

/// Whether `id` is a status of `workspace_id`, in `tx` (a project's `project_status_id`).
/// Shares the row lock with other readers on PostgreSQL, so a concurrent delete waits.
pub async fn exists_in(tx: &mut Tx, workspace_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let sql: &'static str = match tx {
        Tx::Sqlite(_) => "SELECT id FROM mm_project_statuses WHERE id = $1 AND workspace_id = $2",
        Tx::Postgres(_) => {
            "SELECT id FROM mm_project_statuses WHERE id = $1 AND workspace_id = $2 FOR KEY SHARE"
        }
    };
    let found: Option<Uuid> = on_tx!(tx, c => sqlx::query_scalar(sql)
        .bind(id).bind(workspace_id).fetch_optional(&mut *c).await)?;
    Ok(found.is_some())
}

/// The status a new project gets when none is named: the first `backlog` one in display
/// order, else the first of any category.
pub async fn default_for_projects(
    tx: &mut Tx,
    workspace_id: Uuid,
) -> Result<Option<Uuid>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "SELECT id FROM mm_project_statuses WHERE workspace_id = $1 \
         ORDER BY CASE WHEN category = 'backlog' THEN 0 ELSE 1 END, position, name, id LIMIT 1")
        .bind(workspace_id).fetch_optional(&mut *c).await)?)
}

/// The position after the workspace's last status (0 for the first).
pub async fn next_position(tx: &mut Tx, workspace_id: Uuid) -> Result<i32, StoreError> {
    let max: Option<i32> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT MAX(position) FROM mm_project_statuses WHERE workspace_id = $1")
        .bind(workspace_id).fetch_one(&mut *c).await)?;
    Ok(max.map_or(0, |m| m.saturating_add(1)))
}

/// Stores name, description, color, category, position and `updated_at` of `s`.
pub async fn update(tx: &mut Tx, s: &ProjectStatus) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE mm_project_statuses SET name = $3, description = $4, color = $5, category = $6, position = $7, updated_at = $8 \
         WHERE id = $1 AND workspace_id = $2")
        .bind(s.id).bind(s.workspace_id).bind(&s.name).bind(&s.description).bind(&s.color)
        .bind(s.category.as_str()).bind(s.position).bind(s.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// How many projects have status `id`.
pub async fn projects_using(tx: &mut Tx, id: Uuid) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM mm_projects WHERE project_status_id = $1")
        .bind(id).fetch_one(&mut *c).await)?)
}

/// Deletes a status; whether it existed.
pub async fn delete(tx: &mut Tx, workspace_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM mm_project_statuses WHERE id = $1 AND workspace_id = $2")
        .bind(id).bind(workspace_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
