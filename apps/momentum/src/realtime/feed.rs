//! Per-workspace readers of the change log (`mm_changes`): each turns the entries after its
//! cursor into `event` frames, in `sync_id` order, for this instance's subscribers.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;
use trellis_kernel::realtime::{Outbound, StreamFrame};
use uuid::Uuid;

use super::frames::{MessageType, frame};
use super::socket::RECHECK;
use crate::state::MomentumState;
use crate::store::changes::{self, Change};
use crate::store::live;

/// Entries read per query.
const PAGE: i64 = 256;

/// How often a feed reads the log without being woken (catches lost wake-ups, and changes
/// made by instances that share the database without Redis).
const POLL: Duration = Duration::from_secs(1);

/// The hub topic a socket holds while it follows anything in workspace `ws`; a feed runs
/// while someone holds it.
pub fn feed_topic(ws: Uuid) -> String {
    format!("feed:{ws}")
}

/// Event frames a feed keeps for resumes (per workspace, the most recent).
pub const RECENT: usize = 4096;

/// Bytes of event frames a feed keeps at most (per workspace): bounds the memory of a server
/// following many busy workspaces (1,000 of them: at most 256 MiB).
pub const RECENT_BYTES: usize = 256 * 1024;

/// How long a feed keeps reading after its last follower left, so a socket that reconnects
/// soon (a network blip, a redeploy) resumes from memory rather than from the database.
const GRACE: Duration = Duration::from_secs(60);

/// One workspace's reader as the sockets see it.
#[derive(Default)]
struct Feed {
    wake: Notify,
    /// The last frames it delivered (at most [`RECENT`] and [`RECENT_BYTES`]), in `sync_id`
    /// order without gaps, with their total size.
    recent: Mutex<Recent>,
}

#[derive(Default)]
struct Recent {
    frames: VecDeque<Arc<StreamFrame>>,
    bytes: usize,
}

impl Recent {
    fn push(&mut self, f: Arc<StreamFrame>) {
        if self.frames.back().is_some_and(|b| b.seq + 1 != f.seq) {
            // A gap (a rolled-back number reused, a log read that skipped): the kept frames
            // would no longer be contiguous with what follows.
            self.frames.clear();
            self.bytes = 0;
        }
        self.bytes += f.frame.len();
        self.frames.push_back(f);
        while self.frames.len() > RECENT || (self.bytes > RECENT_BYTES && self.frames.len() > 1) {
            if let Some(old) = self.frames.pop_front() {
                self.bytes -= old.frame.len();
            }
        }
    }
}

impl Feed {
    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The change-log readers of this instance.
#[derive(Default)]
pub struct Feeds {
    map: Mutex<HashMap<Uuid, Arc<Feed>>>,
}

impl Feeds {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Feed>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes the reader of `ws`, if this instance runs one.
    pub fn wake(&self, ws: Uuid) {
        if let Some(f) = self.map().get(&ws) {
            f.wake.notify_one();
        }
    }

    /// The frames after `after` the reader of `ws` still holds, oldest first, when they
    /// reach back to `after + 1` (`None`: not all of them are in memory; read the log). Call
    /// after subscribing the socket: a frame is kept before it is delivered, so one that is
    /// not in the answer reaches the socket live.
    pub fn cached_after(&self, ws: Uuid, after: i64) -> Option<Vec<Arc<StreamFrame>>> {
        let feed = self.map().get(&ws).cloned()?;
        let recent = feed.recent();
        let first = recent.frames.front()?;
        if first.seq > after + 1 {
            return None;
        }
        Some(
            recent
                .frames
                .iter()
                .filter(|f| f.seq > after)
                .cloned()
                .collect(),
        )
    }

    /// Makes sure a reader of `ws` runs; call after subscribing the socket to
    /// [`feed_topic`]. The reader starts at the log's current end: the caller reads its own
    /// starting point after this returns, so nothing between is missed.
    pub async fn follow(
        &self,
        st: &MomentumState,
        ws: Uuid,
    ) -> Result<(), crate::error::MomentumError> {
        if self.map().contains_key(&ws) {
            return Ok(());
        }
        let head = live::head(&st.platform.db, ws).await?.unwrap_or(0);
        let feed = {
            let mut map = self.map();
            if map.contains_key(&ws) {
                return Ok(());
            }
            let f = Arc::new(Feed::default());
            map.insert(ws, f.clone());
            f
        };
        let st = st.clone();
        tokio::spawn(async move { run(st, ws, head, feed).await });
        Ok(())
    }
}

async fn run(st: MomentumState, ws: Uuid, mut cursor: i64, feed: Arc<Feed>) {
    let shutdown = st.platform.tasks.token();
    let topic = feed_topic(ws);
    let mut idle_since: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = feed.wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
        {
            // Stop when nobody here has followed the workspace for GRACE (checked under the
            // map's lock, so a socket subscribing now finds no reader and starts a new one).
            let mut map = st.live.feeds.map();
            if st.live.hub.has_subscribers(&topic) {
                idle_since = None;
            } else {
                let since = *idle_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() >= GRACE {
                    map.remove(&ws);
                    return;
                }
            }
        }
        loop {
            let page = match changes::after(&st.platform.db, ws, cursor, PAGE).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, workspace = %ws, "feed cannot read the change log; retrying");
                    break;
                }
            };
            let n = page.len();
            for c in &page {
                deliver(&st, &feed, c);
                cursor = c.sync_id;
            }
            if (n as i64) < PAGE {
                break;
            }
        }
    }
}

