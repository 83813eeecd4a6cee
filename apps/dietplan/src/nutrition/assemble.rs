//! `assemble`: the whole `plan_data` document — pet information, energy and targets, the
//! AAFCO completeness report, the four weeks, notes — with an optional LLM narrative whose
//! *texts* replace the engine's (`ai_suggestions` and each week's principle, special note and
//! suggestions). Nothing numeric is ever read from the narrative.
//!
//! Completeness is recomputed here from the weeks' `ingredient_id` + `weight` pairs and the
//! bundled table (not from the numbers stored in the weeks), over every day. A nutrient is
//! *claimed* only when every day passes its check; `complete` is true only if every checked
//! nutrient passes **and** no AAFCO nutrient is left unchecked — with this table that never
//! happens (trace minerals, vitamin E, B vitamins … are not in it), so plans are always
//! labelled incomplete, with `missing` listing the failed and the unchecked nutrients.

use serde_json::{Map, Value, json};

use super::assess::AssessData;
use super::checks::{self, DayTotals, Portion};
use super::ingredients;
use super::targets::{self, Profile};
use super::text::{self, VET_NOTE};
use super::{Activity, Narrative, Pet, Species, Week, round2};

/// Longest texts taken from a narrative (characters), as in the schema.
pub(crate) const MAX_SUGGESTIONS: usize = 2000;
pub(crate) const MAX_WEEK_TEXT: usize = 800;
pub(crate) const MAX_ITEM: usize = 300;
pub(crate) const MAX_ITEMS: usize = 10;

fn clip(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

fn days_of(w: &Week) -> impl Iterator<Item = &Value> {
    w.data["weekly_diet_plan"]["daily_diet_plans"]
        .as_array()
        .into_iter()
        .flatten()
}

/// Day totals recomputed from ids and weights; also returns ids that must never appear.
fn recompute(pet: &Pet, weeks: &[Week]) -> (Vec<DayTotals>, Vec<String>) {
    let allergens: Vec<&str> = pet
        .allergies
        .iter()
        .flat_map(|a| ingredients::match_all(a))
        .collect();
    let mut bad: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(28);
    for d in weeks.iter().flat_map(days_of) {
        let portions: Vec<Portion> = d["food_items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|it| {
                let ing = ingredients::by_id(it["ingredient_id"].as_str()?)?;
                if allergens.contains(&ing.id) || !ingredients::safe_for(pet.species, ing) {
                    bad.push(ing.id.to_owned());
                }
                Some(Portion {
                    ing,
                    grams: it["weight"].as_f64()?.max(0.0),
                })
            })
            .collect();
        out.push(checks::totals(&portions));
    }
    (out, bad)
}

fn standard(species: Species, profile: Profile) -> String {
    let sp = if species == Species::Dog {
        "Dog"
    } else {
        "Cat"
    };
    let pr = match profile {
        Profile::AdultMaintenance => "Adult Maintenance",
        Profile::Growth => "Growth and Reproduction",
    };
    format!("AAFCO 2014 {sp} Food Nutrient Profiles — {pr} (per 1000 kcal ME)")
}

/// The completeness report and the `missing` list.
pub(crate) fn completeness(
    species: Species,
    profile: Profile,
    days: &[DayTotals],
) -> (Value, Vec<String>) {
    let mut checks_json = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    let mut claimed: Vec<&str> = Vec::new();
    for l in targets::limits(species, profile) {
        let results: Vec<checks::DayCheck> =
            days.iter().map(|t| checks::check(species, l, t)).collect();
        let failing = results.iter().filter(|c| !c.ok).count();
        let ok = !results.is_empty() && failing == 0;
        let low = results
            .iter()
            .map(|c| c.for_min)
            .fold(f64::INFINITY, f64::min);
        let high = results
            .iter()
            .map(|c| c.for_max)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut c = json!({
            "nutrient": l.key,
            "nutrient_zh": targets::label_zh(l.key),
            "per_1000kcal": if results.is_empty() { 0.0 } else { round2(low) },
            "minimum": l.min,
            "ok": ok,
            "days_failing": failing,
        });
        if let Some(m) = l.max {
            c["maximum"] = json!(m);
            c["per_1000kcal_highest"] = json!(if results.is_empty() {
                0.0
            } else {
                round2(high)
            });
        }
        checks_json.push(c);
        if ok {
            claimed.push(l.key);
        } else {
            failed.push(l.key.to_owned());
        }
    }
    let unchecked = targets::unchecked(species, profile);
    let complete = failed.is_empty() && unchecked.is_empty();
    let mut missing = failed.clone();
    missing.extend(unchecked.iter().map(|s| (*s).to_owned()));
    let report = json!({
        "complete": complete,
        "standard": standard(species, profile),
        "basis": "每日最低值按USDA千卡计（per_1000kcal，28天中最低的一天），最高限按修正Atwater千卡计（per_1000kcal_highest，最高的一天）；补充剂标签值为假设，不计入核算。",
        "checks": checks_json,
        "claimed_adequate": claimed,
        "failed": failed,
        "not_checked": unchecked,
        "missing": missing,
    });
    (report, missing)
}

