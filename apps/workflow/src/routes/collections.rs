//! `/api/v1/collections`: collector runs with their `execution_id` and counts, their items
//! (paginated, filterable by kind) and streamed exports (issue 11 "Results").

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use trellis_identity::Principal;
use trellis_identity::admin::Page;
use trellis_kernel::extract::{Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::collectors::export::{self, Column, ColumnKind, ExportFormat};
use crate::envelope::{Done, Reply};
use crate::error::WorkflowError;
use crate::routes::paging;
use crate::service::definitions::visible;
use crate::state::WorkflowState;
use crate::store::collections::{self as store, Collection};

/// The routes of this module with their OpenAPI entries.
pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get))
        .routes(routes!(items))
        .routes(routes!(export_items))
}

async fn visible_collection(
    s: &WorkflowState,
    p: &Principal,
    id: Uuid,
) -> Result<Collection, WorkflowError> {
    store::get(&s.platform.db, id)
        .await?
        .filter(|c| visible(p, c.owner_id))
        .ok_or(WorkflowError::NotFound("collection"))
}

/// `GET /collections` filters and paging.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Only the collections of this execution.
    pub execution_id: Option<Uuid>,
    /// 1-based page (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Page size (default 20, 1 to 100).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

/// The caller's collections (everyone's for admins), newest first.
#[utoipa::path(get, path = "/api/v1/collections", tag = "workflow", params(ListQuery),
    responses((status = 200, body = Page<Collection>)), security(("bearer" = [])))]
async fn list(
    State(s): State<WorkflowState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> Reply<Page<Collection>> {
    let (page, size) = paging(q.page, q.page_size)?;
    let owner = (!p.role.is_admin()).then_some(p.user_id);
    let (items, total) = store::list(
        &s.platform.db,
        owner,
        q.execution_id,
        size,
        (page - 1).saturating_mul(size),
    )
    .await
    .map_err(WorkflowError::from)?;
    Ok(Done::ok(
        crate::routes::page_of(items, total, page, size),
        "获取成功",
    ))
}

/// One collection.
#[utoipa::path(get, path = "/api/v1/collections/{id}", tag = "workflow",
    params(("id" = Uuid, Path, description = "Collection id")),
    responses((status = 200, body = Collection), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn get(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> Reply<Collection> {
    Ok(Done::ok(visible_collection(&s, &p, id).await?, "获取成功"))
}

const KINDS: &[&str] = &[
    "book",
    "chapter",
    "rank_entry",
    "search_result",
    "note",
    "comment",
    "creator_note",
];

/// `GET /collections/{id}/items` filters and paging.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ItemsQuery {
    /// Only items of this kind (`book`, `chapter`, `rank_entry`, `search_result`, `note`,
    /// `comment`, `creator_note`).
    pub kind: Option<String>,
    /// 1-based page (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Page size (default 20, 1 to 100).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

/// One item as listed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemView {
    /// UUID v7.
    pub id: Uuid,
    /// Kind.
    pub kind: String,
    /// Natural key (a string, even when all digits).
    pub natural_key: String,
    /// The item.
    #[schema(value_type = Object)]
    pub data: Value,
    /// RFC 3339.
    pub first_seen_at: chrono::DateTime<chrono::Utc>,
    /// RFC 3339.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

fn check_kind(kind: Option<&str>) -> Result<(), WorkflowError> {
    match kind {
        Some(k) if !KINDS.contains(&k) => Err(WorkflowError::field(
            "kind",
            "invalid",
            format!("one of {}", KINDS.join(", ")),
        )),
        _ => Ok(()),
    }
}

/// A collection's items in collection order.
#[utoipa::path(get, path = "/api/v1/collections/{id}/items", tag = "workflow",
    params(("id" = Uuid, Path, description = "Collection id"), ItemsQuery),
    responses((status = 200, body = Page<ItemView>), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn items(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<ItemsQuery>,
) -> Reply<Page<ItemView>> {
    visible_collection(&s, &p, id).await?;
    check_kind(q.kind.as_deref())?;
    let (page, size) = paging(q.page, q.page_size)?;
    let db = &s.platform.db;
    let total = store::count_items(db, id, q.kind.as_deref())
        .await
        .map_err(WorkflowError::from)?;
    // Positions are dense from 1 per collection, so a page starts after (page-1)·size.
    let rows = store::items(
        db,
        id,
        q.kind.as_deref(),
        (page - 1).saturating_mul(size),
        size,
    )
    .await
    .map_err(WorkflowError::from)?;
    let items = rows
        .into_iter()
        .map(|r| ItemView {
            data: serde_json::from_str(&r.data).unwrap_or(Value::Null),
            id: r.id,
            kind: r.kind,
            natural_key: r.natural_key,
            first_seen_at: r.first_seen_at,
            updated_at: r.updated_at,
        })
        .collect();
    Ok(Done::ok(
        crate::routes::page_of(items, total, page, size),
        "获取成功",
    ))
}

/// `GET /collections/{id}/export` parameters.
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// `json | jsonl | csv | xlsx`.
    pub format: String,
    /// Only items of this kind.
    pub kind: Option<String>,
}

/// Columns: the item's key and times, then the data's top-level fields as the first items
/// show them (ids typed as text, so spreadsheets keep long ids intact).
fn columns(sample: &[Map<String, Value>]) -> Vec<Column> {
    let mut cols = vec![
        Column {
            name: "natural_key".into(),
            kind: ColumnKind::Id,
        },
        Column {
            name: "kind".into(),
            kind: ColumnKind::Text,
        },
        Column {
            name: "first_seen_at".into(),
            kind: ColumnKind::Timestamp,
        },
        Column {
            name: "updated_at".into(),
            kind: ColumnKind::Timestamp,
        },
    ];
    for row in sample {
        for (k, v) in row {
            if cols.iter().any(|c| &c.name == k) || v.is_null() {
                continue;
            }
            let kind = match v {
                _ if k == "id" || k.ends_with("_id") => ColumnKind::Id,
                Value::String(_) => ColumnKind::Text,
                Value::Bool(_) => ColumnKind::Bool,
                Value::Number(n) if n.is_i64() || n.is_u64() => ColumnKind::Integer,
                Value::Number(_) => ColumnKind::Number,
                _ => ColumnKind::Json,
            };
            cols.push(Column {
                name: k.clone(),
                kind,
            });
        }
    }
    cols
}

fn flat(r: store::ItemRow) -> Map<String, Value> {
    let mut m = match serde_json::from_str::<Value>(&r.data) {
        Ok(Value::Object(m)) => m,
        Ok(other) => Map::from_iter([("value".to_string(), other)]),
        Err(_) => Map::new(),
    };
    m.insert("natural_key".into(), Value::String(r.natural_key));
    m.insert("kind".into(), Value::String(r.kind));
    m.insert(
        "first_seen_at".into(),
        Value::String(r.first_seen_at.to_rfc3339()),
    );
    m.insert(
        "updated_at".into(),
        Value::String(r.updated_at.to_rfc3339()),
    );
    m
}

/// Export a collection's items, streamed (never the whole export in memory): `json`,
/// `jsonl`, `csv` (UTF-8 with a BOM, ids quoted) or `xlsx` (id cells typed as text).
#[utoipa::path(get, path = "/api/v1/collections/{id}/export", tag = "workflow",
    params(("id" = Uuid, Path, description = "Collection id"), ExportQuery),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
              (status = 404, description = "Not found"), (status = 422, description = "Unknown format or kind")),
    security(("bearer" = [])))]
