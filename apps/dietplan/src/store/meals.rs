//! `diet_meals`: the meal records of an applied plan (seed 003 `meal_records`): one row per
//! meal of each of the plan's 28 days, completed or not.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

/// A meal record as stored and shown.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietMeal)]
pub struct Meal {
    /// UUID v7.
    pub id: Uuid,
    /// The pet.
    pub pet_id: Uuid,
    /// The plan it comes from.
    pub plan_id: Uuid,
    /// `YYYY-MM-DD`.
    pub meal_date: NaiveDate,
    /// `breakfast|lunch|dinner|snack`.
    pub meal_type: String,
    /// Order within the day, from 1.
    pub meal_order: i64,
    /// `HH:MM`.
    pub meal_time: Option<String>,
    /// The foods, joined (`鸡胸肉 120 g、米饭 80 g`).
    pub food_name: String,
    /// The plan's cooking method for the day.
    pub description: Option<String>,
    /// kcal.
    pub calories: f64,
    /// `{items: [{name, weight}]}` as planned.
    #[schema(value_type = Object)]
    pub nutrition_data: Value,
    /// Fed.
    pub is_completed: bool,
    /// When it was marked fed.
    pub completed_at: Option<DateTime<Utc>>,
    /// The owner's note.
    pub notes: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    pet_id: Uuid,
    plan_id: Uuid,
    meal_date: String,
    meal_type: String,
    meal_order: i64,
    meal_time: Option<String>,
    food_name: String,
    description: Option<String>,
    calories: f64,
    nutrition_data: String,
    is_completed: bool,
    completed_at: Option<DateTime<Utc>>,
    notes: Option<String>,
}

impl Row {
    fn into_meal(self) -> Result<Meal, StoreError> {
        Ok(Meal {
            id: self.id,
            pet_id: self.pet_id,
            plan_id: self.plan_id,
            meal_date: self
                .meal_date
                .parse()
                .map_err(|_| StoreError::Other(format!("meal date {:?}", self.meal_date)))?,
            meal_type: self.meal_type,
            meal_order: self.meal_order,
            meal_time: self.meal_time,
            food_name: self.food_name,
            description: self.description,
            calories: self.calories,
            nutrition_data: serde_json::from_str(&self.nutrition_data).unwrap_or(Value::Null),
            is_completed: self.is_completed,
            completed_at: self.completed_at,
            notes: self.notes,
        })
    }
}

const COLUMNS: &str = "id, pet_id, plan_id, meal_date, meal_type, meal_order, meal_time, \
    food_name, description, calories, nutrition_data, is_completed, completed_at, notes";

/// A meal to insert.
pub struct NewMeal {
    /// The pet.
    pub pet_id: Uuid,
    /// The plan.
    pub plan_id: Uuid,
    /// The day.
    pub date: NaiveDate,
    /// `breakfast|lunch|dinner|snack`.
    pub meal_type: String,
    /// From 1.
    pub order: i64,
    /// `HH:MM`.
    pub time: Option<String>,
    /// The foods, joined.
    pub food_name: String,
    /// Cooking method.
    pub description: Option<String>,
    /// kcal.
    pub calories: f64,
    /// Items as planned.
    pub nutrition_data: Value,
}

/// Deletes the pet's meals from `from` on that were not fed (a new plan replaces them).
pub async fn delete_future_open(
    tx: &mut Tx,
    pet: Uuid,
    from: NaiveDate,
) -> Result<u64, StoreError> {
    let from = from.to_string();
    Ok(on_tx!(tx, c => sqlx::query(
        "DELETE FROM diet_meals WHERE pet_id = $1 AND meal_date >= $2 AND is_completed = FALSE")
        .bind(pet).bind(&from).execute(&mut *c).await.map(|r| r.rows_affected()))?)
}

/// Inserts meal records.
pub async fn insert_all(
    tx: &mut Tx,
    user: Uuid,
    meals: &[NewMeal],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for m in meals {
        let data = serde_json::to_string(&m.nutrition_data).unwrap_or_else(|_| "{}".into());
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO diet_meals (id, user_id, pet_id, plan_id, meal_date, meal_type, meal_order, \
             meal_time, food_name, description, calories, nutrition_data, is_completed, \
             completed_at, notes, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, FALSE, NULL, NULL, $13, $13)")
            .bind(Uuid::now_v7()).bind(user).bind(m.pet_id).bind(m.plan_id)
            .bind(m.date.to_string()).bind(&m.meal_type).bind(m.order).bind(&m.time)
            .bind(&m.food_name).bind(&m.description).bind(m.calories).bind(&data).bind(now)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

/// The user's pet's meals of `date`, in order.
pub async fn of_day(
    db: &Db,
    user: Uuid,
    pet: Uuid,
    date: NaiveDate,
) -> Result<Vec<Meal>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM diet_meals WHERE user_id = $1 AND pet_id = $2 AND meal_date = $3 \
         ORDER BY meal_order, id"
    );
    let rows: Vec<Row> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user).bind(pet).bind(date.to_string()).fetch_all(p).await)?;
    rows.into_iter().map(Row::into_meal).collect()
}

/// Marks the user's meal fed (`done`) or not; `None` when there is no such meal.
pub async fn set_completed(
    tx: &mut Tx,
    user: Uuid,
    id: Uuid,
    done: bool,
    notes: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Meal>, StoreError> {
    let at = done.then_some(now);
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE diet_meals SET is_completed = $3, completed_at = $4, \
         notes = COALESCE($5, notes), updated_at = $6 WHERE id = $1 AND user_id = $2")
        .bind(id).bind(user).bind(done).bind(at).bind(notes).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(None);
    }
    let sql = format!("SELECT {COLUMNS} FROM diet_meals WHERE id = $1");
    let row: Row = on_tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id).fetch_one(&mut *c).await)?;
    row.into_meal().map(Some)
}