fn activity_code(a: Activity) -> &'static str {
    match a {
        Activity::Low => "low",
        Activity::Moderate => "moderate",
        Activity::High => "high",
        Activity::Working => "working",
    }
}

fn merge_week(week: &Week, n: Option<&super::WeekNarrative>) -> Value {
    let mut v = week.data.clone();
    let (Some(n), Some(obj)) = (n, v.as_object_mut()) else {
        return v;
    };
    let principle = clip(&n.diet_adjustment_principle, MAX_WEEK_TEXT);
    if !principle.is_empty() {
        obj.insert("diet_adjustment_principle".into(), principle.into());
    }
    let note = clip(&n.weekly_special_adjustment_note, MAX_WEEK_TEXT);
    if !note.is_empty() {
        obj.insert("weekly_special_adjustment_note".into(), note.into());
    }
    let items: Vec<String> = n
        .suggestions
        .iter()
        .map(|s| clip(s, MAX_ITEM))
        .filter(|s| !s.is_empty())
        .take(MAX_ITEMS)
        .collect();
    if !items.is_empty() {
        obj.insert("suggestions".into(), items.into());
    }
    v
}

/// Builds `plan_data`.
pub(crate) fn run(
    pet: &Pet,
    a: &AssessData,
    weeks: &[Week],
    narrative: Option<&Narrative>,
) -> Value {
    let profile = a.profile();
    let (days, bad) = recompute(pet, weeks);
    let (report, missing) = completeness(a.species, profile, &days);
    let mut warnings = a.warnings.clone();
    let mut vet = a.vet_review_required;
    if !bad.is_empty() {
        vet = true;
        warnings.push(format!(
            "计划中出现了过敏原或禁用食材（{}），请勿使用，并重新生成计划。",
            bad.join("、")
        ));
    }
    if days.len() != 28 {
        vet = true;
        warnings.push(format!("计划只有{}天（应为28天）。", days.len()));
    }
    let engine_text = text::overall(a, &missing);
    let ai = narrative
        .map(|n| clip(&n.ai_suggestions, MAX_SUGGESTIONS))
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.contains(VET_NOTE) {
                s
            } else {
                format!("{s}{VET_NOTE}")
            }
        })
        .unwrap_or(engine_text);
    let monthly: Vec<Value> = weeks
        .iter()
        .enumerate()
        .map(|(i, w)| merge_week(w, narrative.and_then(|n| n.weeks.get(i))))
        .collect();
    let mut notes = vec![
        VET_NOTE.to_owned(),
        "每日热量为起始估计：每2–4周称重并评估体况，按需调整（每次约±10%）。".to_owned(),
        "自制粮必须按量加入碳酸钙粉（及磷酸氢钙，如有）和复合维生素矿物质补充剂，否则营养不均衡。".to_owned(),
        "食材热量采用USDA SR28数据（人用Atwater系数），宏量营养素目标按AAFCO修正Atwater系数（3.5/8.5/3.5）计算。".to_owned(),
    ];
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|k| targets::label_zh(k)).collect();
        notes.push(format!(
            "未核算或未达标的营养素：{}；本计划不能视为AAFCO“完全均衡”。",
            names.join("、")
        ));
    }
    let mut info = Map::new();
    info.insert(
        "pet_type".into(),
        json!(if a.species == Species::Dog {
            "dog"
        } else {
            "cat"
        }),
    );
    info.insert(
        "pet_breed".into(),
        json!(pet.breed.clone().unwrap_or_default()),
    );
    info.insert("pet_age".into(), json!(pet.age_months));
    info.insert("pet_weight".into(), json!(pet.weight_kg));
    info.insert(
        "health_status".into(),
        json!(pet.health_notes.clone().unwrap_or_else(|| "未填写".into())),
    );
    info.insert("neutered".into(), json!(pet.neutered));
    info.insert("activity_level".into(), json!(activity_code(pet.activity)));
    info.insert(
        "body_condition_score".into(),
        json!(pet.body_condition_score),
    );
    info.insert("allergies".into(), json!(pet.allergies));
    info.insert("food_preferences".into(), json!(pet.food_preferences));
    json!({
        "pet_information": info,
        "ai_suggestions": ai,
        "nutrition_targets": a.nutrition_targets,
        "energy": a.energy,
        "aafco_profile": a.aafco_profile,
        "completeness": report,
        "pet_diet_plan": {"monthly_diet_plan": monthly},
        "notes": notes,
        "warnings": warnings,
        "conditions_applied": a.conditions_applied,
        "vet_review_required": vet,
        "narrative_applied": narrative.is_some(),
        "generated_by": "nutrition-engine",
    })
}
