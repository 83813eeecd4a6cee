//! Workers: lease runs, execute their step DAG, heartbeat, and end every run in a final state.
//!
//! One leased run is one task. Its steps run concurrently as far as their dependencies allow.
//! State is written before and after every try, batched per turn of the loop: a step's end,
//! the starts it unblocks and their events commit in one transaction, so a 3-step chain costs
//! four commits. A worker that dies leaves a lease that expires after 1.5 heartbeat intervals;
//! any instance then takes the run over, reuses the outputs recorded so far, and counts a try
//! that was in flight as used (no step runs more often than its retry policy allows).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use trellis_kernel::db::StoreError;
use uuid::Uuid;

use crate::Engine;
use crate::handler::{StepCtx, StepError, StepOutput};
use crate::model::{Run, RunStatus, StepStatus, ms};
use crate::store::{self, NewEvent};

mod state;
use state::{State, Write, apply};

/// Why a run's execution stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// Cancellation requested (API, collision policy).
    Cancel,
    /// The run's own time limit passed.
    Deadline,
    /// Another worker holds the lease now (this one was too slow to heartbeat).
    LostLease,
    /// The server is shutting down: leave the run to be taken over.
    Shutdown,
}

pub(super) enum Finished {
    Try {
        step: String,
        result: Result<StepOutput, StepError>,
        logs: Vec<String>,
        took: Duration,
    },
    RetryDue(String),
}

