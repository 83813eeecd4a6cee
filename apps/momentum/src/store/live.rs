//! What the realtime layer reads (issue 9): who may follow a topic, and where a workspace's
//! change log starts and ends.

use trellis_kernel::db::{Db, StoreError};
use trellis_kernel::on_db_read;
use uuid::Uuid;

/// What a topic's object is and how `user` relates to it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TopicAccess {
    /// The workspace the object is in.
    pub workspace_id: Uuid,
    /// The user's role in that workspace (`None`: not a member).
    pub role: Option<String>,
    /// Whether the object is (in) a private team.
    pub private: bool,
    /// The user's role in that team (`None`: not a team member, or no team).
    pub team_role: Option<String>,
}

/// The kinds of object a topic can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopicKind {
    /// `workspace:{id}` (and the `issues`/`projects` shorthands).
    Workspace,
    /// `team:{id}`.
    Team,
    /// `project:{id}`.
    Project,
    /// `issue:{id}`.
    Issue,
}

/// The object `id` of `kind` and `user`'s standing in it; `None` when it does not exist.
pub async fn topic_access(
    db: &Db,
    kind: TopicKind,
    id: Uuid,
    user: Uuid,
) -> Result<Option<TopicAccess>, StoreError> {
    let sql = match kind {
        TopicKind::Workspace => {
            "SELECT w.id AS workspace_id, m.role, FALSE AS private, CAST(NULL AS TEXT) AS team_role \
             FROM mm_workspaces w LEFT JOIN mm_members m ON m.workspace_id = w.id AND m.user_id = $2 \
             WHERE w.id = $1"
        }
        TopicKind::Team => {
            "SELECT t.workspace_id, m.role, t.is_private AS private, tm.role AS team_role \
             FROM mm_teams t LEFT JOIN mm_members m ON m.workspace_id = t.workspace_id AND m.user_id = $2 \
             LEFT JOIN mm_team_members tm ON tm.team_id = t.id AND tm.user_id = $2 WHERE t.id = $1"
        }
        TopicKind::Project => {
            "SELECT p.workspace_id, m.role, FALSE AS private, CAST(NULL AS TEXT) AS team_role \
             FROM mm_projects p LEFT JOIN mm_members m ON m.workspace_id = p.workspace_id AND m.user_id = $2 \
             WHERE p.id = $1"
        }
        TopicKind::Issue => {
            "SELECT i.workspace_id, m.role, t.is_private AS private, tm.role AS team_role \
             FROM mm_issues i JOIN mm_teams t ON t.id = i.team_id \
             LEFT JOIN mm_members m ON m.workspace_id = i.workspace_id AND m.user_id = $2 \
             LEFT JOIN mm_team_members tm ON tm.team_id = t.id AND tm.user_id = $2 WHERE i.id = $1"
        }
    };
    Ok(on_db_read!(db, pool => sqlx::query_as(sql).bind(id).bind(user).fetch_optional(pool).await)?)
}

/// The workspace's last `sync_id` (0 before any change); `None` when the workspace is gone.
pub async fn head(db: &Db, workspace_id: Uuid) -> Result<Option<i64>, StoreError> {
    Ok(on_db_read!(db, pool => sqlx::query_scalar(
        "SELECT last_sync_id FROM mm_workspaces WHERE id = $1")
        .bind(workspace_id).fetch_optional(pool).await)?)
}

/// The oldest `sync_id` the workspace's log still holds (`None`: empty).
pub async fn first(db: &Db, workspace_id: Uuid) -> Result<Option<i64>, StoreError> {
    Ok(on_db_read!(db, pool => sqlx::query_scalar(
        "SELECT MIN(sync_id) FROM mm_changes WHERE workspace_id = $1")
        .bind(workspace_id).fetch_one(pool).await)?)
}
