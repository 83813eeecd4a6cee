//! The engine's guarantees, on SQLite and on PostgreSQL, with step kinds made for the test
//! (counters, failures on demand, steps that wait for cancellation). Waits poll the store;
//! backoff delays are crossed by moving the platform clock, never by sleeping them out.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use trellis_engine::schedule::{Fire, Overlap, Schedule, ScheduleSpec, Timing};
use trellis_engine::{
    Engine, EngineConfig, NewRun, OutboxEvent, OutboxHandler, Plan, Registry, RetryFrom, RunStatus,
    StepCtx, StepError, StepHandler, StepOutput, StepSpec, StepStatus,
};
use trellis_kernel::backend_tests;
use trellis_kernel::db::Tx;
use trellis_kernel::testing::{Backend, TestPlatform, platform};
use uuid::Uuid;

backend_tests!(
    a_chain_completes_with_a_gap_free_event_log,
    a_false_condition_skips_its_dependents,
    retryable_failures_back_off_on_the_clock,
    fatal_failures_are_not_retried,
    cancel_stops_a_running_step_cooperatively,
    cancel_is_forced_after_the_grace_period,
    cancel_of_a_queued_run_is_immediate,
    restart_from_the_failed_step_reuses_outputs,
    retry_from_a_step_reruns_it_and_its_dependents,
    an_expired_lease_is_taken_over_and_the_lost_try_counts,
    a_lost_try_without_tries_left_fails_the_run,
    a_cancelling_run_whose_worker_died_ends_cancelled,
    concurrency_keys_cap_running_runs,
    idempotency_keys_return_the_same_run,
    the_run_timeout_ends_it_timed_out,
    a_schedule_fires_once_across_two_engines,
    outbox_events_are_delivered_once_and_retried_on_error,
    retention_never_prunes_unfinished_runs,
    buffer_one_keeps_one_fire_while_busy_and_skip_drops_them,
    a_fire_missed_beyond_the_catch_up_window_is_skipped,
    concurrent_emits_are_gap_free_and_each_caller_gets_its_seq,
);

/// Counts calls per step id; fails the first `fail` tries of each step; `wait` steps wait
/// for cancellation (or `wait_ms` of wall time when `ignore_cancel`).
#[derive(Default)]
struct Probe {
    calls: Mutex<HashMap<String, usize>>,
    /// `(run, step, i)` → the `seq` `EventSink::emit` answered for the step's `i`-th event.
    emitted: Mutex<HashMap<(Uuid, String, u64), i64>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
}

impl Probe {
    fn calls(&self, step: &str) -> usize {
        self.calls.lock().unwrap().get(step).copied().unwrap_or(0)
    }
}

struct Kind {
    probe: Arc<Probe>,
}

#[async_trait::async_trait]
impl StepHandler for Kind {
    async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError> {
        let n = {
            let mut calls = self.probe.calls.lock().unwrap();
            let n = calls.entry(ctx.step.id.clone()).or_default();
            *n += 1;
            *n
        };
        let p = &ctx.step.params;
        let now = self.probe.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.probe.max_running.fetch_max(now, Ordering::SeqCst);
        let _dec = Dec(&self.probe.running);
        if let Some(n) = p.get("emit").and_then(Value::as_u64) {
            // All at once: the group-commit writer sees them together with other steps'.
            let sends = (0..n).map(|i| {
                let sink = ctx.events.clone();
                async move { (i, sink.emit("progress", json!({"i": i})).await) }
            });
            for (i, seq) in futures::future::join_all(sends).await {
                let seq = seq.map_err(|e| StepError::Retryable(e.to_string()))?;
                self.probe
                    .emitted
                    .lock()
                    .unwrap()
                    .insert((ctx.run_id, ctx.step.id.clone(), i), seq);
            }
        }
        if let Some(ms) = p.get("hold_ms").and_then(Value::as_u64) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if p.get("wait").and_then(Value::as_bool) == Some(true) {
            if p.get("ignore_cancel").and_then(Value::as_bool) == Some(true) {
                tokio::time::sleep(Duration::from_secs(120)).await;
            } else {
                ctx.cancel.cancelled().await;
                return Err(StepError::Fatal("cancelled".into()));
            }
        }
        let fail = p.get("fail").and_then(Value::as_u64).unwrap_or(0) as usize;
        if n <= fail {
            return if p.get("fatal").and_then(Value::as_bool) == Some(true) {
                Err(StepError::Fatal(format!("fatal failure {n}")))
            } else {
                Err(StepError::Retryable(format!("failure {n}")))
            };
        }
        ctx.log(format!("call {n}"));
        let sum: i64 = ctx
            .outputs
            .values()
            .filter_map(|v| v.get("n").and_then(Value::as_i64))
            .sum();
        Ok(StepOutput {
            output: json!({"n": sum + 1, "step": ctx.step.id}),
            proceed: p.get("proceed").and_then(Value::as_bool).unwrap_or(true),
        })
    }
}

