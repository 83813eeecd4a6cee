//! `mm_labels`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use crate::domain::LabelLevel;

/// The unique constraint on `(workspace_id, name)`.
pub const NAME_KEY: &str = "mm_labels_workspace_id_name_key";

/// A label of a workspace.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumLabel)]
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

/// A stored label; `level` is CHECK-constrained text.
#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    workspace_id: Uuid,
    name: String,
    color: String,
    level: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Label {
    fn from(r: Row) -> Label {
        Label {
            id: r.id,
            workspace_id: r.workspace_id,
            name: r.name,
            color: r.color,
            // The CHECK constraint admits only the two names.
            level: LabelLevel::parse(&r.level).unwrap_or(LabelLevel::Issue),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Columns of [`Label`] from `mm_labels`.
macro_rules! columns {
    () => {
        "id, workspace_id, name, color, level, created_at, updated_at"
    };
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

/// The labels of a workspace by name, optionally of one level and whose name contains
/// `search` (case-insensitive). Without filters this is one scan of the
/// `(workspace_id, name)` unique index, already in order (the benchmarked `GET /labels`).
pub async fn list(
    db: &Db,
    workspace_id: Uuid,
    level: Option<LabelLevel>,
    search: Option<&str>,
) -> Result<Vec<Label>, StoreError> {
    let rows: Vec<Row> = if level.is_none() && search.is_none() {
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(),
            " FROM mm_labels WHERE workspace_id = $1 ORDER BY name"))
            .bind(workspace_id).fetch_all(pool).await)?
    } else {
        let pattern = search.map(like_pattern);
        on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(),
            " FROM mm_labels WHERE workspace_id = $1 AND ($2 IS NULL OR level = $2) \
              AND ($3 IS NULL OR LOWER(name) LIKE $3 ESCAPE '\\') ORDER BY name"))
            .bind(workspace_id).bind(level.map(LabelLevel::as_str)).bind(&pattern)
            .fetch_all(pool).await)?
    };
    Ok(rows.into_iter().map(Label::from).collect())
}

/// `%<s>%`, lower-cased, with LIKE's wildcards taken literally.
pub fn like_pattern(s: &str) -> String {
    let esc = s
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{esc}%")
}

/// The label `id` of `workspace_id` (another workspace's is `None`).
pub async fn get(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<Option<Label>, StoreError> {
    let row: Option<Row> = on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", columns!(),
        " FROM mm_labels WHERE id = $1 AND workspace_id = $2"))
        .bind(id).bind(workspace_id).fetch_optional(pool).await)?;
    Ok(row.map(Label::from))
}

/// The label `id` of `workspace_id`, read in `tx` (locked until commit on PostgreSQL).
pub async fn get_for_update(
    tx: &mut Tx,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<Option<Label>, StoreError> {
    let sql: &'static str = match tx {
        Tx::Sqlite(_) => concat!(
            "SELECT ",
            columns!(),
            " FROM mm_labels WHERE id = $1 AND workspace_id = $2"
        ),
        Tx::Postgres(_) => concat!(
            "SELECT ",
            columns!(),
            " FROM mm_labels WHERE id = $1 AND workspace_id = $2 FOR UPDATE"
        ),
    };
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(sql)
        .bind(id).bind(workspace_id).fetch_optional(&mut *c).await)?;
    Ok(row.map(Label::from))
}

/// Every label of a workspace, read in `tx` (a batch checks names against them).
pub async fn all_in(tx: &mut Tx, workspace_id: Uuid) -> Result<Vec<Label>, StoreError> {
    let rows: Vec<Row> = on_tx!(tx, c => sqlx::query_as(concat!("SELECT ", columns!(),
        " FROM mm_labels WHERE workspace_id = $1 ORDER BY name"))
        .bind(workspace_id).fetch_all(&mut *c).await)?;
    Ok(rows.into_iter().map(Label::from).collect())
}

/// Stores name, color, level and `updated_at` of `l`.
pub async fn update(tx: &mut Tx, l: &Label) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE mm_labels SET name = $3, color = $4, level = $5, updated_at = $6 WHERE id = $1 AND workspace_id = $2")
        .bind(l.id).bind(l.workspace_id).bind(&l.name).bind(&l.color).bind(l.level.as_str()).bind(l.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Renames a label without touching anything else (a batch parks renamed labels under a
/// unique placeholder first, so two labels can swap names).
pub async fn rename(
    tx: &mut Tx,
    workspace_id: Uuid,
    id: Uuid,
    name: &str,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("UPDATE mm_labels SET name = $3 WHERE id = $1 AND workspace_id = $2")
        .bind(id).bind(workspace_id).bind(name)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Deletes a label (its issue links go by cascade); whether it existed.
pub async fn delete(tx: &mut Tx, workspace_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM mm_labels WHERE id = $1 AND workspace_id = $2")
        .bind(id).bind(workspace_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
