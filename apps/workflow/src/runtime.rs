//! The workflow app on the engine: its step kinds (handlers over [`crate::steps`]), its
//! outbox handlers (usage commit on `run.finished`, concurrency limits on
//! `subscription.changed`) and the schedule [`Fire`] that starts scheduled executions.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use trellis_engine::schedule::{Fire, Schedule};
use trellis_engine::{
    Engine, EngineConfig, EngineRef, NewRun, OutboxEvent, OutboxHandler, Registry, StepCtx,
    StepError, StepHandler, StepOutput,
};
use trellis_kernel::Platform;
use trellis_kernel::db::Tx;
use uuid::Uuid;

use crate::collectors::run::Collectors;
use crate::domain::plans::Meter;
use crate::error::WorkflowError;
use crate::proxy::health::Outcome;
use crate::proxy::live::Live;
use crate::service::executions::{QUEUE, usage_id};
use crate::steps::{http, jq, net::StepClient, notify, schema};

/// The largest response body an `http_request` step reads (bytes).
pub const MAX_HTTP_BODY: usize = 5 * 1024 * 1024;

fn fatal(e: impl std::fmt::Display) -> StepError {
    StepError::Fatal(e.to_string())
}

fn failure(f: http::StepFailure) -> StepError {
    if f.retryable {
        StepError::Retryable(f.message)
    } else {
        StepError::Fatal(f.message)
    }
}

/// The data jq programs see: `{input, steps, execution}` (plus `item`/`index` in a
/// `for_each` child).
fn jq_input(ctx: &StepCtx) -> Value {
    ctx.template_context()
}

fn param<'a>(ctx: &'a StepCtx, name: &str) -> Result<&'a str, StepError> {
    ctx.step
        .params
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| fatal(format!("missing parameter {name}")))
}

/// Compiled jq programs by source: compiling costs milliseconds (jaq parses its standard
/// library each time, measured in `steps/jq.rs`), running a small one microseconds.
static PROGRAMS: std::sync::LazyLock<moka::sync::Cache<String, Arc<jq::Program>>> =
    std::sync::LazyLock::new(|| moka::sync::Cache::new(1024));

fn program(code: &str) -> Result<Arc<jq::Program>, StepError> {
    if let Some(p) = PROGRAMS.get(code) {
        return Ok(p);
    }
    let p = Arc::new(jq::Program::compile(code).map_err(fatal)?);
    PROGRAMS.insert(code.to_string(), p.clone());
    Ok(p)
}

/// Runs a jq program of the step on its input, on the blocking pool, within the step's
/// timeout (a program that never ends cannot hold an async worker).
async fn run_jq(ctx: &StepCtx, field: &str) -> Result<Vec<Value>, StepError> {
    let p = program(param(ctx, field)?)?;
    let timeout = Duration::from_secs(ctx.step.timeout_seconds.unwrap_or(30).max(1));
    jq::run_blocking(p, jq_input(ctx), timeout)
        .await
        .map_err(fatal)
}

/// jq's outputs as one value: none → null, one → itself, several → an array.
fn one(mut outputs: Vec<Value>) -> Value {
    match outputs.len() {
        0 => Value::Null,
        1 => outputs.pop().unwrap_or(Value::Null),
        _ => Value::Array(outputs),
    }
}

struct Transform;
#[async_trait::async_trait]
impl StepHandler for Transform {
    async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError> {
        Ok(StepOutput::value(one(run_jq(&ctx, "program").await?)))
    }
    fn pure(&self) -> bool {
        true
    }
}

struct Condition;
#[async_trait::async_trait]
impl StepHandler for Condition {
    async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError> {
        // jq truthiness of the first output: false, null and no output are false.
        let ok = !matches!(
            run_jq(&ctx, "predicate").await?.first(),
            None | Some(Value::Null) | Some(Value::Bool(false))
        );
        Ok(StepOutput {
            output: json!({"result": ok}),
            proceed: ok,
        })
    }
    fn pure(&self) -> bool {
        true
    }
}

fn rendered(ctx: &StepCtx, extra: Option<(&Value, usize)>) -> Result<Value, StepError> {
    let mut tctx = ctx.template_context();
    if let (Some((item, index)), Some(obj)) = (extra, tctx.as_object_mut()) {
        obj.insert("item".into(), item.clone());
        obj.insert("index".into(), json!(index));
    }
    schema::render_params(&ctx.step.kind, &ctx.step.params, &tctx).map_err(fatal)
}

