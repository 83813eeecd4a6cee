//! Pets: create, read, update (partial), soft delete; every field checked, and foods toxic
//! to the species refused in `allergies` and `food_preferences` (issue 12, nutrition.md §4).

use chrono::Utc;
use serde::Deserialize;
use trellis_identity::Principal;
use trellis_kernel::error::FieldError;
use uuid::Uuid;

use crate::error::DietError;
use crate::nutrition::{self, Activity, Species};
use crate::state::DietState;
use crate::store::pets::{self, Pet};

/// `POST /pets` and `PUT /pets/{id}` bodies: every field optional in the type; `POST`
/// requires `name`, `type`, `age_months` and `weight_kg`, `PUT` changes what it names.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = DietPetBody)]
pub struct PetBody {
    /// 1–50 characters.
    pub name: Option<String>,
    /// `cat` or `dog`.
    #[serde(rename = "type")]
    pub species: Option<String>,
    /// Up to 100 characters.
    pub breed: Option<String>,
    /// Months, 1–360.
    pub age_months: Option<i64>,
    /// Kilograms, 0.1–200.
    pub weight_kg: Option<f64>,
    /// `male` or `female`.
    pub gender: Option<String>,
    /// Neutered or spayed (default false).
    pub neutered: Option<bool>,
    /// `low|moderate|high|working` (default `moderate`).
    pub activity_level: Option<String>,
    /// 1–9 (default 5).
    pub body_condition_score: Option<i64>,
    /// Up to 2000 characters.
    pub health_notes: Option<String>,
    /// A veterinarian confirmed the health notes (default false).
    pub vet_confirmed: Option<bool>,
    /// Up to 30 food names of up to 50 characters.
    pub allergies: Option<Vec<String>>,
    /// Up to 30 food names of up to 50 characters.
    pub food_preferences: Option<Vec<String>>,
}

fn parse_enum<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.trim().to_ascii_lowercase())).ok()
}

/// Checks a food list: sizes, and no food toxic to `species`.
pub fn check_foods(field: &str, foods: &[String], species: Species, errs: &mut Vec<FieldError>) {
    if foods.len() > 30 {
        errs.push(FieldError::new(field, "too_long", "at most 30 foods"));
    }
    for (i, f) in foods.iter().enumerate() {
        let name = f.trim();
        if name.is_empty() || name.chars().count() > 50 {
            errs.push(FieldError::new(
                format!("{field}[{i}]"),
                "invalid",
                "a food name has 1 to 50 characters",
            ));
        } else if let Some(toxic) = nutrition::toxic_food(species, name) {
            let animal = if species == Species::Cat {
                "猫 (cats)"
            } else {
                "狗 (dogs)"
            };
            errs.push(FieldError::new(
                format!("{field}[{i}]"),
                "toxic_food",
                format!("{name} 对{animal}有毒，不能加入食谱 ({toxic} is toxic to this species)"),
            ));
        }
    }
}

