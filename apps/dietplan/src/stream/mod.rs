//! SSE followers of plan tasks: one shared feed per followed task, so N followers cost one
//! reader of the event log, not N.
//!
//! A feed is created once per task however many followers arrive together (the first
//! inserts it, all wait until its pump has loaded the log's last [`RING`] frames). The
//! pump then reads the task's new engine events once (woken by the engine's local
//! publish, or every 500 ms for events written by another instance), translates them
//! ([`frames`]), keeps the last [`RING`] frames in memory and broadcasts them. A feed
//! stays [`WARM`] after its last follower leaves (finished tasks included), so a
//! reconnect storm resumes from memory instead of re-reading the log per follower. A follower
//! ([`follow`]) subscribes first, then fills the gap between its `Last-Event-ID` and the
//! live feed from the ring (or the database when it is further behind); because every
//! engine event is broadcast, frames or not, sequence numbers are contiguous and a follower
//! detects any gap (a lagging receiver, a pump restart) and refills it. Hence: no loss, no
//! duplicate, including events written while a client was reconnecting.

pub mod follow;
pub mod frames;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, broadcast, watch};
use trellis_engine::Engine;
use trellis_kernel::Platform;
use trellis_kernel::db::Db;
use uuid::Uuid;

use crate::stream::frames::Frame;

/// Frames each feed keeps in memory for followers that resume close behind.
pub const RING: usize = 1024;

/// How long a feed outlives its last follower (a reconnecting client finds it warm).
pub const WARM: Duration = Duration::from_secs(30);

/// Shared per-task event feeds; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    engine: Engine,
    db: Db,
    feeds: Mutex<HashMap<Uuid, Arc<Feed>>>,
    shutdown: tokio_util::sync::CancellationToken,
}

/// One followed task's feed.
pub struct Feed {
    task: Uuid,
    tx: broadcast::Sender<Arc<Frame>>,
    ring: Mutex<VecDeque<Arc<Frame>>>,
    wake: Notify,
    /// `true` once the pump has loaded the ring from the log.
    loaded: watch::Sender<bool>,
}

impl Feed {
    fn new(task: Uuid) -> Feed {
        Feed {
            task,
            tx: broadcast::channel(RING).0,
            ring: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            loaded: watch::Sender::new(false),
        }
    }

    /// Frames after `after` from the ring, if the ring reaches back that far (its first
    /// frame is at most `after + 1`); `None` when the follower must read the database.
    pub fn after(&self, after: i64) -> Option<Vec<Arc<Frame>>> {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        match ring.front() {
            Some(f) if f.seq <= after + 1 => {
                // The ring is in sequence order: find the start by binary search (a storm
                // of 10,000 resumes each asks for the last few of 1,024 frames).
                let start = ring.partition_point(|f| f.seq <= after);
                Some(ring.range(start..).cloned().collect())
            }
            _ => None,
        }
    }

    /// Waits until the ring is loaded.
    async fn ready(&self) {
        let mut rx = self.loaded.subscribe();
        // The sender lives in `self`, so this ends with `true`.
        let _ = rx.wait_for(|l| *l).await;
    }

    fn push(&self, f: Arc<Frame>) {
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        if ring.len() == RING {
            ring.pop_front();
        }
        ring.push_back(f);
    }
}

impl Hub {
    /// Starts the hub's dispatcher (it routes the engine's "new events for run X" signals
    /// to the feed of X).
    pub fn start(platform: &Platform, engine: Engine) -> Hub {
        let hub = Hub {
            inner: Arc::new(HubInner {
                engine,
                db: platform.db.clone(),
                feeds: Mutex::default(),
                shutdown: platform.tasks.token(),
            }),
        };
        platform.tasks.spawn(dispatch(
            Arc::downgrade(&hub.inner),
            hub.inner.engine.subscribe(),
            hub.inner.shutdown.clone(),
        ));
        hub
    }

    /// The engine plan tasks run on.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Fires at shutdown.
    pub fn shutdown(&self) -> tokio_util::sync::CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Joins task `task`'s feed, creating it (and its pump) if nobody follows it, and waits
    /// until its ring is loaded. Followers arriving together share one feed and one read of
    /// the log. The receiver is subscribed before the ring is loaded or anything is
    /// broadcast, so nothing published later is missed.
    pub async fn join(&self, task: Uuid) -> (Arc<Feed>, broadcast::Receiver<Arc<Frame>>) {
        let (feed, rx, fresh) = {
            let mut feeds = self.inner.feeds.lock().unwrap_or_else(|p| p.into_inner());
            match feeds.get(&task) {
                Some(f) => (f.clone(), f.tx.subscribe(), false),
                None => {
                    let f = Arc::new(Feed::new(task));
                    feeds.insert(task, f.clone());
                    let rx = f.tx.subscribe();
                    (f, rx, true)
                }
            }
        };
        if fresh {
            // Spawned, not awaited here: a follower that goes away does not stall the others.
            tokio::spawn(pump(self.inner.clone(), feed.clone()));
        }
        feed.ready().await;
        (feed, rx)
    }

