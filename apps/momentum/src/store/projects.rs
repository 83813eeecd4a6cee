//! `mm_projects`, read with their status, owner and issue count.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use super::UserSummary;
use crate::domain::{Priority, ProjectCategory};

/// The unique constraint on `(workspace_id, project_key)`.
pub const KEY_KEY: &str = "mm_projects_workspace_id_project_key_key";

/// A project as stored.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumProjectRow)]
pub struct Project {
    /// Id.
    pub id: Uuid,
    /// The workspace it belongs to.
    pub workspace_id: Uuid,
    /// Name (1–255 characters).
    pub name: String,
    /// 2–10 upper-case letters and digits, unique in the workspace.
    pub project_key: String,
    /// Description, if any.
    pub description: Option<String>,
    /// Target date (`YYYY-MM-DD`), if any.
    pub target_date: Option<NaiveDate>,
    /// Its status (a project status of the workspace).
    pub project_status_id: Uuid,
    /// `none, low, medium, high, urgent`.
    pub priority: Priority,
    /// The member responsible, if any.
    pub owner_id: Option<Uuid>,
    /// Roadmap it belongs to (free text), if any.
    pub roadmap: Option<String>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A project's status as shown with the project.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumProjectStatusSummary)]
pub struct StatusSummary {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// `#RRGGBB`.
    pub color: String,
    /// Category.
    pub category: ProjectCategory,
}

/// A project with its status, owner and number of issues (`GET /projects`, `GET
/// /projects/{id}`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumProject)]
pub struct ProjectView {
    /// The project's fields.
    #[serde(flatten)]
    pub project: Project,
    /// Its status.
    pub status: StatusSummary,
    /// Its owner, if any.
    pub owner: Option<UserSummary>,
    /// Issues in the project.
    pub issue_count: i64,
}

/// A stored project; enums are CHECK-constrained text.
#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    workspace_id: Uuid,
    name: String,
    project_key: String,
    description: Option<String>,
    target_date: Option<NaiveDate>,
    project_status_id: Uuid,
    priority: String,
    owner_id: Option<Uuid>,
    roadmap: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Project {
    fn from(r: Row) -> Project {
        Project {
            id: r.id,
            workspace_id: r.workspace_id,
            name: r.name,
            project_key: r.project_key,
            description: r.description,
            target_date: r.target_date,
            project_status_id: r.project_status_id,
            // The CHECK constraint admits only the five names.
            priority: Priority::parse(&r.priority).unwrap_or(Priority::None),
            owner_id: r.owner_id,
            roadmap: r.roadmap,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A project joined with its status, owner and issue count.
#[derive(sqlx::FromRow)]
struct ViewRow {
    #[sqlx(flatten)]
    project: Row,
    status_name: String,
    status_color: String,
    status_category: String,
    owner_email: Option<String>,
    owner_username: Option<String>,
    owner_name: Option<String>,
    owner_avatar_url: Option<String>,
    issue_count: i64,
}

impl From<ViewRow> for ProjectView {
    fn from(r: ViewRow) -> ProjectView {
        let project = Project::from(r.project);
        let owner = match (project.owner_id, r.owner_email, r.owner_username) {
            (Some(id), Some(email), Some(username)) => Some(UserSummary {
                id,
                email,
                name: r.owner_name.unwrap_or_else(|| username.clone()),
                username,
                avatar_url: r.owner_avatar_url,
            }),
            _ => None,
        };
        ProjectView {
            status: StatusSummary {
                id: project.project_status_id,
                name: r.status_name,
                color: r.status_color,
                category: ProjectCategory::parse(&r.status_category)
                    .unwrap_or(ProjectCategory::Backlog),
            },
            owner,
            issue_count: r.issue_count,
            project,
        }
    }
}

macro_rules! columns {
    () => {
        "pr.id, pr.workspace_id, pr.name, pr.project_key, pr.description, pr.target_date, pr.project_status_id, \
         pr.priority, pr.owner_id, pr.roadmap, pr.created_at, pr.updated_at"
    };
}

/// `SELECT … FROM` a project with its status, owner and issue count (one query: the count
/// is a subquery on `mm_issues_project`).
macro_rules! view_from {
    () => {
        concat!(
            "SELECT ",
            columns!(),
            ", s.name AS status_name, s.color AS status_color, s.category AS status_category, \
             u.email AS owner_email, u.username AS owner_username, COALESCE(p.name, u.username) AS owner_name, \
             p.avatar_url AS owner_avatar_url, \
             (SELECT COUNT(*) FROM mm_issues i WHERE i.project_id = pr.id) AS issue_count \
             FROM mm_projects pr JOIN mm_project_statuses s ON s.id = pr.project_status_id \
             LEFT JOIN users u ON u.id = pr.owner_id LEFT JOIN mm_profiles p ON p.user_id = pr.owner_id"
        )
    };
}

/// The filters of `GET /projects`, every one optional.
macro_rules! list_filter {
    () => {
        " WHERE pr.workspace_id = $1 AND ($2 IS NULL OR pr.project_status_id = $2) \
          AND ($3 IS NULL OR pr.owner_id = $3) AND ($4 IS NULL OR pr.priority = $4) \
          AND ($5 IS NULL OR LOWER(pr.name) LIKE $5 ESCAPE '\\' OR LOWER(pr.project_key) LIKE $5 ESCAPE '\\' \
               OR LOWER(COALESCE(pr.description, '')) LIKE $5 ESCAPE '\\')"
    };
}

/// Which projects `GET /projects` lists.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// With this status.
    pub status_id: Option<Uuid>,
    /// Owned by this user.
    pub owner_id: Option<Uuid>,
    /// Of this priority.
    pub priority: Option<Priority>,
    /// Name, key or description containing this (any case).
    pub search: Option<String>,
}

/// Inserts a project.
pub async fn insert(tx: &mut Tx, p: &Project) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_projects (id, workspace_id, name, project_key, description, target_date, project_status_id, \
         priority, owner_id, roadmap, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
        .bind(p.id).bind(p.workspace_id).bind(&p.name).bind(&p.project_key).bind(&p.description)
        .bind(p.target_date).bind(p.project_status_id).bind(p.priority.as_str()).bind(p.owner_id)
        .bind(&p.roadmap).bind(p.created_at).bind(p.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Stores every field of `p` but its id, workspace and creation time.
pub async fn update(tx: &mut Tx, p: &Project) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE mm_projects SET name = $3, project_key = $4, description = $5, target_date = $6, project_status_id = $7, \
         priority = $8, owner_id = $9, roadmap = $10, updated_at = $11 WHERE id = $1 AND workspace_id = $2")
        .bind(p.id).bind(p.workspace_id).bind(&p.name).bind(&p.project_key).bind(&p.description)
        .bind(p.target_date).bind(p.project_status_id).bind(p.priority.as_str()).bind(p.owner_id)
        .bind(&p.roadmap).bind(p.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The project `id` of `workspace_id`, read in `tx` and locked until commit on PostgreSQL.
pub async fn get_for_update(
    tx: &mut Tx,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<Option<Project>, StoreError> {
    let sql: &'static str = match tx {
        Tx::Sqlite(_) => concat!(
            "SELECT ",
            columns!(),
            " FROM mm_projects pr WHERE pr.id = $1 AND pr.workspace_id = $2"
        ),
        Tx::Postgres(_) => concat!(
            "SELECT ",
            columns!(),
            " FROM mm_projects pr WHERE pr.id = $1 AND pr.workspace_id = $2 FOR UPDATE"
        ),
    };
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(sql)
        .bind(id).bind(workspace_id).fetch_optional(&mut *c).await)?;
    Ok(row.map(Project::from))
}

/// The project `id` of `workspace_id` with its status, owner and issue count.
pub async fn view(
    db: &Db,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<Option<ProjectView>, StoreError> {
    let row: Option<ViewRow> = on_db_read!(db, pool => sqlx::query_as(concat!(view_from!(),
        " WHERE pr.id = $1 AND pr.workspace_id = $2"))
        .bind(id).bind(workspace_id).fetch_optional(pool).await)?;
    Ok(row.map(ProjectView::from))
}

/// [`view`] inside `tx` (what a mutation answers and logs).
pub async fn view_in(
    tx: &mut Tx,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<Option<ProjectView>, StoreError> {
    let row: Option<ViewRow> = on_tx!(tx, c => sqlx::query_as(concat!(view_from!(),
        " WHERE pr.id = $1 AND pr.workspace_id = $2"))
        .bind(id).bind(workspace_id).fetch_optional(&mut *c).await)?;
    Ok(row.map(ProjectView::from))
}

/// One page of a workspace's projects, newest first, and how many match in all (two
/// queries whatever the page size).
pub async fn list(
    db: &Db,
    workspace_id: Uuid,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ProjectView>, i64), StoreError> {
    let pattern = f.search.as_deref().map(super::labels::like_pattern);
    let priority = f.priority.map(Priority::as_str);
    let total: i64 = on_db_read!(db, pool => sqlx::query_scalar(concat!(
        "SELECT COUNT(*) FROM mm_projects pr", list_filter!()))
        .bind(workspace_id).bind(f.status_id).bind(f.owner_id).bind(priority).bind(&pattern)
        .fetch_one(pool).await)?;
    if total <= offset {
        return Ok((Vec::new(), total));
    }
    let rows: Vec<ViewRow> = on_db_read!(db, pool => sqlx::query_as(concat!(view_from!(), list_filter!(),
        " ORDER BY pr.created_at DESC, pr.id DESC LIMIT $6 OFFSET $7"))
        .bind(workspace_id).bind(f.status_id).bind(f.owner_id).bind(priority).bind(&pattern)
        .bind(limit).bind(offset)
        .fetch_all(pool).await)?;
    Ok((rows.into_iter().map(ProjectView::from).collect(), total))
}

/// Deletes a project (its issues keep existing, without a project); whether it existed.
pub async fn delete(tx: &mut Tx, workspace_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM mm_projects WHERE id = $1 AND workspace_id = $2")
        .bind(id).bind(workspace_id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Whether `user_id` is a member of `workspace_id`, in `tx` (a project's owner must be).
pub async fn is_member(tx: &mut Tx, workspace_id: Uuid, user_id: Uuid) -> Result<bool, StoreError> {
    let found: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT role FROM mm_members WHERE workspace_id = $1 AND user_id = $2")
        .bind(workspace_id).bind(user_id).fetch_optional(&mut *c).await)?;
    Ok(found.is_some())
}
