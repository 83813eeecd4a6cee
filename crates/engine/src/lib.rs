//! The durable execution engine shared by the Workflow Platform and the diet planner
//! (issue 10 §1; the map's "Engine"). What Prefect 3, Temporal and Windmill users rely on, in
//! one database-backed core that runs embedded on SQLite and, with PostgreSQL, across N
//! `trellis` instances:
//!
//! - **Runs** are enqueued in the caller's transaction ([`Engine::submit`]); workers lease
//!   them with a heartbeat ([`worker`]); a lease that expires (crash, `kill -9`) is taken
//!   over by another worker, which resumes from the recorded step outputs.
//! - **Steps** form a DAG; each has a retry policy (constant or exponential backoff with
//!   jitter, only for retryable errors) and a timeout; the run has a timeout too.
//! - **Cancellation** always ends: `cancelling` → `cancelled`, cooperative first and forced
//!   after the grace period; a lease that expires while cancelling is finished by the next
//!   worker that sees it. The final record lists the interrupted steps.
//! - **Restart** a finished run from its failed step (reusing earlier outputs), from a
//!   chosen step, or from the start, optionally on a newer plan ([`Engine::retry`]).
//! - **Concurrency limits** by key (`user:<id>`, `def:<id>`, `host:<name>`): slots are taken
//!   when a run is leased, in the leasing transaction.
//! - **Schedules** ([`schedule`]), the **outbox** ([`outbox`]), an append-only **event log**
//!   per run with a gap-free `seq` (the SSE `id:`), **retention**, and **metrics**.
//!
//! The engine knows nothing of workflows or diet plans: apps register step kinds
//! ([`handler::Registry`]), outbox handlers and a schedule [`schedule::Fire`].

pub mod handler;
mod metrics;
pub mod model;
pub mod outbox;
pub mod schedule;
mod sink;
pub mod store;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use trellis_kernel::Platform;
use trellis_kernel::clock::Clock;
use trellis_kernel::db::{Migrations, StoreError, Tx};
use uuid::Uuid;

pub use crate::handler::{Registry, StepCtx, StepError, StepHandler, StepOutput};
pub use crate::model::{Event, NewRun, Plan, Run, RunStatus, StepRecord, StepSpec, StepStatus};
pub use crate::outbox::{OutboxEvent, OutboxHandler};
use crate::store::NewEvent;

/// The engine's tables (versions 7xxx).
pub fn migrations() -> Migrations {
    Migrations::new(
        sqlx::migrate!("migrations/sqlite"),
        sqlx::migrate!("migrations/postgres"),
    )
}

/// The engine's settings, read from the environment (README lists them).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The queue (one per app: `workflow`, `dietplan`).
    pub queue: String,
    /// `TRELLIS_ENGINE_HEARTBEAT_SECONDS` (5): how often a worker renews its lease; a lease
    /// lasts 1.5 intervals, so a dead worker's run is taken over within 2.
    pub heartbeat: Duration,
    /// `TRELLIS_ENGINE_POLL_MS` (200): how often idle workers look for runs submitted on
    /// other instances (local submits wake them at once).
    pub poll: Duration,
    /// `TRELLIS_ENGINE_MAX_RUNS` (256): runs one instance executes at once.
    pub max_runs: usize,
    /// `TRELLIS_ENGINE_STEP_TIMEOUT_SECONDS` (300): a try's limit when the step sets none.
    pub step_timeout: Duration,
    /// `TRELLIS_ENGINE_CANCEL_GRACE_SECONDS` (2): how long a cancelled step may take to stop
    /// before it is dropped.
    pub cancel_grace: Duration,
    /// `TRELLIS_ENGINE_RETENTION_DAYS` (30): finished runs older than this are pruned.
    pub retention_days: i64,
    /// `TRELLIS_ENGINE_RETENTION_RUNS` (10000): finished runs kept per owner.
    pub retention_runs: i64,
    /// `TRELLIS_ENGINE_WORKERS` (true): false makes this instance serve the API only.
    pub workers: bool,
}

