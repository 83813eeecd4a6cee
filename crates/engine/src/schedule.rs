//! Schedules: cron (5 or 6 fields, in a time zone, parsed by `croner`) or a fixed interval;
//! an overlap policy (`skip | buffer_one | allow_all`), a catch-up window, pause/resume and
//! a pause after N consecutive failures (Prefect's and Temporal's schedule options).
//!
//! Firing is claimed with a compare-and-set on `next_fire_ms`, so each due time fires once
//! across every instance sharing the database. Missed times older than the catch-up window
//! are skipped; the others collapse into one fire (Temporal's default catch-up behaviour).

use std::str::FromStr;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use crate::Engine;
use crate::model::{Run, RunStatus, ms};

/// What to do when a fire comes while the previous run is still going.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Drop the fire.
    #[default]
    Skip,
    /// Keep one fire and start it when the running one ends.
    BufferOne,
    /// Start every fire.
    AllowAll,
}

impl Overlap {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Skip => "skip",
            Overlap::BufferOne => "buffer_one",
            Overlap::AllowAll => "allow_all",
        }
    }

    fn parse(s: &str) -> Overlap {
        match s {
            "buffer_one" => Overlap::BufferOne,
            "allow_all" => Overlap::AllowAll,
            _ => Overlap::Skip,
        }
    }
}

/// When a schedule fires.
#[derive(Clone, Debug, PartialEq)]
pub enum Timing {
    /// A cron expression (5 fields, or 6 with seconds first) read in `timezone`.
    Cron {
        /// The expression.
        expr: String,
        /// An IANA zone (`Asia/Shanghai`).
        timezone: String,
    },
    /// Every `seconds` (≥ 1) from the schedule's creation.
    Interval {
        /// The period.
        seconds: i64,
    },
}

impl Timing {
    /// Checks the expression and zone; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Timing::Cron { expr, timezone } => {
                let fields = expr.split_whitespace().count();
                if !(5..=6).contains(&fields) {
                    return Err(format!("a cron expression has 5 or 6 fields, not {fields}"));
                }
                parse_cron(expr)?;
                chrono_tz::Tz::from_str(timezone)
                    .map_err(|_| format!("unknown time zone {timezone:?}"))?;
                Ok(())
            }
            Timing::Interval { seconds } if *seconds >= 1 => Ok(()),
            Timing::Interval { .. } => Err("interval_seconds must be at least 1".into()),
        }
    }

    /// The first fire time strictly after `after_ms`.
    pub fn next_after(&self, after_ms: i64, anchor_ms: i64) -> Result<i64, String> {
        match self {
            Timing::Interval { seconds } => {
                let period = seconds.saturating_mul(1000).max(1000);
                let n = (after_ms - anchor_ms).div_euclid(period) + 1;
                Ok(anchor_ms + n.max(1) * period)
            }
            Timing::Cron { expr, timezone } => {
                let cron = parse_cron(expr)?;
                let tz = chrono_tz::Tz::from_str(timezone)
                    .map_err(|_| format!("unknown time zone {timezone:?}"))?;
                let after = Utc
                    .timestamp_millis_opt(after_ms)
                    .single()
                    .ok_or("time out of range")?
                    .with_timezone(&tz);
                let next = cron
                    .find_next_occurrence(&after, false)
                    .map_err(|e| format!("no next time: {e}"))?;
                Ok(next.with_timezone(&Utc).timestamp_millis())
            }
        }
    }
}

fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(expr)
        .map_err(|e| format!("invalid cron expression: {e}"))
}

