//! The engine's SQL (`engine_*` tables, migrations 7xxx). One query text serves SQLite and
//! PostgreSQL except where the dialects differ (leasing: PostgreSQL takes a per-queue advisory
//! lock and `FOR UPDATE SKIP LOCKED`; SQLite's single writer already serializes it).
//!
//! Writes take the caller's [`Tx`], so a run is enqueued in the same transaction as the app's
//! own rows (a quota reservation, an idempotency record) and its first events.

use serde_json::Value;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use crate::model::{Event, NewRun, Plan, Run, RunStatus, StepRecord, StepStatus};

#[derive(sqlx::FromRow)]
struct RunRow {
    id: Uuid,
    queue: String,
    owner_id: Uuid,
    subject_id: Option<Uuid>,
    subject_version: Option<i64>,
    schedule_id: Option<Uuid>,
    plan: String,
    input: String,
    status: String,
    reason: Option<String>,
    error: Option<String>,
    attempt: i64,
    idempotency_key: Option<String>,
    limit_keys: String,
    takeovers: i64,
    interrupted: Option<String>,
    last_seq: i64,
    created_ms: i64,
    queued_ms: Option<i64>,
    started_ms: Option<i64>,
    finished_ms: Option<i64>,
    lease_owner: Option<String>,
}

const RUN_COLUMNS: &str = "id, queue, owner_id, subject_id, subject_version, schedule_id, plan, \
    input, status, reason, error, attempt, idempotency_key, limit_keys, takeovers, interrupted, \
    last_seq, created_ms, queued_ms, started_ms, finished_ms, lease_owner";

fn corrupt(what: &str) -> StoreError {
    StoreError::Other(format!("engine: unreadable {what}"))
}

impl RunRow {
    fn into_run(self) -> Result<Run, StoreError> {
        let plan: Plan = serde_json::from_str(&self.plan).map_err(|_| corrupt("plan"))?;
        Ok(Run {
            id: self.id,
            queue: self.queue,
            owner_id: self.owner_id,
            subject_id: self.subject_id,
            subject_version: self.subject_version,
            schedule_id: self.schedule_id,
            plan,
            input: serde_json::from_str(&self.input).map_err(|_| corrupt("input"))?,
            status: RunStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            reason: self.reason,
            error: self.error,
            attempt: self.attempt,
            idempotency_key: self.idempotency_key,
            limit_keys: serde_json::from_str(&self.limit_keys).unwrap_or_default(),
            takeovers: self.takeovers,
            interrupted: self
                .interrupted
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default(),
            last_seq: self.last_seq,
            created_ms: self.created_ms,
            queued_ms: self.queued_ms,
            started_ms: self.started_ms,
            finished_ms: self.finished_ms,
            lease_owner: self.lease_owner,
        })
    }
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Stores a new run as `queued` (or `cancelled` when `run.refused` says so), with its
/// `run.queued`/`run.cancelled` event, in the caller's transaction.
pub async fn insert_run(tx: &mut Tx, id: Uuid, run: &NewRun, now: i64) -> Result<(), StoreError> {
    let (status, reason, finished) = match &run.refused {
        Some(r) => ("cancelled", Some(r.as_str()), Some(now)),
        None => ("queued", None, None),
    };
    let plan = json(&run.plan);
    let input = json(&run.input);
    let keys = json(&run.limit_keys);
    let deadline = None::<i64>;
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO engine_runs (id, queue, owner_id, subject_id, subject_version, schedule_id, \
         plan, input, status, reason, attempt, idempotency_key, limit_keys, run_after_ms, \
         deadline_ms, last_seq, created_ms, queued_ms, finished_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12, $13, $14, 1, $13, $13, $15)")
        .bind(id).bind(&run.queue).bind(run.owner_id).bind(run.subject_id)
        .bind(run.subject_version).bind(run.schedule_id).bind(&plan).bind(&input)
        .bind(status).bind(reason).bind(&run.idempotency_key).bind(&keys).bind(now)
        .bind(deadline).bind(finished)
        .execute(&mut *c).await.map(|_| ()))?;
    let data = serde_json::json!({"status": status, "reason": reason});
    let kind = if run.refused.is_some() {
        "run.cancelled"
    } else {
        "run.queued"
    };
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO engine_events (run_id, seq, kind, step_id, attempt, data, at_ms) \
         VALUES ($1, 1, $2, NULL, 1, $3, $4)")
        .bind(id).bind(kind).bind(json(&data)).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// The run an owner created with `key`, if any.
pub async fn by_idempotency_key(
    tx: &mut Tx,
    owner: Uuid,
    key: &str,
) -> Result<Option<Uuid>, StoreError> {
    let row: Option<(Uuid,)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id FROM engine_runs WHERE owner_id = $1 AND idempotency_key = $2")
        .bind(owner).bind(key).fetch_optional(&mut *c).await)?;
    Ok(row.map(|r| r.0))
}

