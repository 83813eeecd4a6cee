//! The lease/report hot path: pools held in memory, health written behind.
//!
//! A lease must cost well under a millisecond (issue 11: p99 ≤ 2 ms at 2,000 leases/s),
//! so it never waits for the database: each instance keeps the pools it serves in memory
//! (proxies with their credentials opened, health per proxy and per (proxy, target)),
//! records leases and sticky sessions in the key-value store (memory, or Redis shared by
//! every instance) and queues each report's counter increments. A flusher writes the queue
//! every second in one transaction (counters added, so instances never overwrite each
//! other's counts), and reloads every pool it holds from the database every
//! [`RELOAD_EVERY`], so proxies added, edited, tested, cooled or retired elsewhere are
//! seen within seconds. A report that changes a state (a cool-down, a retirement) is
//! written at once rather than with the batch.
//!
//! Leases live for [`LEASE_TTL`]; a lease is reported once (the key is deleted by the
//! report that finds it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use trellis_kernel::Platform;
use trellis_kernel::db::StoreError;
use uuid::Uuid;

use super::client::ProxyClients;
use super::endpoint::{ProxyEndpoint, ProxyScheme};
use super::health::{Health, Outcome, Scope};
use super::probe::Anonymity;
use super::select::{self, Candidate, Strategy, Traits};
use crate::secrets::Secrets;
use crate::store::proxy::{self as store, Delta, Pool};

/// How long an unreported lease is kept.
pub const LEASE_TTL: Duration = Duration::from_secs(3600);
/// How often held pools are reloaded from the database.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// One proxy as a lease holder sees it (never the credentials).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeasedProxy {
    /// The proxy's id.
    pub id: Uuid,
    /// `http|https|socks5`.
    pub scheme: ProxyScheme,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Whether it has credentials (they are never shown).
    pub has_credentials: bool,
}

/// `POST /proxy/pools/{id}/lease`'s answer.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Lease {
    /// Report the outcome with this id.
    pub lease_id: Uuid,
    /// The proxy to use.
    pub proxy: LeasedProxy,
    /// The target host the lease is for (lower case).
    pub target: String,
}

/// What the key-value store keeps per lease.
#[derive(Serialize, Deserialize)]
struct LeaseRecord {
    pool_id: Uuid,
    owner_id: Uuid,
    proxy_id: Uuid,
    target: String,
    session_key: Option<String>,
}

/// Why a lease or report was refused.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No proxy of the pool is usable for the target now.
    #[error("no proxy of the pool is usable for {target} now ({total} in the pool)")]
    NoProxy {
        /// The target host.
        target: String,
        /// Proxies in the pool.
        total: usize,
    },
    /// The lease is unknown, expired, reported already, or another user's.
    #[error("lease not found")]
    LeaseNotFound,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key-value store failed.
    #[error("key-value store: {0}")]
    Kv(String),
}

struct LiveProxy {
    id: Uuid,
    endpoint: ProxyEndpoint,
    anonymity: Option<Anonymity>,
    region: Option<String>,
    version: i64,
    uses: AtomicU64,
}

#[derive(Default)]
struct Records {
    proxy: HashMap<Uuid, Health>,
    target: HashMap<(Uuid, String), Health>,
}

struct LivePool {
    pool: Pool,
    proxies: Vec<LiveProxy>,
    by_id: HashMap<Uuid, usize>,
    turn: AtomicU64,
    records: Mutex<Records>,
    last_used_ms: AtomicU64,
}

#[derive(Default)]
struct Pending {
    proxy: HashMap<Uuid, (Delta, Health)>,
    target: HashMap<(Uuid, String), (Delta, Health)>,
}

/// The proxy pools of this instance (cheap to clone).
#[derive(Clone)]
pub struct Live {
    inner: Arc<Inner>,
}

