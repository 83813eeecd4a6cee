//! Workflow executions (issue 10 §2–3): start one (quota reserved in the same transaction as
//! the enqueue, idempotency keys, the definition's collision policy), cancel, retry, read.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::Value;
use trellis_engine::store::RunFilter;
use trellis_engine::{ControlError, NewRun, RetryFrom, Run, RunStatus, StepRecord, StepStatus};
use trellis_identity::Principal;
use uuid::Uuid;

use crate::domain::definition::{self, CollisionPolicy};
use crate::domain::plans::Meter;
use crate::error::WorkflowError;
use crate::service::definitions::visible;
use crate::service::quota;
use crate::service::subscriptions as subs;
use crate::state::WorkflowState;

/// The engine queue of workflow executions.
pub const QUEUE: &str = "workflow";

/// A time in milliseconds since the epoch as an RFC 3339 value.
pub(crate) fn at(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(|m| Utc.timestamp_millis_opt(m).single())
}

/// An execution as listed.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Execution {
    /// UUID v7.
    pub id: Uuid,
    /// Who started it.
    pub owner_id: Uuid,
    /// The definition it runs.
    pub definition_id: Option<Uuid>,
    /// The definition version it pinned.
    pub definition_version: Option<i64>,
    /// The schedule that started it, if any.
    pub schedule_id: Option<Uuid>,
    /// `pending | queued | running | completed | failed | timed_out | crashed | cancelling | cancelled`.
    pub status: RunStatus,
    /// Why it is in that state.
    pub reason: Option<String>,
    /// The error that ended it.
    pub error: Option<String>,
    /// 1, then +1 per retry.
    pub attempt: i64,
    /// The run input (any JSON).
    pub input: Value,
    /// The idempotency key it was started with.
    pub idempotency_key: Option<String>,
    /// Steps that were running when it was cancelled or timed out.
    pub interrupted_steps: Vec<String>,
    /// Times another worker took it over after its worker was lost.
    pub takeovers: i64,
    /// RFC 3339.
    pub created_at: Option<DateTime<Utc>>,
    /// When it was (last) queued.
    pub queued_at: Option<DateTime<Utc>>,
    /// When a worker started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// `finished_at − started_at` in milliseconds.
    pub duration_ms: Option<i64>,
}

impl From<&Run> for Execution {
    fn from(r: &Run) -> Execution {
        Execution {
            id: r.id,
            owner_id: r.owner_id,
            definition_id: r.subject_id,
            definition_version: r.subject_version,
            schedule_id: r.schedule_id,
            status: r.status,
            reason: r.reason.clone(),
            error: r.error.clone(),
            attempt: r.attempt,
            input: r.input.clone(),
            idempotency_key: r.idempotency_key.clone(),
            interrupted_steps: r.interrupted.clone(),
            takeovers: r.takeovers,
            created_at: at(Some(r.created_ms)),
            queued_at: at(r.queued_ms),
            started_at: at(r.started_ms),
            finished_at: at(r.finished_ms),
            duration_ms: r.started_ms.zip(r.finished_ms).map(|(a, b)| b - a),
        }
    }
}

/// One step's record in one attempt.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct StepView {
    /// The step id.
    pub step_id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The execution attempt this record belongs to.
    pub attempt: i64,
    /// `pending | running | completed | failed | skipped | cancelled | timed_out | reused`.
    pub status: StepStatus,
    /// Tries made in that attempt.
    pub tries: i64,
    /// RFC 3339.
    pub started_at: Option<DateTime<Utc>>,
    /// RFC 3339.
    pub finished_at: Option<DateTime<Utc>>,
    /// Milliseconds.
    pub duration_ms: Option<i64>,
    /// The output (any JSON: a transform's value, an HTTP response `{status, headers, body}`).
    pub output: Option<Value>,
    /// The last error.
    pub error: Option<String>,
    /// Lines the step logged.
    pub logs: Vec<String>,
}