/// Queues one entry's `event` frame to its topics' subscribers and, after a change that can
/// take access away, a recheck signal to the sockets it may concern, so they drop
/// subscriptions they lost (see [`recheck_targets`]).
fn deliver(st: &MomentumState, feed: &Feed, c: &Change) {
    let topics = topics_of(c);
    let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    let bytes: Bytes = frame(MessageType::Event, c, c.created_at, c.actor, None);
    let event = Arc::new(StreamFrame {
        stream: c.workspace_id,
        seq: c.sync_id,
        frame: bytes,
    });
    // Kept before it is delivered: a socket that subscribes in between either finds it here
    // or receives it live (see `Feeds::cached_after`).
    feed.recent().push(event.clone());
    st.live.hub.deliver(&refs, &Outbound::Event(event));
    if let Some(target) = recheck_targets(c) {
        st.live
            .hub
            .deliver(&[target.as_str()], &Outbound::Signal(Arc::from(RECHECK)));
    }
}

/// Who must re-authorize after `c`: the member concerned by a workspace or team membership
/// change (`user:{id}`), or everyone following the workspace when a team is deleted or is
/// private after the change (its issues' topics cannot be listed). Other changes take no
/// access away.
pub fn recheck_targets(c: &Change) -> Option<String> {
    match c.entity.as_str() {
        "member" | "team_member" => c
            .data
            .get("user_id")
            .and_then(|v| v.as_str())
            .map(|u| format!("user:{u}")),
        "team"
            if c.action == "delete"
                || c.data.get("is_private") == Some(&serde_json::Value::Bool(true)) =>
        {
            Some(feed_topic(c.workspace_id))
        }
        _ => None,
    }
}

/// The hub topics an entry touches: its workspace, the object itself (`team:`, `project:`,
/// `issue:`), the team, project and issue it belongs to, and the workspace's `issues` /
/// `projects` shorthand streams.
pub fn topics_of(c: &Change) -> Vec<String> {
    let ws = c.workspace_id;
    let mut t = vec![format!("workspace:{ws}")];
    match c.entity.as_str() {
        "issue" => {
            t.push(format!("issue:{}", c.entity_id));
            t.push(format!("issues:{ws}"));
        }
        "project" => {
            t.push(format!("project:{}", c.entity_id));
            t.push(format!("projects:{ws}"));
        }
        "team" => t.push(format!("team:{}", c.entity_id)),
        _ => {}
    }
    for (field, kind) in [
        ("team_id", "team"),
        ("project_id", "project"),
        ("issue_id", "issue"),
    ] {
        if let Some(id) = c.data.get(field).and_then(|v| v.as_str()) {
            t.push(format!("{kind}:{id}"));
        }
    }
    t.sort();
    t.dedup();
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(seq: i64, len: usize) -> Arc<StreamFrame> {
        Arc::new(StreamFrame {
            stream: Uuid::nil(),
            seq,
            frame: Bytes::from(vec![b'x'; len]),
        })
    }

    #[test]
    fn recent_frames_stay_contiguous_and_bounded() {
        let mut r = Recent::default();
        for seq in 1..=10 {
            r.push(f(seq, 100));
        }
        assert_eq!(r.frames.len(), 10);
        assert_eq!(r.bytes, 1000);
        // A gap restarts the window.
        r.push(f(12, 100));
        assert_eq!(r.frames.len(), 1);
        assert_eq!(r.bytes, 100);
        // The byte bound drops the oldest, keeping at least the newest.
        for seq in 13..=20 {
            r.push(f(seq, RECENT_BYTES / 4));
        }
        assert!(r.bytes <= RECENT_BYTES);
        assert_eq!(r.frames.back().map(|x| x.seq), Some(20));
        let seqs: Vec<i64> = r.frames.iter().map(|x| x.seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
        r.push(f(21, RECENT_BYTES * 2));
        assert_eq!(r.frames.len(), 1);
    }
}
