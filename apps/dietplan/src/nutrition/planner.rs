//! `plan_week`: seven days in the seed's `PetDietPlan` day shape, composed by
//! [`super::compose`] from the assessment's ingredient selection.
//!
//! Rotation (deterministic, no RNG): the main protein changes by week
//! (`proteins[(week − 1) mod len]`); vegetables and carbohydrates rotate by day; a fixed weekly
//! pattern adds the secondary items — day 2 and 5 egg (dog 10 %, cat 8 % of kcal), day 3 and 6
//! liver (3 % of kcal, ≤ 4.5 % of the weight, so never daily and never above the §4 5 % cap),
//! day 4 fish (dog: salmon 12 % or sardine 8 %, bounded by the dog vitamin D maximum; cat
//! 10 %), day 7 dairy for dogs only when preferred; dogs get a fruit snack (2 %) on days 3
//! and 6 (treats ≤ 10 % of kcal, VNJ22). Vegetables: dog 2 × 3 % (2 × 5 % when diabetes is
//! applied, for fibre), cat 1 × 3 %. Carbohydrate cap: dog 45 % of kcal, none for cats.
//! Oil cap 15 % of kcal.
//!
//! The supplement item is a generic "complete vitamin–mineral supplement for home-cooked
//! diets" at one serving per 1000 kcal, shown as 2 g. **Assumed label values** (not in the
//! reference, never credited by the checks): it supplies at least the AAFCO minimums of the
//! nutrients the table cannot quantify (zinc, copper, manganese, selenium, iodine,
//! magnesium, vitamin E, B vitamins, choline; taurine for cats) and no calcium, phosphorus,
//! vitamin A or vitamin D. The owner must follow the real product's label.
//!
//! Allergies are re-applied here (the stored selection is filtered again by the pet's
//! allergy list) and no ingredient is ever emitted if its name matches a toxic food.

use serde_json::{Value, json};

use super::assess::AssessData;
use super::checks::{self, Portion};
use super::compose::{self, Spec};
use super::conditions::Condition;
use super::ingredients::{self, Ingredient, Role, nu};
use super::{Pet, Species, round1, round2, text};

/// Resolves the stored ids to table rows, dropping unknown, allergenic or toxic ones.
fn rows(list: &[String], pet: &Pet, excluded: &[&str]) -> Vec<&'static Ingredient> {
    list.iter()
        .filter_map(|id| ingredients::by_id(id))
        .filter(|i| !excluded.contains(&i.id))
        .filter(|i| ingredients::safe_for(pet.species, i))
        .collect()
}

fn one(id: Option<&String>, pet: &Pet, excluded: &[&str]) -> Option<&'static Ingredient> {
    rows(
        id.map(std::slice::from_ref).unwrap_or_default(),
        pet,
        excluded,
    )
    .into_iter()
    .next()
}

fn nth<T: Copy>(v: &[T], i: usize) -> Option<T> {
    (!v.is_empty()).then(|| v[i % v.len()])
}

/// The week's resolved ingredient lists.
pub(crate) struct Pools {
    pub proteins: Vec<&'static Ingredient>,
    eggs: Vec<&'static Ingredient>,
    fish: Vec<&'static Ingredient>,
    organs: Vec<&'static Ingredient>,
    dairy: Vec<&'static Ingredient>,
    carbs: Vec<&'static Ingredient>,
    veg: Vec<&'static Ingredient>,
    fruits: Vec<&'static Ingredient>,
}

/// One composed day plus what the texts need.
pub(crate) struct Day {
    pub portions: Vec<Portion>,
    pub main: &'static Ingredient,
}

fn pools(pet: &Pet, a: &AssessData, excluded: &[&str]) -> Pools {
    let s = &a.ingredients;
    Pools {
        proteins: rows(&s.proteins, pet, excluded),
        eggs: rows(&s.eggs, pet, excluded),
        fish: rows(&s.fish, pet, excluded),
        organs: rows(&s.organs, pet, excluded),
        dairy: rows(&s.dairy, pet, excluded),
        carbs: rows(&s.carbohydrates, pet, excluded),
        veg: rows(&s.vegetables, pet, excluded),
        fruits: rows(&s.fruits, pet, excluded),
    }
}

