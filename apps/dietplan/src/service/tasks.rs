//! Plan tasks: creation (the task row and its engine run in one transaction, with the
//! per-user cap on active tasks and `Idempotency-Key`), reading (with the engine's view of
//! the nodes and the LLM usage), the result, and cancellation.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trellis_engine::{ControlError, NewRun, RunStatus};
use trellis_identity::Principal;
use trellis_kernel::error::FieldError;
use uuid::Uuid;

use crate::error::DietError;
use crate::nutrition::{self, Species};
use crate::pipeline;
use crate::service::pets::{self as pet_svc, check_foods};
use crate::state::DietState;
use crate::store::tasks::{self, NewTask, Task, TaskStatus};
use crate::store::{pets, usage};

/// `POST /plans` and `POST /plans/stream`: a stored pet (`pet_id`, with optional
/// `food_preferences` and `vet_confirmed` for this plan) or the seed's inline pet info
/// (`pet_type`, `pet_breed`, `pet_age` in months, `pet_weight` in kg, `health_status`, plus
/// the optional profile fields).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = DietPlanRequest)]
pub struct PlanRequest {
    /// A stored pet of the caller.
    pub pet_id: Option<Uuid>,
    /// Foods to prefer in this plan (replaces the pet's list).
    pub food_preferences: Option<Vec<String>>,
    /// Foods to avoid in this plan (replaces the pet's list).
    pub allergies: Option<Vec<String>>,
    /// A veterinarian confirmed the health notes.
    pub vet_confirmed: Option<bool>,
    /// Inline: `cat` or `dog`.
    pub pet_type: Option<String>,
    /// Inline: breed.
    pub pet_breed: Option<String>,
    /// Inline: age in months (1–360).
    pub pet_age: Option<f64>,
    /// Inline: weight in kg (0.1–200).
    pub pet_weight: Option<f64>,
    /// Inline: health notes.
    pub health_status: Option<String>,
    /// Inline: neutered (default false).
    pub neutered: Option<bool>,
    /// Inline: `low|moderate|high|working`.
    pub activity_level: Option<String>,
    /// Inline: 1–9.
    pub body_condition_score: Option<i64>,
}

/// What creation answers (`202` with `task_id`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietTaskCreated)]
pub struct Created {
    /// The task (and its engine run).
    pub task_id: Uuid,
    /// `pending` for a new task; the earlier task's status for a repeated `Idempotency-Key`.
    pub status: TaskStatus,
    /// Where to follow it: `/api/v1/plans/stream?task_id=…`.
    pub stream_url: String,
    /// True when the `Idempotency-Key` matched an earlier task (nothing new was created).
    pub existing: bool,
}

/// A node of a task as the engine recorded it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietNodeView)]
pub struct NodeView {
    /// `assess`, `week_1` …
    pub node: String,
    /// `pending|running|completed|failed|skipped|…` (the engine's step status).
    pub status: String,
    /// Tries in the task's last attempt (2 after a restart interrupted the node).
    pub tries: i64,
    /// RFC 3339.
    pub started_at: Option<String>,
    /// RFC 3339.
    pub finished_at: Option<String>,
}

/// LLM tokens and cost of one node.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietUsageView)]
pub struct UsageView {
    /// The node.
    pub node: String,
    /// The provider that answered.
    pub provider: String,
    /// Its model.
    pub model: String,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// Estimated USD.
    pub cost_usd: f64,
}

/// A task with its nodes and LLM usage (`GET /tasks/{id}`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietTaskView)]
pub struct TaskView {
    /// The task row.
    #[serde(flatten)]
    pub task: Task,
    /// The pipeline's nodes.
    pub nodes: Vec<NodeView>,
    /// LLM usage per call.
    pub llm_usage: Vec<UsageView>,
}

fn inline_pet(r: &PlanRequest) -> Result<nutrition::Pet, DietError> {
    let body = pet_svc::PetBody {
        name: Some("pet".into()),
        species: r.pet_type.clone(),
        breed: r.pet_breed.clone(),
        age_months: r.pet_age.map(|a| a.round() as i64),
        weight_kg: r.pet_weight,
        gender: None,
        neutered: r.neutered,
        activity_level: r.activity_level.clone(),
        body_condition_score: r.body_condition_score,
        health_notes: r.health_status.clone(),
        vet_confirmed: r.vet_confirmed,
        allergies: r.allergies.clone(),
        food_preferences: r.food_preferences.clone(),
    };
    let pet = pet_svc::merge(None, body, Uuid::nil(), chrono::Utc::now()).map_err(|e| match e {
        // Name the seed's fields, not the pet resource's.
        DietError::Fields(fs) => DietError::Fields(
            fs.into_iter()
                .map(|mut f| {
                    f.field = match f.field.as_str() {
                        "type" => "pet_type".into(),
                        "age_months" => "pet_age".into(),
                        "weight_kg" => "pet_weight".into(),
                        "breed" => "pet_breed".into(),
                        "health_notes" => "health_status".into(),
                        other => other.to_string(),
                    };
                    f
                })
                .collect(),
        ),
        other => other,
    })?;
    Ok(pet_svc::profile(&pet))
}

