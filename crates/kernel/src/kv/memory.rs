//! The in-process key-value store: one mutex-guarded map with lazy expiry and a periodic sweep.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::broadcast;

use super::RateDecision;

struct Entry {
    value: String,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

/// In-process store; values, rate-limit state and topics.
#[derive(Default)]
pub struct MemoryKv {
    map: Mutex<HashMap<String, Entry>>,
    topics: Mutex<HashMap<String, broadcast::Sender<Bytes>>>,
    hashes: Mutex<HashMap<String, HashMap<String, i64>>>,
    ops: AtomicU64,
}

/// Sweep expired entries every this many writes, so abandoned keys do not accumulate.
const SWEEP_EVERY: u64 = 4096;

impl MemoryKv {
    fn with_map<R>(&self, f: impl FnOnce(&mut HashMap<String, Entry>, Instant) -> R) -> R {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if self.ops.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            map.retain(|_, e| e.live(now));
        }
        f(&mut map, now)
    }

    /// See [`Kv::get`](super::Kv::get).
    pub fn get(&self, key: &str) -> Option<String> {
        self.with_map(|m, now| m.get(key).filter(|e| e.live(now)).map(|e| e.value.clone()))
    }

    /// See [`Kv::set`](super::Kv::set).
    pub fn set(&self, key: &str, value: &str, ttl: Option<Duration>) {
        self.with_map(|m, now| {
            m.insert(
                key.to_string(),
                Entry {
                    value: value.to_string(),
                    expires: ttl.map(|t| now + t),
                },
            );
        })
    }

    /// See [`Kv::set_nx`](super::Kv::set_nx).
    pub fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> bool {
        self.with_map(|m, now| {
            if m.get(key).is_some_and(|e| e.live(now)) {
                return false;
            }
            m.insert(
                key.to_string(),
                Entry {
                    value: value.to_string(),
                    expires: Some(now + ttl),
                },
            );
            true
        })
    }

    /// See [`Kv::del`](super::Kv::del).
    pub fn del(&self, key: &str) -> bool {
        self.with_map(|m, now| m.remove(key).is_some_and(|e| e.live(now)))
    }

    /// See [`Kv::incr`](super::Kv::incr); an expired counter restarts at 1.
    pub fn incr(&self, key: &str, ttl: Duration) -> i64 {
        self.with_map(|m, now| {
            let entry = m.entry(key.to_string()).or_insert(Entry {
                value: "0".into(),
                expires: Some(now + ttl),
            });
            if !entry.live(now) {
                entry.value = "0".into();
                entry.expires = Some(now + ttl);
            }
            let n = entry.value.parse::<i64>().unwrap_or(0) + 1;
            entry.value = n.to_string();
            n
        })
    }

    /// See [`Kv::ttl`](super::Kv::ttl).
    pub fn ttl(&self, key: &str) -> Option<Duration> {
        self.with_map(|m, now| {
            m.get(key)
                .filter(|e| e.live(now))
                .and_then(|e| e.expires)
                .map(|e| e - now)
        })
    }

    /// GCRA with the theoretical arrival time kept as milliseconds since the first call.
    pub fn throttle(&self, key: &str, limit: u32, period: Duration) -> RateDecision {
        let period_ms = period.as_millis().max(1) as u64;
        let interval = (period_ms / limit.max(1) as u64).max(1);
        self.with_map(|m, now| {
            let tat = m
                .get(key)
                .filter(|e| e.live(now))
                .and_then(|e| e.expires)
                .map(|e| e.saturating_duration_since(now).as_millis() as u64)
                .unwrap_or(0);
            // `tat` here is relative to now: how far in the future the bucket drains.
            let new_tat = tat + interval;
            if new_tat > period_ms {
                let retry = new_tat - period_ms;
                return RateDecision::from_gcra(false, limit, period_ms, tat, retry);
            }
            m.insert(
                key.to_string(),
                Entry {
                    value: String::new(),
                    expires: Some(now + Duration::from_millis(new_tat)),
                },
            );
            RateDecision::from_gcra(true, limit, period_ms, new_tat, 0)
        })
    }

    /// See [`Kv::hincr`](super::Kv::hincr).
    pub fn hincr(&self, key: &str, field: &str, delta: i64) -> i64 {
        let mut hashes = self.hashes.lock().unwrap_or_else(|p| p.into_inner());
        let hash = hashes.entry(key.to_string()).or_default();
        let n = hash.get(field).copied().unwrap_or(0) + delta;
        if n > 0 {
            hash.insert(field.to_string(), n);
        } else {
            hash.remove(field);
            if hash.is_empty() {
                hashes.remove(key);
            }
        }
        n.max(0)
    }

    /// See [`Kv::hgetall`](super::Kv::hgetall).
    pub fn hgetall(&self, key: &str) -> Vec<(String, i64)> {
        let hashes = self.hashes.lock().unwrap_or_else(|p| p.into_inner());
        hashes
            .get(key)
            .map(|h| h.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }

    /// See [`Kv::publish`](super::Kv::publish); a topic exists only while it has subscribers.
    pub fn publish(&self, topic: &str, payload: Bytes) {
        let topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = topics.get(topic) {
            // No subscribers is not an error for pub/sub.
            let _ = tx.send(payload);
        }
    }

    /// See [`Kv::subscribe`](super::Kv::subscribe); also drops topics nobody listens to.
    pub fn subscribe(&self, topic: &str) -> broadcast::Receiver<Bytes> {
        let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        topics.retain(|_, tx| tx.receiver_count() > 0);
        topics
            .entry(topic.to_string())
            .or_insert_with(|| broadcast::channel(1024).0)
            .subscribe()
    }
}
