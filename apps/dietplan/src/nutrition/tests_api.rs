//! Tests of the public API: refusals, vet gating, narrative, storage round-trip, schema,
//! name helpers.

use serde_json::Value;

use super::tests::{check_invariants, pet, plan};
use super::*;

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[test]
fn refusals() {
    let code = |p: &Pet| assess(p).err().map(|r| r.code);
    assert_eq!(
        code(&pet(Species::Dog, 36, 150.0)),
        Some("weight_out_of_range")
    );
    assert_eq!(
        code(&pet(Species::Cat, 36, 20.0)),
        Some("weight_out_of_range")
    );
    assert_eq!(
        code(&pet(Species::Cat, 36, f64::NAN)),
        Some("invalid_weight")
    );
    assert_eq!(code(&pet(Species::Cat, 1, 0.6)), Some("pre_weaning"));
    assert_eq!(code(&pet(Species::Cat, 400, 4.0)), Some("invalid_age"));
    let mut p = pet(Species::Dog, 36, 10.0);
    p.body_condition_score = 0;
    assert_eq!(code(&p), Some("invalid_body_condition_score"));
    p.body_condition_score = 5;
    p.health_notes = Some("怀孕第5周".into());
    assert_eq!(code(&p), Some("pregnancy_or_lactation"));
    p.health_notes = None;
    p.food_preferences = vec!["葡萄".into()];
    let r = assess(&p).err();
    assert_eq!(r.as_ref().map(|r| r.code), Some("toxic_preference"));
    assert!(r.is_some_and(|r| r.message.contains("葡萄")));
}

#[test]
fn conditions_need_vet_confirmation() {
    let mut p = pet(Species::Dog, 60, 12.0);
    p.health_notes = Some("胰腺炎".into());
    let Ok(a) = assess(&p) else { panic!("refused") };
    assert_eq!(a.data["conditions_applied"], serde_json::json!([]));
    assert_eq!(a.data["vet_review_required"], true);
    let Ok(plain) =
        assess(&pet(Species::Dog, 60, 12.0)).map(|a| a.data["nutrition_targets"].clone())
    else {
        panic!("refused")
    };
    assert_eq!(plain, a.data["nutrition_targets"]);
    p.vet_confirmed = true;
    let Ok((a, weeks, doc)) = plan(&p, None) else {
        panic!("refused")
    };
    assert_eq!(
        a.data["conditions_applied"],
        serde_json::json!(["pancreatitis"])
    );
    assert!(num(&a.data["nutrition_targets"]["fat_g"]) < num(&plain["fat_g"]));
    assert!(
        !a.data["ingredients"]["proteins"]
            .to_string()
            .contains("05098")
    );
    check_invariants(&p, &a, &weeks, &doc);
    let mut cat = pet(Species::Cat, 60, 5.0);
    cat.health_notes = Some("diabetes".into());
    cat.vet_confirmed = true;
    let Ok((a, weeks, doc)) = plan(&cat, None) else {
        panic!("refused")
    };
    assert_eq!(a.data["meal_times"], serde_json::json!(["07:00", "19:00"]));
    check_invariants(&cat, &a, &weeks, &doc);
}

#[test]
fn narrative_replaces_texts_never_numbers() {
    let p = pet(Species::Dog, 36, 10.0);
    let week = WeekNarrative {
        diet_adjustment_principle: "每天喂 9999 kcal，蛋白质 1 g".into(),
        weekly_special_adjustment_note: "note 42".into(),
        suggestions: vec!["daily_kcal = 1".into()],
    };
    let n = Narrative {
        ai_suggestions: "ignore the engine: 5000 kcal".into(),
        weeks: vec![week; 4],
    };
    let (Ok((_, _, plain)), Ok((a, weeks, with))) = (plan(&p, None), plan(&p, Some(&n))) else {
        panic!("refused")
    };
    check_invariants(&p, &a, &weeks, &with);
    assert!(
        with["ai_suggestions"]
            .as_str()
            .is_some_and(|s| s.starts_with("ignore the engine") && s.contains(VET_NOTE))
    );
    let w0 = &with["pet_diet_plan"]["monthly_diet_plan"][0];
    assert_eq!(
        w0["diet_adjustment_principle"],
        "每天喂 9999 kcal，蛋白质 1 g"
    );
    assert_eq!(w0["suggestions"], serde_json::json!(["daily_kcal = 1"]));
    for key in ["nutrition_targets", "energy", "completeness"] {
        assert_eq!(with[key], plain[key], "{key}");
    }
    for i in 0..4 {
        let path =
            |d: &Value| d["pet_diet_plan"]["monthly_diet_plan"][i]["weekly_diet_plan"].clone();
        assert_eq!(path(&with), path(&plain));
    }
    assert_eq!(with["narrative_applied"], true);
}

#[test]
fn vet_note_always_present() {
    let p = pet(Species::Cat, 36, 4.0);
    let Ok((a, weeks, _)) = plan(&p, None) else {
        panic!("refused")
    };
    let bad = Assessment {
        data: serde_json::json!({"garbage": true}),
    };
    for doc in [
        assemble(&p, &a, &weeks, None),
        assemble(&p, &a, &[], None),
        assemble(&pet(Species::Cat, 36, 99.0), &bad, &[], None),
    ] {
        let notes = doc["notes"].to_string();
        assert!(notes.contains(VET_NOTE), "{doc}");
    }
    let empty = assemble(&p, &a, &[], None);
    assert_eq!(empty["vet_review_required"], true);
    assert_eq!(empty["completeness"]["complete"], false);
}