/// The pet profile a request describes (a stored pet with this plan's overrides, or the
/// inline info), checked, and the pet id.
async fn profile_of(
    s: &DietState,
    p: &Principal,
    r: &PlanRequest,
) -> Result<(nutrition::Pet, Option<Uuid>), DietError> {
    let (mut pet, id) = match r.pet_id {
        Some(id) => {
            let stored = pets::get(&s.platform.db, p.user_id, id)
                .await?
                .ok_or_else(DietError::pet_not_found)?;
            (pet_svc::profile(&stored), Some(id))
        }
        None => (inline_pet(r)?, None),
    };
    if id.is_some() {
        let mut errs: Vec<FieldError> = Vec::new();
        if let Some(f) = &r.food_preferences {
            check_foods("food_preferences", f, pet.species, &mut errs);
            pet.food_preferences = f.iter().map(|x| x.trim().to_string()).collect();
        }
        if let Some(a) = &r.allergies {
            check_foods("allergies", a, pet.species, &mut errs);
            pet.allergies = a.iter().map(|x| x.trim().to_string()).collect();
        }
        if let Some(v) = r.vet_confirmed {
            pet.vet_confirmed = v;
        }
        if !errs.is_empty() {
            return Err(DietError::Fields(errs));
        }
    }
    // Refuse now what the engine would refuse (a referral to a veterinarian, no safe food).
    nutrition::assess(&pet).map_err(|r| DietError::field("pet", r.code, r.message))?;
    Ok((pet, id))
}

/// Checks an `Idempotency-Key` (1–200 visible ASCII characters).
pub fn idempotency_key(v: Option<&str>) -> Result<Option<String>, DietError> {
    match v {
        None => Ok(None),
        Some(k) if !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k.to_string()))
        }
        Some(_) => Err(DietError::field(
            "Idempotency-Key",
            "invalid",
            "Idempotency-Key has 1 to 200 visible ASCII characters",
        )),
    }
}

/// Creates a plan task (or finds the one an earlier request with the same key created).
pub async fn create(
    s: &DietState,
    p: &Principal,
    r: &PlanRequest,
    key: Option<String>,
) -> Result<Created, DietError> {
    let (pet, pet_id) = profile_of(s, p, r).await?;
    let now = s.platform.clock.now();
    let with_narrative = s.llm.is_some();
    let input = json!({"pet": pet, "pet_id": pet_id, "with_narrative": with_narrative});
    let id = Uuid::now_v7();
    let mut tx = s.platform.db.begin().await?;
    tasks::lock_user(&mut tx, p.user_id, now).await?;
    if let Some(k) = &key
        && let Some(existing) = tasks::by_idempotency_key(&mut tx, p.user_id, k).await?
    {
        tx.commit().await?;
        let t = get(s, p, existing).await?;
        return Ok(created(t.id, t.status, true));
    }
    let active = tasks::count_active(&mut tx, p.user_id).await?;
    if active >= s.settings.max_active_tasks {
        return Err(DietError::Limited {
            code: "too_many_active_tasks",
            message: format!(
                "同时进行的任务最多 {} 个，请等待已有任务完成 (at most {} active tasks)",
                s.settings.max_active_tasks, s.settings.max_active_tasks
            ),
            retry_after: Some(5),
        });
    }
    tasks::insert(
        &mut tx,
        &NewTask {
            id,
            user_id: p.user_id,
            pet_id,
            input: &input,
            idempotency_key: key.as_deref(),
            now,
        },
    )
    .await?;
    s.engine
        .submit(
            &mut tx,
            &NewRun {
                id,
                queue: pipeline::QUEUE.to_string(),
                owner_id: p.user_id,
                subject_id: pet_id,
                subject_version: None,
                schedule_id: None,
                plan: pipeline::plan(with_narrative),
                input,
                idempotency_key: key.map(|k| format!("{}:{k}", p.user_id)),
                limit_keys: Vec::new(),
                refused: None,
            },
        )
        .await?;
    tx.commit().await?;
    s.engine.notify();
    tracing::info!(task_id = %id, user_id = %p.user_id, "dietplan: plan task created");
    Ok(created(id, TaskStatus::Pending, false))
}

fn created(id: Uuid, status: TaskStatus, existing: bool) -> Created {
    Created {
        task_id: id,
        status,
        stream_url: format!("/api/v1/plans/stream?task_id={id}"),
        existing,
    }
}

/// The caller's task with the engine's final state folded in (the outbox settles the row a
/// moment after the run ends; readers never see the gap).
pub async fn get(s: &DietState, p: &Principal, id: Uuid) -> Result<Task, DietError> {
    Ok(get_with_run(s, p, id).await?.0)
}

/// The caller's task (404 otherwise) with the engine run behind it (`None` once the run's
/// history has expired), read once each; the task's status is the run's when the run
/// ended but the task row is not settled yet.
pub async fn get_with_run(
    s: &DietState,
    p: &Principal,
    id: Uuid,
) -> Result<(Task, Option<trellis_engine::Run>), DietError> {
    let mut t = tasks::get(&s.platform.db, p.user_id, id)
        .await?
        .ok_or_else(DietError::task_not_found)?;
    let run = s.engine.run(t.id).await?;
    if let Some(run) = &run {
        overlay(s, &mut t, run).await;
    }
    Ok((t, run))
}

