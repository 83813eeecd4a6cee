//! Proxy pools: create, edit, delete, add and remove proxies, lease and report, test,
//! status. Owners see only their own pools (admins all; another user's pool answers 404).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use trellis_identity::Principal;
use uuid::Uuid;

use crate::domain::plans::Meter;
use crate::error::WorkflowError;
use crate::proxy::endpoint::ProxyEndpoint;
use crate::proxy::health::{HealthState, Outcome};
use crate::proxy::live::{Lease, LiveError, target_host};
use crate::proxy::pool::PoolBody;
use crate::service::definitions::visible;
use crate::state::WorkflowState;
use crate::store::proxy::{self as store, NewProxy, Pool};

/// The most proxies one `POST /proxies` adds.
pub const MAX_PROXIES_PER_REQUEST: usize = 10_000;

impl From<LiveError> for WorkflowError {
    fn from(e: LiveError) -> Self {
        match e {
            LiveError::NoProxy { .. } => {
                WorkflowError::conflict("NO_PROXY_AVAILABLE", e.to_string())
            }
            LiveError::LeaseNotFound => WorkflowError::NotFound("lease"),
            LiveError::Store(s) => s.into(),
            LiveError::Kv(m) => {
                trellis_kernel::ApiError::internal(format!("proxy leases: {m}")).into()
            }
        }
    }
}

/// A pool the caller may see.
pub async fn get(s: &WorkflowState, p: &Principal, id: Uuid) -> Result<Pool, WorkflowError> {
    store::pool(&s.platform.db, id)
        .await?
        .filter(|x| visible(p, x.owner_id))
        .ok_or(WorkflowError::NotFound("proxy pool"))
}

fn map_name(e: trellis_kernel::db::StoreError) -> WorkflowError {
    if e.violates("wf_proxy_pools_owner_id_name_key") {
        WorkflowError::conflict(
            "POOL_EXISTS",
            "you already have a proxy pool with this name",
        )
    } else {
        e.into()
    }
}

