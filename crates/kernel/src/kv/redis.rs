//! The Redis key-value store: shared by every `trellis` instance, so rate limits, codes and
//! revocations hold across a fleet. Rate limiting is one Lua script (atomic GCRA on Redis time).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use ::redis::AsyncCommands;
use ::redis::aio::ConnectionManager;
use bytes::Bytes;
use futures::StreamExt;

use super::{KvError, RateDecision};

const GCRA: &str = r#"
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > period then
  return {0, tat - now, new_tat - now - period}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now)
return {1, new_tat - now, 0}
"#;

/// `HINCRBY`, removing the field when the count drops to 0 or below (a counter never goes
/// negative, whatever order decrements arrive in).
const HINCR: &str = r#"
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
return n
"#;

/// Longest wait for one Redis command (connection included) before it counts as a failure.
const OP_TIMEOUT: Duration = Duration::from_millis(1000);
/// Consecutive failures that open the circuit.
const TRIP_AFTER: u32 = 3;
/// Pause between two background probes while the circuit is open.
const PROBE_EVERY: Duration = Duration::from_millis(500);

/// Redis-backed store; all keys and channels carry `prefix`.
///
/// Fails fast (issue 7, item 10): every command has [`OP_TIMEOUT`]; after [`TRIP_AFTER`]
/// consecutive transport failures the circuit opens and every command fails at once with
/// [`KvError::is_circuit_open`] (503 `service_unavailable` for requests that need Redis),
/// while a background task pings Redis every [`PROBE_EVERY`] and closes the circuit when it
/// answers. `/health` reports Redis unhealthy (503) while the circuit is open.
#[derive(Clone)]
pub struct RedisKv {
    client: ::redis::Client,
    /// Replaced by the background probe with a fresh connection when Redis comes back.
    conn: Arc<std::sync::RwLock<ConnectionManager>>,
    prefix: String,
    gcra: ::redis::Script,
    hincr: ::redis::Script,
    breaker: Arc<Breaker>,
}

#[derive(Default)]
struct Breaker {
    failures: AtomicU32,
    open: AtomicBool,
}