struct Delay;
#[async_trait::async_trait]
impl StepHandler for Delay {
    async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError> {
        let p = rendered(&ctx, None)?;
        let secs = p
            .get("seconds")
            .and_then(|v| {
                v.as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .filter(|s| (0.0..=86_400.0).contains(s))
            .ok_or_else(|| fatal("seconds must be a number from 0 to 86400"))?;
        let until = ctx.clock.now().timestamp_millis() + (secs * 1000.0) as i64;
        if !trellis_engine::sleep_until(&ctx.clock, until, &ctx.cancel).await {
            return Err(fatal("cancelled"));
        }
        Ok(StepOutput::value(json!({"waited_seconds": secs})))
    }
}

struct HttpRequest {
    client: StepClient,
    live: Live,
}

impl HttpRequest {
    /// With `proxy_pool_id`: leases a proxy of the run owner's pool for the URL's host,
    /// sends through the proxy's reused client, and reports the outcome to the pool.
    async fn through_pool(
        &self,
        ctx: &StepCtx,
        pool: Uuid,
        p: http::HttpParams,
    ) -> Result<http::HttpOutput, StepError> {
        let found = crate::store::proxy::pool(&self.live.platform().db, pool)
            .await
            .map_err(|e| StepError::Retryable(e.to_string()))?;
        if found.is_none_or(|x| x.owner_id != ctx.owner_id) {
            return Err(fatal("proxy pool not found"));
        }
        let host = url::Url::parse(&p.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .ok_or_else(|| fatal("invalid URL"))?;
        let (lease, endpoint, version) = self
            .live
            .lease(pool, ctx.owner_id, &host, None)
            .await
            .map_err(|e| StepError::Retryable(format!("proxy pool: {e}")))?;
        let http = self
            .live
            .clients()
            .get(lease.proxy.id, version, &endpoint)
            .map_err(StepError::Retryable)?;
        let client =
            StepClient::with_http(http, self.client.allow_private(), self.client.timeout());
        let started = std::time::Instant::now();
        let result = http::execute(&client, p, MAX_HTTP_BODY).await;
        let latency = started.elapsed().as_millis() as u64;
        let outcome = match &result {
            Ok(out) => {
                let body = match &out.body {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let location = out.headers.get("location").map(String::as_str);
                crate::proxy::probe::classify_response(out.status, location, body.as_bytes())
            }
            Err(f)
                if ["403", "429", "461", "471"]
                    .iter()
                    .any(|c| f.message.starts_with(&format!("HTTP {c}"))) =>
            {
                Outcome::Blocked
            }
            Err(f) if f.retryable => Outcome::Error,
            Err(_) => Outcome::Ok,
        };
        if let Err(e) = self
            .live
            .report(lease.lease_id, None, outcome, Some(latency), None)
            .await
        {
            tracing::debug!(error = %e, "http_request: proxy report failed");
        }
        result.map_err(failure)
    }
}

#[async_trait::async_trait]
impl StepHandler for HttpRequest {
    async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError> {
        let p: http::HttpParams = serde_json::from_value(rendered(&ctx, None)?).map_err(fatal)?;
        let out = tokio::select! {
            r = async {
                match p.proxy_pool_id {
                    Some(pool) => self.through_pool(&ctx, pool, p).await,
                    None => http::execute(&self.client, p, MAX_HTTP_BODY).await.map_err(failure),
                }
            } => r?,
            _ = ctx.cancel.cancelled() => return Err(fatal("cancelled")),
        };
        Ok(StepOutput::value(serde_json::to_value(out).map_err(fatal)?))
    }
}

struct Notify {
    client: StepClient,
    platform: Platform,
}
#[async_trait::async_trait]
impl StepHandler for Notify {
    async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError> {
        let p: notify::NotifyParams =
            serde_json::from_value(rendered(&ctx, None)?).map_err(fatal)?;
        let now = self.platform.clock.now().timestamp();
        let out = notify::execute(&self.client, &self.platform.mailer, p, now)
            .await
            .map_err(failure)?;
        Ok(StepOutput::value(out))
    }
}

/// `for_each {items, step: {type, params}, concurrency}`: runs one child step per item
/// (templates see `item` and `index`), at most `concurrency` at once; the output is the
/// array of the children's outputs, in item order.
struct ForEach;
#[async_trait::async_trait]
impl StepHandler for ForEach {
    async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError> {
        let items = one(run_jq(&ctx, "items").await?);
        let Value::Array(items) = items else {
            return Err(fatal("items must yield an array"));
        };
        if items.len() > 10_000 {
            return Err(fatal("for_each takes at most 10000 items"));
        }
        let child = ctx.step.params.get("step").cloned().unwrap_or(Value::Null);
        let kind = child
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| fatal("for_each.step.type is missing"))?
            .to_string();
        let handler = ctx
            .registry
            .get(&kind)
            .filter(|_| kind != "for_each")
            .ok_or_else(|| fatal(format!("unknown step type {kind}")))?;
        let params = child.get("params").cloned().unwrap_or(json!({}));
        let limit = ctx
            .step
            .params
            .get("concurrency")
            .and_then(Value::as_u64)
            .unwrap_or(4)
            .clamp(1, 32) as usize;
        let runs = items.into_iter().enumerate().map(|(i, item)| {
            let mut c = ctx.clone();
            c.step.kind = kind.clone();
            c.step.params = params.clone();
            let handler = handler.clone();
            async move {
                // The child's params are rendered with `item` and `index` in scope.
                let p = rendered(&c, Some((&item, i)))?;
                c.step.params = p;
                let mut outputs = (*c.outputs).clone();
                outputs.insert("item".into(), item);
                c.outputs = Arc::new(outputs);
                handler.run(c).await.map(|o| o.output)
            }
        });
        let results: Vec<Result<Value, StepError>> =
            futures::stream::iter(runs).buffered(limit).collect().await;
        let mut out = Vec::with_capacity(results.len());
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(v) => out.push(v),
                Err(StepError::Retryable(m)) => {
                    return Err(StepError::Retryable(format!("item {i}: {m}")));
                }
                Err(StepError::Fatal(m)) => return Err(StepError::Fatal(format!("item {i}: {m}"))),
            }
        }
        Ok(StepOutput::value(Value::Array(out)))
    }
}

/// The step kinds of the Workflow Platform.
pub fn registry(
    platform: &Platform,
    client: StepClient,
    collectors: Collectors,
) -> Result<Registry, String> {
    use crate::collectors::qidian_steps as q;
    use crate::collectors::xhs_steps as x;
    let live = collectors.polite.live().clone();
    let xhs = x::Xhs::new(collectors.clone())?;
    Ok(Registry::new(vec![
        ("transform", Arc::new(Transform) as Arc<dyn StepHandler>),
        ("condition", Arc::new(Condition)),
        ("delay", Arc::new(Delay)),
        (
            "http_request",
            Arc::new(HttpRequest {
                client: client.clone(),
                live,
            }),
        ),
        (
            "notify",
            Arc::new(Notify {
                client,
                platform: platform.clone(),
            }),
        ),
        ("for_each", Arc::new(ForEach)),
        ("qidian.book", Arc::new(q::Book(collectors.clone()))),
        ("qidian.catalog", Arc::new(q::Catalog(collectors.clone()))),
        ("qidian.rankings", Arc::new(q::Rankings(collectors.clone()))),
        ("qidian.search", Arc::new(q::Search(collectors))),
        ("xhs.search_notes", Arc::new(x::SearchNotes(xhs.clone()))),
        ("xhs.note_detail", Arc::new(x::NoteDetail(xhs.clone()))),
        ("xhs.comments", Arc::new(x::Comments(xhs.clone()))),
        ("xhs.creator_notes", Arc::new(x::CreatorNotes(xhs))),
    ]))
}

/// `run.finished`: counts the execution's reserved unit, or gives it back when the
/// execution was cancelled before it started (idempotent: a usage event settles once).
struct SettleUsage {
    platform: Platform,
    client: StepClient,
}

#[async_trait::async_trait]
impl OutboxHandler for SettleUsage {
    async fn handle(&self, ev: &OutboxEvent) -> Result<(), String> {
        self.handle_batch(std::slice::from_ref(ev))
            .await
            .pop()
            .unwrap_or(Ok(()))
    }