async fn overlay(s: &DietState, t: &mut Task, run: &trellis_engine::Run) {
    if t.status == TaskStatus::Completed && !run.status.is_final() {
        // `finalize` stores the plan and completes the row in its transaction; the engine
        // records the node's end a moment later. Until then the task is still running, so its
        // status, its nodes and its stream agree (a reader never sees "completed" with
        // `finalize` still running).
        t.status = TaskStatus::Running;
        t.progress = t.progress.min(99);
        t.plan_id = None;
        t.output_data = None;
        t.completed_at = None;
        return;
    }
    if t.status.is_final() {
        return;
    }
    let (status, error) = match run.status {
        RunStatus::Cancelled => (TaskStatus::Cancelled, "任务已取消 (cancelled)".to_string()),
        RunStatus::Failed | RunStatus::TimedOut | RunStatus::Crashed => (
            TaskStatus::Failed,
            run.error
                .clone()
                .or_else(|| run.reason.clone())
                .unwrap_or_else(|| "任务失败 (failed)".into()),
        ),
        _ => return,
    };
    t.status = status;
    t.error_message = Some(error);
    t.output_data = Some(pipeline::partial_output(&s.engine, t.id).await);
    t.completed_at = run
        .finished_ms
        .and_then(chrono::DateTime::from_timestamp_millis);
}

/// The task with its nodes and LLM usage.
pub async fn view(s: &DietState, p: &Principal, id: Uuid) -> Result<TaskView, DietError> {
    let task = get(s, p, id).await?;
    let steps = s.engine.steps(id).await?;
    let last = steps.iter().map(|r| r.attempt).max().unwrap_or(1);
    let at = |ms: Option<i64>| ms.map(crate::stream::frames::rfc3339);
    let nodes = steps
        .into_iter()
        .filter(|r| r.attempt == last)
        .map(|r| NodeView {
            node: r.step_id,
            status: r.status.as_str().to_string(),
            tries: r.tries,
            started_at: at(r.started_ms),
            finished_at: at(r.finished_ms),
        })
        .collect();
    let llm_usage = usage::of_task(&s.platform.db, id)
        .await?
        .into_iter()
        .map(
            |(node, provider, model, prompt_tokens, completion_tokens, cost_usd)| UsageView {
                node,
                provider,
                model,
                prompt_tokens,
                completion_tokens,
                cost_usd,
            },
        )
        .collect();
    Ok(TaskView {
        task,
        nodes,
        llm_usage,
    })
}

/// The completed task's output (`{plan_id, plan_data}`); 409 until it completes.
pub async fn result(s: &DietState, p: &Principal, id: Uuid) -> Result<Value, DietError> {
    let t = get(s, p, id).await?;
    match (t.status, t.output_data) {
        (TaskStatus::Completed, Some(out)) => Ok(out),
        (status, _) => Err(DietError::conflict(
            "task_not_completed",
            format!(
                "任务尚未完成，当前状态 {} (the task is {})",
                status.as_str(),
                status.as_str()
            ),
        )),
    }
}

/// Cancels the task: the running node and any upstream LLM request stop at once; the
/// completed nodes' outputs are kept as partial output. Waits (≤ 3 s) for the engine to
/// finish it so the answer shows `cancelled`. A finished task answers 409.
pub async fn cancel(s: &DietState, p: &Principal, id: Uuid) -> Result<Task, DietError> {
    let t = get(s, p, id).await?;
    if t.status.is_final() {
        return Err(DietError::conflict(
            "task_finished",
            format!(
                "任务已{}，无法取消 (the task is already {})",
                t.status.as_str(),
                t.status.as_str()
            ),
        ));
    }
    match s.engine.cancel(id, "cancelled by the user").await {
        Ok(_) => {}
        Err(ControlError::NotFound) => return Err(DietError::task_not_found()),
        Err(ControlError::State(m)) => return Err(DietError::conflict("task_finished", m)),
        Err(ControlError::UnknownStep(m)) => return Err(DietError::conflict("task_finished", m)),
        Err(ControlError::Store(e)) => return Err(e.into()),
    }
    for _ in 0..60 {
        match s.engine.run(id).await? {
            Some(r) if r.status.is_final() => break,
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let mut t = get(s, p, id).await?;
    if t.status == TaskStatus::Cancelled {
        let partial = t.output_data.clone().unwrap_or(json!({"partial": {}}));
        let error = t.error_message.clone().unwrap_or_default();
        tasks::finish(
            &s.platform.db,
            id,
            TaskStatus::Cancelled,
            &error,
            &partial,
            s.platform.clock.now(),
        )
        .await?;
        t = get(s, p, id).await?;
    }
    Ok(t)
}

/// The species name as the seed spells it.
pub fn species_name(s: Species) -> &'static str {
    match s {
        Species::Cat => "cat",
        Species::Dog => "dog",
    }
}
