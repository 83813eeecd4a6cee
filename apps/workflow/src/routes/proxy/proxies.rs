//! `/api/v1/proxy/pools/{id}/proxies` and `…/proxies/{proxy_id}`.

use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use trellis_identity::Principal;
use trellis_identity::admin::Page;
use trellis_kernel::extract::{Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::pools::ListQuery;
use crate::envelope::{Done, Reply};
use crate::error::WorkflowError;
use crate::routes::paging;
use crate::routes::workflow::Deleted;
use crate::service::proxy::{self as svc, Added};
use crate::state::WorkflowState;
use crate::store::proxy::ProxyRow;

pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(remove))
}

/// A proxy as shown: never its credentials (only whether it has some).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProxyView {
    /// UUID v7.
    pub id: Uuid,
    /// The pool.
    pub pool_id: Uuid,
    /// `http|https|socks5`.
    pub scheme: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: i64,
    /// Whether it has credentials.
    pub has_credentials: bool,
    /// Where it came from.
    pub source: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// `transparent|anonymous|elite` (after a test).
    pub anonymity: Option<String>,
    /// Latency EWMA, ms.
    pub latency_ms: Option<f64>,
    /// Uses that went well.
    pub successes: i64,
    /// Uses that failed at the proxy.
    pub failures: i64,
    /// Blocks by any target.
    pub blocks: i64,
    /// Score in [0, 1].
    pub score: f64,
    /// `active|cooling|retired` (now).
    pub state: String,
    /// End of a cool-down, RFC 3339.
    pub cooldown_until: Option<chrono::DateTime<chrono::Utc>>,
    /// Last test, RFC 3339.
    pub last_checked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The last test's failure.
    pub last_error: Option<String>,
    /// RFC 3339.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

fn view(r: ProxyRow, now_ms: i64) -> ProxyView {
    ProxyView {
        state: r.health().state_at(now_ms).as_str().to_string(),
        cooldown_until: r
            .cooldown_until_ms
            .filter(|u| *u > now_ms)
            .and_then(chrono::DateTime::from_timestamp_millis),
        id: r.id,
        pool_id: r.pool_id,
        scheme: r.scheme,
        host: r.host,
        port: r.port,
        has_credentials: r.credentials.is_some(),
        source: r.source,
        region: r.region,
        anonymity: r.anonymity,
        latency_ms: r.latency_ms,
        successes: r.successes,
        failures: r.failures,
        blocks: r.blocks,
        score: r.score,
        last_checked_at: r.last_checked_at,
        last_error: r.last_error,
        created_at: r.created_at,
    }
}

/// The pool's proxies, oldest first.
#[utoipa::path(get, path = "/api/v1/proxy/pools/{id}/proxies", tag = "workflow",
    params(("id" = Uuid, Path, description = "Pool id"), ListQuery),
    responses((status = 200, body = Page<ProxyView>), (status = 404, description = "Not found")),
    security(("bearer" = [])))]
async fn list(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<ListQuery>,
) -> Reply<Page<ProxyView>> {
    svc::get(&s, &p, id).await?;
    s.proxies.live.flush().await.map_err(WorkflowError::from)?;
    let (page, size) = paging(q.page, q.page_size)?;
    let (rows, total) = crate::store::proxy::proxies_page(
        &s.platform.db,
        id,
        size,
        (page - 1).saturating_mul(size),
    )
    .await
    .map_err(WorkflowError::from)?;
    let now = s.platform.clock.now().timestamp_millis();
    let items = rows.into_iter().map(|r| view(r, now)).collect();
    Ok(Done::ok(
        crate::routes::page_of(items, total, page, size),
        "获取成功",
    ))
}

/// `POST /pools/{id}/proxies` as JSON (`text/plain` takes one proxy per line instead).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddProxies {
    /// `scheme://user:pass@host:port` (scheme `http|https|socks5`; `host:port` means http),
    /// 1 to 10000.
    pub proxies: Vec<String>,
    /// Where they came from (at most 200 characters).
    #[schema(max_length = 200)]
    pub source: Option<String>,
    /// Their region (at most 50 characters).
    #[schema(max_length = 50)]
    pub region: Option<String>,
}

/// Add proxies (JSON `{proxies: [...]}` or `text/plain`, one per line, `#` comments).
/// Duplicates of proxies already in the pool are skipped; one bad line refuses the request
/// with 422 naming `proxies[i]` (the line itself is never echoed: it may hold a password).
#[utoipa::path(post, path = "/api/v1/proxy/pools/{id}/proxies", tag = "workflow",
    params(("id" = Uuid, Path, description = "Pool id")),
    request_body(content((AddProxies = "application/json"), (String = "text/plain"))),
    responses((status = 201, body = Added), (status = 404, description = "Not found"),
              (status = 422, description = "A bad proxy line")), security(("bearer" = [])))]
async fn add(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Reply<Added> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let b = if ct.starts_with("text/plain") {
        let text = std::str::from_utf8(&body).map_err(|_| {
            WorkflowError::field("body", "invalid_utf8", "the body is not UTF-8 text")
        })?;
        AddProxies {
            proxies: text.lines().map(str::to_string).collect(),
            source: None,
            region: None,
        }
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| WorkflowError::field("body", "invalid_json", e.to_string()))?
    };
    let too_long = |v: &Option<String>, n: usize| v.as_ref().is_some_and(|x| x.chars().count() > n);
    if too_long(&b.source, 200) || too_long(&b.region, 50) {
        return Err(WorkflowError::field(
            "source",
            "too_long",
            "source ≤ 200 and region ≤ 50 characters",
        )
        .into());
    }
    Ok(Done::created(
        svc::add_proxies(&s, &p, id, b.proxies, b.source, b.region).await?,
        "代理已添加",
    ))
}

/// Remove one proxy from the pool.
#[utoipa::path(delete, path = "/api/v1/proxy/pools/{id}/proxies/{proxy_id}", tag = "workflow",
    params(("id" = Uuid, Path, description = "Pool id"), ("proxy_id" = Uuid, Path, description = "Proxy id")),
    responses((status = 200, body = Deleted), (status = 404, description = "Not found")), security(("bearer" = [])))]
async fn remove(
    State(s): State<WorkflowState>,
    p: Principal,
    Path((id, proxy_id)): Path<(Uuid, Uuid)>,
) -> Reply<Deleted> {
    svc::remove_proxy(&s, &p, id, proxy_id).await?;
    Ok(Done::ok(Deleted { id: proxy_id }, "代理已删除"))
}
