//! `wf_collections`, `wf_collection_items` and `wf_collection_refs`: one collection per
//! (execution, step, query) with its checkpoint; items deduplicated by natural key per
//! owner, linked to every collection that saw them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

/// A collection as shown (`GET /api/v1/collections`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Collection {
    /// UUID v7.
    pub id: Uuid,
    /// The owner.
    pub owner_id: Uuid,
    /// The execution whose step ran it.
    pub execution_id: Option<Uuid>,
    /// The step.
    pub step_id: Option<String>,
    /// `qidian | xhs`.
    pub source: String,
    /// The step type, e.g. `qidian.catalog`.
    pub operation: String,
    /// The step's parameters as JSON text.
    pub query: String,
    /// `running | completed | failed | blocked | budget_exhausted | quota_exceeded`.
    pub status: String,
    /// Where a resumed run continues (JSON text: page, cursor).
    pub checkpoint: Option<String>,
    /// Requests sent (robots.txt fetches not counted).
    pub requests: i64,
    /// Items first seen by this collection.
    pub items_new: i64,
    /// Items seen before and updated.
    pub items_updated: i64,
    /// Why it failed or stopped.
    pub error: Option<String>,
    /// RFC 3339.
    pub created_at: DateTime<Utc>,
    /// RFC 3339.
    pub updated_at: DateTime<Utc>,
    /// RFC 3339, once ended.
    pub finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, owner_id, execution_id, step_id, source, operation, query, status, checkpoint, \
    requests, items_new, items_updated, error, created_at, updated_at, finished_at";

/// The collection of (execution, step, query), created if new (status `running`); an
/// existing one is returned with its checkpoint (a resumed try) and set `running` again. A
/// new one takes the checkpoint of the owner's last collection of the same step and query
/// when that one stopped before its end (see [`RESUMABLE`]).
#[expect(
    clippy::too_many_arguments,
    reason = "one row's natural key and fields"
)]
pub async fn open(
    tx: &mut Tx,
    owner: Uuid,
    execution: Uuid,
    step: &str,
    source: &str,
    operation: &str,
    query: &str,
    query_key: &str,
    now: DateTime<Utc>,
) -> Result<Collection, StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO wf_collections (id, owner_id, execution_id, step_id, source, operation, query, query_key, \
            status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'running', $9, $9) \
         ON CONFLICT (owner_id, execution_id, step_id, query_key) DO UPDATE SET status = 'running', \
            error = NULL, finished_at = NULL, updated_at = excluded.updated_at")
        .bind(Uuid::now_v7()).bind(owner).bind(execution).bind(step).bind(source).bind(operation)
        .bind(query).bind(query_key).bind(now).execute(&mut *c).await.map(|_| ()))?;
    let sql = format!(
        "SELECT {COLUMNS} FROM wf_collections WHERE owner_id = $1 AND execution_id = $2 AND step_id = $3 AND query_key = $4"
    );
    let mut row: Collection = on_tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(owner).bind(execution).bind(step).bind(query_key).fetch_one(&mut *c).await)?;
    if row.checkpoint.is_none() {
        // A new execution of the same job and query continues where the last one stopped
        // (interrupted, blocked, out of budget or quota), unless that one finished.
        let last: Option<(String, Option<String>)> = on_tx!(tx, c => sqlx::query_as(
            "SELECT status, checkpoint FROM wf_collections WHERE owner_id = $1 AND step_id = $2 \
             AND query_key = $3 AND id <> $4 ORDER BY created_at DESC, id DESC LIMIT 1")
            .bind(owner).bind(step).bind(query_key).bind(row.id).fetch_optional(&mut *c).await)?;
        if let Some((status, Some(checkpoint))) = last
            && RESUMABLE.contains(&status.as_str())
            && !checkpoint.contains("\"done\":true")
        {
            on_tx!(tx, c => sqlx::query("UPDATE wf_collections SET checkpoint = $2 WHERE id = $1")
                .bind(row.id).bind(&checkpoint).execute(&mut *c).await.map(|_| ()))?;
            row.checkpoint = Some(checkpoint);
        }
    }
    Ok(row)
}

/// Statuses a later run of the same job and query continues from.
pub const RESUMABLE: &[&str] = &[
    "running",
    "interrupted",
    "blocked",
    "budget_exhausted",
    "quota_exceeded",
    "failed",
];

/// One collection.
pub async fn get(db: &Db, id: Uuid) -> Result<Option<Collection>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM wf_collections WHERE id = $1");
    Ok(
        on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await)?,
    )
}

/// A page of collections (of `owner`, or everyone's), newest first, optionally of one
/// execution, and the total.
pub async fn list(
    db: &Db,
    owner: Option<Uuid>,
    execution: Option<Uuid>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Collection>, i64), StoreError> {
    let filter = "($1 IS NULL OR owner_id = $1) AND ($2 IS NULL OR execution_id = $2)";
    let sql = format!(
        "SELECT {COLUMNS} FROM wf_collections WHERE {filter} ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
    );
    let rows = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(owner).bind(execution).bind(limit).bind(offset).fetch_all(p).await)?;
    let sql = format!("SELECT COUNT(*) FROM wf_collections WHERE {filter}");
    let (total,): (i64,) = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(owner).bind(execution).fetch_one(p).await)?;
    Ok((rows, total))
}

