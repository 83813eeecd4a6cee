//! The offline nutrition engine (issue 12 "The planner"; facts and sources in
//! `shared/reference/nutrition.md`, cited below by section): energy (RER 70·kg^0.75, MER
//! factors by species, life stage, neuter status, activity and body condition), macro
//! targets, AAFCO per-1000-kcal limits, a bundled ingredient table (USDA SR28 rows), foods
//! toxic to each species, and a deterministic 4-week plan in the seed's `PetDietPlan` shape.
//! No network, no randomness: the same input gives byte-identical JSON.
//!
//! Pipeline (called by the engine): [`assess`] → [`plan_week`] × 4 → optional LLM
//! [`Narrative`] → [`assemble`]. `Assessment` and `Week` are stored as JSON and read back;
//! all stored floats are rounded to ≤ 2 decimals so they round-trip exactly.
//!
//! Invariants (tested): every day's food items add up to `daily_kcal` within ±1 %
//! (the issue allows ±5 %); no toxic food and no allergen is ever used; Ca:P is within
//! 1:1–2:1 every day; the completeness report claims only nutrients that every day passes
//! and never claims completeness for nutrients the table cannot quantify; health conditions
//! change the plan only with `vet_confirmed`; the plan always carries [`VET_NOTE`]; an LLM
//! narrative replaces texts, never numbers.
//!
//! Cost: one whole plan (assess + 4 weeks + assemble) takes ≈ 7–11 ms in release on the
//! 2-core build machine, almost all of it building `serde_json::Value` trees.
//!
//! Modules: `energy` (RER/MER), `targets` (AAFCO limits, macro split), `ingredients` (table,
//! name matching), `toxic` (§4 list), `conditions` (health notes), `assess` and `selection`
//! (validation, ingredient choice), `compose` (one day's amounts), `planner` (weeks),
//! `checks` (nutrient checks), `assemble`, `text` (Chinese texts), `schema` (narrative JSON
//! Schema), `matching` (the name-matching rule).

mod assemble;
mod assess;
mod checks;
mod compose;
mod conditions;
mod energy;
mod ingredients;
mod matching;
mod planner;
mod schema;
mod selection;
mod targets;
mod text;
mod toxic;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_api;
#[cfg(test)]
mod tests_prop;

use serde::{Deserialize, Serialize};

pub use text::VET_NOTE;

/// The species the planner serves (seed 003 `pets.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Species {
    /// `cat`
    Cat,
    /// `dog`
    Dog,
}

/// Activity level (`pets.activity_level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activity {
    /// `low`
    Low,
    /// `moderate` (default)
    #[default]
    Moderate,
    /// `high`
    High,
    /// `working`
    Working,
}

/// What the engine needs to know about a pet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pet {
    /// Cat or dog.
    pub species: Species,
    /// Free text; used for size class hints (giant/large breeds) when recognised.
    pub breed: Option<String>,
    /// Age in months (1–360; under 2 is refused as pre-weaning).
    pub age_months: u32,
    /// Current body weight in kg (dog 0.5–100, cat 0.5–15; otherwise refused).
    pub weight_kg: f64,
    /// Neutered or spayed.
    pub neutered: bool,
    /// Activity level.
    pub activity: Activity,
    /// Body condition score on the 9-point scale (5 = ideal).
    pub body_condition_score: u8,
    /// Foods the pet must not get (ingredient names, Chinese or English).
    pub allergies: Vec<String>,
    /// Foods to prefer (ingredient names, Chinese or English).
    pub food_preferences: Vec<String>,
    /// Free-text health notes (seed `health_status`).
    pub health_notes: Option<String>,
    /// True when a veterinarian confirmed the health conditions; only then do they change
    /// the plan.
    pub vet_confirmed: bool,
}

/// The result of the `assess` node: energy, targets, the chosen ingredients, notes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The stored JSON: `{species, energy: {rer_kcal, factor, daily_kcal, life_stage,
    /// life_stage_zh, basis, ideal_weight_kg, weight_for_rer_kg}, nutrition_targets:
    /// {daily_kcal, protein_g, fat_g, carbohydrates_g}, macro_split_pct, aafco_profile,
    /// minimums_per_1000kcal, maximums_per_1000kcal, ingredients: {proteins, eggs, fish,
    /// organs, dairy, carbohydrates, vegetables, fruits, oil, vitamin_oil, calcium_source,
    /// phosphorus_source, supplement}, meals_per_day, meal_times, warnings,
    /// vet_review_required, conditions_detected, conditions_applied}`.
    pub data: serde_json::Value,
}