impl EngineConfig {
    /// Reads the settings; every problem names its variable.
    pub fn from_vars(queue: &str, vars: &HashMap<String, String>) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let mut num = |name: &str, default: u64, min: u64, max: u64| -> u64 {
            match vars.get(name).map(|v| v.trim()) {
                None | Some("") => default,
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => n,
                    _ => {
                        errors.push(format!("{name} must be a whole number from {min} to {max}"));
                        default
                    }
                },
            }
        };
        let heartbeat = num("TRELLIS_ENGINE_HEARTBEAT_SECONDS", 5, 1, 3600);
        let poll = num("TRELLIS_ENGINE_POLL_MS", 200, 10, 60_000);
        let max_runs = num("TRELLIS_ENGINE_MAX_RUNS", 256, 1, 100_000);
        let step_timeout = num("TRELLIS_ENGINE_STEP_TIMEOUT_SECONDS", 300, 1, 86_400 * 7);
        let grace = num("TRELLIS_ENGINE_CANCEL_GRACE_SECONDS", 2, 0, 3600);
        let days = num("TRELLIS_ENGINE_RETENTION_DAYS", 30, 1, 36_500);
        let runs = num("TRELLIS_ENGINE_RETENTION_RUNS", 10_000, 1, 100_000_000);
        let workers = match vars.get("TRELLIS_ENGINE_WORKERS").map(|v| v.trim()) {
            None | Some("") | Some("true") | Some("1") => true,
            Some("false") | Some("0") => false,
            Some(_) => {
                errors.push("TRELLIS_ENGINE_WORKERS must be true or false".into());
                true
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(EngineConfig {
            queue: queue.to_string(),
            heartbeat: Duration::from_secs(heartbeat),
            poll: Duration::from_millis(poll),
            max_runs: max_runs as usize,
            step_timeout: Duration::from_secs(step_timeout),
            cancel_grace: Duration::from_secs(grace),
            retention_days: days as i64,
            retention_runs: runs as i64,
            workers,
        })
    }
}

/// The engine of one app queue; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// A late-bound handle to an engine that does not keep it alive.
///
/// The engine's own handlers (outbox handlers, the schedule trigger, step kinds) often need
/// the engine they belong to; holding an [`Engine`] there would make a reference cycle
/// (engine → handler → engine) that outlives shutdown and keeps the platform, and its
/// database connections, alive. Build the engine, then [`EngineRef::set`] it; handlers call
/// [`EngineRef::get`], which answers `None` once the engine is gone.
#[derive(Clone, Default)]
pub struct EngineRef(Arc<std::sync::OnceLock<std::sync::Weak<Inner>>>);

impl EngineRef {
    /// Binds the handle to `engine` (once; later calls are ignored).
    pub fn set(&self, engine: &Engine) {
        let _ = self.0.set(Arc::downgrade(&engine.inner));
    }

    /// The engine, while it exists.
    pub fn get(&self) -> Option<Engine> {
        self.0
            .get()
            .and_then(std::sync::Weak::upgrade)
            .map(|inner| Engine { inner })
    }
}

/// Appends a running step's own events to its run's event log (group-committed with other
/// steps' events, published to followers once durable). Used for progress reports and
/// streamed tokens; the engine's own `step.*` and `run.*` events are written by the worker.
#[derive(Clone)]
pub struct EventSink {
    engine: EngineRef,
    run_id: Uuid,
    attempt: i64,
    step_id: String,
}

impl EventSink {
    fn bound(self, engine: &Engine) -> EventSink {
        self.engine.set(engine);
        self
    }