/// Applies `b` over `base` (a new pet when `base` is `None`) and checks the result.
pub fn merge(
    base: Option<Pet>,
    b: PetBody,
    user: Uuid,
    now: chrono::DateTime<Utc>,
) -> Result<Pet, DietError> {
    let mut errs = Vec::new();
    let creating = base.is_none();
    if creating {
        for (field, missing) in [
            ("name", b.name.is_none()),
            ("type", b.species.is_none()),
            ("age_months", b.age_months.is_none()),
            ("weight_kg", b.weight_kg.is_none()),
        ] {
            if missing {
                errs.push(FieldError::new(
                    field,
                    "required",
                    format!("{field} is required"),
                ));
            }
        }
    }
    let mut p = base.unwrap_or(Pet {
        id: Uuid::now_v7(),
        user_id: user,
        name: String::new(),
        species: Species::Dog,
        breed: None,
        age_months: 1,
        weight_kg: 1.0,
        gender: None,
        neutered: false,
        activity_level: Activity::Moderate,
        body_condition_score: 5,
        health_notes: None,
        vet_confirmed: false,
        allergies: Vec::new(),
        food_preferences: Vec::new(),
        active_plan_id: None,
        created_at: now,
        updated_at: now,
    });
    if let Some(n) = b.name {
        let n = n.trim().to_string();
        if n.is_empty() || n.chars().count() > 50 {
            errs.push(FieldError::new(
                "name",
                "invalid",
                "name has 1 to 50 characters",
            ));
        }
        p.name = n;
    }
    if let Some(s) = b.species {
        match parse_enum(&s) {
            Some(sp) => p.species = sp,
            None => errs.push(FieldError::new("type", "invalid", "type is cat or dog")),
        }
    }
    if let Some(breed) = b.breed {
        let breed = breed.trim().to_string();
        if breed.chars().count() > 100 {
            errs.push(FieldError::new(
                "breed",
                "too_long",
                "breed has at most 100 characters",
            ));
        }
        p.breed = (!breed.is_empty()).then_some(breed);
    }
    if let Some(a) = b.age_months {
        if !(1..=360).contains(&a) {
            errs.push(FieldError::new(
                "age_months",
                "out_of_range",
                "age_months is 1 to 360",
            ));
        }
        p.age_months = a;
    }
    if let Some(w) = b.weight_kg {
        if !w.is_finite() || !(0.1..=200.0).contains(&w) {
            errs.push(FieldError::new(
                "weight_kg",
                "out_of_range",
                "weight_kg is 0.1 to 200",
            ));
        }
        p.weight_kg = (w * 100.0).round() / 100.0;
    }
    if let Some(g) = b.gender {
        match g.trim().to_ascii_lowercase().as_str() {
            "male" | "female" => p.gender = Some(g.trim().to_ascii_lowercase()),
            _ => errs.push(FieldError::new(
                "gender",
                "invalid",
                "gender is male or female",
            )),
        }
    }
    if let Some(n) = b.neutered {
        p.neutered = n;
    }
    if let Some(a) = b.activity_level {
        match parse_enum(&a) {
            Some(act) => p.activity_level = act,
            None => errs.push(FieldError::new(
                "activity_level",
                "invalid",
                "activity_level is low, moderate, high or working",
            )),
        }
    }
    if let Some(s) = b.body_condition_score {
        if !(1..=9).contains(&s) {
            errs.push(FieldError::new(
                "body_condition_score",
                "out_of_range",
                "body_condition_score is 1 to 9",
            ));
        }
        p.body_condition_score = s;
    }
    if let Some(h) = b.health_notes {
        let h = h.trim().to_string();
        if h.chars().count() > 2000 {
            errs.push(FieldError::new(
                "health_notes",
                "too_long",
                "health_notes has at most 2000 characters",
            ));
        }
        p.health_notes = (!h.is_empty()).then_some(h);
    }
    if let Some(v) = b.vet_confirmed {
        p.vet_confirmed = v;
    }
    if let Some(a) = b.allergies {
        p.allergies = a.into_iter().map(|s| s.trim().to_string()).collect();
    }
    if let Some(f) = b.food_preferences {
        p.food_preferences = f.into_iter().map(|s| s.trim().to_string()).collect();
    }
    check_foods("allergies", &p.allergies, p.species, &mut errs);
    check_foods(
        "food_preferences",
        &p.food_preferences,
        p.species,
        &mut errs,
    );
    if errs.is_empty() {
        p.updated_at = now;
        Ok(p)
    } else {
        Err(DietError::Fields(errs))
    }
}

/// Creates a pet.
pub async fn create(s: &DietState, p: &Principal, b: PetBody) -> Result<Pet, DietError> {
    let pet = merge(None, b, p.user_id, s.platform.clock.now())?;
    let mut tx = s.platform.db.begin().await?;
    pets::save(&mut tx, &pet).await?;
    tx.commit().await?;
    Ok(pet)
}

/// The caller's pet (404 for anyone else's or a deleted one).
pub async fn get(s: &DietState, p: &Principal, id: Uuid) -> Result<Pet, DietError> {
    pets::get(&s.platform.db, p.user_id, id)
        .await?
        .ok_or_else(DietError::pet_not_found)
}

/// Changes the fields `b` names.
pub async fn update(s: &DietState, p: &Principal, id: Uuid, b: PetBody) -> Result<Pet, DietError> {
    let mut tx = s.platform.db.begin().await?;
    let base = pets::get_in(&mut tx, p.user_id, id)
        .await?
        .ok_or_else(DietError::pet_not_found)?;
    let pet = merge(Some(base), b, p.user_id, s.platform.clock.now())?;
    pets::save(&mut tx, &pet).await?;
    tx.commit().await?;
    Ok(pet)
}

/// Soft-deletes the caller's pet.
pub async fn delete(s: &DietState, p: &Principal, id: Uuid) -> Result<(), DietError> {
    let mut tx = s.platform.db.begin().await?;
    if !pets::soft_delete(&mut tx, p.user_id, id, s.platform.clock.now()).await? {
        return Err(DietError::pet_not_found());
    }
    tx.commit().await?;
    Ok(())
}

/// The engine's view of a stored pet.
pub fn profile(p: &Pet) -> nutrition::Pet {
    nutrition::Pet {
        species: p.species,
        breed: p.breed.clone(),
        age_months: p.age_months.clamp(1, 360) as u32,
        weight_kg: p.weight_kg,
        neutered: p.neutered,
        activity: p.activity_level,
        body_condition_score: p.body_condition_score.clamp(1, 9) as u8,
        allergies: p.allergies.clone(),
        food_preferences: p.food_preferences.clone(),
        health_notes: p.health_notes.clone(),
        vet_confirmed: p.vet_confirmed,
    }
}
