//! One SSE follower of a task: replays the frames after its starting point, then follows
//! the live feed, refilling any gap from the feed's ring or the database; ends with `done`
//! after the task's final frame, when the caller's session is revoked, or at shutdown.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tokio::sync::broadcast;
use trellis_identity::auth::Revocation;
use trellis_kernel::http::sse;
use uuid::Uuid;

use crate::stream::frames::{self, Frame};
use crate::stream::{Feed, Hub};

/// The reconnection delay suggested to clients (`retry:`), in milliseconds.
pub const RETRY_MS: u64 = 3000;

/// Slots of a drained `pending` buffer kept for the live frames (beyond it the buffer is
/// freed).
const PENDING_KEEP: usize = 16;

/// A frame rendered before the log: `resumed`, `reset` (with the task's snapshot as
/// `data`), or `done`.
pub fn lead_frame(id: i64, kind: &str, data: &serde_json::Value) -> Bytes {
    sse::event(Some(id), Some(kind), &data.to_string())
}

/// The `done` frame that ends a task's stream (id = its final frame's + 1).
pub fn done_frame(task: Uuid, id: i64) -> Bytes {
    lead_frame(id, "done", &json!({"type": "done", "task_id": task}))
}

/// What a follower yields next ([`Follower::next_item`]).
pub enum Item {
    /// A `resumed` or `reset` frame built before the log (rendered, [`lead_frame`]).
    Lead(Bytes),
    /// A frame of the log (it has a `kind`).
    Frame(Arc<Frame>),
    /// The end: `done`, with its id.
    Done(i64),
}

/// Who is following, for revocation.
pub struct Caller {
    /// The caller's session.
    pub session: Uuid,
    /// The caller.
    pub user: Uuid,
    /// Revocations to stop on.
    pub revoked: broadcast::Receiver<Revocation>,
}

/// A follower's state.
pub struct Follower {
    hub: Hub,
    task: Uuid,
    feed: Arc<Feed>,
    rx: broadcast::Receiver<Arc<Frame>>,
    after: i64,
    pending: VecDeque<Arc<Frame>>,
    refill: bool,
    /// Frames to send before the log (a `resumed` or `reset` frame), already rendered.
    lead: VecDeque<Bytes>,
    done_at: Option<i64>,
    ended: bool,
    retry_sent: bool,
    caller: Caller,
}

impl Follower {
    /// A follower of `task` from after `after` (0: from the start). `lead` frames go first;
    /// `done_now` sends `done` (id `after + 1`) at once (a finished task whose final frame the
    /// client already has).
    pub async fn start(
        hub: &Hub,
        task: Uuid,
        after: i64,
        lead: Vec<Bytes>,
        done_now: bool,
        caller: Caller,
    ) -> Follower {
        let (feed, rx) = hub.join(task).await;
        Follower {
            hub: hub.clone(),
            task,
            feed,
            rx,
            after,
            pending: VecDeque::new(),
            refill: true,
            lead: lead.into(),
            done_at: done_now.then_some(after + 1),
            ended: false,
            retry_sent: false,
            caller,
        }
    }

    /// The first frame of the stream carries the `retry:` hint.
    fn hint(&mut self, frame: Bytes) -> Bytes {
        if self.retry_sent {
            frame
        } else {
            self.retry_sent = true;
            sse::with_retry(Duration::from_millis(RETRY_MS), &frame)
        }
    }

    /// The next SSE frame as sent (rendered once per frame and shared by the task's
    /// followers), or `None` when the stream ends.
    pub async fn next(&mut self) -> Option<Bytes> {
        let frame = match self.next_item().await? {
            Item::Lead(b) => b,
            Item::Frame(f) => f.wire.clone(),
            Item::Done(seq) => done_frame(self.task, seq),
        };
        Some(self.hint(frame))
    }

    /// The next thing to send, before it is rendered: a lead frame, a translated frame (in
    /// sequence, no gap, no duplicate), or the end (`done` with its id); `None` when the
    /// stream ends without one (revocation, shutdown, an unreadable log). The console renders
    /// frames its own way from this.
    pub async fn next_item(&mut self) -> Option<Item> {
        if let Some(e) = self.lead.pop_front() {
            return Some(Item::Lead(e));
        }
        loop {
            if self.ended {
                return None;
            }
            if let Some(seq) = self.done_at {
                self.ended = true;
                return Some(Item::Done(seq));
            }
            if self.pending.is_empty() && self.pending.capacity() > PENDING_KEEP {
                // A backfill of up to a ring's frames leaves a large buffer; a live
                // follower needs a few slots.
                self.pending.shrink_to(PENDING_KEEP);
            }
            while let Some(f) = self.pending.pop_front() {
                if f.seq <= self.after {
                    continue;
                }
                if f.seq != self.after + 1 {
                    // A gap (lag, a pump restart): refill from the ring or the log.
                    self.pending.clear();
                    self.refill = true;
                    break;
                }
                self.after = f.seq;
                if f.last {
                    self.done_at = Some(f.seq + 1);
                }
                if f.kind.is_some() {
                    return Some(Item::Frame(f));
                }
                if self.done_at.is_some() {
                    break;
                }
            }
            if self.done_at.is_some() {
                continue;
            }
            if self.refill {
                self.refill = false;
                // Boxed: the rare path's database read would otherwise size every
                // follower's stored future (10,000 open streams, issue 12's RSS bound).
                let frames = Box::pin(self.backfill()).await?;
                if !frames.is_empty() {
                    self.pending.extend(frames);
                    continue;
                }
            }
            if !self.wait().await {
                return None;
            }
        }
    }

    /// Frames after `self.after` from the ring, or from the log when the ring does not reach
    /// back that far (at most 500 at a time). `None` when the log cannot be read.
    async fn backfill(&mut self) -> Option<Vec<Arc<Frame>>> {
        if let Some(frames) = self.feed.after(self.after) {
            return Some(frames);
        }
        match self
            .hub
            .engine()
            .events_after(self.task, self.after, 500)
            .await
        {
            Ok(events) => {
                let mut out = Vec::with_capacity(events.len());
                for e in &events {
                    out.push(Arc::new(
                        frames::translate(self.hub.db(), self.task, e).await,
                    ));
                }
                if out.len() == 500 {
                    // More remain: come back after these.
                    self.refill = true;
                }
                Some(out)
            }
            Err(e) => {
                tracing::warn!(task_id = %self.task, error = %e, "dietplan: event stream read failed");
                None
            }
        }
    }

    /// Waits for a live frame (true), a revocation of the caller's session or shutdown
    /// (false). A lagging receiver or a closed feed marks a refill.
    async fn wait(&mut self) -> bool {
        let shutdown = self.hub.shutdown();
        loop {
            tokio::select! {
                r = self.rx.recv() => {
                    match r {
                        Ok(f) => {
                            self.pending.push_back(f);
                            while let Ok(f) = self.rx.try_recv() {
                                self.pending.push_back(f);
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => self.refill = true,
                        Err(broadcast::error::RecvError::Closed) => {
                            let (feed, rx) = Box::pin(self.hub.join(self.task)).await;
                            self.feed = feed;
                            self.rx = rx;
                            self.refill = true;
                        }
                    }
                    return true;
                }
                r = self.caller.revoked.recv() => match r {
                    Ok(rev) if rev.sessions.contains(&self.caller.session) || rev.user == Some(self.caller.user) => return false,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return false,
                },
                _ = shutdown.cancelled() => return false,
            }
        }
    }
}
