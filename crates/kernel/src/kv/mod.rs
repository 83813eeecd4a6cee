//! Key-value with TTL, atomic counters, GCRA rate limiting and pub/sub behind one interface,
//! with an in-process implementation (the default) and a Redis one (`REDIS_URL`), both covered
//! by the same tests.

mod memory;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use self::memory::MemoryKv;
pub use self::redis::RedisKv;

/// A key-value backend failure (Redis unreachable, timed out, protocol error).
#[derive(Debug, thiserror::Error)]
#[error("key-value store: {message}")]
pub struct KvError {
    message: String,
    circuit_open: bool,
}

impl KvError {
    /// A command that did not answer within its timeout.
    pub(crate) fn timeout() -> Self {
        KvError {
            message: "Redis did not answer in time".into(),
            circuit_open: false,
        }
    }

    /// Refused without trying: the circuit is open after repeated failures.
    pub(crate) fn circuit_open() -> Self {
        KvError {
            message: "Redis unavailable (circuit open)".into(),
            circuit_open: true,
        }
    }

    /// Whether the command was refused at once because Redis is considered down.
    pub fn is_circuit_open(&self) -> bool {
        self.circuit_open
    }
}

impl From<::redis::RedisError> for KvError {
    fn from(e: ::redis::RedisError) -> Self {
        KvError {
            message: e.to_string(),
            circuit_open: false,
        }
    }
}

/// 503 `service_unavailable` (with `Retry-After: 5`); the cause is logged here, except while
/// the circuit is open (logged once when it opened).
impl From<KvError> for crate::error::ApiError {
    fn from(e: KvError) -> Self {
        if e.circuit_open {
            tracing::debug!(error = %e, "key-value store unavailable");
        } else {
            tracing::error!(error = %e, "key-value store failure");
        }
        crate::error::ApiError::unavailable("temporarily unavailable, try again shortly")
            .with_retry_after(5)
    }
}

/// The outcome of one rate-limit check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether this request is within the limit (and was counted).
    pub allowed: bool,
    /// Requests allowed per period (`X-RateLimit-Limit`).
    pub limit: u32,
    /// Requests still allowed right now (`X-RateLimit-Remaining`); 0 when denied.
    pub remaining: u32,
    /// Time until the bucket is full again.
    pub reset_after: Duration,
    /// When denied: time until one request would be allowed.
    pub retry_after: Duration,
}

impl RateDecision {
    /// GCRA arithmetic shared by both backends; times in milliseconds.
    fn from_gcra(allowed: bool, limit: u32, period_ms: u64, reset_ms: u64, retry_ms: u64) -> Self {
        let interval = (period_ms / limit.max(1) as u64).max(1);
        let remaining = if allowed {
            (period_ms.saturating_sub(reset_ms) / interval) as u32
        } else {
            0
        };
        RateDecision {
            allowed,
            limit,
            remaining: remaining.min(limit),
            reset_after: Duration::from_millis(reset_ms),
            retry_after: Duration::from_millis(retry_ms),
        }
    }
}

/// A subscription to one pub/sub topic.
pub enum Subscription {
    /// An in-process broadcast receiver (buffer of 1024 messages; a laggard skips ahead).
    Memory(tokio::sync::broadcast::Receiver<Bytes>),
    /// Messages forwarded from a dedicated Redis pub/sub connection (buffer of 1024).
    Redis(tokio::sync::mpsc::Receiver<Bytes>),
}

impl Subscription {
    /// The next message; `None` when the topic is gone. A memory subscriber that fell behind
    /// skips to the newest messages (callers needing no gaps resync from their source).
    pub async fn recv(&mut self) -> Option<Bytes> {
        match self {
            Subscription::Memory(rx) => loop {
                match rx.recv().await {
                    Ok(b) => return Some(b),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "subscriber lagged");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            },
            Subscription::Redis(rx) => rx.recv().await,
        }
    }
}

/// The key-value store of one server.
#[derive(Clone)]
pub enum Kv {
    /// In-process (no `REDIS_URL`): fine for one instance, not shared across a fleet.
    Memory(Arc<MemoryKv>),
    /// Redis (`REDIS_URL`): shared by every instance using the same prefix.
    Redis(Arc<RedisKv>),
}

impl Kv {
    /// The in-process store.
    pub fn memory() -> Self {
        Kv::Memory(Arc::new(MemoryKv::default()))
    }