impl RedisKv {
    /// Opens a client for `url` and a reconnecting connection manager with short timeouts;
    /// fails (once, after one attempt of at most [`OP_TIMEOUT`]) when Redis is unreachable
    /// at start-up.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, KvError> {
        let client = ::redis::Client::open(url)?;
        let conn = manager(&client).await?;
        Ok(RedisKv {
            client,
            conn: Arc::new(std::sync::RwLock::new(conn)),
            prefix: prefix.to_string(),
            gcra: ::redis::Script::new(GCRA),
            hincr: ::redis::Script::new(HINCR),
            breaker: Arc::default(),
        })
    }

    /// A handle on the current connection (cheap: a clone of the manager).
    fn c(&self) -> ConnectionManager {
        match self.conn.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Whether the circuit is open (Redis considered down; commands fail at once).
    pub fn circuit_open(&self) -> bool {
        self.breaker.open.load(Ordering::Acquire)
    }

    /// Runs one command with the timeout and the circuit breaker.
    async fn call<T>(
        &self,
        op: impl std::future::Future<Output = ::redis::RedisResult<T>>,
    ) -> Result<T, KvError> {
        if self.circuit_open() {
            return Err(KvError::circuit_open());
        }
        match tokio::time::timeout(OP_TIMEOUT, op).await {
            Ok(Ok(v)) => {
                self.breaker.failures.store(0, Ordering::Release);
                Ok(v)
            }
            Ok(Err(e)) => {
                if e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_unrecoverable_error()
                {
                    self.failed();
                }
                Err(e.into())
            }
            Err(_) => {
                self.failed();
                Err(KvError::timeout())
            }
        }
    }

    fn failed(&self) {
        let n = self.breaker.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if n < TRIP_AFTER || self.breaker.open.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::error!(
            failures = n,
            "Redis unreachable: circuit open, requests that need it answer 503 until it is back"
        );
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                // A fresh connection: the old one may be stuck on a dead socket.
                let Ok(mut c) = manager(&this.client).await else {
                    continue;
                };
                let cmd = ::redis::cmd("PING");
                let ping = cmd.query_async::<String>(&mut c);
                if let Ok(Ok(_)) = tokio::time::timeout(OP_TIMEOUT, ping).await {
                    match this.conn.write() {
                        Ok(mut slot) => *slot = c,
                        Err(poisoned) => *poisoned.into_inner() = c,
                    }
                    this.breaker.failures.store(0, Ordering::Release);
                    this.breaker.open.store(false, Ordering::Release);
                    tracing::warn!("Redis reachable again: circuit closed");
                    return;
                }
            }
        });
    }

    fn k(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    /// Sends `PING`.
    pub async fn ping(&self) -> Result<(), KvError> {
        let mut c = self.c();
        let _: String = self.call(::redis::cmd("PING").query_async(&mut c)).await?;
        Ok(())
    }

    /// See [`Kv::get`](super::Kv::get).
    pub async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let mut c = self.c();
        self.call(c.get(self.k(key))).await
    }

    /// See [`Kv::set`](super::Kv::set); `PSETEX` with at least 1 ms, or `SET`.
    pub async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), KvError> {
        let mut c = self.c();
        match ttl {
            Some(t) => {
                let _: () = self
                    .call(c.pset_ex(self.k(key), value, t.as_millis().max(1) as u64))
                    .await?;
            }
            None => {
                let _: () = self.call(c.set(self.k(key), value)).await?;
            }
        }
        Ok(())
    }

    /// See [`Kv::set_nx`](super::Kv::set_nx); `SET NX PX`.
    pub async fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, KvError> {
        let mut c = self.c();
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(self.k(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64);
        let r: Option<String> = self.call(cmd.query_async(&mut c)).await?;
        Ok(r.is_some())
    }

    /// See [`Kv::del`](super::Kv::del).
    pub async fn del(&self, key: &str) -> Result<bool, KvError> {
        let mut c = self.c();
        let n: i64 = self.call(c.del(self.k(key))).await?;
        Ok(n > 0)
    }

    /// See [`Kv::incr`](super::Kv::incr); `INCR` and `PEXPIRE NX` in one transaction, so the
    /// TTL is set only by the first increment.
    pub async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, KvError> {
        let mut c = self.c();
        let k = self.k(key);
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .incr(&k, 1)
            .cmd("PEXPIRE")
            .arg(&k)
            .arg(ttl.as_millis().max(1) as u64)
            .arg("NX");
        let (n, _): (i64, i64) = self.call(pipe.query_async(&mut c)).await?;
        Ok(n)
    }

    /// See [`Kv::ttl`](super::Kv::ttl); `PTTL`.
    pub async fn ttl(&self, key: &str) -> Result<Option<Duration>, KvError> {
        let mut c = self.c();
        let mut cmd = ::redis::cmd("PTTL");
        cmd.arg(self.k(key));
        let ms: i64 = self.call(cmd.query_async(&mut c)).await?;
        Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
    }

    /// See [`Kv::throttle`](super::Kv::throttle); one atomic Lua script on Redis's clock, so
    /// instances with skewed clocks agree.
    pub async fn throttle(
        &self,
        key: &str,
        limit: u32,
        period: Duration,
    ) -> Result<RateDecision, KvError> {
        let period_ms = period.as_millis().max(1) as u64;
        let interval = (period_ms / limit.max(1) as u64).max(1);
        let mut c = self.c();
        let mut invocation = self.gcra.key(self.k(key));
        invocation.arg(interval).arg(period_ms);
        let (allowed, reset, retry): (i64, i64, i64) =
            self.call(invocation.invoke_async(&mut c)).await?;
        Ok(RateDecision::from_gcra(
            allowed == 1,
            limit,
            period_ms,
            reset.max(0) as u64,
            retry.max(0) as u64,
        ))
    }

    /// See [`Kv::hincr`](super::Kv::hincr); one Lua script (`HINCRBY`, `HDEL` at 0).
    pub async fn hincr(&self, key: &str, field: &str, delta: i64) -> Result<i64, KvError> {
        let mut c = self.c();
        let mut invocation = self.hincr.key(self.k(key));
        invocation.arg(field).arg(delta);
        self.call(invocation.invoke_async(&mut c)).await
    }

    /// See [`Kv::hgetall`](super::Kv::hgetall); `HGETALL`.
    pub async fn hgetall(&self, key: &str) -> Result<Vec<(String, i64)>, KvError> {
        let mut c = self.c();
        let m: std::collections::HashMap<String, i64> = self.call(c.hgetall(self.k(key))).await?;
        Ok(m.into_iter().collect())
    }

    /// See [`Kv::publish`](super::Kv::publish); `PUBLISH` on the prefixed channel.
    pub async fn publish(&self, topic: &str, payload: Bytes) -> Result<(), KvError> {
        let mut c = self.c();
        let _: i64 = self
            .call(c.publish(self.k(topic), payload.as_ref()))
            .await?;
        Ok(())
    }

    /// A dedicated pub/sub connection forwarding into a bounded channel; it ends when the
    /// receiver is dropped or the connection closes.
    pub async fn subscribe(
        &self,
        topic: &str,
    ) -> Result<tokio::sync::mpsc::Receiver<Bytes>, KvError> {
        if self.circuit_open() {
            return Err(KvError::circuit_open());
        }
        let mut pubsub = tokio::time::timeout(OP_TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|_| KvError::timeout())??;
        pubsub.subscribe(self.k(topic)).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move {
            let mut stream = pubsub.into_on_message();
            while let Some(msg) = stream.next().await {
                if tx
                    .send(Bytes::copy_from_slice(msg.get_payload_bytes()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        Ok(rx)
    }
}

/// A connection manager with short timeouts and one quick retry, so no command waits long on
/// a Redis that is gone; fails after at most two [`OP_TIMEOUT`]s.
async fn manager(client: &::redis::Client) -> Result<ConnectionManager, KvError> {
    let config = ::redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(OP_TIMEOUT))
        .set_response_timeout(Some(OP_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    tokio::time::timeout(
        OP_TIMEOUT * 2,
        ConnectionManager::new_with_config(client.clone(), config),
    )
    .await
    .map_err(|_| KvError::timeout())?
    .map_err(KvError::from)
}
