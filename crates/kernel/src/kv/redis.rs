//! The Redis key-value store: shared by every `trellis` instance, so rate limits, codes and
//! revocations hold across a fleet. Rate limiting is one Lua script (atomic GCRA on Redis time).

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

/// Redis-backed store; all keys and channels carry `prefix`.
#[derive(Clone)]
pub struct RedisKv {
    client: ::redis::Client,
    conn: ConnectionManager,
    prefix: String,
    gcra: ::redis::Script,
}

impl RedisKv {
    /// Opens a client for `url` and a reconnecting connection manager; fails when Redis is
    /// unreachable at start-up.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, KvError> {
        let client = ::redis::Client::open(url)?;
        let conn = ConnectionManager::new(client.clone()).await?;
        Ok(RedisKv {
            client,
            conn,
            prefix: prefix.to_string(),
            gcra: ::redis::Script::new(GCRA),
        })
    }

    fn k(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    /// Sends `PING`.
    pub async fn ping(&self) -> Result<(), KvError> {
        let mut c = self.conn.clone();
        let _: String = ::redis::cmd("PING").query_async(&mut c).await?;
        Ok(())
    }

    /// See [`Kv::get`](super::Kv::get).
    pub async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let mut c = self.conn.clone();
        Ok(c.get(self.k(key)).await?)
    }

    /// See [`Kv::set`](super::Kv::set); `PSETEX` with at least 1 ms, or `SET`.
    pub async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), KvError> {
        let mut c = self.conn.clone();
        match ttl {
            Some(t) => {
                let _: () = c
                    .pset_ex(self.k(key), value, t.as_millis().max(1) as u64)
                    .await?;
            }
            None => {
                let _: () = c.set(self.k(key), value).await?;
            }
        }
        Ok(())
    }

    /// See [`Kv::set_nx`](super::Kv::set_nx); `SET NX PX`.
    pub async fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, KvError> {
        let mut c = self.conn.clone();
        let r: Option<String> = ::redis::cmd("SET")
            .arg(self.k(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .query_async(&mut c)
            .await?;
        Ok(r.is_some())
    }

    /// See [`Kv::del`](super::Kv::del).
    pub async fn del(&self, key: &str) -> Result<bool, KvError> {
        let mut c = self.conn.clone();
        let n: i64 = c.del(self.k(key)).await?;
        Ok(n > 0)
    }

    /// See [`Kv::incr`](super::Kv::incr); `INCR` and `PEXPIRE NX` in one transaction, so the
    /// TTL is set only by the first increment.
    pub async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, KvError> {
        let mut c = self.conn.clone();
        let k = self.k(key);
        let (n, _): (i64, i64) = ::redis::pipe()
            .atomic()
            .incr(&k, 1)
            .cmd("PEXPIRE")
            .arg(&k)
            .arg(ttl.as_millis().max(1) as u64)
            .arg("NX")
            .query_async(&mut c)
            .await?;
        Ok(n)
    }

    /// See [`Kv::ttl`](super::Kv::ttl); `PTTL`.
    pub async fn ttl(&self, key: &str) -> Result<Option<Duration>, KvError> {
        let mut c = self.conn.clone();
        let ms: i64 = ::redis::cmd("PTTL")
            .arg(self.k(key))
            .query_async(&mut c)
            .await?;
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
        let mut c = self.conn.clone();
        let (allowed, reset, retry): (i64, i64, i64) = self
            .gcra
            .key(self.k(key))
            .arg(interval)
            .arg(period_ms)
            .invoke_async(&mut c)
            .await?;
        Ok(RateDecision::from_gcra(
            allowed == 1,
            limit,
            period_ms,
            reset.max(0) as u64,
            retry.max(0) as u64,
        ))
    }

    /// See [`Kv::publish`](super::Kv::publish); `PUBLISH` on the prefixed channel.
    pub async fn publish(&self, topic: &str, payload: Bytes) -> Result<(), KvError> {
        let mut c = self.conn.clone();
        let _: i64 = c.publish(self.k(topic), payload.as_ref()).await?;
        Ok(())
    }

    /// A dedicated pub/sub connection forwarding into a bounded channel; it ends when the
    /// receiver is dropped or the connection closes.
    pub async fn subscribe(
        &self,
        topic: &str,
    ) -> Result<tokio::sync::mpsc::Receiver<Bytes>, KvError> {
        let mut pubsub = self.client.get_async_pubsub().await?;
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