/// One state change of the execution.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Transition {
    /// The event (`run.queued`, `run.started`, `run.cancelling`, `run.completed`, …).
    pub event: String,
    /// The state entered.
    pub status: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// The attempt.
    pub attempt: i64,
    /// When.
    pub at: Option<DateTime<Utc>>,
}

/// An execution with its steps (every attempt), transitions and logs.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ExecutionDetail {
    /// The summary fields.
    #[serde(flatten)]
    pub execution: Execution,
    /// Step records, by attempt then start.
    pub steps: Vec<StepView>,
    /// Every state change, oldest first.
    pub transitions: Vec<Transition>,
    /// The last event's sequence number (resume the SSE stream after it).
    pub last_event_id: i64,
}

/// What starting returned.
pub struct Started {
    /// The execution.
    pub execution: Execution,
    /// False when the idempotency key matched an earlier start.
    pub created: bool,
}

fn control(e: ControlError) -> WorkflowError {
    match e {
        ControlError::NotFound => WorkflowError::NotFound("execution"),
        ControlError::State(m) => WorkflowError::conflict("EXECUTION_STATE", m),
        ControlError::UnknownStep(s) => WorkflowError::field(
            "from_step",
            "unknown_step",
            format!("no step {s:?} in the execution"),
        ),
        ControlError::Store(e) => e.into(),
    }
}

/// The usage event of one attempt of an execution: the execution id for the first, a
/// name-based UUID (v5) of it for later ones, so the finish handler finds it again.
pub fn usage_id(run: Uuid, attempt: i64) -> Uuid {
    if attempt <= 1 {
        run
    } else {
        Uuid::new_v5(&run, format!("attempt-{attempt}").as_bytes())
    }
}

/// The caller's view of a run (404 for another user's).
pub async fn run(s: &WorkflowState, p: &Principal, id: Uuid) -> Result<Run, WorkflowError> {
    s.engine
        .run(id)
        .await?
        .filter(|r| visible(p, r.owner_id))
        .ok_or(WorkflowError::NotFound("execution"))
}

