//! The realtime hub (ARCHITECTURE.md "Realtime hub"): live connections (WebSocket or SSE) of
//! one process, the topics each listens to, bounded per-connection send queues, presence
//! counts, and fan-out of frames to every instance through the key-value store's pub/sub
//! (Redis with `REDIS_URL`, in process otherwise).
//!
//! The hub knows no app and no wire format: it moves opaque frames ([`Bytes`]). An app
//! registers each connection ([`Hub::register`]), subscribes it to topics, and drains its
//! [`Connection`] (the queue and the close signal) into the socket.
//!
//! Delivery rules:
//! - every queue is bounded ([`HubConfig::queue`] frames); a connection whose queue is full
//!   is closed with [`CLOSE_RESYNC`] ("resync_required"), never silently skipped — the client
//!   reconnects and resumes from its last event;
//! - [`Hub::publish`] reaches the topic's subscribers on every instance; [`Hub::deliver`]
//!   only this instance's (apps whose events come from a shared log read the log on every
//!   instance and deliver locally, which keeps per-stream order);
//! - each connection is subscribed to [`user_topic`] of its user and, when it has one,
//!   [`group_topic`] of its group (Momentum: the workspace), for direct sends, broadcasts and
//!   presence.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use crate::http::metrics::Metrics;
use crate::kv::Kv;

/// WebSocket close code for a consumer too slow for its queue: reconnect and resume.
pub const CLOSE_RESYNC: u16 = 4409;

/// The kv pub/sub channel instances exchange frames on.
const BUS: &str = "rt:bus";

/// Limits of a hub.
#[derive(Clone, Copy, Debug)]
pub struct HubConfig {
    /// Open connections this instance accepts (seed 002 `WS_MAX_CONNECTIONS`, 10,000).
    pub max_connections: usize,
    /// Open connections per user on this instance (issue 9: 20).
    pub max_per_user: usize,
    /// Frames queued per connection before it is closed with [`CLOSE_RESYNC`] (1,024).
    pub queue: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_connections: 10_000,
            max_per_user: 20,
            queue: 1024,
        }
    }
}

/// What a connection's queue carries.
#[derive(Clone, Debug)]
pub enum Outbound {
    /// A frame to write as is.
    Frame(Bytes),
    /// A frame of an ordered stream (Momentum: a workspace's change log): the connection
    /// writes it only when `seq` is above the last it wrote for `stream`, which removes the
    /// duplicates a replay and live delivery overlap in. Shared by every queue it is in.
    Event(Arc<StreamFrame>),
    /// An app-defined signal for the connection's own task (e.g. "recheck access"), kept in
    /// order with the frames around it.
    Signal(Arc<str>),
}

/// One frame of an ordered stream ([`Outbound::Event`]).
#[derive(Debug)]
pub struct StreamFrame {
    /// The stream (a workspace id).
    pub stream: Uuid,
    /// Position in the stream.
    pub seq: i64,
    /// The frame.
    pub frame: Bytes,
}

/// Why and how the hub asks a connection to close.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseRequest {
    /// The WebSocket close code (RFC 6455 §7.4; 4000–4999 are the application's).
    pub code: u16,
    /// The close reason (at most 123 bytes on the wire).
    pub reason: String,
}

/// Why [`Hub::register`] refused a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The instance holds [`HubConfig::max_connections`].
    #[error("the server holds its maximum number of connections")]
    Full,
    /// The user holds [`HubConfig::max_per_user`] on this instance.
    #[error("too many connections for this user")]
    UserCap,
}

/// One registered connection as the hub keeps it.
struct Entry {
    user: Uuid,
    session: Uuid,
    group: Option<Uuid>,
    connected_at: DateTime<Utc>,
    last_seen: Arc<AtomicI64>,
    tx: mpsc::Sender<Outbound>,
    close: watch::Sender<Option<CloseRequest>>,
    topics: HashSet<Arc<str>>,
}

#[derive(Default)]
struct Tables {
    conns: HashMap<u64, Entry>,
    topics: HashMap<Arc<str>, HashSet<u64>>,
    users: HashMap<Uuid, HashSet<u64>>,
}

/// Counters of one instance (`/ws/stats`, and `/metrics` as `ws_*_total`).
struct Counters {
    opened: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
    messages_in: Arc<AtomicU64>,
    messages_out: Arc<AtomicU64>,
    commands: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    dropped_slow: Arc<AtomicU64>,
}