struct Dec<'a>(&'a AtomicUsize);
impl Drop for Dec<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Env {
    tp: TestPlatform,
    engine: Engine,
    probe: Arc<Probe>,
}

async fn env(b: Backend, vars: &[(&str, &str)]) -> Env {
    env_with(b, vars, |e| e).await
}

async fn env_with(
    b: Backend,
    vars: &[(&str, &str)],
    f: impl FnOnce(trellis_engine::EngineBuilder) -> trellis_engine::EngineBuilder,
) -> Env {
    let tp = platform(b, vars).await;
    tp.platform
        .db
        .migrate(&trellis_engine::migrations())
        .await
        .unwrap();
    let probe = Arc::new(Probe::default());
    let mut engine = build(&tp, &probe, f);
    if tp
        .platform
        .config
        .vars
        .get("TRELLIS_ENGINE_WORKERS")
        .map(String::as_str)
        == Some("false")
    {
        engine = build_idle(&tp, &probe);
    }
    engine.start();
    Env { tp, engine, probe }
}

fn build(
    tp: &TestPlatform,
    probe: &Arc<Probe>,
    f: impl FnOnce(trellis_engine::EngineBuilder) -> trellis_engine::EngineBuilder,
) -> Engine {
    let mut cfg = EngineConfig::from_vars("test", &tp.platform.config.vars).unwrap();
    cfg.workers = true;
    let registry = Registry::new(vec![(
        "probe",
        Arc::new(Kind {
            probe: probe.clone(),
        }) as Arc<dyn StepHandler>,
    )]);
    f(Engine::builder(&tp.platform, cfg, registry)).build()
}

/// An engine whose instance runs no workers (it only submits and reads).
fn build_idle(tp: &TestPlatform, probe: &Arc<Probe>) -> Engine {
    let mut cfg = EngineConfig::from_vars("test", &tp.platform.config.vars).unwrap();
    cfg.workers = false;
    let registry = Registry::new(vec![(
        "probe",
        Arc::new(Kind {
            probe: probe.clone(),
        }) as Arc<dyn StepHandler>,
    )]);
    Engine::builder(&tp.platform, cfg, registry).build()
}

fn step(id: &str, deps: &[&str], params: Value) -> StepSpec {
    StepSpec {
        id: id.into(),
        kind: "probe".into(),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        params,
        retry: None,
        timeout_seconds: None,
    }
}

fn new_run(steps: Vec<StepSpec>) -> NewRun {
    NewRun {
        id: Uuid::now_v7(),
        queue: "test".into(),
        owner_id: Uuid::nil(),
        subject_id: None,
        subject_version: None,
        schedule_id: None,
        plan: Plan {
            steps,
            timeout_seconds: None,
        },
        input: json!({"x": 1}),
        idempotency_key: None,
        limit_keys: vec![],
        refused: None,
    }
}

impl Env {
    async fn submit(&self, run: NewRun) -> Uuid {
        let mut tx = self.tp.platform.db.begin().await.unwrap();
        let s = self.engine.submit(&mut tx, &run).await.unwrap();
        tx.commit().await.unwrap();
        self.engine.notify();
        s.id
    }