struct Inner {
    platform: Platform,
    secrets: Secrets,
    clients: ProxyClients,
    pools: Mutex<HashMap<Uuid, Arc<LivePool>>>,
    pending: Mutex<Pending>,
    /// One flush at a time per instance (two would race on the same rows).
    flushing: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn add(d: &mut Delta, o: Outcome) {
    match o {
        Outcome::Ok => d.successes += 1,
        Outcome::Error => d.failures += 1,
        Outcome::Blocked => d.blocks += 1,
    }
}

/// The host part of a target (`https://Example.com:8443/x` or `example.com` → `example.com`).
pub fn target_host(target: &str) -> Option<String> {
    let t = target.trim();
    let host = if t.contains("://") {
        url::Url::parse(t).ok()?.host_str()?.to_string()
    } else {
        url::Url::parse(&format!("http://{t}"))
            .ok()?
            .host_str()?
            .to_string()
    };
    (!host.is_empty() && host.len() <= 253).then(|| host.to_ascii_lowercase())
}

impl Live {
    /// The runtime, and its flusher/reloader on the platform's task set.
    pub fn start(platform: &Platform, secrets: Secrets, clients: ProxyClients) -> Live {
        let live = Live {
            inner: Arc::new(Inner {
                platform: platform.clone(),
                secrets,
                clients,
                pools: Mutex::default(),
                pending: Mutex::default(),
                flushing: tokio::sync::Mutex::new(()),
            }),
        };
        let bg = live.clone();
        platform.tasks.spawn(async move { bg.background().await });
        live
    }

    /// The platform (database, key-value store, clock).
    pub fn platform(&self) -> &Platform {
        &self.inner.platform
    }

    /// The per-proxy HTTP clients.
    pub fn clients(&self) -> &ProxyClients {
        &self.inner.clients
    }

    /// The secrets used to open credentials.
    pub fn secrets(&self) -> &Secrets {
        &self.inner.secrets
    }

    fn now_ms(&self) -> i64 {
        self.inner.platform.clock.now().timestamp_millis()
    }