    /// Tasks with a feed right now (followed, or within [`WARM`] of their last follower).
    pub fn followed(&self) -> usize {
        self.inner
            .feeds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

/// Loads the log's last [`RING`] frames into the feed's ring; returns the last sequence
/// number read and whether the task's final frame is among them. On a read error the ring
/// stays empty (followers read the log themselves) and the pump starts from the beginning.
async fn load(inner: &HubInner, feed: &Feed) -> (i64, bool) {
    let task = feed.task;
    let last_seq = match inner.engine.run(task).await {
        Ok(Some(r)) => r.last_seq,
        Ok(None) => 0,
        Err(e) => {
            tracing::warn!(task_id = %task, error = %e, "dietplan: event feed load failed");
            return (0, false);
        }
    };
    let from = (last_seq - RING as i64).max(0);
    let events = match inner.engine.events_after(task, from, RING as i64).await {
        Ok(events) => events,
        Err(e) => {
            tracing::warn!(task_id = %task, error = %e, "dietplan: event feed load failed");
            return (0, false);
        }
    };
    let mut last = from;
    let mut finished = false;
    for e in &events {
        let f = Arc::new(frames::translate(&inner.db, task, e).await);
        last = e.seq;
        finished |= f.last;
        feed.push(f);
    }
    (last, finished)
}

/// Routes engine publish signals to feeds. A lagged receiver wakes every feed.
async fn dispatch(
    hub: std::sync::Weak<HubInner>,
    mut rx: broadcast::Receiver<Uuid>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        let r = tokio::select! {
            r = rx.recv() => r,
            _ = shutdown.cancelled() => return,
        };
        let Some(hub) = hub.upgrade() else { return };
        let feeds = hub.feeds.lock().unwrap_or_else(|p| p.into_inner());
        match r {
            Ok(id) => {
                if let Some(f) = feeds.get(&id) {
                    f.wake.notify_one();
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                for f in feeds.values() {
                    f.wake.notify_one();
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Loads the feed, then reads and broadcasts the task's new events until the task ends;
/// removes the feed once nobody has followed it for [`WARM`] (or at shutdown). Followers
/// that still hold a receiver then see it closed and rejoin.
async fn pump(hub: Arc<HubInner>, feed: Arc<Feed>) {
    let task = feed.task;
    let (mut last, mut finished) = load(&hub, &feed).await;
    feed.loaded.send_replace(true);
    let mut idle_since: Option<Instant> = None;
    loop {
        if finished {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = hub.shutdown.cancelled() => break,
            }
        } else {
            tokio::select! {
                _ = feed.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = hub.shutdown.cancelled() => break,
            }
            match hub.engine.events_after(task, last, 500).await {
                Ok(events) => {
                    for e in &events {
                        let f = Arc::new(frames::translate(&hub.db, task, e).await);
                        last = e.seq;
                        finished |= f.last;
                        feed.push(f.clone());
                        let _ = feed.tx.send(f);
                    }
                    if events.len() == 500 {
                        feed.wake.notify_one();
                    }
                }
                Err(e) => {
                    tracing::warn!(task_id = %task, error = %e, "dietplan: event feed read failed");
                }
            }
        }
        if feed.tx.receiver_count() > 0 {
            idle_since = None;
            continue;
        }
        if idle_since.get_or_insert_with(Instant::now).elapsed() < WARM {
            continue;
        }
        // Followers subscribe under this lock, so the count cannot grow while it is held.
        let mut feeds = hub.feeds.lock().unwrap_or_else(|p| p.into_inner());
        if feed.tx.receiver_count() == 0 {
            if feeds.get(&task).is_some_and(|f| Arc::ptr_eq(f, &feed)) {
                feeds.remove(&task);
            }
            return;
        }
    }
    let mut feeds = hub.feeds.lock().unwrap_or_else(|p| p.into_inner());
    if feeds.get(&task).is_some_and(|f| Arc::ptr_eq(f, &feed)) {
        feeds.remove(&task);
    }
}