    /// Settles every event's usage unit in one transaction, then sends the failure
    /// notifications one by one.
    async fn handle_batch(&self, events: &[OutboxEvent]) -> Vec<Result<(), String>> {
        let parsed: Vec<Option<(Uuid, i64, bool, bool)>> = events
            .iter()
            .map(|ev| {
                let p = &ev.payload;
                let run = p
                    .get("run_id")
                    .and_then(Value::as_str)
                    .and_then(|s| Uuid::parse_str(s).ok())?;
                let attempt = p.get("attempt").and_then(Value::as_i64).unwrap_or(1);
                let started = p.get("started").and_then(Value::as_bool).unwrap_or(true);
                let failed = matches!(
                    p.get("status").and_then(Value::as_str),
                    Some("failed" | "timed_out" | "crashed")
                );
                Some((run, attempt, started, failed))
            })
            .collect();
        let now = self.platform.clock.now();
        let settled = async {
            let mut tx = self.platform.db.begin().await?;
            for (run, attempt, started, _) in parsed.iter().flatten() {
                let usage = usage_id(*run, *attempt);
                if *started {
                    crate::service::quota::commit(&mut tx, usage, now).await?;
                } else {
                    crate::service::quota::release(&mut tx, usage, now).await?;
                }
            }
            tx.commit().await
        }
        .await;
        let mut out = Vec::with_capacity(events.len());
        for item in &parsed {
            out.push(match (item, &settled) {
                (None, _) => Err("run.finished without run_id".to_string()),
                (_, Err(e)) => Err(e.to_string()),
                (Some((run, _, _, true)), Ok(())) => self.notify_failure(*run).await,
                (Some(_), Ok(())) => Ok(()),
            });
        }
        out
    }
}

impl SettleUsage {
    /// `execution.failed` → the definition's `on_failure` notification (the version the
    /// execution ran). At least once: a failed send is retried with the event.
    async fn notify_failure(&self, run: Uuid) -> Result<(), String> {
        let db = &self.platform.db;
        let Some(r) = trellis_engine::store::run(db, run)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        let (Some(def), Some(version)) = (r.subject_id, r.subject_version) else {
            return Ok(());
        };
        let body = crate::store::definitions::version(db, def, version)
            .await
            .map_err(|e| e.to_string())?;
        let Some(params) = body.and_then(|b| b.on_failure) else {
            return Ok(());
        };
        let ctx = json!({
            "input": r.input,
            "execution": {"id": r.id, "status": r.status.as_str(), "reason": r.reason, "error": r.error, "attempt": r.attempt},
        });
        let rendered = schema::render_params("notify", &params, &ctx)?;
        let p: notify::NotifyParams =
            serde_json::from_value(rendered).map_err(|e| e.to_string())?;
        let now = self.platform.clock.now().timestamp();
        match notify::execute(&self.client, &self.platform.mailer, p, now).await {
            Ok(_) => Ok(()),
            // A permanent failure (bad address, 4xx) would fail every redelivery too.
            Err(f) if !f.retryable => {
                tracing::warn!(execution_id = %run, error = %f, "workflow: failure notification refused");
                Ok(())
            }
            Err(f) => Err(f.message),
        }
    }
}

/// `subscription.changed`: the user's `concurrent_executions` becomes their running limit.
struct UpdateLimits {
    platform: Platform,
    engine: EngineRef,
}

#[async_trait::async_trait]
impl OutboxHandler for UpdateLimits {
    async fn handle(&self, ev: &OutboxEvent) -> Result<(), String> {
        let user = ev
            .payload
            .get("user_id")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or("subscription.changed without user_id")?;
        let engine = self.engine.get().ok_or("engine not ready")?;
        let ent = crate::service::subscriptions::entitlements(
            &self.platform.db,
            user,
            self.platform.clock.now(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let mut tx = self.platform.db.begin().await.map_err(|e| e.to_string())?;
        engine
            .set_limit(
                &mut tx,
                &format!("user:{user}"),
                Some(ent.concurrent_executions.max(1)),
            )
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        engine.notify();
        Ok(())
    }
}

/// Starts the execution of a due schedule: the definition's current version, the
/// schedule's input, one unit of the monthly quota (a schedule over quota skips the fire).
struct StartScheduled {
    platform: Platform,
    engine: EngineRef,
}

#[async_trait::async_trait]
impl Fire for StartScheduled {
    async fn fire(&self, tx: &mut Tx, s: &Schedule, _now: i64) -> Result<Option<Uuid>, String> {
        let engine = self.engine.get().ok_or("engine not ready")?;
        let Some(def) = crate::store::definitions::get_in(tx, s.subject_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let plan = crate::domain::definition::to_plan(&def.definition);
        let id = Uuid::now_v7();
        let now = self.platform.clock.now();
        match crate::service::quota::reserve(tx, s.owner_id, Meter::ExecutionsPerMonth, id, now)
            .await
        {
            Ok(()) => {}
            Err(WorkflowError::QuotaExceeded { .. }) => {
                return Err("monthly execution quota used up".into());
            }
            Err(e) => return Err(e.to_string()),
        }
        let run = NewRun {
            id,
            queue: QUEUE.into(),
            owner_id: s.owner_id,
            subject_id: Some(def.id),
            subject_version: Some(def.version),
            schedule_id: Some(s.id),
            plan,
            input: s.input.clone(),
            idempotency_key: None,
            limit_keys: vec![format!("user:{}", s.owner_id)],
            refused: None,
        };
        engine.submit(tx, &run).await.map_err(|e| e.to_string())?;
        Ok(Some(id))
    }
}

/// Step types as the definition validator sees them: registered kinds, checked against
/// their JSON Schemas.
pub struct StepTypesOf(pub Registry);

impl crate::domain::definition::StepTypes for StepTypesOf {
    fn known(&self, kind: &str) -> bool {
        self.0.has(kind)
    }
    fn check(&self, kind: &str, params: &Value) -> Result<(), Vec<String>> {
        schema::validate(kind, params)
    }
}

/// Builds and starts the workflow engine.
pub fn start_engine(
    platform: &Platform,
    allow_private: bool,
    collectors: Collectors,
) -> Result<Engine, String> {
    let cfg = EngineConfig::from_vars(QUEUE, &platform.config.vars).map_err(|e| e.join("; "))?;
    let client = crate::steps::net::client(allow_private, Duration::from_secs(300))?;
    let cell = EngineRef::default();
    let engine = Engine::builder(
        platform,
        cfg,
        registry(platform, client.clone(), collectors)?,
    )
    .on(
        "run.finished",
        Arc::new(SettleUsage {
            platform: platform.clone(),
            client: client.clone(),
        }),
    )
    .on(
        "subscription.changed",
        Arc::new(UpdateLimits {
            platform: platform.clone(),
            engine: cell.clone(),
        }),
    )
    .schedules(Arc::new(StartScheduled {
        platform: platform.clone(),
        engine: cell.clone(),
    }))
    .build();
    cell.set(&engine);
    engine.start();
    if engine.config().workers {
        platform
            .tasks
            .spawn(free_plan_for_new_accounts(platform.clone()));
    }
    Ok(engine)
}

/// `user.registered` → Free: identity writes the account (and its audit row) in its own
/// transaction, knowing no app; this handler finds accounts without a subscription every
/// 5 s and puts each on Free (idempotent, so several instances may race harmlessly). The
/// subscription endpoints and quota checks do the same lazily for an account they meet
/// first, so nothing depends on this pass having run.
async fn free_plan_for_new_accounts(platform: Platform) {
    let token = platform.tasks.token();
    loop {
        match crate::store::subscriptions::users_without_subscription(&platform.db, 500).await {
            Ok(users) => {
                for user in users {
                    let now = platform.clock.now();
                    let done = async {
                        let mut tx = platform.db.begin().await?;
                        crate::service::subscriptions::on_user_registered(&mut tx, user, now)
                            .await?;
                        tx.commit().await
                    }
                    .await;
                    if let Err(e) = done {
                        tracing::warn!(user_id = %user, error = %e, "workflow: free plan for a new account failed");
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "workflow: new-account pass failed"),
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Renders a definition's concurrency key template over the start input.
pub fn render_key(template: &str, input: &Value) -> Result<String, WorkflowError> {
    let out = crate::steps::template::render(
        &Value::String(template.to_string()),
        &json!({"input": input}),
    )
    .map_err(|e| {
        WorkflowError::field(
            "input",
            "concurrency_key",
            format!("the definition's concurrency key cannot be rendered: {e}"),
        )
    })?;
    Ok(match out {
        Value::String(s) => s,
        other => other.to_string(),
    })
}