    async fn background(self) {
        let token = self.inner.platform.tasks.token();
        let mut last_reload = std::time::Instant::now();
        loop {
            tokio::select! {
                _ = token.cancelled() => { let _ = self.flush().await; return; }
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            if let Err(e) = self.flush().await {
                tracing::warn!(error = %e, "proxy: writing health failed; retrying");
            }
            if last_reload.elapsed() >= RELOAD_EVERY {
                last_reload = std::time::Instant::now();
                self.reload_held().await;
            }
        }
    }

    async fn reload_held(&self) {
        let now = self.now_ms() as u64;
        let held: Vec<(Uuid, u64)> = lock(&self.inner.pools)
            .iter()
            .map(|(id, p)| (*id, p.last_used_ms.load(Ordering::Relaxed)))
            .collect();
        for (id, used) in held {
            // Pools unused for a minute are dropped and loaded again on their next lease.
            if now.saturating_sub(used) > 60_000 {
                lock(&self.inner.pools).remove(&id);
                continue;
            }
            if let Err(e) = self.load(id).await {
                tracing::debug!(pool_id = %id, error = %e, "proxy: reloading a pool failed");
            }
        }
    }

    /// Forgets a pool's live copy (after an edit, a deletion, a test): the next lease
    /// loads it again.
    pub fn invalidate(&self, pool: Uuid) {
        lock(&self.inner.pools).remove(&pool);
    }

    async fn load(&self, id: Uuid) -> Result<Option<Arc<LivePool>>, LiveError> {
        let db = &self.inner.platform.db;
        let Some(pool) = store::pool(db, id).await? else {
            lock(&self.inner.pools).remove(&id);
            return Ok(None);
        };
        let rows = store::proxies(db, id).await?;
        let health = store::health_rows(db, id).await?;
        let old = lock(&self.inner.pools).get(&id).cloned();
        let mut records = Records::default();
        let mut proxies = Vec::with_capacity(rows.len());
        for r in rows {
            let Some(endpoint) = self.endpoint(&r) else {
                continue;
            };
            records.proxy.insert(r.id, r.health());
            let uses = old
                .as_ref()
                .and_then(|o| {
                    o.by_id
                        .get(&r.id)
                        .map(|i| o.proxies[*i].uses.load(Ordering::Relaxed))
                })
                .unwrap_or(0);
            proxies.push(LiveProxy {
                id: r.id,
                endpoint,
                anonymity: r.anonymity.as_deref().and_then(Anonymity::parse),
                region: r.region.clone(),
                version: r.version,
                uses: AtomicU64::new(uses),
            });
        }
        for h in health {
            records
                .target
                .insert((h.proxy_id, h.target.clone()), h.health());
        }
        // Reports applied here but not yet written stay in force over the reloaded copy.
        {
            let pending = lock(&self.inner.pending);
            for (pid, (_, h)) in &pending.proxy {
                if records.proxy.contains_key(pid) {
                    records.proxy.insert(*pid, h.clone());
                }
            }
            for (key, (_, h)) in &pending.target {
                if records.proxy.contains_key(&key.0) {
                    records.target.insert(key.clone(), h.clone());
                }
            }
        }
        let by_id = proxies.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
        let live = Arc::new(LivePool {
            pool,
            proxies,
            by_id,
            turn: AtomicU64::new(old.as_ref().map_or(0, |o| o.turn.load(Ordering::Relaxed))),
            records: Mutex::new(records),
            last_used_ms: AtomicU64::new(old.as_ref().map_or(self.now_ms() as u64, |o| {
                o.last_used_ms.load(Ordering::Relaxed)
            })),
        });
        lock(&self.inner.pools).insert(id, live.clone());
        Ok(Some(live))
    }

    /// A stored proxy's endpoint with its credentials opened (`None` when they do not open).
    pub fn endpoint(&self, r: &store::ProxyRow) -> Option<ProxyEndpoint> {
        let scheme = ProxyScheme::parse(&r.scheme)?;
        let (username, password) = match &r.credentials {
            None => (None, None),
            Some(sealed) => {
                let plain = self.inner.secrets.open(r.id, sealed).ok()?;
                let text = String::from_utf8(plain).ok()?;
                let (u, p) = text.split_once(':').unwrap_or((text.as_str(), ""));
                (Some(u.to_string()), Some(p.to_string()))
            }
        };
        Some(ProxyEndpoint {
            scheme,
            host: r.host.clone(),
            port: u16::try_from(r.port).ok()?,
            username,
            password,
            remote_dns: false,
        })
    }

    async fn held(&self, pool: Uuid) -> Result<Option<Arc<LivePool>>, LiveError> {
        let found = lock(&self.inner.pools).get(&pool).cloned();
        match found {
            Some(p) => Ok(Some(p)),
            None => self.load(pool).await,
        }
    }

    /// The pool's owner from the live copy (loading it on first use): the lease path's
    /// authorization check without a database read per lease. `None`: no such pool.
    pub async fn owner_of(&self, pool: Uuid) -> Result<Option<Uuid>, LiveError> {
        Ok(self.held(pool).await?.map(|p| p.pool.owner_id))
    }

    /// Leases a proxy of `pool` (owned by `owner`, checked by the caller) for `target`.
    /// With a `session_key` on a `sticky` pool the session keeps its proxy (module docs).
    pub async fn lease(
        &self,
        pool_id: Uuid,
        owner: Uuid,
        target: &str,
        session_key: Option<&str>,
    ) -> Result<(Lease, ProxyEndpoint, u64), LiveError> {
        let Some(pool) = self.held(pool_id).await? else {
            return Err(LiveError::NoProxy {
                target: target.into(),
                total: 0,
            });
        };
        let now = self.now_ms();
        pool.last_used_ms.store(now as u64, Ordering::Relaxed);
        let candidates = self.candidates(&pool, target, now);
        let kv = &self.inner.platform.kv;
        let sticky = (pool.pool.strategy == Strategy::Sticky)
            .then_some(session_key)
            .flatten()
            .map(|s| format!("wf:proxy:sticky:{pool_id}:{s}"));
        let mut chosen = None;
        if let Some(key) = &sticky
            && let Some(v) = kv
                .get(key)
                .await
                .map_err(|e| LiveError::Kv(e.to_string()))?
            && let Some((id, uses)) = v.split_once('|')
            && let (Ok(id), Ok(uses)) = (Uuid::parse_str(id), uses.parse::<u64>())
            && uses < pool.pool.settings.sticky.max_uses
        {
            chosen = pool
                .by_id
                .get(&id)
                .copied()
                .filter(|i| candidates.iter().any(|c| c.index == *i));
            if let Some(i) = chosen {
                // Keep the binding's age: rewrite with the key's remaining time to live.
                let ttl = kv
                    .ttl(key)
                    .await
                    .map_err(|e| LiveError::Kv(e.to_string()))?;
                kv.set(key, &format!("{}|{}", pool.proxies[i].id, uses + 1), ttl)
                    .await
                    .map_err(|e| LiveError::Kv(e.to_string()))?;
            }
        }
        let index = match chosen {
            Some(i) => i,
            None => {
                let i =
                    select::pick(pool.pool.strategy, &candidates, &pool.turn).ok_or_else(|| {
                        LiveError::NoProxy {
                            target: target.into(),
                            total: pool.proxies.len(),
                        }
                    })?;
                if let Some(key) = &sticky {
                    let age = Duration::from_secs(pool.pool.settings.sticky.max_age_seconds);
                    kv.set(key, &format!("{}|1", pool.proxies[i].id), Some(age))
                        .await
                        .map_err(|e| LiveError::Kv(e.to_string()))?;
                }
                i
            }
        };
        let p = &pool.proxies[index];
        p.uses.fetch_add(1, Ordering::Relaxed);
        let lease_id = Uuid::new_v4();
        let record = LeaseRecord {
            pool_id,
            owner_id: owner,
            proxy_id: p.id,
            target: target.into(),
            session_key: session_key.map(str::to_string),
        };
        let json = serde_json::to_string(&record).map_err(|e| LiveError::Kv(e.to_string()))?;
        kv.set(
            &format!("wf:proxy:lease:{lease_id}"),
            &json,
            Some(LEASE_TTL),
        )
        .await
        .map_err(|e| LiveError::Kv(e.to_string()))?;
        let lease = Lease {
            lease_id,
            proxy: LeasedProxy {
                id: p.id,
                scheme: p.endpoint.scheme,
                host: p.endpoint.host.clone(),
                port: p.endpoint.port,
                has_credentials: p.endpoint.has_credentials(),
            },
            target: target.into(),
        };
        Ok((lease, p.endpoint.clone(), p.version as u64))
    }

    fn candidates(&self, pool: &LivePool, target: &str, now: i64) -> Vec<Candidate> {
        let records = lock(&pool.records);
        let filters = &pool.pool.settings.filters;
        let mut out = Vec::with_capacity(pool.proxies.len());
        for (index, p) in pool.proxies.iter().enumerate() {
            let own = records.proxy.get(&p.id);
            if own.is_some_and(|h| h.state_at(now) != super::health::HealthState::Active) {
                continue;
            }
            let at = records.target.get(&(p.id, target.to_string()));
            if at.is_some_and(|h| h.state_at(now) != super::health::HealthState::Active) {
                continue;
            }
            let latency = at
                .and_then(|h| h.latency_ms)
                .or(own.and_then(|h| h.latency_ms));
            let traits = Traits {
                scheme: p.endpoint.scheme,
                anonymity: p.anonymity,
                region: p.region.as_deref(),
                latency_ms: latency,
            };
            if !filters.admits(traits) {
                continue;
            }
            out.push(Candidate {
                index,
                score: at.or(own).map_or(0.5, Health::score),
                latency_ms: latency,
                uses: p.uses.load(Ordering::Relaxed),
            });
        }
        out
    }

    /// Reports a lease's outcome (once). `status` is the target's HTTP status when known:
    /// 403/429/461/471 count as blocked even when reported `ok` (issue 11: soft blocks).
    pub async fn report(
        &self,
        lease_id: Uuid,
        owner: Option<Uuid>,
        outcome: Outcome,
        latency_ms: Option<u64>,
        status: Option<u16>,
    ) -> Result<Outcome, LiveError> {
        let kv = &self.inner.platform.kv;
        let key = format!("wf:proxy:lease:{lease_id}");
        let raw = kv
            .get(&key)
            .await
            .map_err(|e| LiveError::Kv(e.to_string()))?;
        let record: LeaseRecord = raw
            .and_then(|r| serde_json::from_str(&r).ok())
            .ok_or(LiveError::LeaseNotFound)?;
        if owner.is_some_and(|o| o != record.owner_id) {
            return Err(LiveError::LeaseNotFound);
        }
        if !kv
            .del(&key)
            .await
            .map_err(|e| LiveError::Kv(e.to_string()))?
        {
            return Err(LiveError::LeaseNotFound);
        }
        let outcome = match (outcome, status) {
            (Outcome::Ok, Some(403 | 429 | 461 | 471)) => Outcome::Blocked,
            (o, _) => o,
        };
        if outcome != Outcome::Ok
            && let Some(s) = &record.session_key
        {
            // The session moves to another proxy at its next lease.
            let sticky = format!("wf:proxy:sticky:{}:{s}", record.pool_id);
            if let Some(v) = kv
                .get(&sticky)
                .await
                .map_err(|e| LiveError::Kv(e.to_string()))?
                && v.starts_with(&record.proxy_id.to_string())
            {
                kv.del(&sticky)
                    .await
                    .map_err(|e| LiveError::Kv(e.to_string()))?;
            }
        }
        self.record(
            record.pool_id,
            record.proxy_id,
            &record.target,
            outcome,
            latency_ms,
        )
        .await?;
        Ok(outcome)
    }

    /// Applies an outcome to the live records and queues it; a state change is written at
    /// once.
    pub async fn record(
        &self,
        pool_id: Uuid,
        proxy: Uuid,
        target: &str,
        outcome: Outcome,
        latency_ms: Option<u64>,
    ) -> Result<(), LiveError> {
        let now = self.now_ms();
        let Some(pool) = self.held(pool_id).await? else {
            return Ok(());
        };
        let policy = &pool.pool.settings.health;
        let (own, at, changed) = {
            let mut r = lock(&pool.records);
            let own = r.proxy.entry(proxy).or_default();
            let c1 = own.apply(Scope::Proxy, outcome, latency_ms, now, policy);
            let own = own.clone();
            let at = r.target.entry((proxy, target.to_string())).or_default();
            let c2 = at.apply(Scope::Target, outcome, latency_ms, now, policy);
            (own, at.clone(), c1 || c2)
        };
        {
            let mut p = lock(&self.inner.pending);
            let e = p
                .proxy
                .entry(proxy)
                .or_insert_with(|| (Delta::default(), own.clone()));
            if outcome != Outcome::Blocked {
                add(&mut e.0, outcome);
            } else {
                e.0.blocks += 1;
            }
            e.1 = own;
            let e = p
                .target
                .entry((proxy, target.to_string()))
                .or_insert_with(|| (Delta::default(), at.clone()));
            add(&mut e.0, outcome);
            e.1 = at;
        }
        // A state change is written at once; if that fails, the change stays queued for the
        // next flush and the report itself has been counted.
        if changed && let Err(e) = self.flush().await {
            tracing::warn!(error = %e, "proxy: writing a state change failed; it stays queued");
        }
        Ok(())
    }

    /// Writes the queued increments in one transaction.
    ///
    /// Rows are written in key order (proxy id, then target), so two instances flushing at
    /// once lock them in the same order and cannot deadlock.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let _one = self.inner.flushing.lock().await;
        let batch = std::mem::take(&mut *lock(&self.inner.pending));
        if batch.proxy.is_empty() && batch.target.is_empty() {
            return Ok(());
        }
        let now = self.now_ms();
        let written = async {
            let mut proxies: Vec<_> = batch.proxy.iter().collect();
            proxies.sort_by_key(|(id, _)| **id);
            let mut targets: Vec<_> = batch.target.iter().collect();
            targets.sort_by(|a, b| a.0.cmp(b.0));
            let mut tx = self.inner.platform.db.begin().await?;
            for (id, (d, h)) in proxies {
                store::write_proxy_health(&mut tx, *id, d, h).await?;
            }
            for ((id, target), (d, h)) in targets {
                store::write_target_health(&mut tx, *id, target, d, h, now).await?;
            }
            tx.commit().await
        }
        .await;
        if written.is_err() {
            // Put the increments back (merged with any that arrived since) for the next try.
            let mut p = lock(&self.inner.pending);
            for (id, (d, h)) in batch.proxy {
                let e = p.proxy.entry(id).or_insert_with(|| (Delta::default(), h));
                e.0.successes += d.successes;
                e.0.failures += d.failures;
                e.0.blocks += d.blocks;
            }
            for (key, (d, h)) in batch.target {
                let e = p.target.entry(key).or_insert_with(|| (Delta::default(), h));
                e.0.successes += d.successes;
                e.0.failures += d.failures;
                e.0.blocks += d.blocks;
            }
        }
        written
    }
}
