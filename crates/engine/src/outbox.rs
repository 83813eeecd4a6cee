//! The transactional outbox (issue 10 §4): domain events written in the producing
//! transaction and delivered at least once to the handlers an app registers, each event
//! handled by one instance at a time (a lease, `FOR UPDATE SKIP LOCKED` on PostgreSQL).
//! Handlers make their effects idempotent (the event id is stable across redeliveries).

use std::time::Duration;

use serde_json::Value;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::on_tx;
use uuid::Uuid;

use crate::Engine;
use crate::model::ms;

/// One delivered event.
#[derive(Clone, Debug)]
pub struct OutboxEvent {
    /// Stable across redeliveries: the idempotency key of the handler's effect.
    pub id: Uuid,
    /// `run.finished`, `user.registered`, `subscription.changed`, …
    pub topic: String,
    /// Topic-specific data.
    pub payload: Value,
    /// Deliveries tried before this one.
    pub attempts: i64,
}

/// Handles one topic's events.
#[async_trait::async_trait]
pub trait OutboxHandler: Send + Sync + 'static {
    /// Applies the event's effect (idempotently). An error is retried with backoff.
    async fn handle(&self, event: &OutboxEvent) -> Result<(), String>;

    /// Applies several events of this topic (one result per event, in order). The default
    /// handles them one by one; a handler can override it to share one transaction.
    async fn handle_batch(&self, events: &[OutboxEvent]) -> Vec<Result<(), String>> {
        let mut out = Vec::with_capacity(events.len());
        for ev in events {
            out.push(self.handle(ev).await);
        }
        out
    }
}

/// Writes an event for `queue`'s handlers in the caller's transaction.
pub async fn emit(
    tx: &mut Tx,
    queue: &str,
    topic: &str,
    payload: &Value,
    now: i64,
) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    let body = serde_json::to_string(payload).unwrap_or_else(|_| "null".into());
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO engine_outbox (id, queue, topic, payload, created_ms, available_ms) \
         VALUES ($1, $2, $3, $4, $5, $5)")
        .bind(id).bind(queue).bind(topic).bind(body).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(id)
}

async fn lease(
    db: &Db,
    queue: &str,
    worker: &str,
    now: i64,
    ttl: i64,
) -> Result<Vec<OutboxEvent>, StoreError> {
    let mut tx = db.begin().await?;
    let skip = match &tx {
        Tx::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        Tx::Sqlite(_) => "",
    };
    let sql = format!(
        "SELECT id, topic, payload, attempts FROM engine_outbox WHERE queue = $1 \
         AND delivered_ms IS NULL AND available_ms <= $2 \
         AND (lease_expires_ms IS NULL OR lease_expires_ms < $2) ORDER BY available_ms LIMIT 64{skip}"
    );
    let rows: Vec<(Uuid, String, String, i64)> = on_tx!(&mut tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(queue).bind(now).fetch_all(&mut *c).await)?;
    for (id, ..) in &rows {
        on_tx!(&mut tx, c => sqlx::query(
            "UPDATE engine_outbox SET lease_owner = $2, lease_expires_ms = $3 WHERE id = $1")
            .bind(id).bind(worker).bind(now + ttl).execute(&mut *c).await.map(|_| ()))?;
    }
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(id, topic, payload, attempts)| OutboxEvent {
            id,
            topic,
            payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
            attempts,
        })
        .collect())
}

async fn settle(
    db: &Db,
    id: Uuid,
    outcome: Result<(), String>,
    now: i64,
    attempts: i64,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    match outcome {
        Ok(()) => on_tx!(&mut tx, c => sqlx::query(
            "UPDATE engine_outbox SET delivered_ms = $2, lease_owner = NULL, lease_expires_ms = NULL WHERE id = $1")
            .bind(id).bind(now).execute(&mut *c).await.map(|_| ()))?,
        Err(e) => {
            // 1 s, 2 s, 4 s … up to 5 minutes between deliveries.
            let backoff = 1000i64 << attempts.clamp(0, 8);
            on_tx!(&mut tx, c => sqlx::query(
                "UPDATE engine_outbox SET attempts = attempts + 1, last_error = $2, available_ms = $3, \
                 lease_owner = NULL, lease_expires_ms = NULL WHERE id = $1")
                .bind(id).bind(e).bind(now + backoff.min(300_000)).execute(&mut *c).await.map(|_| ()))?
        }
    };
    tx.commit().await?;
    Ok(())
}

async fn mark_delivered(db: &Db, ids: &[Uuid], now: i64) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for id in ids {
        on_tx!(&mut tx, c => sqlx::query(
            "UPDATE engine_outbox SET delivered_ms = $2, lease_owner = NULL, lease_expires_ms = NULL WHERE id = $1")
            .bind(id).bind(now).execute(&mut *c).await.map(|_| ()))?;
    }
    tx.commit().await
}

/// Delivers this queue's events until shutdown: woken after a local emit, else every
/// poll interval.
pub(crate) async fn dispatch_loop(engine: Engine) {
    let inner = &engine.inner;
    let token = inner.platform.tasks.token();
    loop {
        let now = ms(inner.platform.clock.now());
        let batch = lease(
            &inner.platform.db,
            &inner.cfg.queue,
            &inner.worker_id,
            now,
            60_000,
        )
        .await;
        let n = match batch {
            Ok(events) => {
                let n = events.len();
                let mut delivered = Vec::new();
                // One call per topic, in the order the events were leased.
                let mut topics: Vec<(String, Vec<OutboxEvent>)> = Vec::new();
                for ev in events {
                    match topics.iter_mut().find(|(t, _)| *t == ev.topic) {
                        Some((_, v)) => v.push(ev),
                        None => topics.push((ev.topic.clone(), vec![ev])),
                    }
                }
                for (topic, batch) in topics {
                    let results = match inner.outbox_handlers.get(&topic).cloned() {
                        Some(h) => h.handle_batch(&batch).await,
                        None => batch.iter().map(|_| Ok(())).collect(),
                    };
                    for (ev, outcome) in batch.into_iter().zip(results) {
                        match outcome {
                            Ok(()) => delivered.push(ev.id),
                            Err(e) => {
                                tracing::warn!(event_id = %ev.id, topic = %ev.topic, error = %e, "engine: outbox handler failed; will retry");
                                let now = ms(inner.platform.clock.now());
                                if let Err(e) =
                                    settle(&inner.platform.db, ev.id, Err(e), now, ev.attempts)
                                        .await
                                {
                                    tracing::warn!(error = %e, "engine: outbox settle failed");
                                }
                            }
                        }
                    }
                }
                // Deliveries are marked in one transaction per batch.
                let now = ms(inner.platform.clock.now());
                if let Err(e) = mark_delivered(&inner.platform.db, &delivered, now).await {
                    tracing::warn!(error = %e, "engine: outbox settle failed");
                }
                n
            }
            Err(e) => {
                tracing::warn!(error = %e, "engine: outbox lease failed");
                0
            }
        };
        if n == 64 {
            continue;
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = inner.outbox_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}
