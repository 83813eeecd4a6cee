//! `diet_llm_usage`: tokens and cost of every LLM call, per task and node, and the per-user
//! daily sum the token budget is checked against.

use chrono::{DateTime, NaiveDate, Utc};
use trellis_kernel::db::{Db, StoreError};
use trellis_kernel::{on_db, on_db_read};
use uuid::Uuid;

/// One call's usage.
pub struct UsageRow<'a> {
    /// The user charged.
    pub user_id: Uuid,
    /// The task.
    pub task_id: Uuid,
    /// The node (`narrative`).
    pub node: &'a str,
    /// The provider that answered.
    pub provider: &'a str,
    /// Its model.
    pub model: &'a str,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// Estimated cost, USD.
    pub cost_usd: f64,
    /// Now.
    pub now: DateTime<Utc>,
}

/// Records a call's usage.
pub async fn record(db: &Db, u: &UsageRow<'_>) -> Result<(), StoreError> {
    let day = u.now.date_naive().to_string();
    Ok(on_db!(db, p => sqlx::query(
        "INSERT INTO diet_llm_usage (id, user_id, task_id, node, provider, model, prompt_tokens, \
         completion_tokens, cost_usd, day, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(Uuid::now_v7()).bind(u.user_id).bind(u.task_id).bind(u.node).bind(u.provider)
        .bind(u.model).bind(u.prompt_tokens).bind(u.completion_tokens).bind(u.cost_usd)
        .bind(&day).bind(u.now).execute(p).await.map(|_| ()))?)
}

/// Tokens the user spent on `day` (UTC).
pub async fn tokens_on(db: &Db, user: Uuid, day: NaiveDate) -> Result<i64, StoreError> {
    let (n,): (Option<i64>,) = on_db_read!(db, p => sqlx::query_as(
        "SELECT CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) FROM diet_llm_usage \
         WHERE user_id = $1 AND day = $2")
        .bind(user).bind(day.to_string()).fetch_one(p).await)?;
    Ok(n.unwrap_or(0))
}

/// Per-node usage of a task: `(node, provider, model, prompt, completion, cost)`.
pub async fn of_task(
    db: &Db,
    task: Uuid,
) -> Result<Vec<(String, String, String, i64, i64, f64)>, StoreError> {
    Ok(on_db_read!(db, p => sqlx::query_as(
        "SELECT node, provider, model, prompt_tokens, completion_tokens, cost_usd \
         FROM diet_llm_usage WHERE task_id = $1 ORDER BY created_at, id")
        .bind(task).fetch_all(p).await)?)
}