/// The lease loop of one instance: leases as many runs as it has free slots, executes each
/// on its own task, and sleeps until woken (a local submit) or the poll interval passes.
pub(crate) async fn lease_loop(engine: Engine) {
    let token = engine.inner.platform.tasks.token();
    let slots = Arc::new(tokio::sync::Semaphore::new(engine.inner.cfg.max_runs));
    loop {
        if token.is_cancelled() {
            return;
        }
        let free = slots.available_permits();
        let mut leased = 0;
        if free > 0 {
            let now = ms(engine.inner.platform.clock.now());
            let ttl = engine.lease_ttl_ms();
            match store::lease(
                &engine.inner.platform.db,
                &engine.inner.cfg.queue,
                &engine.inner.worker_id,
                now,
                ttl,
                free.min(64) as i64,
                |id| engine.inner.is_running_here(id),
            )
            .await
            {
                Ok(runs) => {
                    leased = runs.len();
                    for l in runs {
                        let Ok(permit) = slots.clone().acquire_owned().await else {
                            return;
                        };
                        if l.takeover {
                            engine.inner.metrics.takeover();
                        }
                        let e = engine.clone();
                        engine.inner.platform.tasks.spawn(async move {
                            if let Err(err) = execute(&e, l.id, l.takeover).await {
                                tracing::error!(execution_id = %l.id, error = %err, "engine: run execution failed to record");
                            }
                            drop(permit);
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "engine: lease failed"),
            }
        }
        if leased > 0 && slots.available_permits() > 0 {
            continue;
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = engine.inner.wake.notified() => {}
            _ = tokio::time::sleep(engine.inner.cfg.poll) => {}
        }
    }
}

/// Executes one leased run to a final state (or until the lease is lost or the server stops).
async fn execute(engine: &Engine, run_id: Uuid, takeover: bool) -> Result<(), StoreError> {
    let inner = &engine.inner;
    let db = &inner.platform.db;
    let Some(run) = store::run(db, run_id).await? else {
        return Ok(());
    };
    let records = store::attempt_steps_read(db, run_id, run.attempt).await?;
    let mut st = State::new(&run, records);
    let cancel = CancellationToken::new();
    inner.register_cancel(run_id, cancel.clone());
    let _guard = CancelGuard(engine.clone(), run_id);

    if run.status == RunStatus::Cancelling {
        // A cancelling run whose worker died: the reaper's path ends it here.
        let interrupted = st.crashed.clone();
        st.interrupt(&interrupted, StepStatus::Cancelled, "interrupted");
        return engine
            .finish(
                &run,
                &mut st,
                RunStatus::Cancelled,
                Some("cancelled (its worker was lost while cancelling)"),
                None,
                interrupted,
            )
            .await;
    }
    if takeover {
        let crashed = st.crashed.clone();
        st.events.push(NewEvent::run(
            "run.takeover",
            json!({"worker": inner.worker_id, "interrupted_tries": crashed}),
        ));
    } else {
        st.events.push(NewEvent::run(
            "run.started",
            json!({"status": "running", "attempt": run.attempt}),
        ));
    }
    let deadline = run
        .plan
        .timeout_seconds
        .map(|s| run.started_ms.unwrap_or(run.created_ms) + (s as i64).saturating_mul(1000));
    let stop = CancellationToken::new();
    let stop_reason = Arc::new(std::sync::Mutex::new(None::<Stop>));
    let hb = tokio::spawn(heartbeat(
        engine.clone(),
        run_id,
        cancel.clone(),
        stop.clone(),
        stop_reason.clone(),
        deadline,
    ));
    let _hb = AbortOnDrop(hb);

    let mut set: JoinSet<Finished> = JoinSet::new();
    loop {
        let ready = st.advance();
        // Pure steps (no effect but their output: transform, condition) run here and now;
        // their results join this turn's writes, so a chain of them costs one commit. Their
        // start is not recorded first: after a crash they are computed again.
        let (pure, to_start): (Vec<String>, Vec<String>) = ready.into_iter().partition(|id| {
            st.specs
                .get(id)
                .is_some_and(|s| inner.registry.is_pure(&s.kind))
        });
        if !pure.is_empty() {
            for id in &pure {
                let tries = st.tries.get(id).copied().unwrap_or(0) + 1;
                st.tries.insert(id.clone(), tries);
                st.in_flight.insert(id.clone());
                st.events
                    .push(NewEvent::step("step.started", id, json!({"try": tries})));
                if let Some(f) = try_future(engine, &run, &st, id, tries, &cancel) {
                    let done = f.await;
                    st.absorb(engine, done, &mut set, &cancel);
                }
            }
            continue;
        }
        if set.is_empty() && to_start.is_empty() {
            let (status, reason, error) = st.outcome();
            return engine
                .finish(
                    &run,
                    &mut st,
                    status,
                    reason.as_deref(),
                    error.as_deref(),
                    Vec::new(),
                )
                .await;
        }
        for id in &to_start {
            let tries = st.tries.get(id).copied().unwrap_or(0) + 1;
            st.tries.insert(id.clone(), tries);
            st.in_flight.insert(id.clone());
            st.writes.push(Write::Start(id.clone(), tries));
            st.events
                .push(NewEvent::step("step.started", id, json!({"try": tries})));
        }
        if !st.writes.is_empty() || !st.events.is_empty() {
            let now = ms(inner.platform.clock.now());
            let mut tx = db.begin().await?;
            apply(&mut tx, &run, &st.writes, &st.events, now).await?;
            tx.commit().await?;
            st.writes.clear();
            st.events.clear();
            inner.publish(run_id);
        }
        for id in &to_start {
            let tries = st.tries.get(id).copied().unwrap_or(1);
            spawn_try(engine, &run, &st, &mut set, id, tries, &cancel);
        }
        tokio::select! {
            done = set.join_next() => {
                if let Some(Ok(f)) = done {
                    // A try that ended because the run is being stopped is an interruption,
                    // not a failure.
                    let stopping = inner.is_cancel_requested(run_id)
                        || stop_reason.lock().unwrap_or_else(|p| p.into_inner()).is_some();
                    let failed = matches!(&f, Finished::Try { result: Err(_), .. });
                    if stopping && failed {
                        let why = stop_reason
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .unwrap_or(Stop::Cancel);
                        return stop_run(engine, &run, &mut st, &mut set, why).await;
                    }
                    st.absorb(engine, f, &mut set, &cancel);
                }
            }
            _ = stop.cancelled() => {
                let why = stop_reason.lock().unwrap_or_else(|p| p.into_inner()).unwrap_or(Stop::Cancel);
                return stop_run(engine, &run, &mut st, &mut set, why).await;
            }
        }
    }
}

/// Ends a run early: cooperative cancel, then forced after the grace period.
async fn stop_run(
    engine: &Engine,
    run: &Run,
    st: &mut State,
    set: &mut JoinSet<Finished>,
    why: Stop,
) -> Result<(), StoreError> {
    if matches!(why, Stop::LostLease | Stop::Shutdown) {
        set.abort_all();
        return Ok(());
    }
    let until = Instant::now() + engine.inner.cfg.cancel_grace;
    // Tries that notice the cancellation and finish in time keep their outputs.
    while !set.is_empty() {
        match tokio::time::timeout_at(until.into(), set.join_next()).await {
            Ok(Some(Ok(Finished::Try {
                step,
                result: Ok(out),
                logs,
                took,
            }))) => {
                st.in_flight.remove(&step);
                engine.inner.metrics.step_took(took);
                st.logs(&step, logs);
                st.complete(&step, out);
            }
            Ok(Some(Ok(Finished::Try { step, .. } | Finished::RetryDue(step)))) => {
                st.waiting.remove(&step);
            }
            Ok(Some(Err(_))) => {}
            Ok(None) => break,
            Err(_) => {
                set.abort_all();
                break;
            }
        }
    }
    let interrupted: Vec<String> = st
        .order
        .iter()
        .filter(|id| st.in_flight.contains(*id) || st.waiting.contains(*id))
        .cloned()
        .collect();
    let (status, reason, step_status) = match why {
        Stop::Deadline => (
            RunStatus::TimedOut,
            "the execution's time limit passed",
            StepStatus::TimedOut,
        ),
        _ => (RunStatus::Cancelled, "cancelled", StepStatus::Cancelled),
    };
    st.interrupt(&interrupted, step_status, reason);
    engine
        .finish(run, st, status, Some(reason), None, interrupted)
        .await
}

fn spawn_try(
    engine: &Engine,
    run: &Run,
    st: &State,
    set: &mut JoinSet<Finished>,
    id: &str,
    tries: i64,
    cancel: &CancellationToken,
) {
    if let Some(f) = try_future(engine, run, st, id, tries, cancel) {
        set.spawn(f);
    }
}

/// One try of a step, as a future (spawned for ordinary steps, awaited in place for pure
/// ones); `None` for a step id the plan does not have.
fn try_future(
    engine: &Engine,
    run: &Run,
    st: &State,
    id: &str,
    tries: i64,
    cancel: &CancellationToken,
) -> Option<impl std::future::Future<Output = Finished> + Send + 'static> {
    let spec = st.specs.get(id).cloned()?;
    let handler = engine.inner.registry.get(&spec.kind);
    let timeout = Duration::from_secs(
        spec.timeout_seconds
            .unwrap_or(engine.inner.cfg.step_timeout.as_secs())
            .max(1),
    );
    let ctx = StepCtx {
        run_id: run.id,
        owner_id: run.owner_id,
        attempt: run.attempt,
        try_no: tries as u32,
        input: Arc::new(run.input.clone()),
        outputs: st.outputs.clone(),
        cancel: cancel.child_token(),
        clock: engine.inner.platform.clock.clone(),
        logs: Default::default(),
        registry: engine.inner.registry.clone(),
        events: crate::EventSink {
            engine: crate::EngineRef::default(),
            run_id: run.id,
            attempt: run.attempt,
            step_id: id.to_string(),
        }
        .bound(engine),
        step: spec.clone(),
    };
    let step = id.to_string();
    // Every log line of the try carries the execution and the step (issue 10 §5).
    let span = tracing::info_span!("step", execution_id = %run.id, step = %id, attempt = run.attempt, try_no = tries);
    Some(tracing::Instrument::instrument(
        async move {
            let started = Instant::now();
            let logs = ctx.logs.clone();
            let result = match handler {
                None => Err(StepError::Fatal(format!("unknown step type {}", spec.kind))),
                Some(h) => match tokio::time::timeout(timeout, h.run(ctx)).await {
                    Ok(r) => r,
                    Err(_) => Err(StepError::Retryable(format!(
                        "step timed out after {} s",
                        timeout.as_secs()
                    ))),
                },
            };
            let logs = std::mem::take(&mut *logs.lock().unwrap_or_else(|p| p.into_inner()));
            if let Err(e) = &result {
                tracing::info!(error = %e, "engine: step try failed");
            }
            Finished::Try {
                step,
                result,
                logs,
                took: started.elapsed(),
            }
        },
        span,
    ))
}

/// Renews the lease every heartbeat interval; stops the run on a cancellation request, on
/// the run's deadline, on shutdown, or when the lease was lost.
async fn heartbeat(
    engine: Engine,
    run_id: Uuid,
    cancel: CancellationToken,
    stop: CancellationToken,
    reason: Arc<std::sync::Mutex<Option<Stop>>>,
    deadline: Option<i64>,
) {
    let inner = &engine.inner;
    let shutdown = inner.platform.tasks.token();
    // The reason is recorded before the steps' token fires, so a step that returns an
    // error because it was cancelled is never mistaken for a failure.
    let set = |why: Stop| {
        *reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        cancel.cancel();
        stop.cancel();
    };
    let mut next_beat = Instant::now() + inner.cfg.heartbeat;
    loop {
        let now = ms(inner.platform.clock.now());
        if deadline.is_some_and(|d| now >= d) {
            set(Stop::Deadline);
            return;
        }
        if Instant::now() >= next_beat {
            next_beat = Instant::now() + inner.cfg.heartbeat;
            let until = now + engine.lease_ttl_ms();
            match store::heartbeat(&inner.platform.db, run_id, &inner.worker_id, until).await {
                Ok(None) => {
                    set(Stop::LostLease);
                    return;
                }
                Ok(Some(RunStatus::Cancelling)) => {
                    set(Stop::Cancel);
                    return;
                }
                Ok(Some(_)) => {}
                Err(e) => {
                    tracing::warn!(execution_id = %run_id, error = %e, "engine: heartbeat failed")
                }
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => {
                // A local cancellation (the cancel API on this instance) or a failing step.
                if inner.is_cancel_requested(run_id) {
                    set(Stop::Cancel);
                    return;
                }
                // A failing step cancelled its siblings: keep heartbeating until the run ends.
                tokio::time::sleep(Duration::from_millis(100).min(inner.cfg.heartbeat)).await;
            }
            _ = shutdown.cancelled() => {
                set(Stop::Shutdown);
                return;
            }
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct CancelGuard(Engine, Uuid);

impl Drop for CancelGuard {
    fn drop(&mut self) {
        self.0.inner.unregister_cancel(self.1);
    }
}

impl Engine {
    /// Writes the turn's last writes and events, the final state, its event and the
    /// `run.finished` outbox entry in one transaction.
    async fn finish(
        &self,
        run: &Run,
        st: &mut State,
        status: RunStatus,
        reason: Option<&str>,
        error: Option<&str>,
        interrupted: Vec<String>,
    ) -> Result<(), StoreError> {
        let inner = &self.inner;
        let now = ms(inner.platform.clock.now());
        let kind = match status {
            RunStatus::Completed => "run.completed",
            RunStatus::Failed => "run.failed",
            RunStatus::TimedOut => "run.timed_out",
            RunStatus::Crashed => "run.crashed",
            _ => "run.cancelled",
        };
        st.events.push(NewEvent::run(
            kind,
            json!({"status": status.as_str(), "reason": reason, "error": error, "interrupted": interrupted}),
        ));
        let mut tx = inner.platform.db.begin().await?;
        if !store::finish_run(
            &mut tx,
            run.id,
            &inner.worker_id,
            status,
            reason,
            error,
            &interrupted,
            now,
        )
        .await?
        {
            // Taken over meanwhile: the other worker owns the outcome.
            return Ok(());
        }
        apply(&mut tx, run, &st.writes, &st.events, now).await?;
        crate::schedule::on_run_finished(&mut tx, run, status, now).await?;
        crate::outbox::emit(
            &mut tx,
            &run.queue,
            "run.finished",
            &json!({"run_id": run.id, "owner_id": run.owner_id, "queue": run.queue,
                    "status": status.as_str(), "attempt": run.attempt, "subject_id": run.subject_id,
                    "schedule_id": run.schedule_id, "started": true}),
            now,
        )
        .await?;
        tx.commit().await?;
        st.writes.clear();
        st.events.clear();
        tracing::info!(execution_id = %run.id, status = status.as_str(), "engine: run finished");
        inner.publish(run.id);
        inner.wake.notify_one();
        inner.outbox_wake.notify_one();
        Ok(())
    }
}