/// Rows per `INSERT` of [`append_events`] (7 parameters each: 700, far under SQLite's
/// 32,766 and PostgreSQL's 65,535 bind parameters).
const INSERT_CHUNK: usize = 100;

/// One new event to append.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// Event kind (`step.completed`).
    pub kind: &'static str,
    /// The step concerned.
    pub step_id: Option<String>,
    /// Kind-specific data.
    pub data: Value,
}

impl NewEvent {
    /// An event about the run.
    pub fn run(kind: &'static str, data: Value) -> NewEvent {
        NewEvent {
            kind,
            step_id: None,
            data,
        }
    }

    /// An event about one step.
    pub fn step(kind: &'static str, step: &str, data: Value) -> NewEvent {
        NewEvent {
            kind,
            step_id: Some(step.to_string()),
            data,
        }
    }
}

/// Appends events with the next sequence numbers (taken from the run row, which also
/// serializes concurrent appenders); returns the last number used.
pub async fn append_events(
    tx: &mut Tx,
    run_id: Uuid,
    attempt: i64,
    events: &[NewEvent],
    now: i64,
) -> Result<i64, StoreError> {
    if events.is_empty() {
        return Ok(0);
    }
    let n = events.len() as i64;
    let (last,): (i64,) = on_tx!(tx, c => sqlx::query_as(
        "UPDATE engine_runs SET last_seq = last_seq + $2 WHERE id = $1 RETURNING last_seq")
        .bind(run_id).bind(n).fetch_one(&mut *c).await)?;
    // One multi-row INSERT per chunk: a streamed step's tokens arrive by the hundred in one
    // group commit (`sink`), and each statement is a round trip to the database.
    let first = last - n + 1;
    for (c_idx, chunk) in events.chunks(INSERT_CHUNK).enumerate() {
        let mut sql = String::from(
            "INSERT INTO engine_events (run_id, seq, kind, step_id, attempt, data, at_ms) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 7;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7
            ));
        }
        let base = first + (c_idx * INSERT_CHUNK) as i64;
        on_tx!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for (i, e) in chunk.iter().enumerate() {
                q = q.bind(run_id).bind(base + i as i64).bind(e.kind).bind(&e.step_id)
                    .bind(attempt).bind(json(&e.data)).bind(now);
            }
            q.execute(&mut *c).await.map(|_| ())
        })?;
    }
    Ok(last)
}

/// A run, if it exists.
pub async fn run(db: &Db, id: Uuid) -> Result<Option<Run>, StoreError> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM engine_runs WHERE id = $1");
    let row: Option<RunRow> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_optional(p).await)?;
    row.map(RunRow::into_run).transpose()
}

/// A run read inside a transaction, locked on PostgreSQL (`FOR UPDATE`: a worker's lease
/// skips it until the caller commits).
pub async fn run_in(tx: &mut Tx, id: Uuid) -> Result<Option<Run>, StoreError> {
    let lock = match tx {
        Tx::Postgres(_) => " FOR UPDATE",
        Tx::Sqlite(_) => "",
    };
    let sql = format!("SELECT {RUN_COLUMNS} FROM engine_runs WHERE id = $1{lock}");
    let row: Option<RunRow> = on_tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_optional(&mut *c).await)?;
    row.map(RunRow::into_run).transpose()
}

/// Filters of [`list_runs`].
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    /// Only this owner's runs (`None`: everyone's, for admins).
    pub owner: Option<Uuid>,
    /// Only runs of this app object.
    pub subject: Option<Uuid>,
    /// Only runs in this state.
    pub status: Option<RunStatus>,
    /// Created at or after (ms).
    pub from_ms: Option<i64>,
    /// Created before (ms).
    pub to_ms: Option<i64>,
}