/// One week of the plan (the output of a `week_N` node), in the seed's shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Week {
    /// The stored JSON: `{oder, diet_adjustment_principle, weekly_diet_plan:
    /// {daily_diet_plans: [7 days]}, weekly_special_adjustment_note, suggestions}`; a day is
    /// `{oder, day, time, kcal, kcal_modified_atwater, food_items, meals, cook_method, totals}`
    /// (week 1 adds `transition_new_food_percent`). A food item is `{name (Chinese), name_en,
    /// ingredient_id, weight (g, 0.1), kcal (USDA SR28 basis), macro_nutrients {protein, fat,
    /// carbohydrates, dietary_fiber} (g), micro_nutrients {vitamin_a (µg; RAE for dogs,
    /// retinol for cats), vitamin_c (mg), vitamin_d (µg), calcium, iron, sodium, potassium,
    /// cholesterol (mg), additional_nutrients {phosphorus_mg, water_g, vitamin_a_basis}},
    /// recommend_reason}`; a meal is `{meal_type, time, kcal, items: [{name, weight}]}`.
    pub data: serde_json::Value,
}

/// Why no plan can be made (422 to the client, `error` on the task).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// Stable code: `invalid_weight`, `weight_out_of_range`, `invalid_age`, `pre_weaning`,
    /// `invalid_body_condition_score`, `pregnancy_or_lactation`, `toxic_preference`,
    /// `no_safe_protein`.
    pub code: &'static str,
    /// Human message (Chinese).
    pub message: String,
}

/// The narrative an LLM may add (validated against [`narrative_schema`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Narrative {
    /// Overall suggestions.
    pub ai_suggestions: String,
    /// Per week (index 0..4): principle, special note, suggestions.
    pub weeks: Vec<WeekNarrative>,
}

/// One week's narrative.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WeekNarrative {
    /// `diet_adjustment_principle`.
    pub diet_adjustment_principle: String,
    /// `weekly_special_adjustment_note`.
    pub weekly_special_adjustment_note: String,
    /// `suggestions`.
    pub suggestions: Vec<String>,
}

pub(crate) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn to_value<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Reads an assessment back; recomputes it from `pet` when the stored JSON is not ours or
/// belongs to another species.
fn load(pet: &Pet, a: &Assessment) -> Result<assess::AssessData, Refusal> {
    match assess::AssessData::deserialize(&a.data) {
        Ok(d) if d.species == pet.species => Ok(d),
        _ => assess::run(pet),
    }
}

/// Energy and targets for `pet`, and the ingredient selection.
///
/// # Errors
/// A [`Refusal`] when the reference says to refer to a vet or the input is implausible (see
/// [`Refusal::code`]).
pub fn assess(pet: &Pet) -> Result<Assessment, Refusal> {
    assess::run(pet).map(|d| Assessment { data: to_value(&d) })
}

/// Week `n` (1..=4; other values are clamped) of the plan.
pub fn plan_week(pet: &Pet, a: &Assessment, n: u8) -> Week {
    match load(pet, a) {
        Ok(d) => Week {
            data: planner::week(pet, &d, n),
        },
        Err(r) => Week {
            data: serde_json::json!({
                "oder": n,
                "error": {"code": r.code, "message": r.message},
                "weekly_diet_plan": {"daily_diet_plans": []},
            }),
        },
    }
}

/// The whole `PetDietPlan` document (`plan_data`); see `assemble` module docs for the shape.
pub fn assemble(
    pet: &Pet,
    a: &Assessment,
    weeks: &[Week],
    narrative: Option<&Narrative>,
) -> serde_json::Value {
    match load(pet, a) {
        Ok(d) => assemble::run(pet, &d, weeks, narrative),
        Err(r) => serde_json::json!({
            "error": {"code": r.code, "message": r.message},
            "notes": [VET_NOTE],
            "vet_review_required": true,
            "generated_by": "nutrition-engine",
        }),
    }
}

/// The canonical (English) name of the toxic food `name` refers to for `species`, if any —
/// Chinese or English, case-insensitive, aliases included; see the `toxic` and `matching`
/// module docs for the list and the matching rule (whole words for English, safe-word
/// blockers such as 山茶油 for 茶).
pub fn toxic_food(species: Species, name: &str) -> Option<&'static str> {
    toxic::find(species, name)
}

/// The Chinese label of a canonical name returned by [`toxic_food`].
pub fn toxic_food_zh(canonical: &str) -> Option<&'static str> {
    toxic::label_zh(canonical)
}

/// `(Chinese name, English name)` of every bundled ingredient, in table order.
pub fn ingredient_names() -> Vec<(&'static str, &'static str)> {
    ingredients::TABLE.iter().map(|i| (i.zh, i.en)).collect()
}

/// The ingredient id (`NDB` number, `calcium_carbonate`, `dicalcium_phosphate` or
/// `supplement`) that `name` refers to; for a group name (`chicken`, `鱼`) its first member.
pub fn match_ingredient(name: &str) -> Option<&'static str> {
    ingredients::match_all(name).into_iter().next()
}

/// Every ingredient id `name` refers to (a group name such as `鸡肉` gives all chicken
/// items, including chicken liver) — what an allergy to `name` excludes.
pub fn match_ingredients(name: &str) -> Vec<&'static str> {
    ingredients::match_all(name)
}

/// The JSON Schema (draft 2020-12) a narrative reply must satisfy.
pub fn narrative_schema() -> serde_json::Value {
    schema::narrative()
}