fn check(b: &PoolBody, allow_private: bool) -> Result<(), WorkflowError> {
    let mut problems = b.problems();
    if let Some(url) = &b.settings.test.url
        && let Err(m) = crate::steps::net::check_url(url, allow_private)
    {
        problems.push(trellis_kernel::error::FieldError::new(
            "settings.test.url",
            "refused",
            m,
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(WorkflowError::Fields(problems))
    }
}

/// Creates a pool within the plan's `proxy_pools` entitlement (402 beyond it).
pub async fn create(s: &WorkflowState, p: &Principal, b: PoolBody) -> Result<Pool, WorkflowError> {
    check(&b, s.proxies.allow_private)?;
    let now = s.platform.clock.now();
    let ent = crate::service::subscriptions::entitlements(&s.platform.db, p.user_id, now).await?;
    let id = Uuid::now_v7();
    let mut tx = s.platform.db.begin().await?;
    let n = store::count_pools_in(&mut tx, p.user_id).await?;
    crate::service::quota::check_count(&ent, Meter::ProxyPools, n)?;
    store::insert_pool(&mut tx, id, p.user_id, &b, now)
        .await
        .map_err(map_name)?;
    tx.commit().await?;
    s.proxies.schedule_validation(id, p.user_id, &b).await?;
    tracing::info!(pool_id = %id, "proxy: pool created");
    get(s, p, id).await
}

/// Replaces a pool's settings.
pub async fn update(
    s: &WorkflowState,
    p: &Principal,
    id: Uuid,
    b: PoolBody,
) -> Result<Pool, WorkflowError> {
    let pool = get(s, p, id).await?;
    check(&b, s.proxies.allow_private)?;
    let mut tx = s.platform.db.begin().await?;
    store::update_pool(&mut tx, id, &b, s.platform.clock.now())
        .await
        .map_err(map_name)?;
    tx.commit().await?;
    s.proxies.live.invalidate(id);
    s.proxies.schedule_validation(id, pool.owner_id, &b).await?;
    get(s, p, id).await
}

/// Deletes a pool, its proxies and their health.
pub async fn delete(s: &WorkflowState, p: &Principal, id: Uuid) -> Result<(), WorkflowError> {
    get(s, p, id).await?;
    let mut tx = s.platform.db.begin().await?;
    store::delete_pool(&mut tx, id).await?;
    tx.commit().await?;
    s.proxies.live.invalidate(id);
    s.proxies.unschedule_validation(id).await?;
    Ok(())
}

/// `POST /pools/{id}/proxies`'s answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Added {
    /// Proxies added.
    pub added: usize,
    /// Proxies already in the pool (same scheme, host and port), skipped.
    pub duplicates: usize,
    /// The ids of the proxies added.
    pub ids: Vec<Uuid>,
}

/// Adds proxies given as `scheme://user:pass@host:port` lines. Every line is parsed first;
/// any bad line refuses the whole request (422 naming `proxies[i]`, never echoing the line,
/// which may hold a password).
pub async fn add_proxies(
    s: &WorkflowState,
    p: &Principal,
    id: Uuid,
    lines: Vec<String>,
    source: Option<String>,
    region: Option<String>,
) -> Result<Added, WorkflowError> {
    get(s, p, id).await?;
    let lines: Vec<String> = lines
        .into_iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if lines.is_empty() || lines.len() > MAX_PROXIES_PER_REQUEST {
        return Err(WorkflowError::field(
            "proxies",
            "invalid",
            format!("1 to {MAX_PROXIES_PER_REQUEST} proxies per request"),
        ));
    }
    let mut problems = Vec::new();
    let mut new = Vec::with_capacity(lines.len());
    let mut seen = std::collections::HashSet::new();
    for (i, line) in lines.iter().enumerate() {
        let e = match ProxyEndpoint::parse(line) {
            Ok(e) => e,
            Err(err) => {
                problems.push(trellis_kernel::error::FieldError::new(
                    format!("proxies[{i}]"),
                    "invalid_proxy",
                    err.to_string(),
                ));
                continue;
            }
        };
        if let Err(m) = crate::proxy::client::check_proxy_host(&e, s.proxies.allow_private) {
            problems.push(trellis_kernel::error::FieldError::new(
                format!("proxies[{i}]"),
                "refused",
                m,
            ));
            continue;
        }
        if !seen.insert(e.key()) {
            continue;
        }
        let pid = Uuid::now_v7();
        let credentials = e.has_credentials().then(|| {
            let plain = format!(
                "{}:{}",
                e.username.as_deref().unwrap_or_default(),
                e.password.as_deref().unwrap_or_default()
            );
            s.proxies.live.secrets().seal(pid, plain.as_bytes())
        });
        new.push(NewProxy {
            id: pid,
            scheme: e.scheme.as_str().to_string(),
            host: e.host.clone(),
            port: e.port,
            credentials,
            source: source.clone(),
            region: region.clone(),
        });
    }
    if !problems.is_empty() {
        return Err(WorkflowError::Fields(problems));
    }
    let mut tx = s.platform.db.begin().await?;
    let ids = store::insert_proxies(&mut tx, id, &new, s.platform.clock.now()).await?;
    tx.commit().await?;
    s.proxies.live.invalidate(id);
    Ok(Added {
        added: ids.len(),
        duplicates: lines.len() - ids.len(),
        ids,
    })
}

/// Removes one proxy.
pub async fn remove_proxy(
    s: &WorkflowState,
    p: &Principal,
    id: Uuid,
    proxy: Uuid,
) -> Result<(), WorkflowError> {
    get(s, p, id).await?;
    let mut tx = s.platform.db.begin().await?;
    let found = store::delete_proxy(&mut tx, id, proxy).await?;
    tx.commit().await?;
    if !found {
        return Err(WorkflowError::NotFound("proxy"));
    }
    s.proxies.live.invalidate(id);
    s.proxies.live.clients().invalidate(proxy);
    Ok(())
}

/// `POST /pools/{id}/lease`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseBody {
    /// The host the proxy will be used for (`www.qidian.com`; a URL is accepted and its
    /// host taken). Health and blocks are kept per target host.
    #[schema(max_length = 2048)]
    pub target: String,
    /// For `sticky` pools: the same key gets the same proxy (1 to 200 characters).
    #[schema(max_length = 200)]
    pub session_key: Option<String>,
}

/// Leases a proxy for a target.
pub async fn lease(
    s: &WorkflowState,
    p: &Principal,
    id: Uuid,
    b: LeaseBody,
) -> Result<Lease, WorkflowError> {
    // The live copy answers who owns the pool (reloaded every few seconds; a deleted pool
    // is dropped from it at once on this instance).
    let owner = s
        .proxies
        .live
        .owner_of(id)
        .await?
        .filter(|o| visible(p, *o))
        .ok_or(WorkflowError::NotFound("proxy pool"))?;
    let target = target_host(&b.target)
        .ok_or_else(|| WorkflowError::field("target", "invalid", "a host name or URL"))?;
    if b.session_key
        .as_ref()
        .is_some_and(|k| k.is_empty() || k.chars().count() > 200)
    {
        return Err(WorkflowError::field(
            "session_key",
            "invalid",
            "1 to 200 characters",
        ));
    }
    let (lease, _, _) = s
        .proxies
        .live
        .lease(id, owner, &target, b.session_key.as_deref())
        .await?;
    Ok(lease)
}

/// `POST /leases/{id}/report`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// `ok | error | blocked`.
    pub outcome: Outcome,
    /// How long the request took, ms.
    #[schema(maximum = 3600000)]
    pub latency_ms: Option<u64>,
    /// The target's HTTP status; 403/429/461/471 count as `blocked`.
    #[schema(minimum = 100, maximum = 599)]
    pub status: Option<u16>,
}

