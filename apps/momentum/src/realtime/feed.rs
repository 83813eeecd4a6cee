//! Per-workspace readers of the change log (`mm_changes`): each turns the entries after its
//! cursor into `event` frames, in `sync_id` order, for this instance's subscribers.

use std::collections::HashMap;
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

/// The change-log readers of this instance.
#[derive(Default)]
pub struct Feeds {
    map: Mutex<HashMap<Uuid, Arc<Notify>>>,
}

impl Feeds {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Notify>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes the reader of `ws`, if this instance runs one.
    pub fn wake(&self, ws: Uuid) {
        if let Some(n) = self.map().get(&ws) {
            n.notify_one();
        }
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
        let notify = {
            let mut map = self.map();
            if map.contains_key(&ws) {
                return Ok(());
            }
            let n = Arc::new(Notify::new());
            map.insert(ws, n.clone());
            n
        };
        let st = st.clone();
        tokio::spawn(async move { run(st, ws, head, notify).await });
        Ok(())
    }
}

async fn run(st: MomentumState, ws: Uuid, mut cursor: i64, wake: Arc<Notify>) {
    let shutdown = st.platform.tasks.token();
    let topic = feed_topic(ws);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
        {
            // Stop when nobody here follows the workspace any more (checked under the map's
            // lock, so a socket subscribing now finds no reader and starts a new one).
            let mut map = st.live.feeds.map();
            if !st.live.hub.has_subscribers(&topic) {
                map.remove(&ws);
                return;
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
                deliver(&st, c);
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
fn deliver(st: &MomentumState, c: &Change) {
    let topics = topics_of(c);
    let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    let bytes: Bytes = frame(MessageType::Event, c, c.created_at, c.actor, None);
    st.live.hub.deliver(
        &refs,
        &Outbound::Event(Arc::new(StreamFrame {
            stream: c.workspace_id,
            seq: c.sync_id,
            frame: bytes,
        })),
    );
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