impl Counters {
    fn register(m: &Metrics) -> Counters {
        Counters {
            opened: m.counter(
                "ws_connections_opened_total",
                "WebSocket connections accepted (open = opened - closed).",
                1.0,
            ),
            closed: m.counter(
                "ws_connections_closed_total",
                "WebSocket connections ended.",
                1.0,
            ),
            messages_in: m.counter(
                "ws_messages_in_total",
                "WebSocket frames received from clients.",
                1.0,
            ),
            messages_out: m.counter(
                "ws_messages_out_total",
                "WebSocket frames queued to clients.",
                1.0,
            ),
            commands: m.counter("ws_commands_total", "WebSocket commands executed.", 1.0),
            errors: m.counter(
                "ws_errors_total",
                "WebSocket error replies and refused frames.",
                1.0,
            ),
            dropped_slow: m.counter(
                "ws_slow_consumers_closed_total",
                "WebSocket connections closed because their send queue was full.",
                1.0,
            ),
        }
    }
}

struct Inner {
    instance: Uuid,
    kv: Kv,
    config: HubConfig,
    tables: RwLock<Tables>,
    next: AtomicU64,
    counters: Counters,
    started: Instant,
}

/// The hub of one process; cheap to clone.
#[derive(Clone)]
pub struct Hub(Arc<Inner>);

/// A registered connection: its queue and close signal. Dropping it unregisters the
/// connection (and, through [`Hub::leave`], is where apps end presence).
pub struct Connection {
    /// The hub-wide id of this connection.
    pub id: u64,
    /// Frames to write, in order.
    pub rx: mpsc::Receiver<Outbound>,
    /// Set when the hub wants the connection closed.
    pub close: watch::Receiver<Option<CloseRequest>>,
    /// Unix milliseconds of the last frame received from the client; the app updates it.
    pub last_seen: Arc<AtomicI64>,
    hub: Hub,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.hub.unregister(self.id);
    }
}

/// One connection as [`Hub::connections`] lists it.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    /// Hub-wide id.
    pub id: u64,
    /// The user.
    pub user: Uuid,
    /// The session its token belongs to.
    pub session: Uuid,
    /// Its group (Momentum: the workspace it connected in).
    pub group: Option<Uuid>,
    /// When it connected.
    pub connected_at: DateTime<Utc>,
    /// Unix milliseconds of the last frame received from it.
    pub last_seen_ms: i64,
    /// Its topics.
    pub topics: Vec<String>,
}

/// Figures of one instance.
#[derive(Clone, Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct HubStats {
    /// Open connections.
    pub total_connections: usize,
    /// Distinct users with an open connection.
    pub unique_users: usize,
    /// Frames received from clients.
    pub messages_in: u64,
    /// Frames queued to clients.
    pub messages_out: u64,
    /// Commands executed.
    pub commands: u64,
    /// Error replies and refused frames.
    pub errors: u64,
    /// Connections closed because their queue was full.
    pub dropped_slow: u64,
    /// Seconds since the hub started.
    pub uptime: u64,
}

/// The topic every connection listens to (platform-wide broadcasts).
pub const ALL_TOPIC: &str = "all";

/// The topic every connection of `user` listens to (direct sends).
pub fn user_topic(user: Uuid) -> String {
    format!("user:{user}")
}

/// The topic every connection of a group listens to (broadcasts, presence).
pub fn group_topic(group: Uuid) -> String {
    format!("group:{group}")
}

fn presence_key(group: Uuid) -> String {
    format!("rt:presence:{group}")
}