    async fn wait_for(&self, id: Uuid, pred: impl Fn(RunStatus) -> bool) -> trellis_engine::Run {
        for _ in 0..600 {
            let r = self.engine.run(id).await.unwrap().unwrap();
            if pred(r.status) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("run {id} never reached the expected state");
    }

    async fn wait_final(&self, id: Uuid) -> trellis_engine::Run {
        self.wait_for(id, |s| s.is_final()).await
    }

    async fn step_status(&self, id: Uuid, attempt: i64, step: &str) -> StepStatus {
        self.engine
            .steps(id)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.attempt == attempt && s.step_id == step)
            .map(|s| s.status)
            .unwrap()
    }
}

async fn a_chain_completes_with_a_gap_free_event_log(b: Backend) {
    let e = env(b, &[]).await;
    let id = e
        .submit(new_run(vec![
            step("a", &[], json!({})),
            step("b", &["a"], json!({})),
            step("c", &["b"], json!({})),
        ]))
        .await;
    let run = e.wait_final(id).await;
    assert_eq!(run.status, RunStatus::Completed);
    let steps = e.engine.steps(id).await.unwrap();
    assert_eq!(steps.len(), 3);
    let c = steps.iter().find(|s| s.step_id == "c").unwrap();
    assert_eq!(c.output.as_ref().unwrap()["n"], 4, "c saw a (1) and b (2)");
    let events = e.engine.events_after(id, 0, 1000).await.unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>());
    assert_eq!(events.first().unwrap().kind, "run.queued");
    assert_eq!(events.last().unwrap().kind, "run.completed");
    assert!(events.iter().any(|e| e.kind == "step.log"));
    let later = e.engine.events_after(id, 3, 2).await.unwrap();
    assert_eq!(later.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4, 5]);
}

async fn a_false_condition_skips_its_dependents(b: Backend) {
    let e = env(b, &[]).await;
    let id = e
        .submit(new_run(vec![
            step("check", &[], json!({"proceed": false})),
            step("then", &["check"], json!({})),
            step("after", &["then"], json!({})),
            step("other", &[], json!({})),
        ]))
        .await;
    let run = e.wait_final(id).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(e.step_status(id, 1, "then").await, StepStatus::Skipped);
    assert_eq!(e.step_status(id, 1, "after").await, StepStatus::Skipped);
    assert_eq!(e.step_status(id, 1, "other").await, StepStatus::Completed);
    assert_eq!(e.probe.calls("then"), 0);
}