    /// Appends one event of `kind` about this step; returns its sequence number once the
    /// event is committed (and published to followers). Events of every running step are
    /// group-committed by one writer (the engine's `sink` module): many streamed tokens, one
    /// transaction. Fails when the store does or the engine is gone (shutdown).
    ///
    /// Never call it while holding a [`Tx`]: on SQLite the writer needs the single write
    /// connection that transaction holds, so every step's events would wait forever.
    pub async fn emit(
        &self,
        kind: &'static str,
        data: serde_json::Value,
    ) -> Result<i64, StoreError> {
        let gone = || StoreError::Other("the engine has stopped".into());
        let sender = {
            let Some(engine) = self.engine.get() else {
                return Err(gone());
            };
            let inner = &engine.inner;
            inner
                .sink
                .get_or_init(|| sink::start(inner.platform.clone(), inner.events.clone()))
                .clone()
            // The engine is dropped here: a caller waiting on its event keeps no engine alive.
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let append = sink::Append {
            run_id: self.run_id,
            attempt: self.attempt,
            event: NewEvent::step(kind, &self.step_id, data),
            reply,
        };
        sender.send(append).await.map_err(|_| gone())?;
        drop(sender);
        answer.await.map_err(|_| gone())?
    }
}

pub(crate) struct Inner {
    platform: Platform,
    cfg: EngineConfig,
    registry: Registry,
    worker_id: String,
    wake: Notify,
    outbox_wake: Notify,
    events: broadcast::Sender<Uuid>,
    /// Runs executing here: their cancellation token and whether cancellation was asked for.
    running: Mutex<HashMap<Uuid, (CancellationToken, bool)>>,
    metrics: metrics::EngineMetrics,
    outbox_handlers: HashMap<String, Arc<dyn OutboxHandler>>,
    fire: Option<Arc<dyn schedule::Fire>>,
    /// The group-commit writer of [`EventSink::emit`], started on the first emit.
    sink: std::sync::OnceLock<tokio::sync::mpsc::Sender<sink::Append>>,
}

/// Builds an [`Engine`].
pub struct EngineBuilder {
    platform: Platform,
    cfg: EngineConfig,
    registry: Registry,
    outbox_handlers: HashMap<String, Arc<dyn OutboxHandler>>,
    fire: Option<Arc<dyn schedule::Fire>>,
}

impl EngineBuilder {
    /// Handles outbox events of `topic`.
    pub fn on(mut self, topic: &str, handler: Arc<dyn OutboxHandler>) -> Self {
        self.outbox_handlers.insert(topic.to_string(), handler);
        self
    }

    /// Starts the runs of due schedules.
    pub fn schedules(mut self, fire: Arc<dyn schedule::Fire>) -> Self {
        self.fire = Some(fire);
        self
    }

    /// The engine (not started: see [`Engine::start`]).
    pub fn build(self) -> Engine {
        let metrics = metrics::EngineMetrics::new(&self.cfg.queue);
        let (events, _) = broadcast::channel(4096);
        let engine = Engine {
            inner: Arc::new(Inner {
                worker_id: format!("{}-{}", self.cfg.queue, Uuid::new_v4().simple()),
                platform: self.platform,
                cfg: self.cfg,
                registry: self.registry,
                wake: Notify::new(),
                outbox_wake: Notify::new(),
                events,
                running: Mutex::default(),
                metrics,
                outbox_handlers: self.outbox_handlers,
                fire: self.fire,
                sink: std::sync::OnceLock::new(),
            }),
        };
        engine.inner.metrics.register(&engine);
        engine
    }
}

/// What [`Engine::submit`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// The run.
    pub id: Uuid,
    /// True when the idempotency key matched an earlier run (nothing new was stored).
    pub existing: bool,
}

/// Where [`Engine::retry`] restarts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryFrom {
    /// From the steps that did not complete, reusing every completed step's output.
    Failed,
    /// From this step: it and everything after it run again; other outputs are reused.
    Step(String),
    /// From the start: nothing is reused.
    Start,
}