/// Composes day `d` (1..=7) of week `n` (1..=4); `None` when no protein is left.
fn day(pet: &Pet, a: &AssessData, p: &Pools, excluded: &[&str], n: usize, d: usize) -> Option<Day> {
    let dog = a.species == Species::Dog;
    let w = n - 1;
    let main = nth(&p.proteins, w)?;
    let mut fixed: Vec<(&'static Ingredient, f64)> = Vec::with_capacity(5);
    let egg = nth(&p.eggs, w).filter(|e| e.id != main.id);
    let fish: Vec<&'static Ingredient> =
        p.fish.iter().copied().filter(|f| f.id != main.id).collect();
    match d {
        2 | 5 => fixed.extend(egg.map(|e| (e, if dog { 0.10 } else { 0.08 }))),
        3 | 6 => fixed.extend(nth(&p.organs, w).map(|o| (o, 0.03))),
        4 => fixed.extend(nth(&fish, w).map(|f| {
            (
                f,
                if !dog {
                    0.10
                } else if f.id == "15237" {
                    0.12
                } else {
                    0.08
                },
            )
        })),
        7 if dog => fixed.extend(p.dairy.first().map(|x| (*x, 0.05))),
        _ => {}
    }
    if matches!(d, 3 | 6) {
        fixed.extend(nth(&p.fruits, w + d / 6).map(|f| (f, 0.02)));
    }
    let veg_share = if a.applied(Condition::Diabetes) && dog {
        0.05
    } else {
        0.03
    };
    let first = nth(&p.veg, d - 1 + w);
    fixed.extend(first.map(|v| (v, veg_share)));
    if dog {
        let second = nth(&p.veg, d + w).filter(|v| Some(v.id) != first.map(|f| f.id));
        fixed.extend(second.map(|v| (v, veg_share)));
    }
    let carb = if dog {
        nth(&p.carbs, d - 1 + 2 * w)
    } else {
        None
    };
    let partner = carb.and_then(|c| {
        ["11510", "11423"]
            .into_iter()
            .filter(|id| *id != c.id && !excluded.contains(id))
            .filter_map(ingredients::by_id)
            .find(|i| p.carbs.iter().chain(&p.veg).any(|x| x.id == i.id))
    });
    let s = &a.ingredients;
    let t = &a.nutrition_targets;
    let spec = Spec {
        species: a.species,
        profile: a.profile(),
        kcal: t.daily_kcal,
        protein_g: t.protein_g,
        fat_g: t.fat_g,
        main,
        carb,
        carb_partner: partner,
        fixed: &fixed,
        oil: one(s.oil.as_ref(), pet, excluded),
        vitamin_oil: one(s.vitamin_oil.as_ref(), pet, excluded),
        phosphate: one(s.phosphorus_source.as_ref(), pet, excluded),
        calcium: one(s.calcium_source.as_ref(), pet, excluded),
        supplement: one(s.supplement.as_ref(), pet, excluded),
        carb_cap: if dog { 0.45 } else { 0.0 },
        oil_cap: 0.15,
    };
    let mut portions: Vec<Portion> = Vec::with_capacity(12);
    for p in compose::compose(&spec) {
        match portions.iter_mut().find(|q| q.ing.id == p.ing.id) {
            Some(q) => q.grams = round1(q.grams + p.grams),
            None => portions.push(p),
        }
    }
    Some(Day { portions, main })
}

fn item_json(species: Species, p: &Portion) -> Value {
    let n = &p.ing.n;
    let k = p.grams / 100.0;
    let v = |col: usize| n[col] * k;
    let extra = if p.ing.role == Role::Supplement {
        json!({"label_values_assumed": true, "dose": "每1000千卡一份（按2 g计，以产品标签为准）"})
    } else {
        json!({
            "phosphorus_mg": round1(v(nu::P)),
            "water_g": round1(v(nu::WATER)),
            "vitamin_a_basis": if species == Species::Cat { "retinol" } else { "RAE" },
        })
    };
    json!({
        "name": p.ing.zh,
        "name_en": p.ing.en,
        "ingredient_id": p.ing.id,
        "weight": round1(p.grams),
        "kcal": round1(v(nu::KCAL)),
        "macro_nutrients": {
            "protein": round1(v(nu::PROTEIN)),
            "fat": round1(v(nu::FAT)),
            "carbohydrates": round1(v(nu::CARB)),
            "dietary_fiber": round1(v(nu::FIBER)),
        },
        "micro_nutrients": {
            "vitamin_a": round1(checks::vitamin_a_ug(species, n) * k),
            "vitamin_c": round1(v(nu::VIT_C)),
            "vitamin_d": round2(v(nu::VIT_D)),
            "calcium": round1(v(nu::CA)),
            "iron": round2(v(nu::FE)),
            "sodium": round1(v(nu::NA)),
            "potassium": round1(v(nu::K)),
            "cholesterol": round1(v(nu::CHOL)),
            "additional_nutrients": extra,
        },
        "recommend_reason": p.ing.reason,
    })
}

fn meals_json(a: &AssessData, portions: &[Portion]) -> (Vec<Value>, String) {
    let times: Vec<&str> = a.meal_times.iter().map(String::as_str).collect();
    let count = times.len().max(1);
    let kinds: &[&str] = if count >= 3 {
        &["breakfast", "lunch", "dinner"]
    } else {
        &["breakfast", "dinner"]
    };
    let snack: Vec<&Portion> = portions
        .iter()
        .filter(|p| p.ing.role == Role::Fruit)
        .collect();
    let mut meals = Vec::with_capacity(count + 1);
    let mut all_times: Vec<&str> = Vec::with_capacity(count + 1);
    for (i, time) in times.iter().enumerate() {
        let share = 1.0 / count as f64;
        let items: Vec<Value> = portions
            .iter()
            .filter(|p| p.ing.role != Role::Fruit)
            .map(|p| json!({"name": p.ing.zh, "weight": round1(p.grams * share)}))
            .collect();
        let kcal: f64 = portions
            .iter()
            .filter(|p| p.ing.role != Role::Fruit)
            .map(|p| p.grams * share * p.ing.n[nu::KCAL] / 100.0)
            .sum();
        meals.push(json!({"meal_type": kinds.get(i).copied().unwrap_or("dinner"), "time": time, "kcal": round1(kcal), "items": items}));
        all_times.push(time);
    }
    if !snack.is_empty() {
        let kcal: f64 = snack
            .iter()
            .map(|p| p.grams * p.ing.n[nu::KCAL] / 100.0)
            .sum();
        let items: Vec<Value> = snack
            .iter()
            .map(|p| json!({"name": p.ing.zh, "weight": round1(p.grams)}))
            .collect();
        meals.push(
            json!({"meal_type": "snack", "time": "15:00", "kcal": round1(kcal), "items": items}),
        );
        all_times.push("15:00");
        all_times.sort_unstable();
    }
    (meals, all_times.join(", "))
}

fn day_json(a: &AssessData, n: usize, d: usize, day: &Day) -> Value {
    let t = checks::totals(&day.portions);
    let s = &t.sum;
    let (meals, time) = meals_json(a, &day.portions);
    let mut v = json!({
        "oder": d,
        "day": d,
        "time": time,
        "kcal": round1(s[nu::KCAL]),
        "kcal_modified_atwater": round1(t.modified_kcal),
        "food_items": day.portions.iter().map(|p| item_json(a.species, p)).collect::<Vec<_>>(),
        "meals": meals,
        "cook_method": text::cook_method(&day.portions),
        "totals": {
            "protein_g": round1(s[nu::PROTEIN]),
            "fat_g": round1(s[nu::FAT]),
            "carbohydrates_g": round1(s[nu::CARB]),
            "dietary_fiber_g": round1(s[nu::FIBER]),
            "calcium_mg": round1(s[nu::CA]),
            "phosphorus_mg": round1(s[nu::P]),
            "ca_p_ratio": if s[nu::P] > 0.0 { round2(s[nu::CA] / s[nu::P]) } else { 0.0 },
        },
    });
    if n == 1 {
        let pct = [25, 25, 50, 50, 75, 75, 100]
            .get(d - 1)
            .copied()
            .unwrap_or(100);
        v["transition_new_food_percent"] = json!(pct);
    }
    v
}

/// Week `n` as stored `Week.data`; a week with no protein left carries an `error` instead of
/// days (cannot happen for an assessment produced by `assess` for the same pet).
pub(crate) fn week(pet: &Pet, a: &AssessData, n: u8) -> Value {
    let n = usize::from(n.clamp(1, 4));
    let excluded: Vec<&'static str> = pet
        .allergies
        .iter()
        .flat_map(|x| ingredients::match_all(x))
        .collect();
    let p = pools(pet, a, &excluded);
    let days: Vec<Day> = (1..=7)
        .filter_map(|d| day(pet, a, &p, &excluded, n, d))
        .collect();
    let facts = text::WeekFacts::new(a, n, &days);
    let mut v = json!({
        "oder": n,
        "diet_adjustment_principle": text::principle(&facts),
        "weekly_diet_plan": {
            "daily_diet_plans": days.iter().enumerate().map(|(i, d)| day_json(a, n, i + 1, d)).collect::<Vec<_>>(),
        },
        "weekly_special_adjustment_note": text::special_note(&facts),
        "suggestions": text::suggestions(&facts),
    });
    if days.is_empty() {
        v["error"] = json!({"code": "no_safe_protein", "message": "排除过敏原后没有可用的蛋白质来源，请咨询兽医。"});
    }
    v
}