impl Hub {
    /// A hub with `config`, fanning out through `kv`, counting into `metrics`. With Redis,
    /// call [`Hub::start_bus`] once so frames published on other instances reach this one.
    pub fn new(kv: Kv, config: HubConfig, metrics: &Metrics) -> Hub {
        Hub(Arc::new(Inner {
            instance: Uuid::now_v7(),
            kv,
            config,
            tables: RwLock::default(),
            next: AtomicU64::new(1),
            counters: Counters::register(metrics),
            started: Instant::now(),
        }))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        self.0.tables.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        self.0.tables.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a connection of `user` (signed in with `session`) in `group`, subscribed to
    /// its [`user_topic`] and [`group_topic`]. Errors: [`RegisterError::Full`] at
    /// [`HubConfig::max_connections`], [`RegisterError::UserCap`] at
    /// [`HubConfig::max_per_user`].
    pub fn register(
        &self,
        user: Uuid,
        session: Uuid,
        group: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<Connection, RegisterError> {
        let (tx, rx) = mpsc::channel(self.0.config.queue.max(1));
        let (close_tx, close_rx) = watch::channel(None);
        let last_seen = Arc::new(AtomicI64::new(now.timestamp_millis()));
        let id = self.0.next.fetch_add(1, Ordering::Relaxed);
        let mut t = self.write();
        if t.conns.len() >= self.0.config.max_connections {
            return Err(RegisterError::Full);
        }
        if t.users.get(&user).map_or(0, HashSet::len) >= self.0.config.max_per_user {
            return Err(RegisterError::UserCap);
        }
        let mut topics = HashSet::new();
        topics.insert(Arc::<str>::from(ALL_TOPIC));
        topics.insert(Arc::<str>::from(user_topic(user)));
        if let Some(g) = group {
            topics.insert(Arc::<str>::from(group_topic(g)));
        }
        for topic in &topics {
            t.topics.entry(topic.clone()).or_default().insert(id);
        }
        t.users.entry(user).or_default().insert(id);
        t.conns.insert(
            id,
            Entry {
                user,
                session,
                group,
                connected_at: now,
                last_seen: last_seen.clone(),
                tx,
                close: close_tx,
                topics,
            },
        );
        drop(t);
        self.0.counters.opened.fetch_add(1, Ordering::Relaxed);
        Ok(Connection {
            id,
            rx,
            close: close_rx,
            last_seen,
            hub: self.clone(),
        })
    }

    fn unregister(&self, id: u64) {
        let mut t = self.write();
        let Some(e) = t.conns.remove(&id) else {
            return;
        };
        self.0.counters.closed.fetch_add(1, Ordering::Relaxed);
        for topic in &e.topics {
            if let Some(set) = t.topics.get_mut(topic) {
                set.remove(&id);
                if set.is_empty() {
                    t.topics.remove(topic);
                }
            }
        }
        if let Some(set) = t.users.get_mut(&e.user) {
            set.remove(&id);
            if set.is_empty() {
                t.users.remove(&e.user);
            }
        }
    }

    /// Adds `topic` to connection `id`'s subscriptions; `false` when it had it already.
    pub fn subscribe(&self, id: u64, topic: &str) -> bool {
        let mut t = self.write();
        let topic: Arc<str> = Arc::from(topic);
        let Some(e) = t.conns.get_mut(&id) else {
            return false;
        };
        if !e.topics.insert(topic.clone()) {
            return false;
        }
        t.topics.entry(topic).or_default().insert(id);
        true
    }

    /// Removes `topic` from connection `id`'s subscriptions; `false` when it did not have it.
    pub fn unsubscribe(&self, id: u64, topic: &str) -> bool {
        let mut t = self.write();
        let Some(e) = t.conns.get_mut(&id) else {
            return false;
        };
        if !e.topics.remove(topic) {
            return false;
        }
        if let Some(set) = t.topics.get_mut(topic) {
            set.remove(&id);
            if set.is_empty() {
                t.topics.remove(topic);
            }
        }
        true
    }

    /// Whether any connection of this instance listens to `topic`.
    pub fn has_subscribers(&self, topic: &str) -> bool {
        self.read().topics.contains_key(topic)
    }

    /// Queues `item` to every connection of this instance subscribed to at least one of
    /// `topics` (once per connection); answers how many got it. A connection whose queue is
    /// full is asked to close with [`CLOSE_RESYNC`].
    pub fn deliver(&self, topics: &[&str], item: &Outbound) -> usize {
        let t = self.read();
        let mut targets: Vec<u64> = Vec::new();
        for topic in topics {
            if let Some(set) = t.topics.get(*topic) {
                targets.extend(set.iter().copied());
            }
        }
        if topics.len() > 1 {
            targets.sort_unstable();
            targets.dedup();
        }
        let mut n = 0;
        for id in targets {
            if let Some(e) = t.conns.get(&id) {
                n += usize::from(self.push(e, item.clone()));
            }
        }
        self.0
            .counters
            .messages_out
            .fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    fn push(&self, e: &Entry, item: Outbound) -> bool {
        match e.tx.try_send(item) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if e.close.borrow().is_none() {
                    self.0.counters.dropped_slow.fetch_add(1, Ordering::Relaxed);
                    let _ = e.close.send(Some(CloseRequest {
                        code: CLOSE_RESYNC,
                        reason: "resync_required".into(),
                    }));
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Sends `frame` to the subscribers of `topic` on this instance and, through the bus,
    /// on every other one. Answers how many local connections got it.
    pub async fn publish(&self, topic: &str, frame: Bytes) -> usize {
        let n = self.deliver(&[topic], &Outbound::Frame(frame.clone()));
        if matches!(self.0.kv, Kv::Redis(_)) {
            let mut msg = Vec::with_capacity(frame.len() + topic.len() + 40);
            msg.extend_from_slice(self.0.instance.as_bytes());
            msg.extend_from_slice(topic.as_bytes());
            msg.push(b'\n');
            msg.extend_from_slice(&frame);
            if let Err(e) = self.0.kv.publish(BUS, Bytes::from(msg)).await {
                tracing::warn!(error = %e, "realtime bus unavailable; frame reached this instance only");
            }
        }
        n
    }

    /// Listens to the bus (Redis only; in process there is one instance) and delivers what
    /// other instances publish, until `shutdown`. Resubscribes after a lost connection.
    pub fn start_bus(&self, shutdown: tokio_util::sync::CancellationToken) {
        if !matches!(self.0.kv, Kv::Redis(_)) {
            return;
        }
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                let sub = tokio::select! {
                    () = shutdown.cancelled() => return,
                    s = hub.0.kv.subscribe(BUS) => s,
                };
                match sub {
                    Ok(mut sub) => loop {
                        let msg = tokio::select! {
                            () = shutdown.cancelled() => return,
                            m = sub.recv() => m,
                        };
                        let Some(msg) = msg else { break };
                        hub.on_bus(&msg);
                    },
                    Err(e) => tracing::warn!(error = %e, "realtime bus: cannot subscribe"),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }

    fn on_bus(&self, msg: &Bytes) {
        if msg.len() < 17 || msg[..16] == *self.0.instance.as_bytes() {
            return;
        }
        let rest = msg.slice(16..);
        let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
            return;
        };
        let Ok(topic) = std::str::from_utf8(&rest[..nl]) else {
            return;
        };
        self.deliver(&[topic], &Outbound::Frame(rest.slice(nl + 1..)));
    }

    /// Asks every connection of this instance opened with one of `sessions` (or, with
    /// `user`, any of that user's) to close with `code` and `reason`; answers how many.
    pub fn close_sessions(
        &self,
        sessions: &[Uuid],
        user: Option<Uuid>,
        code: u16,
        reason: &str,
    ) -> usize {
        let t = self.read();
        let mut n = 0;
        for e in t.conns.values() {
            if sessions.contains(&e.session) || user == Some(e.user) {
                let _ = e.close.send(Some(CloseRequest {
                    code,
                    reason: reason.to_string(),
                }));
                n += 1;
            }
        }
        n
    }

    /// Closes the connections silent for longer than `idle` or whose task is gone; answers
    /// (closed, remaining).
    pub fn cleanup(&self, idle: Duration, now: DateTime<Utc>) -> (usize, usize) {
        let cutoff = now.timestamp_millis() - idle.as_millis() as i64;
        let t = self.read();
        let mut closed = 0;
        for e in t.conns.values() {
            if e.tx.is_closed() || e.last_seen.load(Ordering::Relaxed) < cutoff {
                let _ = e.close.send(Some(CloseRequest {
                    code: 4408,
                    reason: "idle timeout".into(),
                }));
                closed += 1;
            }
        }
        (closed, t.conns.len() - closed)
    }

    /// The open connections of this instance, optionally of one group.
    pub fn connections(&self, group: Option<Uuid>) -> Vec<ConnectionInfo> {
        let t = self.read();
        t.conns
            .iter()
            .filter(|(_, e)| group.is_none() || e.group == group)
            .map(|(id, e)| ConnectionInfo {
                id: *id,
                user: e.user,
                session: e.session,
                group: e.group,
                connected_at: e.connected_at,
                last_seen_ms: e.last_seen.load(Ordering::Relaxed),
                topics: e.topics.iter().map(|t| t.to_string()).collect(),
            })
            .collect()
    }

    /// Figures of this instance.
    pub fn stats(&self) -> HubStats {
        let t = self.read();
        let c = &self.0.counters;
        HubStats {
            total_connections: t.conns.len(),
            unique_users: t.users.len(),
            messages_in: c.messages_in.load(Ordering::Relaxed),
            messages_out: c.messages_out.load(Ordering::Relaxed),
            commands: c.commands.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            dropped_slow: c.dropped_slow.load(Ordering::Relaxed),
            uptime: self.0.started.elapsed().as_secs(),
        }
    }

    /// Counts a frame received from a client.
    pub fn count_in(&self) {
        self.0.counters.messages_in.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an executed command.
    pub fn count_command(&self) {
        self.0.counters.commands.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an error reply or refused frame.
    pub fn count_error(&self) {
        self.0.counters.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one more open connection of `user` in `group` across every instance; answers
    /// the user's count there (1 means the user just came online).
    pub async fn join(&self, group: Uuid, user: Uuid) -> i64 {
        self.presence_add(group, user, 1).await.max(1)
    }

    /// Counts one connection fewer; answers the user's remaining count (0: went offline).
    pub async fn leave(&self, group: Uuid, user: Uuid) -> i64 {
        self.presence_add(group, user, -1).await
    }

    async fn presence_add(&self, group: Uuid, user: Uuid, delta: i64) -> i64 {
        match self
            .0
            .kv
            .hincr(&presence_key(group), &user.to_string(), delta)
            .await
        {
            Ok(n) => n,
            Err(e) => {
                // Presence from this instance alone when the shared store is away.
                tracing::warn!(error = %e, "presence store unavailable; counting locally");
                let t = self.read();
                t.conns
                    .values()
                    .filter(|e| e.user == user && e.group == Some(group))
                    .count() as i64
            }
        }
    }

    /// Users online in `group` on every instance, with their open-connection counts.
    pub async fn online(&self, group: Uuid) -> Vec<(Uuid, i64)> {
        match self.0.kv.hgetall(&presence_key(group)).await {
            Ok(all) => all
                .into_iter()
                .filter_map(|(k, n)| Some((k.parse().ok()?, n)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "presence store unavailable; listing this instance");
                let mut counts: HashMap<Uuid, i64> = HashMap::new();
                for e in self.read().conns.values() {
                    if e.group == Some(group) {
                        *counts.entry(e.user).or_default() += 1;
                    }
                }
                counts.into_iter().collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(queue: usize) -> Hub {
        Hub::new(
            Kv::memory(),
            HubConfig {
                max_connections: 3,
                max_per_user: 2,
                queue,
            },
            &Metrics::default(),
        )
    }

    #[tokio::test]
    async fn limits_topics_and_slow_consumers() {
        let h = hub(2);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let g = Uuid::now_v7();
        let mut c1 = h.register(a, Uuid::now_v7(), Some(g), Utc::now()).unwrap();
        let _c2 = h.register(a, Uuid::now_v7(), None, Utc::now()).unwrap();
        assert_eq!(
            h.register(a, Uuid::now_v7(), None, Utc::now()).err(),
            Some(RegisterError::UserCap)
        );
        let c3 = h.register(b, Uuid::now_v7(), Some(g), Utc::now()).unwrap();
        assert_eq!(
            h.register(b, Uuid::now_v7(), None, Utc::now()).err(),
            Some(RegisterError::Full)
        );
        assert!(h.subscribe(c1.id, "t"));
        assert!(!h.subscribe(c1.id, "t"));
        // Once per connection even when several of its topics match.
        let n = h.deliver(&["t", &group_topic(g)], &Outbound::Frame(Bytes::from("x")));
        assert_eq!(n, 2);
        assert!(matches!(c1.rx.try_recv(), Ok(Outbound::Frame(_))));
        assert!(c1.rx.try_recv().is_err());
        // A full queue closes the connection with resync_required.
        for _ in 0..3 {
            h.deliver(&["t"], &Outbound::Frame(Bytes::from("y")));
        }
        assert_eq!(
            c1.close.borrow().as_ref().map(|c| c.code),
            Some(CLOSE_RESYNC)
        );
        assert_eq!(h.stats().dropped_slow, 1);
        // Unregistering frees the slot and the topics.
        drop(c3);
        assert_eq!(h.stats().total_connections, 2);
        assert!(h.register(b, Uuid::now_v7(), None, Utc::now()).is_ok());
    }

    #[tokio::test]
    async fn presence_counts_users_not_sockets() {
        let h = hub(4);
        let (g, u) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(h.join(g, u).await, 1);
        assert_eq!(h.join(g, u).await, 2);
        assert_eq!(h.online(g).await, vec![(u, 2)]);
        assert_eq!(h.leave(g, u).await, 1);
        assert_eq!(h.leave(g, u).await, 0);
        assert!(h.online(g).await.is_empty());
    }

    #[tokio::test]
    async fn closes_by_session_or_user() {
        let h = hub(4);
        let (u, s1, s2) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let c1 = h.register(u, s1, None, Utc::now()).unwrap();
        let c2 = h.register(u, s2, None, Utc::now()).unwrap();
        assert_eq!(h.close_sessions(&[s1], None, 4000, "revoked"), 1);
        assert!(c1.close.borrow().is_some() && c2.close.borrow().is_none());
        assert_eq!(h.close_sessions(&[], Some(u), 4000, "revoked"), 2);
        assert!(c2.close.borrow().is_some());
    }
}