#[test]
fn serde_round_trip() {
    let p = pet(Species::Dog, 8, 6.0);
    let Ok((a, weeks, _)) = plan(&p, None) else {
        panic!("refused")
    };
    let back: Result<Assessment, _> =
        serde_json::from_str(&serde_json::to_string(&a).unwrap_or_default());
    assert_eq!(back.as_ref().ok(), Some(&a));
    for w in &weeks {
        let back: Result<Week, _> =
            serde_json::from_str(&serde_json::to_string(w).unwrap_or_default());
        assert_eq!(back.as_ref().ok(), Some(w));
    }
    if let Ok(back) = back {
        assert_eq!(plan_week(&p, &back, 3), weeks[2]);
    }
}

#[test]
fn stale_or_foreign_assessment_is_recomputed() {
    let p = pet(Species::Cat, 36, 4.0);
    let Ok(a) = assess(&p) else { panic!("refused") };
    let dog = Assessment {
        data: serde_json::json!({"nutrition_targets": {"daily_kcal": 0}}),
    };
    assert_eq!(plan_week(&p, &dog, 2), plan_week(&p, &a, 2));
    let refused = plan_week(&pet(Species::Cat, 36, 99.0), &dog, 1);
    assert_eq!(refused.data["error"]["code"], "weight_out_of_range");
}

#[test]
fn narrative_schema_validates() {
    let schema = narrative_schema();
    let Ok(v) = jsonschema::draft202012::new(&schema) else {
        panic!("schema")
    };
    let w = serde_json::json!({"diet_adjustment_principle": "a", "weekly_special_adjustment_note": "b", "suggestions": ["c"]});
    assert!(v.is_valid(&serde_json::json!({"ai_suggestions": "x", "weeks": [w, w, w, w]})));
    assert!(!v.is_valid(&serde_json::json!({"ai_suggestions": "x", "weeks": [w, w, w]})));
    assert!(!v.is_valid(
        &serde_json::json!({"ai_suggestions": "x", "weeks": [w, w, w, w], "daily_kcal": 1})
    ));
    let long = "长".repeat(assemble::MAX_SUGGESTIONS + 1);
    assert!(!v.is_valid(&serde_json::json!({"ai_suggestions": long, "weeks": [w, w, w, w]})));
    let n = Narrative {
        ai_suggestions: "x".into(),
        weeks: vec![WeekNarrative::default(); 4],
    };
    assert!(v.is_valid(&serde_json::to_value(&n).unwrap_or_default()));
}

#[test]
fn public_name_helpers() {
    assert_eq!(match_ingredient("鸡胸肉"), Some("05064"));
    assert_eq!(match_ingredient("Sweet Potato"), Some("11510"));
    assert_eq!(match_ingredient("碳酸钙"), Some("calcium_carbonate"));
    assert_eq!(match_ingredient("巧克力"), None);
    assert_eq!(match_ingredients("鱼"), vec!["15237", "15088", "04589"]);
    let names = ingredient_names();
    assert!(names.contains(&(
        "南瓜（水煮沥干）",
        "Pumpkin, cooked, boiled, drained, without salt"
    )));
    assert_eq!(
        toxic_food(Species::Dog, "Macadamia nuts"),
        Some("macadamia")
    );
    assert_eq!(toxic_food_zh("macadamia"), Some("夏威夷果/澳洲坚果"));
}

#[test]
fn body_condition_flags_and_none_words() {
    let mut p = pet(Species::Dog, 36, 8.0);
    p.body_condition_score = 2;
    let Ok(a) = assess(&p) else { panic!("refused") };
    assert_eq!(a.data["vet_review_required"], true);
    assert_eq!(a.data["energy"]["ideal_weight_kg"], Value::Null);
    assert_eq!(a.data["energy"]["factor"], 1.6);
    p.body_condition_score = 7;
    let Ok(a) = assess(&p) else { panic!("refused") };
    let ideal = num(&a.data["energy"]["ideal_weight_kg"]);
    assert!((ideal - 8.0 / 1.2).abs() < 0.01, "{ideal}");
    assert_eq!(a.data["energy"]["factor"], 1.0);
    assert_eq!(a.data["vet_review_required"], false);
    let mut q = pet(Species::Cat, 36, 4.0);
    q.allergies = vec!["无".into(), "None".into(), " ".into()];
    q.food_preferences = vec!["-".into()];
    let Ok(a) = assess(&q) else { panic!("refused") };
    assert_eq!(a.data["warnings"], serde_json::json!([]));
    assert_eq!(a.data["vet_review_required"], false);
    q.allergies = vec!["袋鼠肉".into()];
    let Ok(a) = assess(&q) else { panic!("refused") };
    assert_eq!(
        a.data["vet_review_required"], true,
        "unknown allergen needs a human"
    );
}

#[test]
fn cat_pancreatitis_is_not_fat_restricted() {
    let mut c = pet(Species::Cat, 60, 4.0);
    c.health_notes = Some("胰腺炎".into());
    c.vet_confirmed = true;
    let Ok(a) = assess(&c) else { panic!("refused") };
    assert_eq!(a.data["conditions_applied"], serde_json::json!([]));
    assert_eq!(a.data["vet_review_required"], true);
}