    /// Connects to Redis; every key and channel gets `prefix`.
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, KvError> {
        Ok(Kv::Redis(Arc::new(RedisKv::connect(url, prefix).await?)))
    }

    /// `"memory"` or `"redis"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Kv::Memory(_) => "memory",
            Kv::Redis(_) => "redis",
        }
    }

    /// Checks the backend is reachable (always `Ok` in process); used by `/health`.
    pub async fn ping(&self) -> Result<(), KvError> {
        match self {
            Kv::Memory(_) => Ok(()),
            Kv::Redis(r) => r.ping().await,
        }
    }

    /// The value of `key`, `None` if absent or expired.
    pub async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        match self {
            Kv::Memory(m) => Ok(m.get(key)),
            Kv::Redis(r) => r.get(key).await,
        }
    }

    /// Sets `key`, replacing any value; it expires after `ttl` (millisecond precision), or
    /// never when `None`.
    pub async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), KvError> {
        match self {
            Kv::Memory(m) => {
                m.set(key, value, ttl);
                Ok(())
            }
            Kv::Redis(r) => r.set(key, value, ttl).await,
        }
    }

    /// Sets only if absent; `true` when this call set it.
    pub async fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, KvError> {
        match self {
            Kv::Memory(m) => Ok(m.set_nx(key, value, ttl)),
            Kv::Redis(r) => r.set_nx(key, value, ttl).await,
        }
    }

    /// Deletes; `true` when the key existed.
    pub async fn del(&self, key: &str) -> Result<bool, KvError> {
        match self {
            Kv::Memory(m) => Ok(m.del(key)),
            Kv::Redis(r) => r.del(key).await,
        }
    }

    /// Atomically adds one; a new counter expires after `ttl`.
    pub async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, KvError> {
        match self {
            Kv::Memory(m) => Ok(m.incr(key, ttl)),
            Kv::Redis(r) => r.incr(key, ttl).await,
        }
    }

    /// Remaining time to live of a key (`None` if absent or persistent).
    pub async fn ttl(&self, key: &str) -> Result<Option<Duration>, KvError> {
        match self {
            Kv::Memory(m) => Ok(m.ttl(key)),
            Kv::Redis(r) => r.ttl(key).await,
        }
    }

    /// GCRA: at most `limit` requests per `period`, with bursts up to `limit`.
    pub async fn throttle(
        &self,
        key: &str,
        limit: u32,
        period: Duration,
    ) -> Result<RateDecision, KvError> {
        match self {
            Kv::Memory(m) => Ok(m.throttle(key, limit, period)),
            Kv::Redis(r) => r.throttle(key, limit, period).await,
        }
    }

    /// Adds `delta` to the counter `field` of the hash `key` and answers the new value; a
    /// counter that reaches 0 or less is removed (and answers 0). Used for presence: the
    /// open sockets of each user of a workspace, shared by every instance.
    pub async fn hincr(&self, key: &str, field: &str, delta: i64) -> Result<i64, KvError> {
        match self {
            Kv::Memory(m) => Ok(m.hincr(key, field, delta)),
            Kv::Redis(r) => r.hincr(key, field, delta).await,
        }
    }

    /// Every (field, counter) of the hash `key` (empty when absent), in no particular order.
    pub async fn hgetall(&self, key: &str) -> Result<Vec<(String, i64)>, KvError> {
        match self {
            Kv::Memory(m) => Ok(m.hgetall(key)),
            Kv::Redis(r) => r.hgetall(key).await,
        }
    }

    /// Sends `payload` to every current subscriber of `topic` (none is not an error; nothing is
    /// kept for later subscribers).
    pub async fn publish(&self, topic: &str, payload: Bytes) -> Result<(), KvError> {
        match self {
            Kv::Memory(m) => {
                m.publish(topic, payload);
                Ok(())
            }
            Kv::Redis(r) => r.publish(topic, payload).await,
        }
    }

    /// Starts receiving messages published to `topic` from now on.
    pub async fn subscribe(&self, topic: &str) -> Result<Subscription, KvError> {
        match self {
            Kv::Memory(m) => Ok(Subscription::Memory(m.subscribe(topic))),
            Kv::Redis(r) => Ok(Subscription::Redis(r.subscribe(topic).await?)),
        }
    }
}
