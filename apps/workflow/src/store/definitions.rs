//! `wf_definitions` and `wf_definition_versions`: the current body of each definition and
//! every saved version.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use crate::domain::definition::DefinitionBody;

/// A definition as stored and shown.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Definition {
    /// UUID v7.
    pub id: Uuid,
    /// The owner.
    pub owner_id: Uuid,
    /// Unique per owner.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The current version (1 on creation, +1 on each save).
    pub version: i64,
    /// The current body.
    pub definition: DefinitionBody,
    /// RFC 3339.
    pub created_at: DateTime<Utc>,
    /// RFC 3339.
    pub updated_at: DateTime<Utc>,
}

/// One saved version.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Version {
    /// 1, 2, 3…
    pub version: i64,
    /// The body saved as that version.
    pub definition: DefinitionBody,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    owner_id: Uuid,
    name: String,
    description: Option<String>,
    version: i64,
    body: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn parse_body(s: &str) -> Result<DefinitionBody, StoreError> {
    serde_json::from_str(s).map_err(|_| StoreError::Other("unreadable definition body".into()))
}

impl TryFrom<Row> for Definition {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(Definition {
            definition: parse_body(&r.body)?,
            id: r.id,
            owner_id: r.owner_id,
            name: r.name,
            description: r.description,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const COLUMNS: &str = "id, owner_id, name, description, version, body, created_at, updated_at";

fn text(body: &DefinitionBody) -> String {
    serde_json::to_string(body).unwrap_or_else(|_| "{}".into())
}

/// Inserts a definition as version 1. A name the owner already uses violates
/// `wf_definitions_owner_id_name_key`.
pub async fn insert(
    tx: &mut Tx,
    id: Uuid,
    owner: Uuid,
    body: &DefinitionBody,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let b = text(body);
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO wf_definitions (id, owner_id, name, description, version, body, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 1, $5, $6, $6)")
        .bind(id).bind(owner).bind(body.name.trim()).bind(&body.description).bind(&b).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO wf_definition_versions (definition_id, version, body, created_at) VALUES ($1, 1, $2, $3)")
        .bind(id).bind(&b).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Saves a new version; returns its number.
pub async fn update(
    tx: &mut Tx,
    id: Uuid,
    body: &DefinitionBody,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let b = text(body);
    let (version,): (i64,) = on_tx!(tx, c => sqlx::query_as(
        "UPDATE wf_definitions SET name = $2, description = $3, body = $4, version = version + 1, \
         updated_at = $5 WHERE id = $1 RETURNING version")
        .bind(id).bind(body.name.trim()).bind(&body.description).bind(&b).bind(now)
        .fetch_one(&mut *c).await)?;
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO wf_definition_versions (definition_id, version, body, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id).bind(version).bind(&b).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(version)
}

/// Deletes a definition and its versions (executions keep their pinned plans).
pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM wf_definitions WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A definition.
pub async fn get(db: &Db, id: Uuid) -> Result<Option<Definition>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM wf_definitions WHERE id = $1");
    let row: Option<Row> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_optional(p).await)?;
    row.map(Definition::try_from).transpose()
}

/// A definition read in a transaction (a start pins the version it reads here).
pub async fn get_in(tx: &mut Tx, id: Uuid) -> Result<Option<Definition>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM wf_definitions WHERE id = $1");
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_optional(&mut *c).await)?;
    row.map(Definition::try_from).transpose()
}

/// A page of definitions (an owner's, or everyone's for admins), newest first, and the total.
pub async fn list(
    db: &Db,
    owner: Option<Uuid>,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Definition>, i64), StoreError> {
    let pattern = search.map(|s| format!("%{}%", s.to_lowercase()));
    let cond = "($1 IS NULL OR owner_id = $1) AND ($2 IS NULL OR LOWER(name) LIKE $2)";
    let sql = format!(
        "SELECT {COLUMNS} FROM wf_definitions WHERE {cond} ORDER BY updated_at DESC, id DESC LIMIT $3 OFFSET $4"
    );
    let rows: Vec<Row> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(owner).bind(&pattern).bind(limit).bind(offset).fetch_all(p).await)?;
    let count = format!("SELECT COUNT(*) FROM wf_definitions WHERE {cond}");
    let (total,): (i64,) = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(count))
        .bind(owner).bind(&pattern).fetch_one(p).await)?;
    let items = rows
        .into_iter()
        .map(Definition::try_from)
        .collect::<Result<_, _>>()?;
    Ok((items, total))
}

/// Every version of a definition, newest first.
pub async fn versions(db: &Db, id: Uuid) -> Result<Vec<Version>, StoreError> {
    let rows: Vec<(i64, String, DateTime<Utc>)> = on_db_read!(db, p => sqlx::query_as(
        "SELECT version, body, created_at FROM wf_definition_versions WHERE definition_id = $1 ORDER BY version DESC")
        .bind(id).fetch_all(p).await)?;
    rows.into_iter()
        .map(|(version, body, created_at)| {
            Ok(Version {
                version,
                definition: parse_body(&body)?,
                created_at,
            })
        })
        .collect()
}

/// How many definitions an owner has (the `workflow_definitions` entitlement).
pub async fn count(db: &Db, owner: Uuid) -> Result<i64, StoreError> {
    let (n,): (i64,) = on_db_read!(db, p => sqlx::query_as(
        "SELECT COUNT(*) FROM wf_definitions WHERE owner_id = $1")
        .bind(owner).fetch_one(p).await)?;
    Ok(n)
}

/// The same count inside a transaction (checked against the plan when one is created).
pub async fn count_in(tx: &mut Tx, owner: Uuid) -> Result<i64, StoreError> {
    let (n,): (i64,) = on_tx!(tx, c => sqlx::query_as(
        "SELECT COUNT(*) FROM wf_definitions WHERE owner_id = $1")
        .bind(owner).fetch_one(&mut *c).await)?;
    Ok(n)
}

/// The body saved as `version` of a definition, if both still exist.
pub async fn version(
    db: &Db,
    id: Uuid,
    version: i64,
) -> Result<Option<DefinitionBody>, StoreError> {
    let row: Option<(String,)> = on_db_read!(db, p => sqlx::query_as(
        "SELECT body FROM wf_definition_versions WHERE definition_id = $1 AND version = $2")
        .bind(id).bind(version).fetch_optional(p).await)?;
    row.map(|(b,)| parse_body(&b)).transpose()
}