/// One page of runs of a queue, newest first, and the total matching.
pub async fn list_runs(
    db: &Db,
    queue: &str,
    f: &RunFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Run>, i64), StoreError> {
    let cond = "queue = $1 AND ($2 IS NULL OR owner_id = $2) AND ($3 IS NULL OR subject_id = $3) \
        AND ($4 IS NULL OR status = $4) AND ($5 IS NULL OR created_ms >= $5) \
        AND ($6 IS NULL OR created_ms < $6)";
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM engine_runs WHERE {cond} ORDER BY created_ms DESC, id DESC LIMIT $7 OFFSET $8"
    );
    let count = format!("SELECT COUNT(*) FROM engine_runs WHERE {cond}");
    let status = f.status.map(|s| s.as_str());
    let rows: Vec<RunRow> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(queue).bind(f.owner).bind(f.subject).bind(status).bind(f.from_ms).bind(f.to_ms)
        .bind(limit).bind(offset).fetch_all(p).await)?;
    let (total,): (i64,) = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(count))
        .bind(queue).bind(f.owner).bind(f.subject).bind(status).bind(f.from_ms).bind(f.to_ms)
        .fetch_one(p).await)?;
    let runs = rows
        .into_iter()
        .map(RunRow::into_run)
        .collect::<Result<_, _>>()?;
    Ok((runs, total))
}

#[derive(sqlx::FromRow)]
struct StepRow {
    attempt: i64,
    step_id: String,
    status: String,
    tries: i64,
    output: Option<String>,
    error: Option<String>,
    started_ms: Option<i64>,
    finished_ms: Option<i64>,
    proceed: bool,
}

impl StepRow {
    fn into_record(self) -> Result<StepRecord, StoreError> {
        Ok(StepRecord {
            attempt: self.attempt,
            status: StepStatus::parse(&self.status).ok_or_else(|| corrupt("step status"))?,
            step_id: self.step_id,
            tries: self.tries,
            output: self.output.and_then(|o| serde_json::from_str(&o).ok()),
            error: self.error,
            started_ms: self.started_ms,
            finished_ms: self.finished_ms,
            proceed: self.proceed,
        })
    }
}

/// Every step record of a run (all attempts, `attempt` then start order).
pub async fn steps(db: &Db, run_id: Uuid) -> Result<Vec<StepRecord>, StoreError> {
    let rows: Vec<StepRow> = on_db_read!(db, p => sqlx::query_as(
        "SELECT attempt, step_id, status, tries, output, error, started_ms, finished_ms, proceed \
         FROM engine_steps WHERE run_id = $1 ORDER BY attempt, started_ms, step_id")
        .bind(run_id).fetch_all(p).await)?;
    rows.into_iter().map(StepRow::into_record).collect()
}

/// The step records of one attempt, read on the writer (a worker resuming a run must see the
/// latest writes).
pub async fn attempt_steps(
    tx: &mut Tx,
    run_id: Uuid,
    attempt: i64,
) -> Result<Vec<StepRecord>, StoreError> {
    let rows: Vec<StepRow> = on_tx!(tx, c => sqlx::query_as(
        "SELECT attempt, step_id, status, tries, output, error, started_ms, finished_ms, proceed \
         FROM engine_steps WHERE run_id = $1 AND attempt = $2")
        .bind(run_id).bind(attempt).fetch_all(&mut *c).await)?;
    rows.into_iter().map(StepRow::into_record).collect()
}

/// The step records of one attempt, from the read side (a worker starting a run it has
/// just leased: the lease's commit is visible to every later read).
pub async fn attempt_steps_read(
    db: &Db,
    run_id: Uuid,
    attempt: i64,
) -> Result<Vec<StepRecord>, StoreError> {
    let rows: Vec<StepRow> = on_db_read!(db, p => sqlx::query_as(
        "SELECT attempt, step_id, status, tries, output, error, started_ms, finished_ms, proceed \
         FROM engine_steps WHERE run_id = $1 AND attempt = $2")
        .bind(run_id).bind(attempt).fetch_all(p).await)?;
    rows.into_iter().map(StepRow::into_record).collect()
}