/// Why a cancel or retry was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The run does not exist.
    #[error("execution not found")]
    NotFound,
    /// The run is not in a state that allows it (`completed` cannot be cancelled).
    #[error("{0}")]
    State(String),
    /// The step named does not exist in the plan.
    #[error("unknown step {0}")]
    UnknownStep(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Engine {
    /// An engine builder for `cfg.queue` with the step kinds in `registry`.
    pub fn builder(platform: &Platform, cfg: EngineConfig, registry: Registry) -> EngineBuilder {
        EngineBuilder {
            platform: platform.clone(),
            cfg,
            registry,
            outbox_handlers: HashMap::new(),
            fire: None,
        }
    }

    /// Starts the workers, the outbox dispatcher, the scheduler, the metrics sampler and
    /// retention, as tracked tasks (they stop at shutdown). With `TRELLIS_ENGINE_WORKERS=false`
    /// only the sampler runs.
    pub fn start(&self) {
        let tasks = &self.inner.platform.tasks;
        tasks.spawn(metrics::sample_loop(self.clone()));
        if !self.inner.cfg.workers {
            return;
        }
        tasks.spawn(worker::lease_loop(self.clone()));
        tasks.spawn(outbox::dispatch_loop(self.clone()));
        if let Some(fire) = self.inner.fire.clone() {
            tasks.spawn(schedule::schedule_loop(self.clone(), fire));
        }
        tasks.spawn(retention_loop(self.clone()));
    }

    /// The queue this engine serves.
    pub fn queue(&self) -> &str {
        &self.inner.cfg.queue
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.cfg
    }

    /// The step kinds.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    fn lease_ttl_ms(&self) -> i64 {
        (self.inner.cfg.heartbeat.as_millis() as i64) * 3 / 2
    }

    /// Stores a run in the caller's transaction (or finds the earlier one with the same
    /// idempotency key). Call [`Engine::notify`] after the commit so a local worker starts it
    /// at once.
    pub async fn submit(&self, tx: &mut Tx, run: &NewRun) -> Result<Submitted, StoreError> {
        if let Some(key) = &run.idempotency_key
            && let Some(id) = store::by_idempotency_key(tx, run.owner_id, key).await?
        {
            return Ok(Submitted { id, existing: true });
        }
        let id = run.id;
        let now = model::ms(self.inner.platform.clock.now());
        store::insert_run(tx, id, run, now).await?;
        if run.refused.is_some() {
            outbox::emit(
                tx,
                &run.queue,
                "run.finished",
                &json!({"run_id": id, "owner_id": run.owner_id, "queue": run.queue,
                        "status": "cancelled", "attempt": 1, "subject_id": run.subject_id,
                        "schedule_id": run.schedule_id, "started": false}),
                now,
            )
            .await?;
        }
        Ok(Submitted {
            id,
            existing: false,
        })
    }

    /// Wakes this instance's workers (after committing a submit).
    pub fn notify(&self) {
        self.inner.wake.notify_one();
        self.inner.outbox_wake.notify_one();
    }

    /// Writes an outbox event for this queue's handlers in the caller's transaction.
    pub async fn emit(
        &self,
        tx: &mut Tx,
        topic: &str,
        payload: &serde_json::Value,
    ) -> Result<Uuid, StoreError> {
        let now = model::ms(self.inner.platform.clock.now());
        outbox::emit(tx, &self.inner.cfg.queue, topic, payload, now).await
    }

    /// Creates a concurrency limit in the caller's transaction unless the key has one (no
    /// row lock on an existing limit; change it with [`Engine::set_limit`]).
    pub async fn ensure_limit(&self, tx: &mut Tx, key: &str, max: i64) -> Result<(), StoreError> {
        store::ensure_limit(tx, key, max).await
    }

    /// Sets (or removes) a concurrency limit in the caller's transaction.
    pub async fn set_limit(
        &self,
        tx: &mut Tx,
        key: &str,
        max: Option<i64>,
    ) -> Result<(), StoreError> {
        store::set_limit(tx, key, max).await
    }

    /// A run.
    pub async fn run(&self, id: Uuid) -> Result<Option<Run>, StoreError> {
        Ok(store::run(&self.inner.platform.db, id)
            .await?
            .filter(|r| r.queue == self.inner.cfg.queue))
    }

    /// Every step record of a run, all attempts.
    pub async fn steps(&self, id: Uuid) -> Result<Vec<StepRecord>, StoreError> {
        store::steps(&self.inner.platform.db, id).await
    }

    /// Events after `after_seq` (at most `limit`).
    pub async fn events_after(
        &self,
        id: Uuid,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        store::events_after(&self.inner.platform.db, id, after_seq, limit).await
    }

    /// Ids of runs with new events on this instance, as they are written (a lagging
    /// receiver re-reads from the store; other instances' events arrive by polling).
    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.inner.events.subscribe()
    }

    /// A page of runs.
    pub async fn list(
        &self,
        filter: &store::RunFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Run>, i64), StoreError> {
        store::list_runs(
            &self.inner.platform.db,
            &self.inner.cfg.queue,
            filter,
            limit,
            offset,
        )
        .await
    }

    /// Asks a run to stop. A queued run is cancelled at once; a running one goes to
    /// `cancelling` and its worker stops it (at once on this instance, at its next heartbeat
    /// elsewhere). Returns the status after the request.
    pub async fn cancel(&self, id: Uuid, reason: &str) -> Result<RunStatus, ControlError> {
        let now = model::ms(self.inner.platform.clock.now());
        let mut tx = self.inner.platform.db.begin().await?;
        let run = store::run_in(&mut tx, id)
            .await?
            .filter(|r| r.queue == self.inner.cfg.queue)
            .ok_or(ControlError::NotFound)?;
        let status = match run.status {
            RunStatus::Pending | RunStatus::Queued => {
                store::set_status(&mut tx, id, RunStatus::Cancelled, Some(reason), now).await?;
                store::append_events(
                    &mut tx,
                    id,
                    run.attempt,
                    &[NewEvent::run(
                        "run.cancelled",
                        json!({"status": "cancelled", "reason": reason, "interrupted": []}),
                    )],
                    now,
                )
                .await?;
                outbox::emit(
                    &mut tx,
                    &run.queue,
                    "run.finished",
                    &json!({"run_id": id, "owner_id": run.owner_id, "queue": run.queue,
                            "status": "cancelled", "attempt": run.attempt,
                            "subject_id": run.subject_id, "schedule_id": run.schedule_id,
                            "started": run.started_ms.is_some()}),
                    now,
                )
                .await?;
                RunStatus::Cancelled
            }
            RunStatus::Running => {
                store::set_status(&mut tx, id, RunStatus::Cancelling, Some(reason), now).await?;
                store::append_events(
                    &mut tx,
                    id,
                    run.attempt,
                    &[NewEvent::run(
                        "run.cancelling",
                        json!({"status": "cancelling", "reason": reason}),
                    )],
                    now,
                )
                .await?;
                RunStatus::Cancelling
            }
            RunStatus::Cancelling => RunStatus::Cancelling,
            s => {
                return Err(ControlError::State(format!(
                    "the execution is already {}",
                    s.as_str()
                )));
            }
        };
        tx.commit().await?;
        if status == RunStatus::Cancelling {
            self.inner.request_cancel(id);
        }
        self.inner.publish(id);
        self.notify();
        Ok(status)
    }

    /// Re-queues a finished run as its next attempt, in the caller's transaction. `plan`
    /// replaces the pinned plan (a newer definition version); outputs are then reused only
    /// for steps whose specification is unchanged. Returns the new attempt number.
    pub async fn retry(
        &self,
        tx: &mut Tx,
        id: Uuid,
        from: RetryFrom,
        plan: Option<(Plan, Option<i64>)>,
    ) -> Result<i64, ControlError> {
        let now = model::ms(self.inner.platform.clock.now());
        let run = store::run_in(tx, id)
            .await?
            .filter(|r| r.queue == self.inner.cfg.queue)
            .ok_or(ControlError::NotFound)?;
        if !run.status.is_final() || run.status == RunStatus::Completed {
            return Err(ControlError::State(format!(
                "only a failed, timed out, crashed or cancelled execution can be retried; this one is {}",
                run.status.as_str()
            )));
        }
        let new_plan = plan.as_ref().map(|(p, _)| p).unwrap_or(&run.plan);
        let prev = store::attempt_steps(tx, id, run.attempt).await?;
        let mut redo: std::collections::HashSet<String> = Default::default();
        match &from {
            RetryFrom::Start => redo.extend(new_plan.steps.iter().map(|s| s.id.clone())),
            RetryFrom::Step(step) => {
                if !new_plan.steps.iter().any(|s| &s.id == step) {
                    return Err(ControlError::UnknownStep(step.clone()));
                }
                redo.insert(step.clone());
            }
            RetryFrom::Failed => {}
        }
        // Everything downstream of a step that runs again runs again too.
        loop {
            let before = redo.len();
            for s in &new_plan.steps {
                if s.depends_on.iter().any(|d| redo.contains(d)) {
                    redo.insert(s.id.clone());
                }
            }
            if redo.len() == before {
                break;
            }
        }
        let reuse: Vec<String> = prev
            .iter()
            .filter(|r| r.status.is_done() && !redo.contains(&r.step_id))
            .filter(|r| {
                let old = run.plan.steps.iter().find(|s| s.id == r.step_id);
                let new = new_plan.steps.iter().find(|s| s.id == r.step_id);
                old.is_some() && old == new
            })
            .map(|r| r.step_id.clone())
            .collect();
        let attempt = run.attempt + 1;
        store::requeue(tx, id, attempt, plan.as_ref().map(|(p, v)| (p, *v)), now).await?;
        store::reuse_steps(tx, id, run.attempt, attempt, &reuse, now).await?;
        let from_text = match &from {
            RetryFrom::Failed => "failed".to_string(),
            RetryFrom::Step(s) => s.clone(),
            RetryFrom::Start => "start".to_string(),
        };
        store::append_events(
            tx,
            id,
            attempt,
            &[NewEvent::run(
                "run.retried",
                json!({"status": "queued", "attempt": attempt, "from": from_text, "reused": reuse}),
            )],
            now,
        )
        .await?;
        Ok(attempt)
    }

    /// Deletes finished runs past retention, and outbox entries delivered more than a day
    /// ago, now; returns how many runs.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let now = model::ms(self.inner.platform.clock.now());
        let before = now - self.inner.cfg.retention_days * 86_400_000;
        store::prune(
            &self.inner.platform.db,
            before,
            self.inner.cfg.retention_runs,
            now - 86_400_000,
        )
        .await
    }
}