/// Starts an execution of a definition the caller owns.
pub async fn start(
    s: &WorkflowState,
    p: &Principal,
    definition_id: Uuid,
    input: Value,
    key: Option<String>,
) -> Result<Started, WorkflowError> {
    if let Some(k) = &key
        && (k.is_empty() || k.len() > 200 || k.chars().any(char::is_control))
    {
        return Err(WorkflowError::field(
            "idempotency_key",
            "invalid",
            "an idempotency key is 1 to 200 characters without control characters",
        ));
    }
    let def = crate::store::definitions::get(&s.platform.db, definition_id)
        .await?
        .filter(|d| d.owner_id == p.user_id)
        .ok_or_else(|| {
            WorkflowError::field(
                "definition_id",
                "not_found",
                "workflow definition not found",
            )
        })?;
    // Validated when it was saved; compiling its jq programs again would cost milliseconds.
    let plan = definition::to_plan(&def.definition);
    let now = s.platform.clock.now();
    let id = Uuid::now_v7();
    let mut limit_keys = vec![format!("user:{}", p.user_id)];
    let mut refused = None;
    let mut to_cancel = Vec::new();
    let mut tx = s.platform.db.begin().await?;
    if let Some(k) = &key
        && let Some(existing) =
            trellis_engine::store::by_idempotency_key(&mut tx, p.user_id, k).await?
    {
        drop(tx);
        let r = run(s, p, existing).await?;
        return Ok(Started {
            execution: Execution::from(&r),
            created: false,
        });
    }
    // Read in the transaction the reservation below uses too (one read per start).
    let ent = subs::entitlements_tx(&mut tx, p.user_id, now).await?;
    // The user's running limit exists from their first start on; plan changes update it
    // through `subscription.changed` (so starts do not all lock that one row).
    s.engine
        .ensure_limit(&mut tx, &limit_keys[0], ent.concurrent_executions.max(1))
        .await?;
    if let Some(c) = &def.definition.concurrency {
        let key = match &c.key {
            Some(t) => format!(
                "def:{definition_id}:{}",
                crate::runtime::render_key(t, &input)?
            ),
            None => format!("def:{definition_id}"),
        };
        s.engine
            .set_limit(&mut tx, &key, Some(i64::from(c.limit)))
            .await?;
        let active = trellis_engine::store::active_runs_of_subject(&mut tx, definition_id).await?;
        match c.policy {
            CollisionPolicy::Enqueue => {}
            CollisionPolicy::CancelNew if active.len() as u32 >= c.limit => {
                refused = Some(
                    "cancelled: the definition's concurrency limit is reached (cancel_new)"
                        .to_string(),
                );
            }
            CollisionPolicy::CancelNew => {}
            CollisionPolicy::CancelRunning => {
                to_cancel = active.into_iter().map(|(id, _)| id).collect()
            }
        }
        limit_keys.push(key);
    }
    if refused.is_none() {
        quota::reserve(&mut tx, p.user_id, Meter::ExecutionsPerMonth, id, now).await?;
    }
    let new = NewRun {
        id,
        queue: QUEUE.into(),
        owner_id: p.user_id,
        subject_id: Some(definition_id),
        subject_version: Some(def.version),
        schedule_id: None,
        plan,
        input,
        idempotency_key: key.clone(),
        limit_keys,
        refused,
    };
    match s.engine.submit(&mut tx, &new).await {
        Ok(_) => {}
        Err(e) if e.violates("engine_runs_owner_id_idempotency_key_key") => {
            // A concurrent start with the same key won: answer with its execution.
            drop(tx);
            let k = key.unwrap_or_default();
            let mut tx = s.platform.db.begin().await?;
            let existing =
                trellis_engine::store::by_idempotency_key(&mut tx, p.user_id, &k).await?;
            drop(tx);
            let r = run(s, p, existing.ok_or(WorkflowError::NotFound("execution"))?).await?;
            return Ok(Started {
                execution: Execution::from(&r),
                created: false,
            });
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    s.engine.notify();
    tracing::info!(execution_id = %id, definition_id = %definition_id, "workflow: execution started");
    for other in to_cancel {
        if let Err(e) = s
            .engine
            .cancel(other, "cancelled by a newer execution (cancel_running)")
            .await
        {
            tracing::debug!(execution_id = %other, error = %e, "workflow: collision cancel skipped");
        }
    }
    let r = run(s, p, id).await?;
    Ok(Started {
        execution: Execution::from(&r),
        created: true,
    })
}

/// Asks an execution to stop.
pub async fn cancel(
    s: &WorkflowState,
    p: &Principal,
    id: Uuid,
) -> Result<Execution, WorkflowError> {
    run(s, p, id).await?;
    s.engine
        .cancel(id, "cancelled by user")
        .await
        .map_err(control)?;
    Ok(Execution::from(&run(s, p, id).await?))
}

/// Retries a finished execution as its next attempt: from its failed steps (default), from
/// `from_step`, or from the start; on the definition's newest version when asked. A retry
/// is a new execution for the monthly quota.
pub async fn retry(
    s: &WorkflowState,
    p: &Principal,
    id: Uuid,
    from_step: Option<String>,
    from_start: bool,
    latest: bool,
) -> Result<Execution, WorkflowError> {
    let r = run(s, p, id).await?;
    let from = match (from_step, from_start) {
        (Some(step), _) => RetryFrom::Step(step),
        (None, true) => RetryFrom::Start,
        (None, false) => RetryFrom::Failed,
    };
    let plan = match (latest, r.subject_id) {
        (true, Some(def_id)) => {
            let def = crate::store::definitions::get(&s.platform.db, def_id)
                .await?
                .ok_or_else(|| {
                    WorkflowError::conflict(
                        "DEFINITION_DELETED",
                        "the definition was deleted; retry without use_latest_definition",
                    )
                })?;
            Some((definition::to_plan(&def.definition), Some(def.version)))
        }
        _ => None,
    };
    let now = s.platform.clock.now();
    let mut tx = s.platform.db.begin().await?;
    let attempt = s
        .engine
        .retry(&mut tx, id, from, plan)
        .await
        .map_err(control)?;
    quota::reserve(
        &mut tx,
        r.owner_id,
        Meter::ExecutionsPerMonth,
        usage_id(id, attempt),
        now,
    )
    .await?;
    tx.commit().await?;
    s.engine.notify();
    Ok(Execution::from(&run(s, p, id).await?))
}

/// Filters of the execution list.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// One definition's.
    pub definition_id: Option<Uuid>,
    /// One state.
    pub status: Option<RunStatus>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub to: Option<DateTime<Utc>>,
}

/// A page of the caller's executions (everyone's for admins), newest first.
pub async fn list(
    s: &WorkflowState,
    p: &Principal,
    f: ListFilter,
    page: i64,
    page_size: i64,
) -> Result<trellis_identity::admin::Page<Execution>, WorkflowError> {
    if page < 1 || !(1..=100).contains(&page_size) {
        return Err(WorkflowError::field(
            if page < 1 { "page" } else { "page_size" },
            "out_of_range",
            "page is 1 or more and page_size 1 to 100",
        ));
    }
    let size = page_size;
    let filter = RunFilter {
        owner: (!p.role.is_admin()).then_some(p.user_id),
        subject: f.definition_id,
        status: f.status,
        from_ms: f.from.map(|t| t.timestamp_millis()),
        to_ms: f.to.map(|t| t.timestamp_millis()),
    };
    let (runs, total) = s
        .engine
        .list(&filter, size, (page - 1).saturating_mul(size))
        .await?;
    Ok(trellis_identity::admin::Page {
        items: runs.iter().map(Execution::from).collect(),
        total,
        page,
        page_size: size,
        pages: (total + size - 1) / size,
    })
}

/// An execution with its steps, transitions and logs.
pub async fn detail(
    s: &WorkflowState,
    p: &Principal,
    id: Uuid,
) -> Result<ExecutionDetail, WorkflowError> {
    let r = run(s, p, id).await?;
    let records = s.engine.steps(id).await?;
    let events = s.engine.events_after(id, 0, 10_000).await?;
    let mut logs: std::collections::HashMap<(i64, String), Vec<String>> = Default::default();
    let mut transitions = Vec::new();
    for e in &events {
        if e.kind == "step.log"
            && let Some(step) = &e.step_id
        {
            let line = e
                .data
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            logs.entry((e.attempt, step.clone()))
                .or_default()
                .push(line.to_string());
        } else if e.kind.starts_with("run.") {
            transitions.push(Transition {
                event: e.kind.clone(),
                status: e
                    .data
                    .get("status")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                reason: e
                    .data
                    .get("reason")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                attempt: e.attempt,
                at: at(Some(e.at_ms)),
            });
        }
    }
    let kind_of = |step: &str| {
        r.plan
            .steps
            .iter()
            .find(|s| s.id == step)
            .map(|s| s.kind.clone())
            .unwrap_or_default()
    };
    let steps = records
        .into_iter()
        .map(|rec: StepRecord| StepView {
            kind: kind_of(&rec.step_id),
            logs: logs
                .remove(&(rec.attempt, rec.step_id.clone()))
                .unwrap_or_default(),
            attempt: rec.attempt,
            status: rec.status,
            tries: rec.tries,
            started_at: at(rec.started_ms),
            finished_at: at(rec.finished_ms),
            duration_ms: rec.started_ms.zip(rec.finished_ms).map(|(a, b)| b - a),
            output: rec.output,
            error: rec.error,
            step_id: rec.step_id,
        })
        .collect();
    Ok(ExecutionDetail {
        last_event_id: events.last().map_or(0, |e| e.seq),
        execution: Execution::from(&r),
        steps,
        transitions,
    })
}
