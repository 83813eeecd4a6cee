//! `mm_changes`: the per-workspace change log (issue 8 "Change log"; the realtime sync reads
//! it).

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::on_db_read;
use uuid::Uuid;

/// One logged mutation.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Change {
    /// Strictly increasing per workspace, without gaps among committed entries.
    pub sync_id: i64,
    /// The workspace.
    pub workspace_id: Uuid,
    /// `issue`, `label`, `team`, … (the resource's singular name).
    pub entity: String,
    /// The changed object's id.
    pub entity_id: Uuid,
    /// `create`, `update` or `delete`.
    pub action: String,
    /// The object after the change (for `delete`, what was deleted).
    pub data: serde_json::Value,
    /// Who changed it (null for the system).
    pub actor: Option<Uuid>,
    /// When (UTC).
    pub created_at: DateTime<Utc>,
}

/// An entry to append.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// The workspace.
    pub workspace_id: Uuid,
    /// The resource's singular name.
    pub entity: &'a str,
    /// The changed object's id.
    pub entity_id: Uuid,
    /// `create`, `update` or `delete`.
    pub action: &'a str,
    /// The object as JSON.
    pub data: &'a str,
    /// Who changed it.
    pub actor: Option<Uuid>,
    /// When.
    pub now: DateTime<Utc>,
}

/// Takes the workspace's next `sync_id` and appends the entry, in the mutation's
/// transaction. The counter row stays locked until commit (PostgreSQL) or the single writer
/// holds it (SQLite), so entries commit in `sync_id` order: a reader that saw N never later
/// finds an entry below N appear.
pub async fn append(tx: &mut Tx, e: &Entry<'_>) -> Result<i64, StoreError> {
    let Entry {
        workspace_id,
        entity,
        entity_id,
        action,
        data,
        actor,
        now,
    } = *e;
    // The counter and the entry in one statement on PostgreSQL: the workspace row stays
    // locked until commit, so every round trip saved here is one less for other writers of
    // the workspace to wait.
    let sync_id: i64 = match tx {
        Tx::Postgres(c) => {
            sqlx::query_scalar(
                "WITH s AS (UPDATE mm_workspaces SET last_sync_id = last_sync_id + 1 WHERE id = $1 RETURNING last_sync_id) \
                 INSERT INTO mm_changes (workspace_id, sync_id, entity, entity_id, action, data, actor_id, created_at) \
                 SELECT $1, s.last_sync_id, $2, $3, $4, $5, $6, $7 FROM s RETURNING sync_id",
            )
            .bind(workspace_id).bind(entity).bind(entity_id).bind(action).bind(data).bind(actor).bind(now)
            .fetch_one(&mut **c)
            .await?
        }
        Tx::Sqlite(c) => {
            let sync_id: i64 = sqlx::query_scalar(
                "UPDATE mm_workspaces SET last_sync_id = last_sync_id + 1 WHERE id = $1 RETURNING last_sync_id",
            )
            .bind(workspace_id)
            .fetch_one(&mut **c)
            .await?;
            sqlx::query(
                "INSERT INTO mm_changes (workspace_id, sync_id, entity, entity_id, action, data, actor_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(workspace_id).bind(sync_id).bind(entity).bind(entity_id).bind(action).bind(data).bind(actor).bind(now)
            .execute(&mut **c)
            .await?;
            sync_id
        }
    };
    Ok(sync_id)
}

/// Entries after `after`, oldest first, at most `limit`.
pub async fn after(
    db: &Db,
    workspace_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<Change>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        sync_id: i64,
        workspace_id: Uuid,
        entity: String,
        entity_id: Uuid,
        action: String,
        data: String,
        actor_id: Option<Uuid>,
        created_at: DateTime<Utc>,
    }
    let rows: Vec<Row> = on_db_read!(db, pool => sqlx::query_as(
        "SELECT sync_id, workspace_id, entity, entity_id, action, data, actor_id, created_at FROM mm_changes \
         WHERE workspace_id = $1 AND sync_id > $2 ORDER BY sync_id LIMIT $3")
        .bind(workspace_id).bind(after).bind(limit).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .map(|r| Change {
            sync_id: r.sync_id,
            workspace_id: r.workspace_id,
            entity: r.entity,
            entity_id: r.entity_id,
            action: r.action,
            data: serde_json::from_str(&r.data).unwrap_or(serde_json::Value::Null),
            actor: r.actor_id,
            created_at: r.created_at,
        })
        .collect())
}
