//! The engine's vocabulary: a [`Plan`] (a DAG of [`StepSpec`]s) run as a [`Run`], its
//! states ([`RunStatus`], [`StepStatus`], Prefect 3's names), retry policies and the
//! append-only [`Event`] log.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// What a run executes: steps and their dependencies, pinned when the run is created (a
/// definition edited later does not change a run in flight).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    /// The steps, in the order they were declared (ids unique; the app validates the DAG).
    pub steps: Vec<StepSpec>,
    /// The whole run's time limit in seconds (from its first start); `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

/// One step of a [`Plan`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StepSpec {
    /// Unique within the plan (`fetch`, `parse`).
    pub id: String,
    /// The registered step kind that runs it (`transform`, `http_request`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Steps that must complete before this one starts. If one of them is skipped (a false
    /// condition), this one is skipped too.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// The kind's parameters (templates are rendered by the handler, not the engine).
    #[serde(default)]
    pub params: Value,
    /// How failures are retried; default: one attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// One try's time limit in seconds; `None`: the engine's default step timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

/// How a failing step is retried (Prefect's `retries`/`retry_delay_seconds`/`retry_jitter_factor`,
/// Temporal's `RetryPolicy`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct RetryPolicy {
    /// Tries in all, the first included (1..=20).
    pub max_attempts: u32,
    /// `constant` or `exponential` (delay × 2^(try−1)).
    #[serde(default)]
    pub backoff: Backoff,
    /// The base delay between tries, in milliseconds.
    #[serde(default = "default_delay_ms")]
    pub delay_ms: u64,
    /// The longest delay, in milliseconds (exponential growth stops there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay_ms: Option<u64>,
    /// A fraction 0..=1: each delay is drawn uniformly from `[d × (1 − jitter), d]`
    /// ("equal jitter" in the AWS backoff article's terms, bounded above by the nominal delay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<f64>,
}

fn default_delay_ms() -> u64 {
    1000
}

/// Backoff shape of a [`RetryPolicy`].
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// The same delay before every retry.
    #[default]
    Constant,
    /// Doubling delays, capped by `max_delay_ms`.
    Exponential,
}

impl RetryPolicy {
    /// The delay before try `next_try` (2 for the first retry), in milliseconds, with the
    /// jitter drawn from `unit` (a number in 0..1).
    pub fn delay_before(&self, next_try: u32, unit: f64) -> u64 {
        let base = match self.backoff {
            Backoff::Constant => self.delay_ms,
            Backoff::Exponential => {
                let shift = next_try.saturating_sub(2).min(40);
                self.delay_ms.saturating_mul(1u64 << shift)
            }
        };
        let capped = self.max_delay_ms.map_or(base, |m| base.min(m));
        let jitter = self.jitter.unwrap_or(0.0).clamp(0.0, 1.0);
        let low = capped as f64 * (1.0 - jitter);
        (low + (capped as f64 - low) * unit.clamp(0.0, 1.0)).round() as u64
    }
}

/// A run's state (issue 10 §2, Prefect 3's state names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Created, waiting for admission (a collision policy, a future start).
    Pending,
    /// Admitted, waiting for a worker and a free concurrency slot.
    Queued,
    /// Leased by a worker.
    Running,
    /// Every step completed or was skipped.
    Completed,
    /// A step failed after its retries.
    Failed,
    /// The run's time limit passed.
    TimedOut,
    /// The run could not go on for a reason not its own (a takeover found its plan unusable).
    Crashed,
    /// Cancellation requested; the worker is stopping.
    Cancelling,
    /// Stopped by a cancellation.
    Cancelled,
}

impl RunStatus {
    /// Every state, in lifecycle order.
    pub const ALL: [RunStatus; 9] = [
        RunStatus::Pending,
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::TimedOut,
        RunStatus::Crashed,
        RunStatus::Cancelling,
        RunStatus::Cancelled,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Crashed => "crashed",
            RunStatus::Cancelling => "cancelling",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the run has ended (no worker will touch it again unless it is retried).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Completed
                | RunStatus::Failed
                | RunStatus::TimedOut
                | RunStatus::Crashed
                | RunStatus::Cancelled
        )
    }
}

/// A step's state within one attempt of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not started yet.
    Pending,
    /// A try is in progress (or was, when its worker died).
    Running,
    /// Finished with an output.
    Completed,
    /// Failed after its tries.
    Failed,
    /// Not run: a condition it depends on was false.
    Skipped,
    /// Interrupted by a cancellation.
    Cancelled,
    /// Its time limit (or the run's) passed.
    TimedOut,
    /// Completed in an earlier attempt; its recorded output was reused by a restart.
    Reused,
}