impl Inner {
    fn publish(&self, run: Uuid) {
        let _ = self.events.send(run);
    }

    fn register_cancel(&self, run: Uuid, token: CancellationToken) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run, (token, false));
    }

    fn unregister_cancel(&self, run: Uuid) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&run);
    }

    fn request_cancel(&self, run: Uuid) {
        let mut map = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((token, asked)) = map.get_mut(&run) {
            *asked = true;
            token.cancel();
        }
    }

    fn is_running_here(&self, run: Uuid) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&run)
    }

    fn is_cancel_requested(&self, run: Uuid) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&run)
            .is_some_and(|(_, asked)| *asked)
    }
}

/// Waits until the platform clock reads `until_ms` (or `cancel` fires; then false). Checks
/// every 50 ms, so a test that moves the clock wakes the wait at once instead of sleeping.
pub async fn sleep_until(clock: &Clock, until_ms: i64, cancel: &CancellationToken) -> bool {
    loop {
        let left = until_ms - model::ms(clock.now());
        if left <= 0 {
            return true;
        }
        let nap = Duration::from_millis(left.clamp(1, 50) as u64);
        tokio::select! {
            _ = cancel.cancelled() => return false,
            _ = tokio::time::sleep(nap) => {}
        }
    }
}

async fn retention_loop(engine: Engine) {
    let token = engine.inner.platform.tasks.token();
    loop {
        match engine.prune().await {
            Ok(n) if n > 0 => tracing::info!(runs = n, "engine: pruned finished runs"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "engine: retention failed"),
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
        }
    }
}
