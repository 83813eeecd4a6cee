//! `diet_plans`: the seed's `diet_plans` (`plan_data` is the `PetDietPlan` document) plus the
//! pet link and activation (`is_active`, `applied_at`, `active_start_date`); soft-deleted.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

/// A plan as stored and shown.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietPlan)]
pub struct Plan {
    /// UUID v7.
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// The task that made it.
    pub task_id: Option<Uuid>,
    /// The pet it is for (null for a plan made from inline pet info).
    pub pet_id: Option<Uuid>,
    /// `cat` or `dog`.
    pub pet_type: String,
    /// Free text.
    pub pet_breed: Option<String>,
    /// Months.
    pub pet_age: i64,
    /// Kilograms (a decimal; the original stored an integer).
    pub pet_weight: f64,
    /// Free text.
    pub health_status: Option<String>,
    /// The `PetDietPlan` document.
    #[schema(value_type = Object)]
    pub plan_data: Value,
    /// The pet's active plan.
    pub is_active: bool,
    /// When it was applied.
    pub applied_at: Option<DateTime<Utc>>,
    /// The first day of its meal records (`YYYY-MM-DD`).
    pub active_start_date: Option<NaiveDate>,
    /// RFC 3339.
    pub created_at: DateTime<Utc>,
    /// RFC 3339.
    pub updated_at: DateTime<Utc>,
}

/// A plan without its document (lists).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietPlanSummary)]
pub struct PlanSummary {
    /// UUID v7.
    pub id: Uuid,
    /// The task that made it.
    pub task_id: Option<Uuid>,
    /// The pet it is for.
    pub pet_id: Option<Uuid>,
    /// `cat` or `dog`.
    pub pet_type: String,
    /// Free text.
    pub pet_breed: Option<String>,
    /// Months.
    pub pet_age: i64,
    /// Kilograms.
    pub pet_weight: f64,
    /// The daily energy target (kcal) of the plan.
    pub daily_kcal: Option<f64>,
    /// The pet's active plan.
    pub is_active: bool,
    /// RFC 3339.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    user_id: Uuid,
    task_id: Option<Uuid>,
    pet_id: Option<Uuid>,
    pet_type: String,
    pet_breed: Option<String>,
    pet_age: i64,
    pet_weight: f64,
    health_status: Option<String>,
    plan_data: String,
    is_active: bool,
    applied_at: Option<DateTime<Utc>>,
    active_start_date: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Plan {
    fn from(r: Row) -> Plan {
        Plan {
            id: r.id,
            user_id: r.user_id,
            task_id: r.task_id,
            pet_id: r.pet_id,
            pet_type: r.pet_type,
            pet_breed: r.pet_breed,
            pet_age: r.pet_age,
            pet_weight: r.pet_weight,
            health_status: r.health_status,
            plan_data: serde_json::from_str(&r.plan_data).unwrap_or(Value::Null),
            is_active: r.is_active,
            applied_at: r.applied_at,
            active_start_date: r.active_start_date.and_then(|d| d.parse().ok()),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str = "id, user_id, task_id, pet_id, pet_type, pet_breed, pet_age, pet_weight, \
    health_status, plan_data, is_active, applied_at, active_start_date, created_at, updated_at";

/// A new plan.
pub struct NewPlan<'a> {
    /// UUID v7.
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// The task that made it.
    pub task_id: Uuid,
    /// The pet.
    pub pet_id: Option<Uuid>,
    /// `cat`/`dog`.
    pub pet_type: &'a str,
    /// Breed.
    pub pet_breed: Option<&'a str>,
    /// Months.
    pub pet_age: i64,
    /// Kilograms.
    pub pet_weight: f64,
    /// Health notes.
    pub health_status: Option<&'a str>,
    /// The document.
    pub plan_data: &'a Value,
    /// Now.
    pub now: DateTime<Utc>,
}

/// The plan a task already stored (a finalize node that runs again after a crash reuses it).
pub async fn by_task(tx: &mut Tx, task: Uuid) -> Result<Option<Uuid>, StoreError> {
    let row: Option<(Uuid,)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id FROM diet_plans WHERE task_id = $1")
        .bind(task).fetch_optional(&mut *c).await)?;
    Ok(row.map(|r| r.0))
}

/// The id of the plan task `task` produced, if any (read outside a transaction; the plan
/// row is written in the `finalize` node's transaction, before the run's completion event).
pub async fn id_of_task(db: &Db, task: Uuid) -> Result<Option<Uuid>, StoreError> {
    let row: Option<(Uuid,)> = on_db_read!(db, p => sqlx::query_as(
        "SELECT id FROM diet_plans WHERE task_id = $1")
        .bind(task).fetch_optional(p).await)?;
    Ok(row.map(|r| r.0))
}

/// Inserts a plan.
pub async fn insert(tx: &mut Tx, p: &NewPlan<'_>) -> Result<(), StoreError> {
    let data = serde_json::to_string(p.plan_data).unwrap_or_else(|_| "{}".into());
    Ok(on_tx!(tx, c => sqlx::query(
        "INSERT INTO diet_plans (id, user_id, task_id, pet_id, pet_type, pet_breed, pet_age, \
         pet_weight, health_status, plan_data, is_active, applied_at, active_start_date, deleted, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, FALSE, NULL, NULL, FALSE, $11, $11)")
        .bind(p.id).bind(p.user_id).bind(p.task_id).bind(p.pet_id).bind(p.pet_type)
        .bind(p.pet_breed).bind(p.pet_age).bind(p.pet_weight).bind(p.health_status).bind(&data)
        .bind(p.now).execute(&mut *c).await.map(|_| ()))?)
}

/// The user's live plan.
pub async fn get(db: &Db, user: Uuid, id: Uuid) -> Result<Option<Plan>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM diet_plans WHERE id = $1 AND user_id = $2 AND deleted = FALSE"
    );
    let row: Option<Row> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id).bind(user).fetch_optional(p).await)?;
    Ok(row.map(Plan::from))
}