/// The report's answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Reported {
    /// The lease.
    pub lease_id: Uuid,
    /// The outcome as counted (a block status turns `ok` into `blocked`).
    pub outcome: Outcome,
}

/// Reports a lease's outcome (once; a second report answers 404).
pub async fn report(
    s: &WorkflowState,
    p: &Principal,
    lease: Uuid,
    b: ReportBody,
) -> Result<Reported, WorkflowError> {
    if b.status.is_some_and(|x| !(100..=599).contains(&x)) {
        return Err(WorkflowError::field(
            "status",
            "out_of_range",
            "an HTTP status, 100 to 599",
        ));
    }
    if b.latency_ms.is_some_and(|l| l > 3_600_000) {
        return Err(WorkflowError::field(
            "latency_ms",
            "out_of_range",
            "0 to 3600000",
        ));
    }
    let owner = (!p.role.is_admin()).then_some(p.user_id);
    let outcome = s
        .proxies
        .live
        .report(lease, owner, b.outcome, b.latency_ms, b.status)
        .await?;
    Ok(Reported {
        lease_id: lease,
        outcome,
    })
}

/// Health of one target host across the pool.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TargetHealth {
    /// The host.
    pub target: String,
    /// Proxies usable for it now.
    pub active: i64,
    /// Proxies cooling down for it.
    pub cooling: i64,
    /// Proxies retired for it.
    pub retired: i64,
    /// Successes / all outcomes recorded for it (null before any).
    pub success_rate: Option<f64>,
    /// Blocks recorded for it.
    pub blocks: i64,
    /// Median latency EWMA of its proxies, ms.
    pub median_latency_ms: Option<f64>,
}

/// `GET /pools/{id}/status`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PoolStatus {
    /// The pool.
    pub pool_id: Uuid,
    /// Proxies in the pool.
    pub total: i64,
    /// Proxies by state (`active`, `cooling`, `retired`).
    pub by_state: BTreeMap<String, i64>,
    /// Median latency EWMA, ms (null before any measurement).
    pub median_latency_ms: Option<f64>,
    /// Successes / all outcomes (null before any).
    pub success_rate: Option<f64>,
    /// Health per target host, busiest first.
    pub targets: Vec<TargetHealth>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn rate(ok: i64, all: i64) -> Option<f64> {
    (all > 0).then(|| ok as f64 / all as f64)
}

/// Counts by state, median latency, success rate and per-target health, from the database
/// after this instance's queued reports are written.
pub async fn status(
    s: &WorkflowState,
    p: &Principal,
    id: Uuid,
) -> Result<PoolStatus, WorkflowError> {
    get(s, p, id).await?;
    s.proxies.live.flush().await?;
    let db = &s.platform.db;
    let now = s.platform.clock.now().timestamp_millis();
    let rows = store::proxies(db, id).await?;
    let mut by_state: BTreeMap<String, i64> = ["active", "cooling", "retired"]
        .iter()
        .map(|k| (k.to_string(), 0))
        .collect();
    let (mut ok, mut all) = (0, 0);
    for r in &rows {
        *by_state
            .entry(r.health().state_at(now).as_str().to_string())
            .or_default() += 1;
        ok += r.successes;
        all += r.successes + r.failures + r.blocks;
    }
    let mut targets: BTreeMap<String, (TargetHealth, Vec<f64>, i64)> = BTreeMap::new();
    for h in store::health_rows(db, id).await? {
        let e = targets.entry(h.target.clone()).or_insert_with(|| {
            (
                TargetHealth {
                    target: h.target.clone(),
                    active: 0,
                    cooling: 0,
                    retired: 0,
                    success_rate: None,
                    blocks: 0,
                    median_latency_ms: None,
                },
                Vec::new(),
                0,
            )
        });
        match h.health().state_at(now) {
            HealthState::Active => e.0.active += 1,
            HealthState::Cooling => e.0.cooling += 1,
            HealthState::Retired => e.0.retired += 1,
        }
        e.0.blocks += h.blocks;
        e.2 += h.successes;
        let total = h.successes + h.failures + h.blocks;
        e.0.success_rate = Some(e.0.success_rate.unwrap_or(0.0) + total as f64);
        e.1.extend(h.latency_ms);
    }
    let mut targets: Vec<TargetHealth> = targets
        .into_values()
        .map(|(mut t, lat, ok)| {
            let total = t.success_rate.unwrap_or(0.0) as i64;
            t.success_rate = rate(ok, total);
            t.median_latency_ms = median(lat);
            t
        })
        .collect();
    targets.sort_by_key(|t| std::cmp::Reverse(t.active + t.cooling + t.retired));
    Ok(PoolStatus {
        pool_id: id,
        total: rows.len() as i64,
        by_state,
        median_latency_ms: median(rows.iter().filter_map(|r| r.latency_ms).collect()),
        success_rate: rate(ok, all),
        targets,
    })
}
