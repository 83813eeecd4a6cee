//! `diet_tasks`: the seed's `tasks` model (`pending → running → completed | failed |
//! cancelled`, progress 0–100, `current_node`, input, output, error, timestamps). The engine
//! run with the same id does the work; this row is what clients read.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db, on_db_read, on_tx};
use uuid::Uuid;

/// A task's status (seed 003 `tasks.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = DietTaskStatus)]
pub enum TaskStatus {
    /// Created, not started.
    Pending,
    /// A node is running.
    Running,
    /// The plan is stored (`plan_id`).
    Completed,
    /// Ended with `error_message`.
    Failed,
    /// Cancelled by its user; partial output kept.
    Cancelled,
}

impl TaskStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a stored or queried name.
    pub fn parse(s: &str) -> Option<TaskStatus> {
        Some(match s {
            "pending" => TaskStatus::Pending,
            "running" => TaskStatus::Running,
            "completed" => TaskStatus::Completed,
            "failed" => TaskStatus::Failed,
            "cancelled" => TaskStatus::Cancelled,
            _ => return None,
        })
    }

    /// Completed, failed or cancelled.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

/// A task as stored and shown.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietTask)]
pub struct Task {
    /// UUID v7; also the engine run's id.
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// `diet_plan`.
    pub task_type: String,
    /// See [`TaskStatus`].
    pub status: TaskStatus,
    /// 0–100.
    pub progress: i64,
    /// The node running or last run (`assess`, `week_1` … `week_4`, `narrative`, `finalize`).
    pub current_node: Option<String>,
    /// The pet the plan is for, when made from a stored pet.
    pub pet_id: Option<Uuid>,
    /// The plan, once completed.
    pub plan_id: Option<Uuid>,
    /// The request as normalised (pet profile, preferences).
    #[schema(value_type = Object)]
    pub input_data: Value,
    /// `{plan_id, plan_data}` when completed; the completed nodes' outputs when cancelled or
    /// failed (`{partial: {node: output}}`).
    #[schema(value_type = Object)]
    pub output_data: Option<Value>,
    /// Why it failed or was cancelled.
    pub error_message: Option<String>,
    /// RFC 3339.
    pub started_at: Option<DateTime<Utc>>,
    /// RFC 3339.
    pub completed_at: Option<DateTime<Utc>>,
    /// RFC 3339.
    pub created_at: DateTime<Utc>,
    /// RFC 3339.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    user_id: Uuid,
    task_type: String,
    status: String,
    progress: i64,
    current_node: Option<String>,
    pet_id: Option<Uuid>,
    plan_id: Option<Uuid>,
    input_data: String,
    output_data: Option<String>,
    error_message: Option<String>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Row {
    fn into_task(self) -> Result<Task, StoreError> {
        Ok(Task {
            id: self.id,
            user_id: self.user_id,
            task_type: self.task_type,
            status: TaskStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Other(format!("task status {:?}", self.status)))?,
            progress: self.progress,
            current_node: self.current_node,
            pet_id: self.pet_id,
            plan_id: self.plan_id,
            input_data: serde_json::from_str(&self.input_data).unwrap_or(Value::Null),
            output_data: self.output_data.and_then(|o| serde_json::from_str(&o).ok()),
            error_message: self.error_message,
            started_at: self.started_at,
            completed_at: self.completed_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

const COLUMNS: &str = "id, user_id, task_type, status, progress, current_node, pet_id, plan_id, \
    input_data, output_data, error_message, started_at, completed_at, created_at, updated_at";

/// A new task.
pub struct NewTask<'a> {
    /// Also the engine run id.
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// The pet, when made from a stored pet.
    pub pet_id: Option<Uuid>,
    /// The normalised request.
    pub input: &'a Value,
    /// The client's `Idempotency-Key`.
    pub idempotency_key: Option<&'a str>,
    /// Creation time.
    pub now: DateTime<Utc>,
}

/// Serialises the user's task admissions: takes a row lock on the user's profile row
/// (created on first use) until the transaction ends, so "count active, then insert" is
/// atomic on PostgreSQL too (SQLite transactions are already serialised).
pub async fn lock_user(tx: &mut Tx, user: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
    Ok(on_tx!(tx, c => sqlx::query(
        "INSERT INTO diet_profiles (user_id, updated_at) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET updated_at = diet_profiles.updated_at")
        .bind(user).bind(now).execute(&mut *c).await.map(|_| ()))?)
}

/// The user's pending or running tasks.
pub async fn count_active(tx: &mut Tx, user: Uuid) -> Result<i64, StoreError> {
    let (n,): (i64,) = on_tx!(tx, c => sqlx::query_as(
        "SELECT COUNT(*) FROM diet_tasks WHERE user_id = $1 AND status IN ('pending', 'running')")
        .bind(user).fetch_one(&mut *c).await)?;
    Ok(n)
}

/// The task an earlier request with the same `Idempotency-Key` created.
pub async fn by_idempotency_key(
    tx: &mut Tx,
    user: Uuid,
    key: &str,
) -> Result<Option<Uuid>, StoreError> {
    let row: Option<(Uuid,)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id FROM diet_tasks WHERE user_id = $1 AND idempotency_key = $2")
        .bind(user).bind(key).fetch_optional(&mut *c).await)?;
    Ok(row.map(|r| r.0))
}

/// Inserts a `pending` task.
pub async fn insert(tx: &mut Tx, t: &NewTask<'_>) -> Result<(), StoreError> {
    let input = serde_json::to_string(t.input).unwrap_or_else(|_| "{}".into());
    Ok(on_tx!(tx, c => sqlx::query(
        "INSERT INTO diet_tasks (id, user_id, task_type, status, progress, current_node, pet_id, \
         plan_id, input_data, output_data, error_message, idempotency_key, started_at, \
         completed_at, created_at, updated_at) \
         VALUES ($1, $2, 'diet_plan', 'pending', 0, NULL, $3, NULL, $4, NULL, NULL, $5, NULL, NULL, $6, $6)")
        .bind(t.id).bind(t.user_id).bind(t.pet_id).bind(&input).bind(t.idempotency_key).bind(t.now)
        .execute(&mut *c).await.map(|_| ()))?)
}

/// The user's task.
pub async fn get(db: &Db, user: Uuid, id: Uuid) -> Result<Option<Task>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM diet_tasks WHERE id = $1 AND user_id = $2");
    let row: Option<Row> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id).bind(user).fetch_optional(p).await)?;
    row.map(Row::into_task).transpose()
}