/// A schedule as stored.
#[derive(Clone, Debug, Serialize)]
pub struct Schedule {
    /// UUID v7.
    pub id: Uuid,
    /// The app queue.
    pub queue: String,
    /// The owner.
    pub owner_id: Uuid,
    /// The app object it starts (a workflow definition).
    pub subject_id: Uuid,
    /// Cron expression, if cron-timed.
    pub cron: Option<String>,
    /// Period, if interval-timed.
    pub interval_seconds: Option<i64>,
    /// IANA zone of the cron expression.
    pub timezone: String,
    /// Overlap policy.
    pub overlap: Overlap,
    /// Missed fires older than this many seconds are skipped.
    pub catchup_seconds: i64,
    /// The input each run gets.
    pub input: Value,
    /// Paused schedules do not fire.
    pub paused: bool,
    /// Why it was paused (`3 consecutive failures`), if by the engine.
    pub pause_reason: Option<String>,
    /// Pause after this many consecutive failed runs (0: never).
    pub max_failures: i64,
    /// Failed runs in a row so far.
    pub consecutive_failures: i64,
    /// The next fire time (ms), if any.
    pub next_fire_ms: Option<i64>,
    /// The last fire time (ms).
    pub last_fire_ms: Option<i64>,
    /// The run started by the last fire.
    pub last_run_id: Option<Uuid>,
    /// ms.
    pub created_ms: i64,
    /// ms.
    pub updated_ms: i64,
}

impl Schedule {
    /// The schedule's timing.
    pub fn timing(&self) -> Timing {
        match (&self.cron, self.interval_seconds) {
            (Some(expr), _) => Timing::Cron {
                expr: expr.clone(),
                timezone: self.timezone.clone(),
            },
            (None, s) => Timing::Interval {
                seconds: s.unwrap_or(60),
            },
        }
    }
}

/// The settable parts of a schedule.
#[derive(Clone, Debug)]
pub struct ScheduleSpec {
    /// When it fires.
    pub timing: Timing,
    /// Overlap policy.
    pub overlap: Overlap,
    /// Catch-up window in seconds.
    pub catchup_seconds: i64,
    /// Input of each run.
    pub input: Value,
    /// Pause after this many consecutive failures (0: never).
    pub max_failures: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    queue: String,
    owner_id: Uuid,
    subject_id: Uuid,
    cron: Option<String>,
    interval_seconds: Option<i64>,
    timezone: String,
    overlap: String,
    catchup_seconds: i64,
    input: String,
    paused: bool,
    pause_reason: Option<String>,
    max_failures: i64,
    consecutive_failures: i64,
    next_fire_ms: Option<i64>,
    last_fire_ms: Option<i64>,
    last_run_id: Option<Uuid>,
    created_ms: i64,
    updated_ms: i64,
}

const COLUMNS: &str = "id, queue, owner_id, subject_id, cron, interval_seconds, timezone, overlap, \
    catchup_seconds, input, paused, pause_reason, max_failures, consecutive_failures, next_fire_ms, \
    last_fire_ms, last_run_id, created_ms, updated_ms";

impl From<Row> for Schedule {
    fn from(r: Row) -> Schedule {
        Schedule {
            id: r.id,
            queue: r.queue,
            owner_id: r.owner_id,
            subject_id: r.subject_id,
            cron: r.cron,
            interval_seconds: r.interval_seconds,
            timezone: r.timezone,
            overlap: Overlap::parse(&r.overlap),
            catchup_seconds: r.catchup_seconds,
            input: serde_json::from_str(&r.input).unwrap_or(Value::Null),
            paused: r.paused,
            pause_reason: r.pause_reason,
            max_failures: r.max_failures,
            consecutive_failures: r.consecutive_failures,
            next_fire_ms: r.next_fire_ms,
            last_fire_ms: r.last_fire_ms,
            last_run_id: r.last_run_id,
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
        }
    }
}

fn cols(t: &Timing) -> (Option<String>, Option<i64>, String) {
    match t {
        Timing::Cron { expr, timezone } => (Some(expr.clone()), None, timezone.clone()),
        Timing::Interval { seconds } => (None, Some(*seconds), "UTC".into()),
    }
}