/// Events after `after_seq`, oldest first, at most `limit`.
pub async fn events_after(
    db: &Db,
    run_id: Uuid,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<Event>, StoreError> {
    let rows: Vec<(i64, String, Option<String>, i64, String, i64)> = on_db_read!(db, p => sqlx::query_as(
        "SELECT seq, kind, step_id, attempt, data, at_ms FROM engine_events \
         WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
        .bind(run_id).bind(after_seq).bind(limit).fetch_all(p).await)?;
    Ok(rows
        .into_iter()
        .map(|(seq, kind, step_id, attempt, data, at_ms)| Event {
            seq,
            kind,
            step_id,
            attempt,
            data: serde_json::from_str(&data).unwrap_or(Value::Null),
            at_ms,
        })
        .collect())
}

/// Records a step try starting: `running`, `tries = try_no`.
pub async fn step_started(
    tx: &mut Tx,
    run_id: Uuid,
    attempt: i64,
    step_id: &str,
    try_no: i64,
    now: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO engine_steps (run_id, attempt, step_id, status, tries, started_ms) \
         VALUES ($1, $2, $3, 'running', $4, $5) \
         ON CONFLICT (run_id, attempt, step_id) DO UPDATE SET status = 'running', tries = $4, \
         error = NULL")
        .bind(run_id).bind(attempt).bind(step_id).bind(try_no).bind(now)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// How a step ended (or, with status `running`, that a try failed and a retry is pending).
#[derive(Clone, Copy, Debug)]
pub struct StepEnd<'a> {
    /// The new status.
    pub status: StepStatus,
    /// The output of a completed step.
    pub output: Option<&'a Value>,
    /// The last error.
    pub error: Option<&'a str>,
    /// False: the steps depending on this one are skipped.
    pub proceed: bool,
    /// Tries made so far (kept when the row already counts more).
    pub tries: i64,
}

/// Records a step's end.
pub async fn step_finished(
    tx: &mut Tx,
    run_id: Uuid,
    attempt: i64,
    step_id: &str,
    end: StepEnd<'_>,
    now: i64,
) -> Result<(), StoreError> {
    let output = end.output.map(json);
    let finished = (end.status != StepStatus::Running).then_some(now);
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO engine_steps (run_id, attempt, step_id, status, tries, output, error, proceed, started_ms, finished_ms) \
         VALUES ($1, $2, $3, $4, $10, $5, $6, $9, $7, $8) \
         ON CONFLICT (run_id, attempt, step_id) DO UPDATE SET status = $4, output = $5, \
         error = $6, proceed = $9, finished_ms = $8, \
         tries = CASE WHEN engine_steps.tries > $10 THEN engine_steps.tries ELSE $10 END")
        .bind(run_id).bind(attempt).bind(step_id).bind(end.status.as_str()).bind(output)
        .bind(end.error).bind(now).bind(finished).bind(end.proceed).bind(end.tries)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Copies outputs of steps completed in `from_attempt` into `to_attempt` as `reused`.
pub async fn reuse_steps(
    tx: &mut Tx,
    run_id: Uuid,
    from_attempt: i64,
    to_attempt: i64,
    step_ids: &[String],
    now: i64,
) -> Result<(), StoreError> {
    for id in step_ids {
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO engine_steps (run_id, attempt, step_id, status, tries, output, proceed, started_ms, finished_ms) \
             SELECT run_id, $3, step_id, 'reused', 0, output, proceed, $5, $5 FROM engine_steps \
             WHERE run_id = $1 AND attempt = $2 AND step_id = $4")
            .bind(run_id).bind(from_attempt).bind(to_attempt).bind(id).bind(now)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// A run a worker has just leased.
#[derive(Clone, Debug)]
pub struct Leased {
    /// The run.
    pub id: Uuid,
    /// Whether the lease was taken over from a worker whose lease expired.
    pub takeover: bool,
}

/// Leases up to `max` runs of `queue` for `worker` until `now + ttl_ms`: first runs whose
/// lease expired (a dead worker's, taken over; this worker's own runs for which `local` says
/// an executor is still alive here are only renewed), then queued runs whose concurrency keys all
/// have a free slot (`engine_limits`; a key without a row is unlimited). Slots are taken in
/// the same transaction, so limits hold across instances.
pub async fn lease(
    db: &Db,
    queue: &str,
    worker: &str,
    now: i64,
    ttl_ms: i64,
    max: i64,
    local: impl Fn(Uuid) -> bool,
) -> Result<Vec<Leased>, StoreError> {
    let mut tx = db.begin().await?;
    let skip = match &tx {
        Tx::Postgres(_) => {
            on_tx!(&mut tx, c => sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(format!("engine:{queue}")).execute(&mut *c).await.map(|_| ()))?;
            " FOR UPDATE SKIP LOCKED"
        }
        Tx::Sqlite(_) => "",
    };
    let mut out = Vec::new();
    let expired = format!(
        "SELECT id, lease_owner FROM engine_runs WHERE status IN ('running', 'cancelling') \
         AND lease_expires_ms < $1 AND queue = $2 ORDER BY lease_expires_ms LIMIT $3{skip}"
    );
    let stale: Vec<(Uuid, Option<String>)> = on_tx!(&mut tx, c => sqlx::query_as(sqlx::AssertSqlSafe(expired))
        .bind(now).bind(queue).bind(max).fetch_all(&mut *c).await)?;
    for (id, owner) in stale {
        // This worker's own run, still executing here (a late heartbeat): keep it, renewed.
        let ours = owner.as_deref() == Some(worker) && local(id);
        on_tx!(&mut tx, c => sqlx::query(
            "UPDATE engine_runs SET lease_owner = $2, lease_expires_ms = $3, \
             takeovers = takeovers + CASE WHEN $4 THEN 0 ELSE 1 END WHERE id = $1")
            .bind(id).bind(worker).bind(now + ttl_ms).bind(ours).execute(&mut *c).await.map(|_| ()))?;
        if !ours {
            out.push(Leased { id, takeover: true });
        }
    }
    let room = max - out.len() as i64;
    if room > 0 {
        let ready = format!(
            "SELECT id, limit_keys FROM engine_runs WHERE queue = $1 AND status = 'queued' \
             AND run_after_ms <= $2 ORDER BY run_after_ms, id LIMIT $3{skip}"
        );
        let candidates: Vec<(Uuid, String)> = on_tx!(&mut tx, c => sqlx::query_as(sqlx::AssertSqlSafe(ready))
            .bind(queue).bind(now).bind(room * 4).fetch_all(&mut *c).await)?;
        let mut free: std::collections::HashMap<String, i64> = Default::default();
        for (id, keys) in candidates {
            if out.len() as i64 >= max {
                break;
            }
            let keys: Vec<String> = serde_json::from_str(&keys).unwrap_or_default();
            let mut admit = true;
            for k in &keys {
                let left = match free.get(k) {
                    Some(n) => *n,
                    None => {
                        let n = slots_left(&mut tx, k).await?;
                        free.insert(k.clone(), n);
                        n
                    }
                };
                if left <= 0 {
                    admit = false;
                }
            }
            if !admit {
                continue;
            }
            for k in &keys {
                if let Some(n) = free.get_mut(k) {
                    *n -= 1;
                }
                on_tx!(&mut tx, c => sqlx::query(
                    "INSERT INTO engine_slots (limit_key, run_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(k).bind(id).execute(&mut *c).await.map(|_| ()))?;
            }
            on_tx!(&mut tx, c => sqlx::query(
                "UPDATE engine_runs SET status = 'running', lease_owner = $2, lease_expires_ms = $3, \
                 started_ms = COALESCE(started_ms, $4) WHERE id = $1")
                .bind(id).bind(worker).bind(now + ttl_ms).bind(now).execute(&mut *c).await.map(|_| ()))?;
            out.push(Leased {
                id,
                takeover: false,
            });
        }
    }
    tx.commit().await?;
    Ok(out)
}

/// Free slots of a limit key (`i64::MAX` when the key has no limit).
async fn slots_left(tx: &mut Tx, key: &str) -> Result<i64, StoreError> {
    let row: Option<(i64, i64)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT max_running, (SELECT COUNT(*) FROM engine_slots WHERE limit_key = $1) \
         FROM engine_limits WHERE limit_key = $1")
        .bind(key).fetch_optional(&mut *c).await)?;
    Ok(row.map_or(i64::MAX, |(max, used)| max - used))
}

/// Creates the limit of a concurrency key if it has none (an existing limit is left as is and
/// not locked: many transactions can do this at once without waiting on each other).
pub async fn ensure_limit(tx: &mut Tx, key: &str, max: i64) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO engine_limits (limit_key, max_running) VALUES ($1, $2) \
         ON CONFLICT (limit_key) DO NOTHING")
        .bind(key).bind(max).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Sets (or, with `None`, removes) the limit of a concurrency key.
pub async fn set_limit(tx: &mut Tx, key: &str, max: Option<i64>) -> Result<(), StoreError> {
    match max {
        Some(m) => on_tx!(tx, c => sqlx::query(
            "INSERT INTO engine_limits (limit_key, max_running) VALUES ($1, $2) \
             ON CONFLICT (limit_key) DO UPDATE SET max_running = $2")
            .bind(key).bind(m).execute(&mut *c).await.map(|_| ()))?,
        None => on_tx!(tx, c => sqlx::query("DELETE FROM engine_limits WHERE limit_key = $1")
            .bind(key).execute(&mut *c).await.map(|_| ()))?,
    };
    Ok(())
}

/// Extends a lease this worker holds; returns the run's status and whether cancellation was
/// requested, or `None` when the lease is no longer this worker's (taken over).
pub async fn heartbeat(
    db: &Db,
    run_id: Uuid,
    worker: &str,
    until: i64,
) -> Result<Option<RunStatus>, StoreError> {
    let mut tx = db.begin().await?;
    let row: Option<(String,)> = on_tx!(&mut tx, c => sqlx::query_as(
        "UPDATE engine_runs SET lease_expires_ms = $3 WHERE id = $1 AND lease_owner = $2 \
         AND status IN ('running', 'cancelling') RETURNING status")
        .bind(run_id).bind(worker).bind(until).fetch_optional(&mut *c).await)?;
    tx.commit().await?;
    Ok(row.and_then(|(s,)| RunStatus::parse(&s)))
}

/// Ends a run this worker holds: final status, reason, error, interrupted steps; frees its
/// slots. Returns false when the lease is no longer this worker's (nothing written).
#[expect(clippy::too_many_arguments, reason = "one row's final columns")]
pub async fn finish_run(
    tx: &mut Tx,
    run_id: Uuid,
    worker: &str,
    status: RunStatus,
    reason: Option<&str>,
    error: Option<&str>,
    interrupted: &[String],
    now: i64,
) -> Result<bool, StoreError> {
    let interrupted = json(&interrupted);
    let done = on_tx!(tx, c => sqlx::query(
        "UPDATE engine_runs SET status = $3, reason = $4, error = $5, interrupted = $6, \
         finished_ms = $7, lease_owner = NULL, lease_expires_ms = NULL \
         WHERE id = $1 AND lease_owner = $2")
        .bind(run_id).bind(worker).bind(status.as_str()).bind(reason).bind(error)
        .bind(interrupted).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Ok(false);
    }
    release_slots(tx, run_id).await?;
    Ok(true)
}

/// Frees a run's concurrency slots.
pub async fn release_slots(tx: &mut Tx, run_id: Uuid) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM engine_slots WHERE run_id = $1")
        .bind(run_id).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Moves a run to a new status unconditionally (cancel of a queued run, retry), setting
/// its reason and, for final states, `finished_ms`.
pub async fn set_status(
    tx: &mut Tx,
    run_id: Uuid,
    status: RunStatus,
    reason: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    let finished = status.is_final().then_some(now);
    let cancel = (status == RunStatus::Cancelling).then_some(now);
    on_tx!(tx, c => sqlx::query(
        "UPDATE engine_runs SET status = $2, reason = $3, finished_ms = COALESCE($4, finished_ms), \
         cancel_requested_ms = COALESCE($5, cancel_requested_ms) WHERE id = $1")
        .bind(run_id).bind(status.as_str()).bind(reason).bind(finished).bind(cancel)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Re-queues a finished run as its next attempt (optionally with a new plan and version).
pub async fn requeue(
    tx: &mut Tx,
    run_id: Uuid,
    attempt: i64,
    plan: Option<(&Plan, Option<i64>)>,
    now: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE engine_runs SET status = 'queued', attempt = $2, reason = NULL, error = NULL, \
         interrupted = NULL, finished_ms = NULL, cancel_requested_ms = NULL, lease_owner = NULL, \
         lease_expires_ms = NULL, run_after_ms = $3, queued_ms = $3, started_ms = NULL WHERE id = $1")
        .bind(run_id).bind(attempt).bind(now).execute(&mut *c).await.map(|_| ()))?;
    if let Some((plan, version)) = plan {
        on_tx!(tx, c => sqlx::query(
            "UPDATE engine_runs SET plan = $2, subject_version = COALESCE($3, subject_version) WHERE id = $1")
            .bind(run_id).bind(json(plan)).bind(version).execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// Counts of runs per state (for `trellis_engine_runs{state}`) and queued runs ready now.
pub async fn state_counts(
    db: &Db,
    queue: &str,
    now: i64,
) -> Result<(Vec<(String, i64)>, i64), StoreError> {
    let rows: Vec<(String, i64)> = on_db_read!(db, p => sqlx::query_as(
        "SELECT status, COUNT(*) FROM engine_runs WHERE queue = $1 GROUP BY status")
        .bind(queue).fetch_all(p).await)?;
    let (ready,): (i64,) = on_db_read!(db, p => sqlx::query_as(
        "SELECT COUNT(*) FROM engine_runs WHERE queue = $1 AND status = 'queued' AND run_after_ms <= $2")
        .bind(queue).bind(now).fetch_one(p).await)?;
    Ok((rows, ready))
}

/// Runs of `owner` not yet final, by app object (for a collision policy).
pub async fn active_runs_of_subject(
    tx: &mut Tx,
    subject: Uuid,
) -> Result<Vec<(Uuid, RunStatus)>, StoreError> {
    let rows: Vec<(Uuid, String)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id, status FROM engine_runs WHERE subject_id = $1 \
         AND status IN ('pending', 'queued', 'running', 'cancelling')")
        .bind(subject).fetch_all(&mut *c).await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, s)| RunStatus::parse(&s).map(|s| (id, s)))
        .collect())
}

/// Deletes finished runs (with their steps and events) older than `before_ms`, and beyond
/// the newest `keep` finished runs per owner; never a run that is not final; and outbox
/// entries delivered before `outbox_before_ms`. Returns how many runs were deleted.
pub async fn prune(
    db: &Db,
    before_ms: i64,
    keep: i64,
    outbox_before_ms: i64,
) -> Result<u64, StoreError> {
    let finals = "status IN ('completed', 'failed', 'timed_out', 'crashed', 'cancelled')";
    let mut tx = db.begin().await?;
    let old = format!("SELECT id FROM engine_runs WHERE {finals} AND finished_ms < $1 LIMIT 1000");
    let mut ids: Vec<(Uuid,)> = on_tx!(&mut tx, c => sqlx::query_as(sqlx::AssertSqlSafe(old))
        .bind(before_ms).fetch_all(&mut *c).await)?;
    let over = format!(
        "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY owner_id ORDER BY finished_ms DESC) AS n \
         FROM engine_runs WHERE {finals}) ranked WHERE n > $1 LIMIT 1000"
    );
    let extra: Vec<(Uuid,)> = on_tx!(&mut tx, c => sqlx::query_as(sqlx::AssertSqlSafe(over))
        .bind(keep).fetch_all(&mut *c).await)?;
    ids.extend(extra);
    ids.sort();
    ids.dedup();
    // Delivered outbox entries are kept a day (for inspection), then deleted.
    on_tx!(&mut tx, c => sqlx::query("DELETE FROM engine_outbox WHERE delivered_ms < $1")
        .bind(outbox_before_ms).execute(&mut *c).await.map(|_| ()))?;
    let mut n = 0;
    for (id,) in &ids {
        on_tx!(&mut tx, c => sqlx::query("DELETE FROM engine_events WHERE run_id = $1").bind(id).execute(&mut *c).await.map(|_| ()))?;
        on_tx!(&mut tx, c => sqlx::query("DELETE FROM engine_steps WHERE run_id = $1").bind(id).execute(&mut *c).await.map(|_| ()))?;
        n += on_tx!(&mut tx, c => sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM engine_runs WHERE id = $1 AND {finals}"))).bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    tx.commit().await?;
    Ok(n)
}