async fn retryable_failures_back_off_on_the_clock(b: Backend) {
    let e = env(b, &[]).await;
    let mut s = step("flaky", &[], json!({"fail": 2}));
    s.retry = Some(trellis_engine::model::RetryPolicy {
        max_attempts: 3,
        backoff: trellis_engine::model::Backoff::Exponential,
        delay_ms: 60_000,
        max_delay_ms: None,
        jitter: None,
    });
    let id = e.submit(new_run(vec![s])).await;
    // The first try fails; the retry waits a minute of platform time.
    for _ in 0..100 {
        if e.probe.calls("flaky") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(e.probe.calls("flaky"), 1, "the retry waits for its delay");
    e.tp.platform.clock.advance(Duration::from_secs(61));
    for _ in 0..100 {
        if e.probe.calls("flaky") == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        e.probe.calls("flaky"),
        2,
        "exponential: the second delay is two minutes"
    );
    e.tp.platform.clock.advance(Duration::from_secs(121));
    let run = e.wait_final(id).await;
    assert_eq!(run.status, RunStatus::Completed);
    let rec = e.engine.steps(id).await.unwrap();
    assert_eq!(rec[0].tries, 3);
    let events = e.engine.events_after(id, 0, 1000).await.unwrap();
    let delays: Vec<i64> = events
        .iter()
        .filter(|e| e.kind == "step.retrying")
        .map(|e| e.data["delay_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(delays, vec![60_000, 120_000]);
    let metrics = e.tp.platform.metrics.render();
    assert!(metrics.contains("trellis_engine_retries_total{queue=\"test\"} 2"));
}

async fn fatal_failures_are_not_retried(b: Backend) {
    let e = env(b, &[]).await;
    let mut s = step("bad", &[], json!({"fail": 5, "fatal": true}));
    s.retry = Some(trellis_engine::model::RetryPolicy {
        max_attempts: 5,
        backoff: Default::default(),
        delay_ms: 10,
        max_delay_ms: None,
        jitter: None,
    });
    let id = e
        .submit(new_run(vec![s, step("next", &["bad"], json!({}))]))
        .await;
    let run = e.wait_final(id).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.reason.as_deref(), Some("step bad failed"));
    assert_eq!(run.error.as_deref(), Some("fatal failure 1"));
    assert_eq!(e.probe.calls("bad"), 1);
    assert_eq!(e.probe.calls("next"), 0);
}

async fn cancel_stops_a_running_step_cooperatively(b: Backend) {
    let e = env(b, &[]).await;
    let id = e
        .submit(new_run(vec![
            step("first", &[], json!({})),
            step("long", &["first"], json!({"wait": true})),
            step("never", &["long"], json!({})),
        ]))
        .await;
    for _ in 0..200 {
        if e.probe.calls("long") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        e.engine.cancel(id, "cancelled by user").await.unwrap(),
        RunStatus::Cancelling
    );
    let run = e.wait_final(id).await;
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(run.interrupted, vec!["long".to_string()]);
    assert_eq!(e.step_status(id, 1, "long").await, StepStatus::Cancelled);
    assert_eq!(e.step_status(id, 1, "first").await, StepStatus::Completed);
    assert!(
        e.engine.cancel(id, "again").await.is_err(),
        "a final run cannot be cancelled"
    );
}

async fn cancel_is_forced_after_the_grace_period(b: Backend) {
    let e = env(b, &[("TRELLIS_ENGINE_CANCEL_GRACE_SECONDS", "1")]).await;
    let id = e
        .submit(new_run(vec![step(
            "stubborn",
            &[],
            json!({"wait": true, "ignore_cancel": true}),
        )]))
        .await;
    for _ in 0..200 {
        if e.probe.calls("stubborn") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = std::time::Instant::now();
    e.engine.cancel(id, "stop").await.unwrap();
    let run = e.wait_final(id).await;
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(run.interrupted, vec!["stubborn".to_string()]);
    assert!(asked.elapsed() < Duration::from_secs(30));
}

async fn cancel_of_a_queued_run_is_immediate(b: Backend) {
    let e = env(b, &[("TRELLIS_ENGINE_WORKERS", "false")]).await;
    let id = e.submit(new_run(vec![step("a", &[], json!({}))])).await;
    assert_eq!(
        e.engine.cancel(id, "not needed").await.unwrap(),
        RunStatus::Cancelled
    );
    let run = e.engine.run(id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(run.reason.as_deref(), Some("not needed"));
}

async fn restart_from_the_failed_step_reuses_outputs(b: Backend) {
    let e = env(b, &[]).await;
    let id = e
        .submit(new_run(vec![
            step("fetch", &[], json!({})),
            step("parse", &["fetch"], json!({"fail": 1, "fatal": true})),
        ]))
        .await;
    assert_eq!(e.wait_final(id).await.status, RunStatus::Failed);
    let mut tx = e.tp.platform.db.begin().await.unwrap();
    let attempt = e
        .engine
        .retry(&mut tx, id, RetryFrom::Failed, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    e.engine.notify();
    assert_eq!(attempt, 2);
    let run = e.wait_final(id).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.attempt, 2);
    assert_eq!(e.probe.calls("fetch"), 1, "fetch's output was reused");
    assert_eq!(e.probe.calls("parse"), 2);
    assert_eq!(e.step_status(id, 2, "fetch").await, StepStatus::Reused);
    assert_eq!(e.step_status(id, 1, "parse").await, StepStatus::Failed);
    let mut tx = e.tp.platform.db.begin().await.unwrap();
    assert!(
        e.engine
            .retry(&mut tx, id, RetryFrom::Start, None)
            .await
            .is_err(),
        "a completed run is not retried"
    );
}

async fn retry_from_a_step_reruns_it_and_its_dependents(b: Backend) {
    let e = env(b, &[]).await;
    let id = e
        .submit(new_run(vec![
            step("a", &[], json!({})),
            step("b", &["a"], json!({})),
            step("c", &["b"], json!({"fail": 1, "fatal": true})),
        ]))
        .await;
    assert_eq!(e.wait_final(id).await.status, RunStatus::Failed);
    let mut tx = e.tp.platform.db.begin().await.unwrap();
    assert!(matches!(
        e.engine
            .retry(&mut tx, id, RetryFrom::Step("zzz".into()), None)
            .await,
        Err(trellis_engine::ControlError::UnknownStep(_))
    ));
    e.engine
        .retry(&mut tx, id, RetryFrom::Step("b".into()), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    e.engine.notify();
    assert_eq!(e.wait_final(id).await.status, RunStatus::Completed);
    assert_eq!(
        (e.probe.calls("a"), e.probe.calls("b"), e.probe.calls("c")),
        (1, 2, 2)
    );
}

/// Makes a run look like its worker died mid-step: leased by a dead worker whose lease has
/// expired, with `step` recorded as running its first try.
async fn orphan(e: &Env, id: Uuid, step: &str, status: &str) {
    let db = &e.tp.platform.db;
    let mut tx: Tx = db.begin().await.unwrap();
    let past = e.tp.platform.clock.now().timestamp_millis() - 60_000;
    trellis_kernel::on_tx!(&mut tx, c => sqlx::query(
        "UPDATE engine_runs SET status = $2, lease_owner = 'dead-worker', lease_expires_ms = $3, started_ms = $3 WHERE id = $1")
        .bind(id).bind(status).bind(past).execute(&mut *c).await.map(|_| ())).unwrap();
    trellis_engine::store::step_started(&mut tx, id, 1, step, 1, past)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn an_expired_lease_is_taken_over_and_the_lost_try_counts(b: Backend) {
    let e = env(b, &[("TRELLIS_ENGINE_WORKERS", "false")]).await;
    let mut s = step("work", &[], json!({}));
    s.retry = Some(trellis_engine::model::RetryPolicy {
        max_attempts: 2,
        backoff: Default::default(),
        delay_ms: 10,
        max_delay_ms: None,
        jitter: None,
    });
    let id = e
        .submit(new_run(vec![s, step("then", &["work"], json!({}))]))
        .await;
    orphan(&e, id, "work", "running").await;
    // A second instance with workers on the same database takes it over.
    let probe = e.probe.clone();
    let other = build(&e.tp, &probe, |b| b);
    other.start();
    let run = e.wait_final(id).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.takeovers, 1);
    let rec = e.engine.steps(id).await.unwrap();
    let work = rec.iter().find(|r| r.step_id == "work").unwrap();
    assert_eq!(work.tries, 2, "the lost try counted as the first");
    assert_eq!(e.probe.calls("work"), 1);
    let events = e.engine.events_after(id, 0, 100).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "run.takeover"));
    assert!(
        e.tp.platform
            .metrics
            .render()
            .contains("trellis_engine_lease_takeovers_total{queue=\"test\"} 1")
    );
}

async fn a_lost_try_without_tries_left_fails_the_run(b: Backend) {
    let e = env(b, &[("TRELLIS_ENGINE_WORKERS", "false")]).await;
    let id = e.submit(new_run(vec![step("once", &[], json!({}))])).await;
    orphan(&e, id, "once", "running").await;
    let other = build(&e.tp, &e.probe, |b| b);
    other.start();
    let run = e.wait_final(id).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(
        e.probe.calls("once"),
        0,
        "never run twice beyond its policy"
    );
}

async fn a_cancelling_run_whose_worker_died_ends_cancelled(b: Backend) {
    let e = env(b, &[("TRELLIS_ENGINE_WORKERS", "false")]).await;
    let id = e.submit(new_run(vec![step("s", &[], json!({}))])).await;
    orphan(&e, id, "s", "cancelling").await;
    let other = build(&e.tp, &e.probe, |b| b);
    other.start();
    let run = e.wait_final(id).await;
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(run.interrupted, vec!["s".to_string()]);
}

async fn concurrency_keys_cap_running_runs(b: Backend) {
    let e = env(b, &[]).await;
    let mut tx = e.tp.platform.db.begin().await.unwrap();
    e.engine
        .set_limit(&mut tx, "host:x", Some(2))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..6 {
        let mut r = new_run(vec![step("s", &[], json!({"hold_ms": 150}))]);
        r.limit_keys = vec!["host:x".into()];
        ids.push(e.submit(r).await);
    }
    for id in ids {
        assert_eq!(e.wait_final(id).await.status, RunStatus::Completed);
    }
    assert_eq!(e.probe.max_running.load(Ordering::SeqCst), 2);
}

async fn idempotency_keys_return_the_same_run(b: Backend) {
    let e = env(b, &[]).await;
    let mut r = new_run(vec![step("s", &[], json!({}))]);
    r.idempotency_key = Some("k-1".into());
    let a = e.submit(r.clone()).await;
    r.id = Uuid::now_v7();
    let b2 = e.submit(r.clone()).await;
    assert_eq!(a, b2);
    r.id = Uuid::now_v7();
    r.owner_id = Uuid::now_v7();
    assert_ne!(e.submit(r).await, a, "keys are per owner");
}

async fn the_run_timeout_ends_it_timed_out(b: Backend) {
    let e = env(b, &[]).await;
    let mut r = new_run(vec![step("long", &[], json!({"wait": true}))]);
    r.plan.timeout_seconds = Some(30);
    let id = e.submit(r).await;
    for _ in 0..200 {
        if e.probe.calls("long") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    e.tp.platform.clock.advance(Duration::from_secs(31));
    let run = e.wait_final(id).await;
    assert_eq!(run.status, RunStatus::TimedOut);
    assert_eq!(run.interrupted, vec!["long".to_string()]);
}

struct Starter {
    engine: Mutex<Option<Engine>>,
    fired: AtomicI64,
    /// The params of the started run's one step (default `{}`).
    params: Mutex<Value>,
}

#[async_trait::async_trait]
impl Fire for Starter {
    async fn fire(&self, tx: &mut Tx, s: &Schedule, _now: i64) -> Result<Option<Uuid>, String> {
        self.fired.fetch_add(1, Ordering::SeqCst);
        let engine = self.engine.lock().unwrap().clone().ok_or("no engine")?;
        let params = self.params.lock().unwrap().clone();
        let mut r = new_run(vec![step("tick", &[], params)]);
        r.id = Uuid::now_v7();
        r.schedule_id = Some(s.id);
        r.input = s.input.clone();
        let sub = engine.submit(tx, &r).await.map_err(|e| e.to_string())?;
        Ok(Some(sub.id))
    }
}

async fn a_schedule_fires_once_across_two_engines(b: Backend) {
    let starter = Arc::new(Starter {
        engine: Mutex::new(None),
        fired: AtomicI64::new(0),
        params: Mutex::new(json!({})),
    });
    let s2 = starter.clone();
    let e = env_with(b, &[], move |b| b.schedules(s2)).await;
    *starter.engine.lock().unwrap() = Some(e.engine.clone());
    let s3 = starter.clone();
    let other = build(&e.tp, &e.probe, move |b| b.schedules(s3));
    other.start();
    let mut tx = e.tp.platform.db.begin().await.unwrap();
    let spec = ScheduleSpec {
        timing: Timing::Interval { seconds: 3600 },
        overlap: Overlap::AllowAll,
        catchup_seconds: 60,
        input: json!({"from": "schedule"}),
        max_failures: 0,
    };
    let sid = e
        .engine
        .create_schedule(&mut tx, Uuid::nil(), Uuid::nil(), &spec)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(starter.fired.load(Ordering::SeqCst), 0);
    e.tp.platform.clock.advance(Duration::from_secs(3601));
    for _ in 0..100 {
        if starter.fired.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        starter.fired.load(Ordering::SeqCst),
        1,
        "fired once by two engines"
    );
    let s = e.engine.schedule(sid).await.unwrap().unwrap();
    let run = e.wait_final(s.last_run_id.unwrap()).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.input["from"], "schedule");
    // Paused schedules do not fire; a fire missed beyond the catch-up window is skipped.
    e.engine.set_schedule_paused(sid, true).await.unwrap();
    e.tp.platform.clock.advance(Duration::from_secs(3600 * 3));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(starter.fired.load(Ordering::SeqCst), 1);
    e.engine.set_schedule_paused(sid, false).await.unwrap();
    let s = e.engine.schedule(sid).await.unwrap().unwrap();
    assert!(s.next_fire_ms.unwrap() > e.tp.platform.clock.now().timestamp_millis());
}

struct Collect {
    seen: Mutex<Vec<Uuid>>,
    fail_first: AtomicUsize,
}

#[async_trait::async_trait]
impl OutboxHandler for Collect {
    async fn handle(&self, ev: &OutboxEvent) -> Result<(), String> {
        if self.fail_first.fetch_sub(1, Ordering::SeqCst) > 0 {
            return Err("not yet".into());
        }
        self.seen.lock().unwrap().push(ev.id);
        Ok(())
    }
}

async fn outbox_events_are_delivered_once_and_retried_on_error(b: Backend) {
    let c = Arc::new(Collect {
        seen: Mutex::default(),
        fail_first: AtomicUsize::new(1),
    });
    let c2 = c.clone();
    let e = env_with(b, &[], move |b| b.on("thing.happened", c2)).await;
    let c3 = c.clone();
    let other = build(&e.tp, &e.probe, move |b| b.on("thing.happened", c3));
    other.start();
    let mut tx = e.tp.platform.db.begin().await.unwrap();
    let id = e
        .engine
        .emit(&mut tx, "thing.happened", &json!({"k": 1}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    e.engine.notify();
    // The first delivery fails; the retry waits a second of platform time.
    tokio::time::sleep(Duration::from_millis(700)).await;
    e.tp.platform.clock.advance(Duration::from_secs(2));
    for _ in 0..100 {
        if !c.seen.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(*c.seen.lock().unwrap(), vec![id]);
}

async fn retention_never_prunes_unfinished_runs(b: Backend) {
    let e = env(
        b,
        &[
            ("TRELLIS_ENGINE_RETENTION_DAYS", "1"),
            ("TRELLIS_ENGINE_RETENTION_RUNS", "1"),
        ],
    )
    .await;
    let done1 = e.submit(new_run(vec![step("a", &[], json!({}))])).await;
    e.wait_final(done1).await;
    let done2 = e.submit(new_run(vec![step("a", &[], json!({}))])).await;
    e.wait_final(done2).await;
    let long = e
        .submit(new_run(vec![step("w", &[], json!({"wait": true}))]))
        .await;
    e.wait_for(long, |s| s == RunStatus::Running).await;
    e.tp.platform.clock.advance(Duration::from_secs(3 * 86_400));
    let n = e.engine.prune().await.unwrap();
    assert_eq!(n, 2);
    assert!(e.engine.run(long).await.unwrap().is_some());
    assert!(e.engine.run(done1).await.unwrap().is_none());
    e.engine.cancel(long, "end").await.unwrap();
}

async fn buffer_one_keeps_one_fire_while_busy_and_skip_drops_them(b: Backend) {
    let starter = Arc::new(Starter {
        engine: Mutex::new(None),
        fired: AtomicI64::new(0),
        params: Mutex::new(json!({"wait": true})),
    });
    let s2 = starter.clone();
    let e = env_with(b, &[], move |b| b.schedules(s2)).await;
    *starter.engine.lock().unwrap() = Some(e.engine.clone());
    let fired = || starter.fired.load(Ordering::SeqCst);
    let mut ids = Vec::new();
    for overlap in [Overlap::BufferOne, Overlap::Skip] {
        let mut tx = e.tp.platform.db.begin().await.unwrap();
        let spec = ScheduleSpec {
            timing: Timing::Interval { seconds: 3600 },
            overlap,
            catchup_seconds: 60,
            input: json!({}),
            max_failures: 0,
        };
        ids.push(
            e.engine
                .create_schedule(&mut tx, Uuid::nil(), Uuid::nil(), &spec)
                .await
                .unwrap(),
        );
        tx.commit().await.unwrap();
    }
    // Each due time: advance past it and wait for the tick to handle it.
    let tick = |n: i64| {
        let e = &e;
        let fired = &fired;
        async move {
            e.tp.platform.clock.advance(Duration::from_secs(3601));
            for _ in 0..100 {
                if fired() >= n {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
    };
    tick(2).await;
    assert_eq!(fired(), 2, "both schedules fired once");
    let first: Vec<Uuid> = {
        let mut v = Vec::new();
        for id in &ids {
            v.push(
                e.engine
                    .schedule(*id)
                    .await
                    .unwrap()
                    .unwrap()
                    .last_run_id
                    .unwrap(),
            );
        }
        v
    };
    for r in &first {
        e.wait_for(*r, |s| s == RunStatus::Running).await;
    }
    // Two more due times while both runs still go: nothing starts.
    tick(3).await;
    tick(3).await;
    assert_eq!(
        fired(),
        2,
        "busy: buffer_one keeps one fire, skip drops them"
    );
    // The runs end: only the buffer_one schedule starts its kept fire at once.
    for r in &first {
        e.engine.cancel(*r, "done").await.unwrap();
        e.wait_final(*r).await;
    }
    for _ in 0..100 {
        if fired() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(fired(), 3);
    let buffered = e.engine.schedule(ids[0]).await.unwrap().unwrap();
    assert_ne!(
        buffered.last_run_id,
        Some(first[0]),
        "the kept fire started"
    );
    let skipped = e.engine.schedule(ids[1]).await.unwrap().unwrap();
    assert_eq!(skipped.last_run_id, Some(first[1]));
    e.engine
        .cancel(buffered.last_run_id.unwrap(), "end")
        .await
        .unwrap();
}

async fn a_fire_missed_beyond_the_catch_up_window_is_skipped(b: Backend) {
    let starter = Arc::new(Starter {
        engine: Mutex::new(None),
        fired: AtomicI64::new(0),
        params: Mutex::new(json!({})),
    });
    let s2 = starter.clone();
    let e = env_with(b, &[], move |b| b.schedules(s2)).await;
    *starter.engine.lock().unwrap() = Some(e.engine.clone());
    let mut tx = e.tp.platform.db.begin().await.unwrap();
    let spec = ScheduleSpec {
        timing: Timing::Interval { seconds: 3600 },
        overlap: Overlap::AllowAll,
        catchup_seconds: 60,
        input: json!({}),
        max_failures: 0,
    };
    let sid = e
        .engine
        .create_schedule(&mut tx, Uuid::nil(), Uuid::nil(), &spec)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Down for three periods: the missed times are older than the window and do not fire.
    e.tp.platform
        .clock
        .advance(Duration::from_secs(3 * 3600 + 100));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(starter.fired.load(Ordering::SeqCst), 0);
    let s = e.engine.schedule(sid).await.unwrap().unwrap();
    let now = e.tp.platform.clock.now().timestamp_millis();
    assert!(
        s.next_fire_ms.unwrap() > now,
        "moved to the next time to come"
    );
    // The next time fires as usual (reached a second after it).
    let wait_ms = (s.next_fire_ms.unwrap() - now + 1000) as u64;
    e.tp.platform.clock.advance(Duration::from_millis(wait_ms));
    for _ in 0..100 {
        if starter.fired.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(starter.fired.load(Ordering::SeqCst), 1);
}

/// Many steps of many runs emit at once (the diet planner's streamed tokens): every
/// event is stored once, each run's log stays gap-free, and each caller's answer is the
/// `seq` its own event got.
async fn concurrent_emits_are_gap_free_and_each_caller_gets_its_seq(b: Backend) {
    let e = env(b, &[]).await;
    let per_step = 60u64;
    let mut ids = Vec::new();
    for _ in 0..8 {
        let steps = ["a", "b", "c"]
            .iter()
            .map(|s| step(s, &[], json!({"emit": per_step})))
            .collect();
        ids.push(e.submit(new_run(steps)).await);
    }
    for id in &ids {
        let run = e.wait_final(*id).await;
        assert_eq!(run.status, RunStatus::Completed, "{run:?}");
        let events = e.engine.events_after(*id, 0, 10_000).await.unwrap();
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=events.len() as i64).collect::<Vec<_>>(),
            "gap-free"
        );
        let emitted = e.probe.emitted.lock().unwrap().clone();
        for s in ["a", "b", "c"] {
            let mine: Vec<_> = events
                .iter()
                .filter(|ev| ev.kind == "progress" && ev.step_id.as_deref() == Some(s))
                .collect();
            assert_eq!(mine.len() as u64, per_step, "each event stored once");
            for ev in mine {
                let i = ev.data["i"].as_u64().unwrap();
                assert_eq!(
                    emitted.get(&(*id, s.to_string(), i)),
                    Some(&ev.seq),
                    "the caller of event {i} of step {s} was answered its seq"
                );
            }
        }
    }
}
