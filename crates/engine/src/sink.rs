//! Group commit for [`crate::EventSink::emit`].
//!
//! A step that streams an LLM's tokens emits one event per chunk; a hundred such steps emit
//! thousands a second. Written one transaction each, that is four round trips per event to
//! the database (begin, update the run's `last_seq`, insert, commit) and, on SQLite, a
//! queue at the single writer connection. Here one writer task takes whatever has arrived
//! (up to [`MAX_BATCH`] events), writes it in one transaction (per run and attempt one
//! `last_seq` update and multi-row inserts, runs in id order so concurrent PostgreSQL
//! writers lock rows in one order), commits, then publishes each run and answers each
//! caller with its event's `seq`. The caller still returns only once its event is durable
//! (PostgreSQL's `commit_delay` and SQLite WAL apps use the same idea).
//!
//! If a batch fails, each run's events are retried in a transaction of their own, so one
//! run's bad event (a NUL byte PostgreSQL refuses, a run row gone) fails only its callers.

use std::collections::BTreeMap;

use tokio::sync::{broadcast, mpsc, oneshot};
use trellis_kernel::Platform;
use trellis_kernel::db::StoreError;
use uuid::Uuid;

use crate::model;
use crate::store::{self, NewEvent};

/// Events written in one transaction at most.
pub(crate) const MAX_BATCH: usize = 512;

/// Events waiting for the writer at most; an emitter waits for room beyond that
/// (back-pressure on the streaming step, not unbounded memory).
const QUEUE: usize = 4096;

/// One event to append, and where its `seq` (or the store's error) goes.
pub(crate) struct Append {
    pub run_id: Uuid,
    pub attempt: i64,
    pub event: NewEvent,
    pub reply: oneshot::Sender<Result<i64, StoreError>>,
}

/// Starts the writer (a plain `tokio::spawn`, not a tracked platform task: the engine holds
/// the sender until it is dropped, so a tracked writer would hold up the shutdown drain); it
/// ends when every sender is gone.
pub(crate) fn start(platform: Platform, events: broadcast::Sender<Uuid>) -> mpsc::Sender<Append> {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(writer(platform, events, rx));
    tx
}

async fn writer(
    platform: Platform,
    events: broadcast::Sender<Uuid>,
    mut rx: mpsc::Receiver<Append>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        write(&platform, &events, std::mem::take(&mut batch)).await;
        batch.reserve(MAX_BATCH);
    }
}

/// A batch's events of one (run, attempt), in arrival order, and their callers.
#[derive(Default)]
struct Group {
    events: Vec<NewEvent>,
    replies: Vec<oneshot::Sender<Result<i64, StoreError>>>,
}

impl Group {
    /// Answers the callers: the `i`-th of `n` events got `last - n + 1 + i`.
    fn answer(self, result: Result<i64, StoreError>) {
        let n = self.replies.len() as i64;
        for (i, reply) in self.replies.into_iter().enumerate() {
            let _ = reply.send(result.clone().map(|last| last - n + 1 + i as i64));
        }
    }
}

/// Groups by (run, attempt), in id order.
type Groups = BTreeMap<(Uuid, i64), Group>;

async fn write(platform: &Platform, events: &broadcast::Sender<Uuid>, batch: Vec<Append>) {
    let mut groups: Groups = BTreeMap::new();
    for a in batch {
        if a.reply.is_closed() {
            // Its step was dropped (timed out, cancelled past the grace period, its lease
            // lost) after queueing it: write nothing for it, as a dropped transaction would
            // not have.
            continue;
        }
        let g = groups.entry((a.run_id, a.attempt)).or_default();
        g.events.push(a.event);
        g.replies.push(a.reply);
    }
    let now = model::ms(platform.clock.now());
    match write_groups(platform, &groups, now).await {
        Ok(lasts) => {
            for (((run_id, _), group), last) in groups.into_iter().zip(lasts) {
                group.answer(Ok(last));
                let _ = events.send(run_id);
            }
        }
        Err(Failed::Append(_)) if groups.len() > 1 => {
            // Find the failing run: each group alone.
            for (key, group) in groups {
                let one = Groups::from([(key, group)]);
                let result = write_groups(platform, &one, now).await;
                for (_, group) in one {
                    match &result {
                        Ok(lasts) => {
                            group.answer(Ok(lasts[0]));
                            let _ = events.send(key.0);
                        }
                        Err(Failed::Append(e) | Failed::Transaction(e)) => {
                            group.answer(Err(e.clone()))
                        }
                    }
                }
            }
        }
        Err(Failed::Append(e) | Failed::Transaction(e)) => {
            for group in groups.into_values() {
                group.answer(Err(e.clone()));
            }
        }
    }
}

/// Why a batch was not written.
enum Failed {
    /// An append was refused (one run's event or row): writing the groups apart finds it.
    Append(StoreError),
    /// The transaction could not begin or commit: every caller gets the error (retrying
    /// group by group would wait on the database again per group, and after a commit whose
    /// answer was lost it could write the events twice).
    Transaction(StoreError),
}

/// Appends every group in one transaction; the last `seq` of each group, in `groups` order.
async fn write_groups(platform: &Platform, groups: &Groups, now: i64) -> Result<Vec<i64>, Failed> {
    let mut tx = platform.db.begin().await.map_err(Failed::Transaction)?;
    let mut lasts = Vec::with_capacity(groups.len());
    for ((run_id, attempt), group) in groups {
        let last = store::append_events(&mut tx, *run_id, *attempt, &group.events, now)
            .await
            .map_err(Failed::Append)?;
        lasts.push(last);
    }
    tx.commit().await.map_err(Failed::Transaction)?;
    Ok(lasts)
}
