//! Tests of the public API: whole plans and their invariants.

use serde_json::Value;

use super::*;

/// A healthy neutered, moderately active pet with BCS 5.
pub(crate) fn pet(species: Species, age_months: u32, weight_kg: f64) -> Pet {
    Pet {
        species,
        breed: None,
        age_months,
        weight_kg,
        neutered: true,
        activity: Activity::Moderate,
        body_condition_score: 5,
        allergies: Vec::new(),
        food_preferences: Vec::new(),
        health_notes: None,
        vet_confirmed: false,
    }
}

/// assess + 4 weeks + assemble.
pub(crate) fn plan(
    p: &Pet,
    narrative: Option<&Narrative>,
) -> Result<(Assessment, Vec<Week>, Value), Refusal> {
    let a = assess(p)?;
    let weeks: Vec<Week> = (1..=4).map(|n| plan_week(p, &a, n)).collect();
    let doc = assemble(p, &a, &weeks, narrative);
    Ok((a, weeks, doc))
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

pub(crate) fn days(weeks: &[Week]) -> Vec<&Value> {
    weeks
        .iter()
        .flat_map(|w| {
            w.data["weekly_diet_plan"]["daily_diet_plans"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .collect()
}

fn items(day: &Value) -> Vec<&Value> {
    day["food_items"].as_array().into_iter().flatten().collect()
}

/// Every invariant the issue states, for one pet's plan.
pub(crate) fn check_invariants(p: &Pet, a: &Assessment, weeks: &[Week], doc: &Value) {
    let daily = num(&a.data["nutrition_targets"]["daily_kcal"]);
    assert!(daily > 0.0, "{daily}");
    assert_eq!(weeks.len(), 4);
    let allergens: Vec<&str> = p
        .allergies
        .iter()
        .flat_map(|x| match_ingredients(x))
        .collect();
    let all_days = days(weeks);
    assert_eq!(all_days.len(), 28);
    for (wi, w) in weeks.iter().enumerate() {
        let week_days = w.data["weekly_diet_plan"]["daily_diet_plans"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(week_days, 7, "week {}", wi + 1);
        let liver_days = days(std::slice::from_ref(w))
            .iter()
            .filter(|d| {
                items(d)
                    .iter()
                    .any(|i| matches!(i["ingredient_id"].as_str(), Some("13326" | "05028")))
            })
            .count();
        assert!(liver_days <= 2, "liver on {liver_days} days");
    }
    for d in &all_days {
        let its = items(d);
        let sum: f64 = its.iter().map(|i| num(&i["kcal"])).sum();
        assert!(
            (sum - daily).abs() <= 0.01 * daily + 0.05,
            "day kcal {sum} vs {daily} ({p:?})"
        );
        assert!((num(&d["kcal"]) - sum).abs() <= 0.05 * its.len() as f64 + 0.11);
        let weight: f64 = its
            .iter()
            .filter(|i| i["ingredient_id"] != "supplement")
            .map(|i| num(&i["weight"]))
            .sum();
        let mut portions = Vec::new();
        for i in &its {
            let id = i["ingredient_id"].as_str().unwrap_or("?");
            assert!(!allergens.contains(&id), "allergen {id} used");
            for key in ["name", "name_en"] {
                let name = i[key].as_str().unwrap_or("");
                assert_eq!(toxic_food(p.species, name), None, "{name}");
            }
            assert!(num(&i["weight"]) > 0.0 && num(&i["kcal"]) >= 0.0);
            if matches!(id, "13326" | "05028") {
                assert!(
                    num(&i["weight"]) <= 0.05 * weight,
                    "liver {} of {weight}",
                    num(&i["weight"])
                );
            }
            if p.species == Species::Cat {
                let role = ingredients::by_id(id).map(|x| x.role);
                assert!(!matches!(
                    role,
                    Some(ingredients::Role::Dairy | ingredients::Role::Fruit)
                ));
            }
            if let Some(ing) = ingredients::by_id(id) {
                portions.push(checks::Portion {
                    ing,
                    grams: num(&i["weight"]),
                });
            }
        }
        let t = checks::totals(&portions);
        let ratio = t.sum[ingredients::nu::CA] / t.sum[ingredients::nu::P];
        assert!((1.0..=2.0).contains(&ratio), "Ca:P {ratio} ({p:?})");
        let ids: Vec<&str> = its
            .iter()
            .filter_map(|i| i["ingredient_id"].as_str())
            .collect();
        assert!(
            ids.contains(&"calcium_carbonate") && ids.contains(&"supplement"),
            "{ids:?}"
        );
    }
    // completeness: claims match an independent recomputation
    let c = &doc["completeness"];
    assert_eq!(c["complete"], false);
    let profile = if a.data["aafco_profile"] == "growth" {
        targets::Profile::Growth
    } else {
        targets::Profile::AdultMaintenance
    };
    let totals: Vec<checks::DayTotals> = all_days
        .iter()
        .map(|d| {
            let ps: Vec<checks::Portion> = items(d)
                .iter()
                .filter_map(|i| {
                    Some(checks::Portion {
                        ing: ingredients::by_id(i["ingredient_id"].as_str()?)?,
                        grams: num(&i["weight"]),
                    })
                })
                .collect();
            checks::totals(&ps)
        })
        .collect();
    let claimed: Vec<&str> = c["claimed_adequate"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let missing: Vec<&str> = c["missing"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for l in targets::limits(p.species, profile) {
        let ok = totals.iter().all(|t| checks::check(p.species, l, t).ok);
        let row = c["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["nutrient"] == l.key);
        assert_eq!(
            row.map(|r| r["ok"].clone()),
            Some(Value::Bool(ok)),
            "{}",
            l.key
        );
        assert_eq!(claimed.contains(&l.key), ok, "{}", l.key);
        assert_eq!(missing.contains(&l.key), !ok, "{}", l.key);
    }
    let ckd = a.data["conditions_applied"].to_string().contains("kidney");
    for key in [
        "ca_p_ratio",
        "protein_g",
        "fat_g",
        "calcium_g",
        "phosphorus_g",
    ] {
        // CKD (vet-confirmed) gets no phosphorus supplement, so P — and Ca, held at ≤ 2 × P —
        // may stay under the minimums; that is reported, not claimed.
        if !(ckd && matches!(key, "phosphorus_g" | "calcium_g")) {
            assert!(claimed.contains(&key), "{key} not met: {c}");
        }
    }
    let gated = !p.vet_confirmed && a.data["conditions_applied"] != serde_json::json!([]);
    assert!(!gated, "conditions applied without vet confirmation");
    if a.data["conditions_detected"] != serde_json::json!([]) {
        assert_eq!(doc["vet_review_required"], true);
    }
    let notes: Vec<&str> = doc["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(notes.contains(&VET_NOTE));
    assert_eq!(doc["generated_by"], "nutrition-engine");
    assert_eq!(
        doc["pet_diet_plan"]["monthly_diet_plan"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    assert_eq!(doc["nutrition_targets"], a.data["nutrition_targets"]);
}

#[test]
fn ten_kg_dog_plan() {
    let p = pet(Species::Dog, 36, 10.0);
    let Ok((a, weeks, doc)) = plan(&p, None) else {
        panic!("refused")
    };
    let kcal = num(&a.data["nutrition_targets"]["daily_kcal"]);
    assert!((kcal - 630.0).abs() <= 1.0, "{kcal}");
    assert_eq!(a.data["energy"]["factor"], 1.6);
    assert_eq!(a.data["aafco_profile"], "adult_maintenance");
    check_invariants(&p, &a, &weeks, &doc);
    let d = &weeks[0].data["weekly_diet_plan"]["daily_diet_plans"][0];
    assert_eq!(d["time"], "07:30, 18:30");
    assert_eq!(d["transition_new_food_percent"], 25);
    assert_eq!(doc["pet_information"]["pet_type"], "dog");
}

#[test]
fn four_kg_cat_plan() {
    let p = pet(Species::Cat, 36, 4.0);
    let Ok((a, weeks, doc)) = plan(&p, None) else {
        panic!("refused")
    };
    let want = 1.2 * 70.0 * 4f64.powf(0.75);
    assert!((num(&a.data["nutrition_targets"]["daily_kcal"]) - want).abs() <= 0.1);
    check_invariants(&p, &a, &weeks, &doc);
    let first = &days(&weeks)[0]["food_items"][0]["micro_nutrients"]["additional_nutrients"];
    assert_eq!(first["vitamin_a_basis"], "retinol");
}

#[test]
fn grid_of_pets_keeps_every_invariant() {
    let mut n = 0;
    for species in [Species::Dog, Species::Cat] {
        let weights: &[f64] = if species == Species::Dog {
            &[0.5, 3.0, 10.0, 35.0, 80.0]
        } else {
            &[1.0, 2.5, 4.0, 7.0, 12.0]
        };
        for &w in weights {
            for age in [2, 5, 10, 30, 150] {
                for activity in [
                    Activity::Low,
                    Activity::Moderate,
                    Activity::High,
                    Activity::Working,
                ] {
                    for bcs in [1, 5, 9] {
                        let mut p = pet(species, age, w);
                        p.activity = activity;
                        p.body_condition_score = bcs;
                        p.neutered = bcs != 9;
                        let Ok((a, weeks, doc)) = plan(&p, None) else {
                            panic!("refused {p:?}")
                        };
                        check_invariants(&p, &a, &weeks, &doc);
                        n += 1;
                    }
                }
            }
        }
    }
    assert_eq!(n, 600);
}

#[test]
fn tiny_pets_still_meet_calcium_and_ratio() {
    // Found by proptest: 0.55 kg intact, inactive, BCS 7 dog (≈ 39 kcal/day), where 0.1 g of
    // calcium carbonate is 40 mg Ca; plus the smallest cat the engine accepts.
    let mut dog = pet(Species::Dog, 12, 0.552);
    (dog.neutered, dog.activity, dog.body_condition_score) = (false, Activity::Low, 7);
    let mut cat = pet(Species::Cat, 40, 0.5);
    cat.body_condition_score = 9;
    for p in [dog, cat] {
        let Ok((a, weeks, doc)) = plan(&p, None) else {
            panic!("refused")
        };
        check_invariants(&p, &a, &weeks, &doc);
    }
}

#[test]
fn allergies_and_preferences() {
    let mut p = pet(Species::Dog, 36, 10.0);
    p.allergies = vec!["鸡肉".into(), "beef".into(), "鱼".into()];
    p.food_preferences = vec!["火鸡胸肉".into(), "南瓜".into(), "鸡胸肉".into()];
    let Ok((a, weeks, doc)) = plan(&p, None) else {
        panic!("refused")
    };
    check_invariants(&p, &a, &weeks, &doc);
    assert_eq!(
        a.data["ingredients"]["proteins"][0], "05220",
        "preferred first"
    );
    assert_eq!(a.data["ingredients"]["vegetables"][0], "11423");
    assert_eq!(
        a.data["ingredients"]["vitamin_oil"],
        Value::Null,
        "fish allergy drops cod liver oil"
    );
    let w = a.data["warnings"].to_string();
    assert!(w.contains("鸡胸肉"), "{w}");
    let mut only_egg = pet(Species::Cat, 36, 4.0);
    only_egg.allergies = vec!["禽类".into(), "红肉".into(), "fish".into()];
    let Ok((a, weeks, doc)) = plan(&only_egg, None) else {
        panic!("refused")
    };
    assert_eq!(a.data["ingredients"]["proteins"][0], "01129");
    assert_eq!(a.data["vet_review_required"], true);
    check_invariants(&only_egg, &a, &weeks, &doc);
    only_egg.allergies.push("鸡蛋".into());
    assert_eq!(
        assess(&only_egg).map_err(|r| r.code),
        Err("no_safe_protein")
    );
}

#[test]
fn same_input_same_output() {
    let mut p = pet(Species::Dog, 20, 23.4);
    p.food_preferences = vec!["salmon".into(), "oats".into()];
    let first = plan(&p, None).map(|(_, _, d)| d.to_string());
    let second = plan(&p, None).map(|(_, _, d)| d.to_string());
    assert!(first.is_ok());
    assert_eq!(first, second);
}

#[test]
fn a_whole_plan_is_cheap_to_compute() {
    // Computes one full plan (assess + 4 weeks + assemble); release timing is measured
    // elsewhere, no timing assertion here.
    let p = pet(Species::Dog, 48, 25.0);
    assert!(plan(&p, None).is_ok());
}
