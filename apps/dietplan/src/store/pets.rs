//! `diet_pets`: a user's pets (seed 003 HEAD `pets`, issue 12 fields), soft-deleted.

use chrono::{DateTime, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use crate::nutrition::{Activity, Species};

/// A pet as stored and shown.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietPet)]
pub struct Pet {
    /// UUID v7.
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// 1–50 characters.
    pub name: String,
    /// `cat` or `dog`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub species: Species,
    /// Free text.
    pub breed: Option<String>,
    /// Months, 1–360.
    pub age_months: i64,
    /// Kilograms, 0.1–200.
    pub weight_kg: f64,
    /// `male` or `female`.
    pub gender: Option<String>,
    /// Neutered or spayed.
    pub neutered: bool,
    /// `low|moderate|high|working`.
    #[schema(value_type = String)]
    pub activity_level: Activity,
    /// 1–9 (5 = ideal).
    pub body_condition_score: i64,
    /// Free text (the seed's `health_status`).
    pub health_notes: Option<String>,
    /// A veterinarian confirmed the health notes; only then do they change a plan.
    pub vet_confirmed: bool,
    /// Foods the pet must not get.
    pub allergies: Vec<String>,
    /// Foods to prefer.
    pub food_preferences: Vec<String>,
    /// The plan applied last (`POST /plans/{id}/apply`).
    pub active_plan_id: Option<Uuid>,
    /// RFC 3339.
    pub created_at: DateTime<Utc>,
    /// RFC 3339.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    user_id: Uuid,
    name: String,
    species: String,
    breed: Option<String>,
    age_months: i64,
    weight_kg: f64,
    gender: Option<String>,
    neutered: bool,
    activity_level: String,
    body_condition_score: i64,
    health_notes: Option<String>,
    vet_confirmed: bool,
    allergies: String,
    food_preferences: String,
    active_plan_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn enum_of<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| StoreError::Other(format!("unexpected stored value {s:?}")))
}

impl Row {
    fn into_pet(self) -> Result<Pet, StoreError> {
        Ok(Pet {
            id: self.id,
            user_id: self.user_id,
            name: self.name,
            species: enum_of(&self.species)?,
            breed: self.breed,
            age_months: self.age_months,
            weight_kg: self.weight_kg,
            gender: self.gender,
            neutered: self.neutered,
            activity_level: enum_of(&self.activity_level)?,
            body_condition_score: self.body_condition_score,
            health_notes: self.health_notes,
            vet_confirmed: self.vet_confirmed,
            // Written by `insert`/`update` from a Vec<String>.
            allergies: serde_json::from_str(&self.allergies).unwrap_or_default(),
            food_preferences: serde_json::from_str(&self.food_preferences).unwrap_or_default(),
            active_plan_id: self.active_plan_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

const COLUMNS: &str = "id, user_id, name, species, breed, age_months, weight_kg, gender, neutered, \
    activity_level, body_condition_score, health_notes, vet_confirmed, allergies, food_preferences, \
    active_plan_id, created_at, updated_at";

fn text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn name_of<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Inserts or replaces (by id) a pet's row in the caller's transaction.
pub async fn save(tx: &mut Tx, p: &Pet) -> Result<(), StoreError> {
    let (species, activity) = (name_of(&p.species), name_of(&p.activity_level));
    let (allergies, prefs) = (text(&p.allergies), text(&p.food_preferences));
    Ok(on_tx!(tx, c => sqlx::query(
        "INSERT INTO diet_pets (id, user_id, name, species, breed, age_months, weight_kg, gender, \
         neutered, activity_level, body_condition_score, health_notes, vet_confirmed, allergies, \
         food_preferences, active_plan_id, is_active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, TRUE, $17, $18) \
         ON CONFLICT (id) DO UPDATE SET name = $3, species = $4, breed = $5, age_months = $6, \
         weight_kg = $7, gender = $8, neutered = $9, activity_level = $10, \
         body_condition_score = $11, health_notes = $12, vet_confirmed = $13, allergies = $14, \
         food_preferences = $15, active_plan_id = $16, updated_at = $18")
        .bind(p.id).bind(p.user_id).bind(&p.name).bind(&species).bind(&p.breed)
        .bind(p.age_months).bind(p.weight_kg).bind(&p.gender).bind(p.neutered).bind(&activity)
        .bind(p.body_condition_score).bind(&p.health_notes).bind(p.vet_confirmed)
        .bind(&allergies).bind(&prefs).bind(p.active_plan_id).bind(p.created_at).bind(p.updated_at)
        .execute(&mut *c).await.map(|_| ()))?)
}

/// The user's live pet `id`.
pub async fn get(db: &Db, user: Uuid, id: Uuid) -> Result<Option<Pet>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM diet_pets WHERE id = $1 AND user_id = $2 AND is_active = TRUE"
    );
    let row: Option<Row> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id).bind(user).fetch_optional(p).await)?;
    row.map(Row::into_pet).transpose()
}

/// The user's live pet `id`, read in a transaction.
pub async fn get_in(tx: &mut Tx, user: Uuid, id: Uuid) -> Result<Option<Pet>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM diet_pets WHERE id = $1 AND user_id = $2 AND is_active = TRUE"
    );
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id).bind(user).fetch_optional(&mut *c).await)?;
    row.map(Row::into_pet).transpose()
}

/// A page of the user's live pets, oldest first, and their count.
pub async fn list(
    db: &Db,
    user: Uuid,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Pet>, i64), StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM diet_pets WHERE user_id = $1 AND is_active = TRUE \
         ORDER BY created_at, id LIMIT $2 OFFSET $3"
    );
    let rows: Vec<Row> = on_db_read!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user).bind(limit).bind(offset).fetch_all(p).await)?;
    let (total,): (i64,) = on_db_read!(db, p => sqlx::query_as(
        "SELECT COUNT(*) FROM diet_pets WHERE user_id = $1 AND is_active = TRUE")
        .bind(user).fetch_one(p).await)?;
    Ok((
        rows.into_iter()
            .map(Row::into_pet)
            .collect::<Result<_, _>>()?,
        total,
    ))
}

/// Soft-deletes the user's pet; false when there was none.
pub async fn soft_delete(
    tx: &mut Tx,
    user: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query(
        "UPDATE diet_pets SET is_active = FALSE, updated_at = $3 \
         WHERE id = $1 AND user_id = $2 AND is_active = TRUE")
        .bind(id).bind(user).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Sets the pet's active plan.
pub async fn set_active_plan(
    tx: &mut Tx,
    id: Uuid,
    plan: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    Ok(on_tx!(tx, c => sqlx::query(
        "UPDATE diet_pets SET active_plan_id = $2, updated_at = $3 WHERE id = $1")
        .bind(id).bind(plan).bind(now).execute(&mut *c).await.map(|_| ()))?)
}