/// Starts the run of a due schedule (the app's side: quota, plan, input) in the engine's
/// transaction; `Ok(None)` when the app declines (the definition is gone, quota used up).
#[async_trait::async_trait]
pub trait Fire: Send + Sync + 'static {
    /// Creates the run (through [`Engine::submit`]) and returns its id.
    async fn fire(
        &self,
        tx: &mut Tx,
        schedule: &Schedule,
        now: i64,
    ) -> Result<Option<Uuid>, String>;
}

impl Engine {
    /// Creates a schedule in the caller's transaction; its first fire is computed now.
    pub async fn create_schedule(
        &self,
        tx: &mut Tx,
        owner: Uuid,
        subject: Uuid,
        spec: &ScheduleSpec,
    ) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        let now = ms(self.inner.platform.clock.now());
        let next = spec.timing.next_after(now, now).ok();
        let (cron, interval, tz) = cols(&spec.timing);
        let input = serde_json::to_string(&spec.input).unwrap_or_else(|_| "null".into());
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO engine_schedules (id, queue, owner_id, subject_id, cron, interval_seconds, \
             timezone, overlap, catchup_seconds, input, paused, max_failures, next_fire_ms, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, FALSE, $11, $12, $13, $13)")
            .bind(id).bind(&self.inner.cfg.queue).bind(owner).bind(subject).bind(cron).bind(interval)
            .bind(tz).bind(spec.overlap.as_str()).bind(spec.catchup_seconds).bind(input)
            .bind(spec.max_failures).bind(next).bind(now)
            .execute(&mut *c).await.map(|_| ()))?;
        Ok(id)
    }

    /// Replaces a schedule's settings (and recomputes its next fire).
    pub async fn update_schedule(
        &self,
        tx: &mut Tx,
        id: Uuid,
        spec: &ScheduleSpec,
    ) -> Result<(), StoreError> {
        let now = ms(self.inner.platform.clock.now());
        let next = spec.timing.next_after(now, now).ok();
        let (cron, interval, tz) = cols(&spec.timing);
        let input = serde_json::to_string(&spec.input).unwrap_or_else(|_| "null".into());
        on_tx!(tx, c => sqlx::query(
            "UPDATE engine_schedules SET cron = $2, interval_seconds = $3, timezone = $4, overlap = $5, \
             catchup_seconds = $6, input = $7, max_failures = $8, next_fire_ms = $9, updated_ms = $10 \
             WHERE id = $1")
            .bind(id).bind(cron).bind(interval).bind(tz).bind(spec.overlap.as_str())
            .bind(spec.catchup_seconds).bind(input).bind(spec.max_failures).bind(next).bind(now)
            .execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }

    /// Pauses or resumes; resuming clears the failure count and computes the next fire from now.
    pub async fn set_schedule_paused(&self, id: Uuid, paused: bool) -> Result<(), StoreError> {
        let now = ms(self.inner.platform.clock.now());
        let Some(s) = self.schedule(id).await? else {
            return Ok(());
        };
        let next = s.timing().next_after(now, s.created_ms).ok();
        let mut tx = self.inner.platform.db.begin().await?;
        on_tx!(&mut tx, c => sqlx::query(
            "UPDATE engine_schedules SET paused = $2, pause_reason = NULL, \
             consecutive_failures = CASE WHEN $2 THEN consecutive_failures ELSE 0 END, \
             next_fire_ms = $3, updated_ms = $4 WHERE id = $1")
            .bind(id).bind(paused).bind(next).bind(now).execute(&mut *c).await.map(|_| ()))?;
        tx.commit().await
    }

    /// Deletes a schedule (its runs stay).
    pub async fn delete_schedule(&self, tx: &mut Tx, id: Uuid) -> Result<(), StoreError> {
        on_tx!(tx, c => sqlx::query("DELETE FROM engine_schedules WHERE id = $1")
            .bind(id).execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }

    /// A schedule of this engine's queue.
    pub async fn schedule(&self, id: Uuid) -> Result<Option<Schedule>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM engine_schedules WHERE id = $1 AND queue = $2");
        let row: Option<Row> = on_db_read!(&self.inner.platform.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id).bind(&self.inner.cfg.queue).fetch_optional(p).await)?;
        Ok(row.map(Schedule::from))
    }

    /// Schedules of an owner (or everyone's), newest first.
    pub async fn schedules(&self, owner: Option<Uuid>) -> Result<Vec<Schedule>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM engine_schedules WHERE queue = $1 AND ($2 IS NULL OR owner_id = $2) \
             ORDER BY created_ms DESC, id DESC LIMIT 1000"
        );
        let rows: Vec<Row> = on_db_read!(&self.inner.platform.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&self.inner.cfg.queue).bind(owner).fetch_all(p).await)?;
        Ok(rows.into_iter().map(Schedule::from).collect())
    }

    /// Counts an owner's schedules (for the plan's `schedules` entitlement).
    pub async fn count_schedules(db: &Db, queue: &str, owner: Uuid) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_db_read!(db, p => sqlx::query_as(
            "SELECT COUNT(*) FROM engine_schedules WHERE queue = $1 AND owner_id = $2")
            .bind(queue).bind(owner).fetch_one(p).await)?;
        Ok(n)
    }
}

