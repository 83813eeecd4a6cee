//! Meal records of the applied plan: a day's meals, marking a meal fed or not.

use chrono::NaiveDate;
use serde::Serialize;
use trellis_identity::Principal;
use uuid::Uuid;

use crate::error::DietError;
use crate::state::DietState;
use crate::store::meals::{self, Meal};
use crate::store::pets;

/// One day's meals of a pet.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DietMealDay)]
pub struct Day {
    /// The pet.
    pub pet_id: Uuid,
    /// `YYYY-MM-DD`.
    pub date: NaiveDate,
    /// In order.
    pub meals: Vec<Meal>,
    /// kcal of all meals.
    pub total_calories: f64,
    /// Meals fed.
    pub completed: usize,
}

/// The caller's pet's meals of `date` (today in `TRELLIS_DIET_TIMEZONE` by default).
pub async fn day(
    s: &DietState,
    p: &Principal,
    pet: Uuid,
    date: Option<NaiveDate>,
) -> Result<Day, DietError> {
    pets::get(&s.platform.db, p.user_id, pet)
        .await?
        .ok_or_else(DietError::pet_not_found)?;
    let date = date.unwrap_or_else(|| {
        s.platform
            .clock
            .now()
            .with_timezone(&s.settings.timezone)
            .date_naive()
    });
    let list = meals::of_day(&s.platform.db, p.user_id, pet, date).await?;
    Ok(Day {
        pet_id: pet,
        date,
        total_calories: (list.iter().map(|m| m.calories).sum::<f64>() * 10.0).round() / 10.0,
        completed: list.iter().filter(|m| m.is_completed).count(),
        meals: list,
    })
}

/// Marks the caller's meal fed (`done`) or not.
pub async fn set_completed(
    s: &DietState,
    p: &Principal,
    id: Uuid,
    done: bool,
    notes: Option<String>,
) -> Result<Meal, DietError> {
    if notes.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(DietError::field(
            "notes",
            "too_long",
            "notes has at most 500 characters",
        ));
    }
    let mut tx = s.platform.db.begin().await?;
    let meal = meals::set_completed(
        &mut tx,
        p.user_id,
        id,
        done,
        notes.as_deref(),
        s.platform.clock.now(),
    )
    .await?
    .ok_or_else(DietError::meal_not_found)?;
    tx.commit().await?;
    Ok(meal)
}
