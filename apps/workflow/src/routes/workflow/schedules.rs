//! `/api/v1/workflow/schedules*`: cron (5 or 6 fields, in a time zone) or interval
//! schedules that start executions of a definition, with an overlap policy, a catch-up
//! window, pause/resume and a pause after consecutive failures (issue 10 §1–2).

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trellis_engine::schedule::{Overlap, Schedule, ScheduleSpec, Timing};
use trellis_identity::Principal;
use trellis_kernel::extract::{Json, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::Deleted;
use crate::domain::plans::Meter;
use crate::envelope::{Done, Reply};
use crate::error::WorkflowError;
use crate::service::definitions::visible;
use crate::service::executions::at;
use crate::state::WorkflowState;

pub fn router() -> OpenApiRouter<WorkflowState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update, delete))
        .routes(routes!(pause))
        .routes(routes!(resume))
}

/// A schedule as shown.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    /// UUID v7.
    pub id: Uuid,
    /// The definition it starts.
    pub definition_id: Uuid,
    /// Cron expression (5 fields, or 6 with seconds first), if cron-timed.
    pub cron: Option<String>,
    /// Period in seconds, if interval-timed.
    pub interval_seconds: Option<i64>,
    /// IANA zone the cron expression is read in.
    pub timezone: String,
    /// `skip | buffer_one | allow_all`.
    pub overlap: Overlap,
    /// Missed fires older than this are skipped (seconds).
    pub catchup_seconds: i64,
    /// Input of each execution (any JSON).
    pub input: Value,
    /// Paused schedules do not fire.
    pub paused: bool,
    /// Why the engine paused it, if it did.
    pub pause_reason: Option<String>,
    /// Pause after this many consecutive failures (0: never).
    pub max_failures: i64,
    /// Failed executions in a row.
    pub consecutive_failures: i64,
    /// Next fire (RFC 3339).
    pub next_fire_at: Option<DateTime<Utc>>,
    /// Last fire.
    pub last_fire_at: Option<DateTime<Utc>>,
    /// The execution the last fire started.
    pub last_execution_id: Option<Uuid>,
    /// RFC 3339.
    pub created_at: Option<DateTime<Utc>>,
}

impl From<Schedule> for ScheduleView {
    fn from(s: Schedule) -> Self {
        ScheduleView {
            id: s.id,
            definition_id: s.subject_id,
            cron: s.cron,
            interval_seconds: s.interval_seconds,
            timezone: s.timezone,
            overlap: s.overlap,
            catchup_seconds: s.catchup_seconds,
            input: s.input,
            paused: s.paused,
            pause_reason: s.pause_reason,
            max_failures: s.max_failures,
            consecutive_failures: s.consecutive_failures,
            next_fire_at: at(s.next_fire_ms),
            last_fire_at: at(s.last_fire_ms),
            last_execution_id: s.last_run_id,
            created_at: at(Some(s.created_ms)),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ScheduleBody {
    /// A definition the caller owns (required on create; ignored on update).
    pub definition_id: Option<Uuid>,
    /// Cron expression, 5 fields (or 6 with seconds first). Exactly one of `cron` and
    /// `interval_seconds`.
    pub cron: Option<String>,
    /// Period in seconds (≥ 1).
    #[schema(minimum = 1)]
    pub interval_seconds: Option<i64>,
    /// IANA zone for `cron` (default `UTC`).
    pub timezone: Option<String>,
    /// `skip` (default), `buffer_one` or `allow_all`.
    pub overlap: Option<Overlap>,
    /// Catch-up window in seconds (default 60, 0 to 86,400).
    #[schema(minimum = 0, maximum = 86400)]
    pub catchup_seconds: Option<i64>,
    /// Input of each execution (any JSON; default `{}`).
    pub input: Option<Value>,
    /// Pause after this many consecutive failures (default 3; 0: never).
    #[schema(minimum = 0, maximum = 1000)]
    pub max_failures: Option<i64>,
}

fn spec(b: &ScheduleBody) -> Result<ScheduleSpec, WorkflowError> {
    let mut errs = Vec::new();
    let timing = match (&b.cron, b.interval_seconds) {
        (Some(c), None) => Timing::Cron {
            expr: c.trim().to_string(),
            timezone: b.timezone.clone().unwrap_or_else(|| "UTC".into()),
        },
        (None, Some(n)) => Timing::Interval { seconds: n },
        _ => {
            return Err(WorkflowError::field(
                "cron",
                "one_of",
                "give exactly one of cron and interval_seconds",
            ));
        }
    };
    if let Err(m) = timing.validate() {
        let field = if matches!(timing, Timing::Interval { .. }) {
            "interval_seconds"
        } else if m.contains("zone") {
            "timezone"
        } else {
            "cron"
        };
        errs.push(trellis_kernel::error::FieldError::new(field, "invalid", m));
    }
    let catchup = b.catchup_seconds.unwrap_or(60);
    if !(0..=86_400).contains(&catchup) {
        errs.push(trellis_kernel::error::FieldError::new(
            "catchup_seconds",
            "out_of_range",
            "catchup_seconds must be 0 to 86400",
        ));
    }
    let max_failures = b.max_failures.unwrap_or(3);
    if !(0..=1000).contains(&max_failures) {
        errs.push(trellis_kernel::error::FieldError::new(
            "max_failures",
            "out_of_range",
            "max_failures must be 0 to 1000",
        ));
    }
    if !errs.is_empty() {
        return Err(WorkflowError::Fields(errs));
    }
    Ok(ScheduleSpec {
        timing,
        overlap: b.overlap.unwrap_or_default(),
        catchup_seconds: catchup,
        input: b
            .input
            .clone()
            .unwrap_or_else(|| Value::Object(Default::default())),
        max_failures,
    })
}

async fn owned(s: &WorkflowState, p: &Principal, id: Uuid) -> Result<Schedule, WorkflowError> {
    s.engine
        .schedule(id)
        .await?
        .filter(|x| visible(p, x.owner_id))
        .ok_or(WorkflowError::NotFound("schedule"))
}

/// The caller's schedules (everyone's for admins).
#[utoipa::path(get, path = "/api/v1/workflow/schedules", tag = "workflow",
    responses((status = 200, body = Vec<ScheduleView>)), security(("bearer" = [])))]
async fn list(State(s): State<WorkflowState>, p: Principal) -> Reply<Vec<ScheduleView>> {
    let owner = (!p.role.is_admin()).then_some(p.user_id);
    let list = s
        .engine
        .schedules(owner)
        .await
        .map_err(WorkflowError::from)?;
    Ok(Done::ok(
        list.into_iter().map(ScheduleView::from).collect(),
        "获取成功",
    ))
}

/// Create a schedule. 402 when the plan's `schedules` are used up.
#[utoipa::path(post, path = "/api/v1/workflow/schedules", tag = "workflow", request_body = ScheduleBody,
    responses((status = 201, body = ScheduleView), (status = 402, description = "Plan limit reached"), (status = 422, description = "Invalid schedule")),
    security(("bearer" = [])))]