/// Fires due schedules, looking every 500 ms (by the platform clock, so tests move time
/// instead of waiting).
pub(crate) async fn schedule_loop(engine: Engine, fire: std::sync::Arc<dyn Fire>) {
    let token = engine.inner.platform.tasks.token();
    loop {
        if let Err(e) = tick(&engine, fire.as_ref()).await {
            tracing::warn!(error = %e, "engine: schedule tick failed");
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

async fn tick(engine: &Engine, fire: &dyn Fire) -> Result<(), StoreError> {
    let inner = &engine.inner;
    let now = ms(inner.platform.clock.now());
    let sql = format!(
        "SELECT {COLUMNS} FROM engine_schedules WHERE queue = $1 AND paused = FALSE \
         AND next_fire_ms IS NOT NULL AND next_fire_ms <= $2 ORDER BY next_fire_ms LIMIT 32"
    );
    let due: Vec<Row> = on_db_read!(&inner.platform.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&inner.cfg.queue).bind(now).fetch_all(p).await)?;
    for row in due {
        let s = Schedule::from(row);
        let Some(due_ms) = s.next_fire_ms else {
            continue;
        };
        let next = s.timing().next_after(now, s.created_ms).ok();
        let mut tx = inner.platform.db.begin().await?;
        // Claim this due time: only one instance moves `next_fire_ms` from `due_ms`.
        let claimed = on_tx!(&mut tx, c => sqlx::query(
            "UPDATE engine_schedules SET next_fire_ms = $3, updated_ms = $4 WHERE id = $1 AND next_fire_ms = $2")
            .bind(s.id).bind(due_ms).bind(next).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if claimed == 0 {
            continue;
        }
        let late_ms = now - due_ms;
        let busy = match s.last_run_id {
            Some(id) => crate::store::run_in(&mut tx, id)
                .await?
                .is_some_and(|r| !r.status.is_final()),
            None => false,
        };
        let decision = if late_ms > s.catchup_seconds.max(0) * 1000 + 1000 {
            "skipped: missed by more than the catch-up window"
        } else if busy && s.overlap == Overlap::Skip {
            "skipped: the previous run is still going"
        } else if busy && s.overlap == Overlap::BufferOne {
            "buffered"
        } else {
            "fire"
        };
        match decision {
            "fire" => match fire.fire(&mut tx, &s, now).await {
                Ok(run) => {
                    on_tx!(&mut tx, c => sqlx::query(
                        "UPDATE engine_schedules SET last_fire_ms = $2, last_run_id = COALESCE($3, last_run_id) WHERE id = $1")
                        .bind(s.id).bind(now).bind(run).execute(&mut *c).await.map(|_| ()))?;
                }
                Err(e) => {
                    tracing::warn!(schedule_id = %s.id, error = %e, "engine: schedule fire refused");
                }
            },
            "buffered" => {
                on_tx!(&mut tx, c => sqlx::query("UPDATE engine_schedules SET buffered = TRUE WHERE id = $1")
                    .bind(s.id).execute(&mut *c).await.map(|_| ()))?;
            }
            other => {
                tracing::info!(schedule_id = %s.id, decision = other, "engine: schedule fire skipped")
            }
        }
        tx.commit().await?;
        inner.wake.notify_one();
    }
    Ok(())
}

/// Called in a run's final transaction: counts consecutive failures (pausing the schedule
/// at its limit) and releases a buffered fire.
pub(crate) async fn on_run_finished(
    tx: &mut Tx,
    run: &Run,
    status: RunStatus,
    now: i64,
) -> Result<(), StoreError> {
    let Some(id) = run.schedule_id else {
        return Ok(());
    };
    let failed = matches!(
        status,
        RunStatus::Failed | RunStatus::TimedOut | RunStatus::Crashed
    );
    if failed {
        on_tx!(tx, c => sqlx::query(
            "UPDATE engine_schedules SET consecutive_failures = consecutive_failures + 1, \
             paused = CASE WHEN max_failures > 0 AND consecutive_failures + 1 >= max_failures THEN TRUE ELSE paused END, \
             pause_reason = CASE WHEN max_failures > 0 AND consecutive_failures + 1 >= max_failures \
                 THEN 'paused after consecutive failures' ELSE pause_reason END \
             WHERE id = $1")
            .bind(id).execute(&mut *c).await.map(|_| ()))?;
    } else if status == RunStatus::Completed {
        on_tx!(tx, c => sqlx::query("UPDATE engine_schedules SET consecutive_failures = 0 WHERE id = $1")
            .bind(id).execute(&mut *c).await.map(|_| ()))?;
    }
    // A buffered fire starts now that its predecessor ended.
    on_tx!(tx, c => sqlx::query(
        "UPDATE engine_schedules SET buffered = FALSE, next_fire_ms = $2 WHERE id = $1 AND buffered = TRUE \
         AND last_run_id = $3")
        .bind(id).bind(now).bind(run.id).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_and_cron_next_times() {
        let t = Timing::Interval { seconds: 10 };
        assert_eq!(t.next_after(0, 0), Ok(10_000));
        assert_eq!(t.next_after(25_000, 0), Ok(30_000));
        let c = Timing::Cron {
            expr: "0 * * * *".into(),
            timezone: "UTC".into(),
        };
        assert_eq!(c.next_after(0, 0), Ok(3_600_000));
        let six = Timing::Cron {
            expr: "*/5 * * * * *".into(),
            timezone: "Asia/Shanghai".into(),
        };
        assert_eq!(six.next_after(1_000, 0), Ok(5_000));
        assert!(
            Timing::Cron {
                expr: "61 * * * *".into(),
                timezone: "UTC".into()
            }
            .validate()
            .is_err()
        );
        assert!(
            Timing::Cron {
                expr: "0 * * * *".into(),
                timezone: "Mars/Base".into()
            }
            .validate()
            .is_err()
        );
        assert!(Timing::Interval { seconds: 0 }.validate().is_err());
    }

    #[test]
    fn cron_in_a_zone_fires_at_local_time() {
        let c = Timing::Cron {
            expr: "0 9 * * *".into(),
            timezone: "Asia/Shanghai".into(),
        };
        // 2026-01-01T00:00Z is 08:00 in Shanghai: next is 09:00 local = 01:00Z.
        let start: chrono::DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap_or_default();
        let next = c
            .next_after(start.timestamp_millis(), 0)
            .unwrap_or_default();
        assert_eq!(next - start.timestamp_millis(), 3_600_000);
    }
}