/// One item to store.
pub struct NewItem {
    /// `book | chapter | rank_entry | search_result | note | comment | creator_note`.
    pub kind: &'static str,
    /// The natural key (`book_id`, `book_id/chapter_id`, `rank_type/period/book_id`,
    /// `note_id`, `comment_id`).
    pub natural_key: String,
    /// The item.
    pub data: Value,
}

/// Upserts items by natural key and links them to the collection after its `position`;
/// returns (new, updated). The caller's transaction also advances the checkpoint, so a page
/// is stored with its checkpoint or not at all.
pub async fn upsert_items(
    tx: &mut Tx,
    owner: Uuid,
    source: &str,
    collection: Uuid,
    items: &[NewItem],
    now: DateTime<Utc>,
) -> Result<(i64, i64), StoreError> {
    let (mut new, mut updated) = (0, 0);
    let (position,): (i64,) = on_tx!(tx, c => sqlx::query_as(
        "SELECT COALESCE(MAX(position), 0) FROM wf_collection_refs WHERE collection_id = $1")
        .bind(collection).fetch_one(&mut *c).await)?;
    for (i, item) in items.iter().enumerate() {
        let data = serde_json::to_string(&item.data).unwrap_or_else(|_| "null".into());
        let fresh = Uuid::now_v7();
        let (id,): (Uuid,) = on_tx!(tx, c => sqlx::query_as(
            "INSERT INTO wf_collection_items (id, owner_id, source, kind, natural_key, data, first_seen_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (owner_id, source, kind, natural_key) DO UPDATE SET data = excluded.data, \
                updated_at = excluded.updated_at RETURNING id")
            .bind(fresh).bind(owner).bind(source).bind(item.kind).bind(&item.natural_key).bind(&data)
            .bind(now).fetch_one(&mut *c).await)?;
        if id == fresh {
            new += 1;
        } else {
            updated += 1;
        }
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO wf_collection_refs (collection_id, item_id, position) VALUES ($1, $2, $3) \
             ON CONFLICT (collection_id, item_id) DO NOTHING")
            .bind(collection).bind(id).bind(position + 1 + i as i64).execute(&mut *c).await.map(|_| ()))?;
    }
    Ok((new, updated))
}

/// Records progress: the checkpoint, counters added.
pub async fn progress(
    tx: &mut Tx,
    id: Uuid,
    checkpoint: &Value,
    requests: i64,
    new: i64,
    updated: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE wf_collections SET checkpoint = $2, requests = requests + $3, items_new = items_new + $4, \
            items_updated = items_updated + $5, updated_at = $6 WHERE id = $1")
        .bind(id).bind(checkpoint.to_string()).bind(requests).bind(new).bind(updated).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Ends a collection with a status (and why, for anything but `completed`).
pub async fn finish(
    db: &Db,
    id: Uuid,
    status: &str,
    error: Option<&str>,
    requests: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(
        "UPDATE wf_collections SET status = $2, error = $3, requests = requests + $4, updated_at = $5, finished_at = $5 \
         WHERE id = $1")
        .bind(id).bind(status).bind(error).bind(requests).bind(now).execute(&mut *c).await.map(|_| ()))?;
    tx.commit().await
}

/// One stored item as listed and exported.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct ItemRow {
    /// UUID v7.
    pub id: Uuid,
    /// Kind.
    pub kind: String,
    /// Natural key (always a string).
    pub natural_key: String,
    /// The item (JSON text).
    pub data: String,
    /// Its order in the collection.
    pub position: i64,
    /// RFC 3339.
    pub first_seen_at: DateTime<Utc>,
    /// RFC 3339.
    pub updated_at: DateTime<Utc>,
}

/// A collection's items after `after_position` (keyset paging, so exports stream in
/// constant memory), optionally of one kind, at most `limit`.
pub async fn items(
    db: &Db,
    collection: Uuid,
    kind: Option<&str>,
    after_position: i64,
    limit: i64,
) -> Result<Vec<ItemRow>, StoreError> {
    Ok(on_db_read!(db, p => sqlx::query_as(
        "SELECT i.id, i.kind, i.natural_key, i.data, r.position, i.first_seen_at, i.updated_at \
         FROM wf_collection_refs r JOIN wf_collection_items i ON i.id = r.item_id \
         WHERE r.collection_id = $1 AND ($2 IS NULL OR i.kind = $2) AND r.position > $3 \
         ORDER BY r.position LIMIT $4")
        .bind(collection).bind(kind).bind(after_position).bind(limit).fetch_all(p).await)?)
}

/// How many items a collection has (of one kind).
pub async fn count_items(db: &Db, collection: Uuid, kind: Option<&str>) -> Result<i64, StoreError> {
    let (n,): (i64,) = on_db_read!(db, p => sqlx::query_as(
        "SELECT COUNT(*) FROM wf_collection_refs r JOIN wf_collection_items i ON i.id = r.item_id \
         WHERE r.collection_id = $1 AND ($2 IS NULL OR i.kind = $2)")
        .bind(collection).bind(kind).fetch_one(p).await)?;
    Ok(n)
}