pub(crate) async fn create(
    State(s): State<WorkflowState>,
    p: Principal,
    Json(b): Json<ScheduleBody>,
) -> Reply<ScheduleView> {
    let def_id = b.definition_id.ok_or_else(|| {
        WorkflowError::field("definition_id", "required", "definition_id is required")
    })?;
    let spec = spec(&b)?;
    crate::store::definitions::get(&s.platform.db, def_id)
        .await
        .map_err(WorkflowError::from)?
        .filter(|d| d.owner_id == p.user_id)
        .ok_or_else(|| {
            WorkflowError::field(
                "definition_id",
                "not_found",
                "workflow definition not found",
            )
        })?;
    let now = s.platform.clock.now();
    let ent = crate::service::subscriptions::entitlements(&s.platform.db, p.user_id, now)
        .await
        .map_err(WorkflowError::from)?;
    let mut tx = s.platform.db.begin().await.map_err(WorkflowError::from)?;
    let n = trellis_engine::Engine::count_schedules(&s.platform.db, s.engine.queue(), p.user_id)
        .await
        .map_err(WorkflowError::from)?;
    crate::service::quota::check_count(&ent, Meter::Schedules, n)?;
    let id = s
        .engine
        .create_schedule(&mut tx, p.user_id, def_id, &spec)
        .await
        .map_err(WorkflowError::from)?;
    tx.commit().await.map_err(WorkflowError::from)?;
    Ok(Done::created(owned(&s, &p, id).await?.into(), "调度已创建"))
}

/// Replace a schedule's timing, policies and input (its definition stays).
#[utoipa::path(put, path = "/api/v1/workflow/schedules/{id}", tag = "workflow", request_body = ScheduleBody,
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses((status = 200, body = ScheduleView), (status = 404, description = "Not found"), (status = 422, description = "Invalid schedule")),
    security(("bearer" = [])))]
async fn update(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(b): Json<ScheduleBody>,
) -> Reply<ScheduleView> {
    owned(&s, &p, id).await?;
    let spec = spec(&b)?;
    let mut tx = s.platform.db.begin().await.map_err(WorkflowError::from)?;
    s.engine
        .update_schedule(&mut tx, id, &spec)
        .await
        .map_err(WorkflowError::from)?;
    tx.commit().await.map_err(WorkflowError::from)?;
    Ok(Done::ok(owned(&s, &p, id).await?.into(), "调度已更新"))
}

/// Delete a schedule (its executions stay).
#[utoipa::path(delete, path = "/api/v1/workflow/schedules/{id}", tag = "workflow",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses((status = 200, body = Deleted), (status = 404, description = "Not found")), security(("bearer" = [])))]
pub(crate) async fn delete(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> Reply<Deleted> {
    owned(&s, &p, id).await?;
    let mut tx = s.platform.db.begin().await.map_err(WorkflowError::from)?;
    s.engine
        .delete_schedule(&mut tx, id)
        .await
        .map_err(WorkflowError::from)?;
    tx.commit().await.map_err(WorkflowError::from)?;
    Ok(Done::ok(Deleted { id }, "调度已删除"))
}

/// Pause a schedule.
#[utoipa::path(post, path = "/api/v1/workflow/schedules/{id}/pause", tag = "workflow",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses((status = 200, body = ScheduleView), (status = 404, description = "Not found")), security(("bearer" = [])))]
pub(crate) async fn pause(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> Reply<ScheduleView> {
    owned(&s, &p, id).await?;
    s.engine
        .set_schedule_paused(id, true)
        .await
        .map_err(WorkflowError::from)?;
    Ok(Done::ok(owned(&s, &p, id).await?.into(), "调度已暂停"))
}

/// Resume a schedule (its failure count restarts; the next fire is computed from now).
#[utoipa::path(post, path = "/api/v1/workflow/schedules/{id}/resume", tag = "workflow",
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses((status = 200, body = ScheduleView), (status = 404, description = "Not found")), security(("bearer" = [])))]
pub(crate) async fn resume(
    State(s): State<WorkflowState>,
    p: Principal,
    Path(id): Path<Uuid>,
) -> Reply<ScheduleView> {
    owned(&s, &p, id).await?;
    s.engine
        .set_schedule_paused(id, false)
        .await
        .map_err(WorkflowError::from)?;
    Ok(Done::ok(owned(&s, &p, id).await?.into(), "调度已恢复"))
}