/// Any task (for the engine's handlers).
pub async fn get_any(db: &Db, id: Uuid) -> Result<Option<Task>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM diet_tasks WHERE id = $1");
    let row: Option<Row> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_optional(p).await)?;
    row.map(Row::into_task).transpose()
}

/// A page of the user's tasks, newest first, optionally of one status; and their count.
pub async fn list(
    db: &Db,
    user: Uuid,
    status: Option<TaskStatus>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Task>, i64), StoreError> {
    let status = status.map(TaskStatus::as_str);
    let sql = format!(
        "SELECT {COLUMNS} FROM diet_tasks WHERE user_id = $1 AND ($2 IS NULL OR status = $2) \
         ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
    );
    let rows: Vec<Row> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user).bind(status).bind(limit).bind(offset).fetch_all(p).await)?;
    let (total,): (i64,) = on_db_read!(db, p => sqlx::query_as(
        "SELECT COUNT(*) FROM diet_tasks WHERE user_id = $1 AND ($2 IS NULL OR status = $2)")
        .bind(user).bind(status).fetch_one(p).await)?;
    Ok((
        rows.into_iter()
            .map(Row::into_task)
            .collect::<Result<_, _>>()?,
        total,
    ))
}

/// A node starts: the task is `running` (from `pending`), at `progress`, on `node`. A task
/// that already ended is left alone.
pub async fn node_started(
    db: &Db,
    id: Uuid,
    node: &str,
    progress: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    Ok(on_db!(db, p => sqlx::query(
        "UPDATE diet_tasks SET status = 'running', started_at = COALESCE(started_at, $4), \
         progress = $3, current_node = $2, updated_at = $4 \
         WHERE id = $1 AND status IN ('pending', 'running')")
        .bind(id).bind(node).bind(progress).bind(now).execute(p).await.map(|_| ()))?)
}

/// The task completed with `plan` (in the transaction that stores the plan).
pub async fn complete(
    tx: &mut Tx,
    id: Uuid,
    plan: Uuid,
    output: &Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let output = serde_json::to_string(output).unwrap_or_else(|_| "{}".into());
    Ok(on_tx!(tx, c => sqlx::query(
        "UPDATE diet_tasks SET status = 'completed', progress = 100, current_node = 'finalize', \
         plan_id = $2, output_data = $3, error_message = NULL, \
         started_at = COALESCE(started_at, $4), completed_at = $4, updated_at = $4 \
         WHERE id = $1 AND status IN ('pending', 'running')")
        .bind(id).bind(plan).bind(&output).bind(now).execute(&mut *c).await.map(|_| ()))?)
}

/// The task ended `failed` or `cancelled` with `error` and the partial output; a task that
/// already ended is left alone.
pub async fn finish(
    db: &Db,
    id: Uuid,
    status: TaskStatus,
    error: &str,
    partial: &Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let partial = serde_json::to_string(partial).unwrap_or_else(|_| "{}".into());
    Ok(on_db!(db, p => sqlx::query(
        "UPDATE diet_tasks SET status = $2, error_message = $3, output_data = $4, \
         completed_at = $5, updated_at = $5 WHERE id = $1 AND status IN ('pending', 'running')")
        .bind(id).bind(status.as_str()).bind(error).bind(&partial).bind(now)
        .execute(p).await.map(|_| ()))?)
}