pub(crate) async fn export_items(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, trellis_kernel::ApiError> {
    visible_collection(&s, &p, id).await?;
    check_kind(q.kind.as_deref())?;
    let format = ExportFormat::parse(&q.format)
        .map_err(|e| WorkflowError::field("format", "invalid", e.to_string()))?;
    let db = s.platform.db.clone();
    let kind = q.kind.clone();
    let first = store::items(&db, id, kind.as_deref(), 0, 100)
        .await
        .map_err(WorkflowError::from)?;
    let sample: Vec<Map<String, Value>> = first.iter().cloned().map(flat).collect();
    let cols = columns(&sample);
    const BATCH: i64 = 500;
    let rows = futures::stream::unfold(Some(0i64), move |after| {
        let (db, kind) = (db.clone(), kind.clone());
        async move {
            let after = after?;
            match store::items(&db, id, kind.as_deref(), after, BATCH).await {
                Ok(batch) => {
                    let next = (batch.len() as i64 == BATCH)
                        .then(|| batch.last().map_or(after, |r| r.position));
                    let rows: Vec<Result<Map<String, Value>, String>> =
                        batch.into_iter().map(|r| Ok(flat(r))).collect();
                    Some((futures::stream::iter(rows), next))
                }
                Err(e) => Some((futures::stream::iter(vec![Err(e.to_string())]), None)),
            }
        }
    })
    .flatten();
    let body = axum::body::Body::from_stream(export::export(format, cols, rows));
    let filename = format!("collection-{id}.{}", format.extension());
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}