impl StepStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Completed => "completed",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
            StepStatus::TimedOut => "timed_out",
            StepStatus::Reused => "reused",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<StepStatus> {
        [
            StepStatus::Pending,
            StepStatus::Running,
            StepStatus::Completed,
            StepStatus::Failed,
            StepStatus::Skipped,
            StepStatus::Cancelled,
            StepStatus::TimedOut,
            StepStatus::Reused,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// Whether dependents may use this step's output.
    pub fn is_done(self) -> bool {
        matches!(self, StepStatus::Completed | StepStatus::Reused)
    }
}

/// A run as stored.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    /// UUID v7.
    pub id: Uuid,
    /// The app queue it belongs to (`workflow`).
    pub queue: String,
    /// The user who owns it.
    pub owner_id: Uuid,
    /// The app object it runs (a workflow definition), if any.
    pub subject_id: Option<Uuid>,
    /// The pinned version of that object.
    pub subject_version: Option<i64>,
    /// The schedule that fired it, if any.
    pub schedule_id: Option<Uuid>,
    /// The steps.
    pub plan: Plan,
    /// The run's input.
    pub input: Value,
    /// Current state.
    pub status: RunStatus,
    /// Why it is in that state (`step fetch failed`, `cancelled by user`).
    pub reason: Option<String>,
    /// The error that ended it, if it failed.
    pub error: Option<String>,
    /// 1, then 2, 3… after each retry of the whole run.
    pub attempt: i64,
    /// The caller's idempotency key.
    pub idempotency_key: Option<String>,
    /// Concurrency limit keys it takes a slot of while running.
    pub limit_keys: Vec<String>,
    /// How many times another worker took it over after a lease expired.
    pub takeovers: i64,
    /// Steps that were running when it was cancelled or timed out.
    pub interrupted: Vec<String>,
    /// The last event's sequence number.
    pub last_seq: i64,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// When it was admitted.
    pub queued_ms: Option<i64>,
    /// When a worker first started it.
    pub started_ms: Option<i64>,
    /// When it ended.
    pub finished_ms: Option<i64>,
    /// The worker holding its lease.
    pub lease_owner: Option<String>,
}

/// One step's record within one attempt.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct StepRecord {
    /// The run attempt (1, 2, …).
    pub attempt: i64,
    /// The step's id.
    pub step_id: String,
    /// State.
    pub status: StepStatus,
    /// Tries made (a try interrupted by a crash counts).
    pub tries: i64,
    /// The output, once completed.
    pub output: Option<Value>,
    /// The last error.
    pub error: Option<String>,
    /// Milliseconds since the epoch.
    pub started_ms: Option<i64>,
    /// Milliseconds since the epoch.
    pub finished_ms: Option<i64>,
    /// False when the step was a condition that came out false (its dependents were skipped).
    pub proceed: bool,
}

/// One entry of a run's append-only event log.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Event {
    /// 1, 2, 3… per run, with no gaps (the SSE `id:`).
    pub seq: i64,
    /// `run.queued`, `run.started`, `step.started`, `step.completed`, `step.retrying`,
    /// `step.failed`, `step.skipped`, `step.log`, `run.cancelling`, `run.completed`, …
    pub kind: String,
    /// The step concerned, if any.
    pub step_id: Option<String>,
    /// The run attempt.
    pub attempt: i64,
    /// Kind-specific data (`{"status": …, "reason": …}`, a step's output summary, a log line).
    pub data: Value,
    /// Milliseconds since the epoch.
    pub at_ms: i64,
}

/// What [`crate::Engine::submit`] stores.
#[derive(Clone, Debug)]
pub struct NewRun {
    /// The id to give the run (UUID v7 made by the caller, so rows written beside it in the
    /// same transaction — a quota reservation — can name it).
    pub id: Uuid,
    /// The app queue (`workflow`).
    pub queue: String,
    /// The owner.
    pub owner_id: Uuid,
    /// The app object it runs.
    pub subject_id: Option<Uuid>,
    /// Its pinned version.
    pub subject_version: Option<i64>,
    /// The schedule that fired it.
    pub schedule_id: Option<Uuid>,
    /// The steps.
    pub plan: Plan,
    /// The input.
    pub input: Value,
    /// The caller's idempotency key (unique per owner).
    pub idempotency_key: Option<String>,
    /// Concurrency limit keys (`user:<id>`, `def:<id>`, `host:example.com`).
    pub limit_keys: Vec<String>,
    /// Created as `cancelled` at once (a `cancel_new` collision) with this reason.
    pub refused: Option<String>,
}

/// Milliseconds since the epoch of a clock reading.
pub fn ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_backoff_doubles_up_to_the_cap_and_jitter_stays_below_nominal() {
        let p = RetryPolicy {
            max_attempts: 5,
            backoff: Backoff::Exponential,
            delay_ms: 100,
            max_delay_ms: Some(350),
            jitter: None,
        };
        assert_eq!(p.delay_before(2, 0.5), 100);
        assert_eq!(p.delay_before(3, 0.5), 200);
        assert_eq!(p.delay_before(4, 0.5), 350);
        let j = RetryPolicy {
            jitter: Some(0.5),
            ..p
        };
        assert_eq!(j.delay_before(3, 0.0), 100);
        assert_eq!(j.delay_before(3, 1.0), 200);
        let c = RetryPolicy {
            backoff: Backoff::Constant,
            max_delay_ms: None,
            ..j
        };
        assert!(c.delay_before(9, 0.3) <= 100);
    }

    #[test]
    fn status_names_round_trip() {
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        assert!(RunStatus::Cancelled.is_final() && !RunStatus::Cancelling.is_final());
    }
}
