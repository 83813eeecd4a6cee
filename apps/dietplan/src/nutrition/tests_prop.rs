//! Property tests: random pets (both species, 1–360 months, dogs 0.5–80 kg, cats 1–12 kg,
//! every activity, BCS 1–9, neuter status, allergy/preference subsets, health notes with or
//! without vet confirmation) keep every
//! invariant, and refusals only happen for the documented reasons.

use proptest::prelude::*;

use super::tests::{check_invariants, plan};
use super::*;

const NAMES: &[&str] = &[
    "鸡肉",
    "beef",
    "火鸡",
    "鱼",
    "鸡蛋",
    "南瓜",
    "oats",
    "胡萝卜",
    "rice",
    "liver",
    "乳制品",
    "蓝莓",
];

const NOTES: &[Option<&str>] = &[
    None,
    None,
    Some("糖尿病"),
    Some("胰腺炎"),
    Some("慢性肾病"),
    Some("食物过敏"),
    Some("皮肤病"),
];

fn any_pet() -> impl Strategy<Value = Pet> {
    (
        prop_oneof![Just(Species::Dog), Just(Species::Cat)],
        1u32..=360,
        0.0f64..=1.0,
        prop_oneof![
            Just(Activity::Low),
            Just(Activity::Moderate),
            Just(Activity::High),
            Just(Activity::Working)
        ],
        1u8..=9,
        any::<bool>(),
        proptest::sample::subsequence(NAMES, 0..3),
        proptest::sample::subsequence(NAMES, 0..3),
        proptest::sample::select(NOTES),
        any::<bool>(),
    )
        .prop_map(
            |(species, age, w, activity, bcs, neutered, allergies, prefs, notes, vet)| {
                let weight_kg = match species {
                    Species::Dog => 0.5 + w * 79.5,
                    Species::Cat => 1.0 + w * 11.0,
                };
                Pet {
                    species,
                    breed: None,
                    age_months: age,
                    weight_kg,
                    neutered,
                    activity,
                    body_condition_score: bcs,
                    allergies: allergies.into_iter().map(String::from).collect(),
                    food_preferences: prefs.into_iter().map(String::from).collect(),
                    health_notes: notes.map(String::from),
                    vet_confirmed: vet,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_pets_keep_invariants(p in any_pet()) {
        match plan(&p, None) {
            Ok((a, weeks, doc)) => check_invariants(&p, &a, &weeks, &doc),
            Err(r) => {
                let explained = match r.code {
                    "pre_weaning" => p.age_months < 2,
                    "no_safe_protein" => !p.allergies.is_empty(),
                    _ => false,
                };
                prop_assert!(explained, "unexpected refusal {r:?} for {p:?}");
            }
        }
    }

    #[test]
    fn toxic_preferences_are_always_refused(
        p in any_pet(),
        food in prop_oneof![Just("葡萄"), Just("onion"), Just("大蒜"), Just("chocolate"), Just("木糖醇"), Just("夏威夷果")],
    ) {
        let mut p = p;
        p.age_months = p.age_months.max(2);
        p.food_preferences.push(food.to_owned());
        prop_assert_eq!(assess(&p).err().map(|r| r.code), Some("toxic_preference"));
    }

    #[test]
    fn toxic_matching_never_panics(s in ".{0,40}") {
        let _ = toxic_food(Species::Cat, &s);
        let _ = match_ingredient(&s);
    }
}
