//! `mm_comments`, and the little of `mm_issues` comments need (which issue of the workspace
//! a path or body names).

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use super::UserSummary;

/// A comment on an issue. A deleted comment keeps its place in the thread with
/// `is_deleted: true` and an empty `content`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumComment)]
pub struct Comment {
    /// Id.
    pub id: Uuid,
    /// The workspace it belongs to.
    pub workspace_id: Uuid,
    /// The issue it is on.
    pub issue_id: Uuid,
    /// Its author's account id (null once the account is gone).
    pub author_id: Option<Uuid>,
    /// Its author (null once the account is gone).
    pub author: Option<UserSummary>,
    /// The comment it answers (null: a top-level comment).
    pub parent_comment_id: Option<Uuid>,
    /// Markdown, 1–10,000 characters; empty once deleted.
    pub content: String,
    /// Always `markdown`.
    pub content_type: String,
    /// Whether its author changed it after posting.
    pub is_edited: bool,
    /// Whether it was deleted (its replies stay).
    pub is_deleted: bool,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    workspace_id: Uuid,
    issue_id: Uuid,
    author_id: Option<Uuid>,
    parent_comment_id: Option<Uuid>,
    content: String,
    content_type: String,
    is_edited: bool,
    is_deleted: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    a_id: Option<Uuid>,
    a_email: Option<String>,
    a_username: Option<String>,
    a_name: Option<String>,
    a_avatar_url: Option<String>,
}

impl From<Row> for Comment {
    fn from(r: Row) -> Comment {
        let author = match (r.a_id, r.a_email, r.a_username) {
            (Some(id), Some(email), Some(username)) => Some(UserSummary {
                id,
                email,
                name: r.a_name.unwrap_or_else(|| username.clone()),
                username,
                avatar_url: r.a_avatar_url,
            }),
            _ => None,
        };
        Comment {
            id: r.id,
            workspace_id: r.workspace_id,
            issue_id: r.issue_id,
            author_id: r.author_id,
            author,
            parent_comment_id: r.parent_comment_id,
            // Stored empty on delete; blanked here too so no path can show it.
            content: if r.is_deleted {
                String::new()
            } else {
                r.content
            },
            content_type: r.content_type,
            is_edited: r.is_edited,
            is_deleted: r.is_deleted,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// `SELECT … FROM mm_comments c` with the author joined.
macro_rules! comment_select {
    () => {
        "SELECT c.id, c.workspace_id, c.issue_id, c.author_id, c.parent_comment_id, c.content, c.content_type, \
         c.is_edited, c.is_deleted, c.created_at, c.updated_at, \
         u.id AS a_id, u.email AS a_email, u.username AS a_username, COALESCE(p.name, u.username) AS a_name, \
         p.avatar_url AS a_avatar_url \
         FROM mm_comments c LEFT JOIN users u ON u.id = c.author_id LEFT JOIN mm_profiles p ON p.user_id = u.id "
    };
}

/// The issue `id` of `workspace_id`, if it exists there.
pub async fn issue_id(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<Option<Uuid>, StoreError> {
    Ok(on_db_read!(db, pool => sqlx::query_scalar(
        "SELECT id FROM mm_issues WHERE id = $1 AND workspace_id = $2")
        .bind(id).bind(workspace_id).fetch_optional(pool).await)?)
}

/// The issue `<team_key>-<number>` of `workspace_id`, if it exists there.
pub async fn issue_id_by_key(
    db: &Db,
    workspace_id: Uuid,
    team_key: &str,
    number: i64,
) -> Result<Option<Uuid>, StoreError> {
    Ok(on_db_read!(db, pool => sqlx::query_scalar(
        "SELECT i.id FROM mm_issues i JOIN mm_teams t ON t.id = i.team_id \
         WHERE t.workspace_id = $1 AND t.team_key = $2 AND i.number = $3 AND i.workspace_id = $1")
        .bind(workspace_id).bind(team_key).bind(number).fetch_optional(pool).await)?)
}

/// The comments of an issue, oldest first (the service orders them into threads).
pub async fn of_issue(
    db: &Db,
    workspace_id: Uuid,
    issue_id: Uuid,
) -> Result<Vec<Comment>, StoreError> {
    let rows: Vec<Row> = on_db_read!(db, pool => sqlx::query_as(concat!(comment_select!(),
        "WHERE c.issue_id = $1 AND c.workspace_id = $2 ORDER BY c.created_at, c.id"))
        .bind(issue_id).bind(workspace_id).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(Comment::from).collect())
}

/// The comment `id` of `workspace_id`.
pub async fn get(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<Option<Comment>, StoreError> {
    let row: Option<Row> = on_db_read!(db, pool => sqlx::query_as(concat!(comment_select!(),
        "WHERE c.id = $1 AND c.workspace_id = $2"))
        .bind(id).bind(workspace_id).fetch_optional(pool).await)?;
    Ok(row.map(Comment::from))
}

/// The comment `id` of `workspace_id`, read in the caller's transaction.
pub async fn get_in(
    tx: &mut Tx,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<Option<Comment>, StoreError> {
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(concat!(comment_select!(),
        "WHERE c.id = $1 AND c.workspace_id = $2"))
        .bind(id).bind(workspace_id).fetch_optional(&mut *c).await)?;
    Ok(row.map(Comment::from))
}

/// A new comment's stored fields.
#[derive(Clone, Debug)]
pub struct NewComment<'a> {
    /// Id.
    pub id: Uuid,
    /// Workspace.
    pub workspace_id: Uuid,
    /// Issue.
    pub issue_id: Uuid,
    /// Author.
    pub author_id: Uuid,
    /// Parent comment.
    pub parent_comment_id: Option<Uuid>,
    /// Markdown.
    pub content: &'a str,
    /// Now.
    pub now: DateTime<Utc>,
}

/// Inserts a comment.
pub async fn insert(tx: &mut Tx, n: &NewComment<'_>) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_comments (id, workspace_id, issue_id, author_id, parent_comment_id, content, content_type, \
         is_edited, is_deleted, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'markdown', FALSE, FALSE, $7, $7)")
        .bind(n.id).bind(n.workspace_id).bind(n.issue_id).bind(n.author_id).bind(n.parent_comment_id)
        .bind(n.content).bind(n.now)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Replaces the content of a live comment and marks it edited; `false` when it is gone or
/// deleted.
pub async fn set_content(
    tx: &mut Tx,
    workspace_id: Uuid,
    id: Uuid,
    content: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE mm_comments SET content = $3, is_edited = TRUE, updated_at = $4 \
         WHERE id = $1 AND workspace_id = $2 AND is_deleted = FALSE")
        .bind(id).bind(workspace_id).bind(content).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Soft-deletes a comment: its content is erased, its row (and so its replies' place in the
/// thread) stays. `false` when it is gone or already deleted.
pub async fn soft_delete(
    tx: &mut Tx,
    workspace_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE mm_comments SET content = '', is_deleted = TRUE, updated_at = $3 \
         WHERE id = $1 AND workspace_id = $2 AND is_deleted = FALSE")
        .bind(id).bind(workspace_id).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
