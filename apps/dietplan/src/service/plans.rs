//! Diet plans: list, read, soft delete, and apply (the pet's active plan, with its meal
//! records for the plan's 28 days).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trellis_identity::Principal;
use uuid::Uuid;

use crate::error::DietError;
use crate::state::DietState;
use crate::store::meals::{self, NewMeal};
use crate::store::pets;
use crate::store::plans::{self, Plan, PlanFilter, PlanSummary};

/// The caller's plan.
pub async fn get(s: &DietState, p: &Principal, id: Uuid) -> Result<Plan, DietError> {
    plans::get(&s.platform.db, p.user_id, id)
        .await?
        .ok_or_else(DietError::plan_not_found)
}

/// A page of the caller's plans.
pub async fn list(
    s: &DietState,
    p: &Principal,
    f: &PlanFilter<'_>,
    page: i64,
    size: i64,
) -> Result<(Vec<PlanSummary>, i64), DietError> {
    Ok(plans::list(
        &s.platform.db,
        p.user_id,
        f,
        size,
        (page - 1).saturating_mul(size),
    )
    .await?)
}

/// Soft-deletes the caller's plan; an active plan's future uncompleted meals go with it.
pub async fn delete(s: &DietState, p: &Principal, id: Uuid) -> Result<(), DietError> {
    let now = s.platform.clock.now();
    let mut tx = s.platform.db.begin().await?;
    let plan = plans::get_in(&mut tx, p.user_id, id)
        .await?
        .ok_or_else(DietError::plan_not_found)?;
    plans::soft_delete(&mut tx, p.user_id, id, now).await?;
    if plan.is_active
        && let Some(pet) = plan.pet_id
    {
        let today = now.with_timezone(&s.settings.timezone).date_naive();
        meals::delete_future_open(&mut tx, pet, today).await?;
        pets::set_active_plan(&mut tx, pet, None, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `POST /plans/{id}/apply` body (optional).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = DietApplyBody)]
pub struct ApplyBody {
    /// The pet, for a plan made from inline pet info (a plan made for a pet uses that pet).
    pub pet_id: Option<Uuid>,
    /// The first day (`YYYY-MM-DD`); default today in `TRELLIS_DIET_TIMEZONE`.
    pub start_date: Option<NaiveDate>,
}

/// What applying did.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietPlanApplied)]
pub struct Applied {
    /// The plan.
    pub plan_id: Uuid,
    /// The pet.
    pub pet_id: Uuid,
    /// The first day.
    pub active_start_date: NaiveDate,
    /// Meal records created (28 days × meals per day).
    pub meals_created: usize,
}

/// Makes the plan the pet's only active plan from `start_date`: other plans of the pet are
/// deactivated, the pet's meals from that day on that were not fed are replaced by this
/// plan's 28 days of meals.
pub async fn apply(
    s: &DietState,
    p: &Principal,
    id: Uuid,
    b: ApplyBody,
) -> Result<Applied, DietError> {
    let now = s.platform.clock.now();
    let start = b
        .start_date
        .unwrap_or_else(|| now.with_timezone(&s.settings.timezone).date_naive());
    let mut tx = s.platform.db.begin().await?;
    let plan = plans::get_in(&mut tx, p.user_id, id)
        .await?
        .ok_or_else(DietError::plan_not_found)?;
    let pet_id = match (plan.pet_id, b.pet_id) {
        (Some(a), Some(b)) if a != b => {
            return Err(DietError::field(
                "pet_id",
                "mismatch",
                "this plan was made for another pet",
            ));
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => {
            return Err(DietError::field(
                "pet_id",
                "required",
                "this plan was made from inline pet info: name the pet to apply it to",
            ));
        }
    };
    let pet = pets::get_in(&mut tx, p.user_id, pet_id)
        .await?
        .ok_or_else(DietError::pet_not_found)?;
    if crate::service::tasks::species_name(pet.species) != plan.pet_type {
        return Err(DietError::field(
            "pet_id",
            "mismatch",
            "the plan is for another species",
        ));
    }
    let records = meal_records(&plan.plan_data, pet_id, id, start);
    plans::activate(&mut tx, pet_id, id, start, now).await?;
    meals::delete_future_open(&mut tx, pet_id, start).await?;
    meals::insert_all(&mut tx, p.user_id, &records, now).await?;
    pets::set_active_plan(&mut tx, pet_id, Some(id), now).await?;
    tx.commit().await?;
    Ok(Applied {
        plan_id: id,
        pet_id,
        active_start_date: start,
        meals_created: records.len(),
    })
}

/// The meal records of the plan's 28 days from `start`: day `d` is week `d / 7`, day
/// `d % 7` of `plan_data.pet_diet_plan.monthly_diet_plan`; each daily plan's `meals`
/// become records (a day without `meals` is one record of its food items).
pub fn meal_records(data: &Value, pet: Uuid, plan: Uuid, start: NaiveDate) -> Vec<NewMeal> {
    let weeks = data["pet_diet_plan"]["monthly_diet_plan"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for (w, week) in weeks.iter().enumerate().take(4) {
        let days = week["weekly_diet_plan"]["daily_diet_plans"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (d, day) in days.iter().enumerate().take(7) {
            let Some(date) = start.checked_add_days(chrono::Days::new((w * 7 + d) as u64)) else {
                continue;
            };
            let cook = day["cook_method"].as_str().map(str::to_string);
            let meals = match day["meals"].as_array() {
                Some(m) if !m.is_empty() => m.clone(),
                _ => vec![
                    json!({"meal_type": "dinner", "time": day["time"], "kcal": day["kcal"],
                                 "items": day["food_items"]}),
                ],
            };
            for (i, m) in meals.iter().enumerate() {
                let items: Vec<Value> = m["items"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|it| json!({"name": it["name"], "weight": it["weight"]}))
                    .collect();
                let food_name = items
                    .iter()
                    .map(|it| match it["weight"].as_f64() {
                        Some(g) => format!("{} {g} g", it["name"].as_str().unwrap_or("")),
                        None => it["name"].as_str().unwrap_or("").to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("、");
                let meal_type = match m["meal_type"].as_str() {
                    Some(t @ ("breakfast" | "lunch" | "dinner" | "snack")) => t.to_string(),
                    _ => "snack".to_string(),
                };
                out.push(NewMeal {
                    pet_id: pet,
                    plan_id: plan,
                    date,
                    meal_type,
                    order: i as i64 + 1,
                    time: m["time"].as_str().map(str::to_string),
                    food_name,
                    description: cook.clone(),
                    calories: m["kcal"].as_f64().unwrap_or(0.0),
                    nutrition_data: json!({"items": items}),
                });
            }
        }
    }
    out
}