/// The user's live plan, read in a transaction.
pub async fn get_in(tx: &mut Tx, user: Uuid, id: Uuid) -> Result<Option<Plan>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM diet_plans WHERE id = $1 AND user_id = $2 AND deleted = FALSE"
    );
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id).bind(user).fetch_optional(&mut *c).await)?;
    Ok(row.map(Plan::from))
}

/// Filters of `GET /plans`.
#[derive(Default)]
pub struct PlanFilter<'a> {
    /// `cat`/`dog`.
    pub pet_type: Option<&'a str>,
    /// One pet's plans.
    pub pet_id: Option<Uuid>,
}

/// A page of the user's live plans, newest first; and their count.
pub async fn list(
    db: &Db,
    user: Uuid,
    f: &PlanFilter<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<PlanSummary>, i64), StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM diet_plans WHERE user_id = $1 AND deleted = FALSE \
         AND ($2 IS NULL OR pet_type = $2) AND ($3 IS NULL OR pet_id = $3) \
         ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"
    );
    let rows: Vec<Row> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user).bind(f.pet_type).bind(f.pet_id).bind(limit).bind(offset).fetch_all(p).await)?;
    let (total,): (i64,) = on_db_read!(db, p => sqlx::query_as(
        "SELECT COUNT(*) FROM diet_plans WHERE user_id = $1 AND deleted = FALSE \
         AND ($2 IS NULL OR pet_type = $2) AND ($3 IS NULL OR pet_id = $3)")
        .bind(user).bind(f.pet_type).bind(f.pet_id).fetch_one(p).await)?;
    let items = rows
        .into_iter()
        .map(Plan::from)
        .map(|p| PlanSummary {
            daily_kcal: p.plan_data["nutrition_targets"]["daily_kcal"].as_f64(),
            id: p.id,
            task_id: p.task_id,
            pet_id: p.pet_id,
            pet_type: p.pet_type,
            pet_breed: p.pet_breed,
            pet_age: p.pet_age,
            pet_weight: p.pet_weight,
            is_active: p.is_active,
            created_at: p.created_at,
        })
        .collect();
    Ok((items, total))
}

/// Soft-deletes the user's plan (and deactivates it); false when there was none.
pub async fn soft_delete(
    tx: &mut Tx,
    user: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE diet_plans SET deleted = TRUE, is_active = FALSE, updated_at = $3 \
         WHERE id = $1 AND user_id = $2 AND deleted = FALSE")
        .bind(id).bind(user).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Makes `id` the pet's only active plan from `start`.
pub async fn activate(
    tx: &mut Tx,
    pet: Uuid,
    id: Uuid,
    start: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE diet_plans SET is_active = FALSE, updated_at = $2 \
         WHERE pet_id = $1 AND is_active = TRUE")
        .bind(pet).bind(now).execute(&mut *c).await.map(|_| ()))?;
    let start = start.to_string();
    on_tx!(tx, c => sqlx::query(
        "UPDATE diet_plans SET is_active = TRUE, pet_id = $2, applied_at = $3, \
         active_start_date = $4, updated_at = $3 WHERE id = $1")
        .bind(id).bind(pet).bind(now).bind(&start).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
