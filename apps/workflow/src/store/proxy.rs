//! `wf_proxy_pools`, `wf_proxies` and `wf_proxy_health`: pools, their proxies (credentials
//! sealed, see `crate::secrets`) and health per (proxy, target host).

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use crate::proxy::health::{Health, HealthState};
use crate::proxy::pool::{PoolBody, PoolSettings};
use crate::proxy::select::Strategy;

/// A pool as stored and shown.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Pool {
    /// UUID v7.
    pub id: Uuid,
    /// The owner.
    pub owner_id: Uuid,
    /// Unique per owner.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Selection strategy.
    pub strategy: Strategy,
    /// Filters, health rules, sticky limits, testing.
    pub settings: PoolSettings,
    /// Proxies in the pool.
    pub proxy_count: i64,
    /// RFC 3339.
    pub created_at: DateTime<Utc>,
    /// RFC 3339.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct PoolRow {
    id: Uuid,
    owner_id: Uuid,
    name: String,
    description: Option<String>,
    strategy: String,
    settings: String,
    proxy_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<PoolRow> for Pool {
    fn from(r: PoolRow) -> Pool {
        Pool {
            id: r.id,
            owner_id: r.owner_id,
            name: r.name,
            description: r.description,
            strategy: Strategy::parse(&r.strategy).unwrap_or_default(),
            // Written by `insert_pool`/`update_pool` from the same type.
            settings: serde_json::from_str(&r.settings).unwrap_or_default(),
            proxy_count: r.proxy_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const POOL_COLUMNS: &str = "id, owner_id, name, description, strategy, settings, \
    (SELECT COUNT(*) FROM wf_proxies x WHERE x.pool_id = wf_proxy_pools.id) AS proxy_count, \
    created_at, updated_at";

fn settings_text(s: &PoolSettings) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "{}".into())
}

/// Inserts a pool; a name the owner uses violates `wf_proxy_pools_owner_id_name_key`.
pub async fn insert_pool(
    tx: &mut Tx,
    id: Uuid,
    owner: Uuid,
    b: &PoolBody,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO wf_proxy_pools (id, owner_id, name, description, strategy, settings, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)")
        .bind(id).bind(owner).bind(b.name.trim()).bind(&b.description).bind(b.strategy.as_str())
        .bind(settings_text(&b.settings)).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Replaces a pool's name, description, strategy and settings.
pub async fn update_pool(
    tx: &mut Tx,
    id: Uuid,
    b: &PoolBody,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE wf_proxy_pools SET name = $2, description = $3, strategy = $4, settings = $5, updated_at = $6 \
         WHERE id = $1")
        .bind(id).bind(b.name.trim()).bind(&b.description).bind(b.strategy.as_str())
        .bind(settings_text(&b.settings)).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Deletes a pool with its proxies and their health.
pub async fn delete_pool(tx: &mut Tx, id: Uuid) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM wf_proxy_pools WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// One pool.
pub async fn pool(db: &Db, id: Uuid) -> Result<Option<Pool>, StoreError> {
    let sql = format!("SELECT {POOL_COLUMNS} FROM wf_proxy_pools WHERE id = $1");
    let row: Option<PoolRow> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_optional(p).await)?;
    Ok(row.map(Pool::from))
}

/// A page of pools (of `owner`, or everyone's when `None`), newest first, and the total.
pub async fn pools(
    db: &Db,
    owner: Option<Uuid>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Pool>, i64), StoreError> {
    let sql = format!(
        "SELECT {POOL_COLUMNS} FROM wf_proxy_pools WHERE ($1 IS NULL OR owner_id = $1) \
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    let rows: Vec<PoolRow> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(owner).bind(limit).bind(offset).fetch_all(p).await)?;
    let (total,): (i64,) = on_db_read!(db, p => sqlx::query_as(
        "SELECT COUNT(*) FROM wf_proxy_pools WHERE ($1 IS NULL OR owner_id = $1)")
        .bind(owner).fetch_one(p).await)?;
    Ok((rows.into_iter().map(Pool::from).collect(), total))
}

/// How many pools `owner` has, inside the caller's transaction (the entitlement check).
pub async fn count_pools_in(tx: &mut Tx, owner: Uuid) -> Result<i64, StoreError> {
    let (n,): (i64,) = on_tx!(tx, c => sqlx::query_as(
        "SELECT COUNT(*) FROM wf_proxy_pools WHERE owner_id = $1")
        .bind(owner).fetch_one(&mut *c).await)?;
    Ok(n)
}

/// A proxy as stored (credentials still sealed).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ProxyRow {
    /// UUID v7.
    pub id: Uuid,
    /// Its pool.
    pub pool_id: Uuid,
    /// `http|https|socks5`.
    pub scheme: String,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: i64,
    /// Sealed `user:pass` (`None` when the proxy has none).
    pub credentials: Option<Vec<u8>>,
    /// Where it came from (free text).
    pub source: Option<String>,
    /// Region (free text, e.g. `CN`).
    pub region: Option<String>,
    /// `transparent|anonymous|elite`, from the last test.
    pub anonymity: Option<String>,
    /// Latency EWMA, ms.
    pub latency_ms: Option<f64>,
    /// Uses that went well.
    pub successes: i64,
    /// Uses that failed at the proxy.
    pub failures: i64,
    /// Blocks by any target.
    pub blocks: i64,
    /// Failures since the last success.
    pub consecutive_failures: i64,
    /// Score in `[0, 1]`.
    pub score: f64,
    /// `active|cooling|retired`.
    pub state: String,
    /// End of a cool-down, Unix ms.
    pub cooldown_until_ms: Option<i64>,
    /// When it was last tested.
    pub last_checked_at: Option<DateTime<Utc>>,
    /// The last test's failure message.
    pub last_error: Option<String>,
    /// The endpoint's version: the key of its cached HTTP client (a proxy's address and
    /// credentials never change in place today; removing and adding makes a new proxy).
    pub version: i64,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

impl ProxyRow {
    /// The proxy's own health record.
    pub fn health(&self) -> Health {
        Health {
            successes: self.successes,
            failures: self.failures,
            blocks: self.blocks,
            consecutive_blocks: 0,
            consecutive_failures: self.consecutive_failures,
            latency_ms: self.latency_ms,
            success_ewma: ewma_of(self.score, self.latency_ms),
            state: HealthState::parse(&self.state),
            cooldown_until_ms: self.cooldown_until_ms,
        }
    }
}

/// The success EWMA behind a stored score (score = 0.8·ewma + 0.2·latency factor).
fn ewma_of(score: f64, latency_ms: Option<f64>) -> f64 {
    let latency = latency_ms.map_or(0.5, |l| 1.0 / (1.0 + l.max(0.0) / 1000.0));
    ((score - 0.2 * latency) / 0.8).clamp(0.0, 1.0)
}

const PROXY_COLUMNS: &str = "id, pool_id, scheme, host, port, credentials, source, region, anonymity, \
    latency_ms, successes, failures, blocks, consecutive_failures, score, state, cooldown_until_ms, \
    last_checked_at, last_error, version, created_at";

/// A proxy to add.
pub struct NewProxy {
    /// UUID v7.
    pub id: Uuid,
    /// `http|https|socks5`.
    pub scheme: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Sealed credentials.
    pub credentials: Option<Vec<u8>>,
    /// Free text.
    pub source: Option<String>,
    /// Free text.
    pub region: Option<String>,
}

/// Adds proxies; one already in the pool (same scheme, host and port) is skipped. Returns
/// the ids added.
pub async fn insert_proxies(
    tx: &mut Tx,
    pool: Uuid,
    proxies: &[NewProxy],
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    let mut added = Vec::new();
    for p in proxies {
        let n = on_tx!(tx, c => sqlx::query(
            "INSERT INTO wf_proxies (id, pool_id, scheme, host, port, credentials, source, region, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9) \
             ON CONFLICT (pool_id, scheme, host, port) DO NOTHING")
            .bind(p.id).bind(pool).bind(&p.scheme).bind(&p.host).bind(i64::from(p.port))
            .bind(&p.credentials).bind(&p.source).bind(&p.region).bind(now)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if n == 1 {
            added.push(p.id);
        }
    }
    on_tx!(tx, c => sqlx::query("UPDATE wf_proxy_pools SET updated_at = $2 WHERE id = $1")
        .bind(pool).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(added)
}

/// Removes one proxy of a pool; false if it is not there.
pub async fn delete_proxy(tx: &mut Tx, pool: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM wf_proxies WHERE id = $1 AND pool_id = $2")
        .bind(id).bind(pool).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Every proxy of a pool, oldest first.
pub async fn proxies(db: &Db, pool: Uuid) -> Result<Vec<ProxyRow>, StoreError> {
    let sql = format!("SELECT {PROXY_COLUMNS} FROM wf_proxies WHERE pool_id = $1 ORDER BY id");
    Ok(
        on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(pool).fetch_all(p).await)?,
    )
}

/// A page of a pool's proxies, oldest first, and the total.
pub async fn proxies_page(
    db: &Db,
    pool: Uuid,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ProxyRow>, i64), StoreError> {
    let sql = format!(
        "SELECT {PROXY_COLUMNS} FROM wf_proxies WHERE pool_id = $1 ORDER BY id LIMIT $2 OFFSET $3"
    );
    let rows = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(pool).bind(limit).bind(offset).fetch_all(p).await)?;
    let (total,): (i64,) = on_db_read!(db, p => sqlx::query_as(
        "SELECT COUNT(*) FROM wf_proxies WHERE pool_id = $1")
        .bind(pool).fetch_one(p).await)?;
    Ok((rows, total))
}

/// One (proxy, target) health row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct HealthRow {
    /// The proxy.
    pub proxy_id: Uuid,
    /// The target host.
    pub target: String,
    /// Counters and state.
    pub successes: i64,
    /// Failures.
    pub failures: i64,
    /// Blocks.
    pub blocks: i64,
    /// Blocks since the last success.
    pub consecutive_blocks: i64,
    /// Latency EWMA, ms.
    pub latency_ms: Option<f64>,
    /// Score.
    pub score: f64,
    /// `active|cooling|retired`.
    pub state: String,
    /// End of the cool-down, Unix ms.
    pub cooldown_until_ms: Option<i64>,
}

impl HealthRow {
    /// As a [`Health`].
    pub fn health(&self) -> Health {
        Health {
            successes: self.successes,
            failures: self.failures,
            blocks: self.blocks,
            consecutive_blocks: self.consecutive_blocks,
            consecutive_failures: 0,
            latency_ms: self.latency_ms,
            success_ewma: ewma_of(self.score, self.latency_ms),
            state: HealthState::parse(&self.state),
            cooldown_until_ms: self.cooldown_until_ms,
        }
    }
}

/// Every (proxy, target) record of a pool's proxies.
pub async fn health_rows(db: &Db, pool: Uuid) -> Result<Vec<HealthRow>, StoreError> {
    Ok(on_db_read!(db, p => sqlx::query_as(
        "SELECT h.proxy_id, h.target, h.successes, h.failures, h.blocks, h.consecutive_blocks, \
                h.latency_ms, h.score, h.state, h.cooldown_until_ms \
         FROM wf_proxy_health h JOIN wf_proxies x ON x.id = h.proxy_id WHERE x.pool_id = $1 \
         ORDER BY h.target, h.proxy_id")
        .bind(pool).fetch_all(p).await)?)
}

/// Counter increments since the last write, with the latest absolute values.
#[derive(Clone, Debug, Default)]
pub struct Delta {
    /// Added successes.
    pub successes: i64,
    /// Added failures.
    pub failures: i64,
    /// Added blocks.
    pub blocks: i64,
}

/// Writes a (proxy, target) record: counters added, the rest set. A proxy deleted since is
/// skipped (its rows went with it).
pub async fn write_target_health(
    tx: &mut Tx,
    proxy: Uuid,
    target: &str,
    d: &Delta,
    h: &Health,
    now_ms: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO wf_proxy_health (proxy_id, target, successes, failures, blocks, consecutive_blocks, \
                latency_ms, score, state, cooldown_until_ms, updated_at_ms) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 WHERE EXISTS (SELECT 1 FROM wf_proxies WHERE id = $1) \
         ON CONFLICT (proxy_id, target) DO UPDATE SET \
            successes = wf_proxy_health.successes + excluded.successes, \
            failures = wf_proxy_health.failures + excluded.failures, \
            blocks = wf_proxy_health.blocks + excluded.blocks, \
            consecutive_blocks = excluded.consecutive_blocks, latency_ms = excluded.latency_ms, \
            score = excluded.score, state = excluded.state, \
            cooldown_until_ms = excluded.cooldown_until_ms, updated_at_ms = excluded.updated_at_ms")
        .bind(proxy).bind(target).bind(d.successes).bind(d.failures).bind(d.blocks)
        .bind(h.consecutive_blocks).bind(h.latency_ms).bind(h.score()).bind(h.state.as_str())
        .bind(h.cooldown_until_ms).bind(now_ms)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Writes a proxy's own record: counters added, the rest set.
pub async fn write_proxy_health(
    tx: &mut Tx,
    proxy: Uuid,
    d: &Delta,
    h: &Health,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE wf_proxies SET successes = successes + $2, failures = failures + $3, blocks = blocks + $4, \
            consecutive_failures = $5, latency_ms = $6, score = $7, state = $8, cooldown_until_ms = $9 \
         WHERE id = $1")
        .bind(proxy).bind(d.successes).bind(d.failures).bind(d.blocks)
        .bind(h.consecutive_failures).bind(h.latency_ms).bind(h.score()).bind(h.state.as_str())
        .bind(h.cooldown_until_ms)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// A test's result for one proxy.
pub struct TestResult<'a> {
    /// The proxy.
    pub id: Uuid,
    /// Its health after the test.
    pub health: &'a Health,
    /// Counter increments.
    pub delta: Delta,
    /// Detected anonymity (kept when the test could not tell).
    pub anonymity: Option<&'a str>,
    /// The failure message, `None` on success.
    pub error: Option<&'a str>,
}

/// Records a test of one proxy.
pub async fn write_test(
    tx: &mut Tx,
    r: &TestResult<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    write_proxy_health(tx, r.id, &r.delta, r.health).await?;
    on_tx!(tx, c => sqlx::query(
        "UPDATE wf_proxies SET anonymity = COALESCE($2, anonymity), last_error = $3, last_checked_at = $4 \
         WHERE id = $1")
        .bind(r.id).bind(r.anonymity).bind(r.error).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
