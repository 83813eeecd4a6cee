//! Input validation (the refusals) and the ingredient selection per role for `assess`.
//!
//! Refusals (reference §1.7/§5 "refer to a vet", plus input sanity): `invalid_weight`,
//! `weight_out_of_range` (dog 0.5–100 kg, cat 0.5–15 kg — plausibility limits chosen by the
//! engine, the reference gives none), `invalid_age` (0 or > 360 months), `pre_weaning` (< 2
//! months: pre-weaning energy is per 100 g BW and nursing animals need milk, §1.3 — refer to
//! a vet), `invalid_body_condition_score` (not 1–9), `toxic_preference` (a preference names a
//! §4 toxic food). (`pregnancy_or_lactation` and `no_safe_protein` are decided in `assess`.)
//!
//! Selection: allergens (group names expand, see `ingredients`) are removed from every role;
//! preferred items move to the front of their role; default orders — dog main proteins
//! chicken breast, lean beef, ground turkey, chicken thigh, turkey breast, beef 90 %; cat
//! chicken breast, ground turkey, salmon, chicken thigh, lean beef, turkey breast. Fish is
//! never a dog's main protein (vitamin D maximum), dairy is only used for dogs that prefer it,
//! fruit only for dogs, carbohydrates only for dogs (cats get vegetables only). If no meat or
//! fish is left the egg becomes the main protein. Vet-confirmed conditions: pancreatitis (dog)
//! drops the fattier items, diabetes drops white rice and fruit, CKD drops the phosphorus
//! supplement, food allergy keeps one protein and no extras.

use super::assess::Selection;
use super::conditions::Condition;
use super::ingredients::{Role, TABLE};
use super::{Pet, Refusal, Species, toxic};

fn refuse(code: &'static str, message: String) -> Refusal {
    Refusal { code, message }
}

/// Input checks that lead to a refusal.
pub(crate) fn validate(pet: &Pet) -> Result<(), Refusal> {
    let w = pet.weight_kg;
    if !w.is_finite() || w <= 0.0 {
        return Err(refuse("invalid_weight", format!("体重无效：{w} kg")));
    }
    let (lo, hi) = match pet.species {
        Species::Dog => (0.5, 100.0),
        Species::Cat => (0.5, 15.0),
    };
    if !(lo..=hi).contains(&w) {
        return Err(refuse(
            "weight_out_of_range",
            format!("体重 {w} kg 超出该物种的合理范围（{lo}–{hi} kg），请咨询兽医后再制定计划。"),
        ));
    }
    match pet.age_months {
        0 | 361.. => {
            return Err(refuse(
                "invalid_age",
                format!("月龄无效：{}（应为1–360）", pet.age_months),
            ));
        }
        1 => {
            return Err(refuse(
                "pre_weaning",
                "未满2月龄（未断奶）的幼崽应由母乳或代乳品喂养，请咨询兽医。".into(),
            ));
        }
        _ => {}
    }
    if !(1..=9).contains(&pet.body_condition_score) {
        return Err(refuse(
            "invalid_body_condition_score",
            format!(
                "体况评分无效：{}（9分制，应为1–9）",
                pet.body_condition_score
            ),
        ));
    }
    for pref in &pet.food_preferences {
        if let Some(t) = toxic::find(pet.species, pref) {
            let zh = toxic::label_zh(t).unwrap_or(t);
            return Err(refuse(
                "toxic_preference",
                format!("偏好食物「{pref}」属于对该物种有毒的食物（{zh} / {t}），不能使用。"),
            ));
        }
    }
    Ok(())
}

fn ids(list: &[&'static str], keep: impl Fn(&str) -> bool) -> Vec<String> {
    list.iter()
        .filter(|id| keep(id))
        .map(|id| (*id).to_owned())
        .collect()
}

/// Preferred ids first (in preference order), then the rest in default order.
fn prefer(mut v: Vec<String>, preferred: &[&str]) -> Vec<String> {
    v.sort_by_key(|id| preferred.iter().position(|p| p == id).unwrap_or(usize::MAX));
    v
}

pub(crate) fn select(
    pet: &Pet,
    excluded: &[&str],
    preferred: &[&str],
    applied: &[Condition],
) -> Selection {
    let dog = pet.species == Species::Dog;
    let lean = applied.contains(&Condition::Pancreatitis) && dog;
    let fatty = ["05098", "23563", "15237", "15088", "01129", "01016"];
    let ok = |id: &str| !(excluded.contains(&id) || (lean && fatty.contains(&id)));
    let by_role = |role: Role| -> Vec<&'static str> {
        TABLE
            .iter()
            .filter(|i| i.role == role)
            .map(|i| i.id)
            .collect()
    };
    let proteins: &[&str] = if dog {
        &["05064", "23476", "05666", "05098", "05220", "23563"]
    } else {
        &["05064", "05666", "15237", "05098", "23476", "05220"]
    };
    let mut s = Selection {
        proteins: prefer(ids(proteins, ok), preferred),
        eggs: ids(&by_role(Role::Egg), ok),
        fish: prefer(
            ids(
                if dog {
                    &["15237", "15088"]
                } else {
                    &["15088", "15237"]
                },
                ok,
            ),
            preferred,
        ),
        organs: ids(&by_role(Role::Organ), ok),
        ..Selection::default()
    };
    if dog {
        s.dairy = ids(&by_role(Role::Dairy), |id| {
            ok(id) && preferred.contains(&id)
        });
        let carbs: &[&str] = if applied.contains(&Condition::Diabetes) {
            &["20037", "08121", "11510"]
        } else {
            &["11510", "20037", "20045", "08121"]
        };
        s.carbohydrates = prefer(ids(carbs, ok), preferred);
        s.vegetables = prefer(ids(&["11125", "11091", "11053", "11423"], ok), preferred);
        if !applied.contains(&Condition::Diabetes) && !applied.contains(&Condition::FoodAllergy) {
            s.fruits = prefer(ids(&by_role(Role::Fruit), ok), preferred);
        }
    } else {
        s.vegetables = prefer(ids(&["11423", "11125", "11053", "11091"], ok), preferred);
    }
    if s.proteins.is_empty() {
        s.proteins = std::mem::take(&mut s.eggs);
    }
    if applied.contains(&Condition::FoodAllergy) {
        s.proteins.truncate(1);
        s.eggs.clear();
        s.fish.clear();
        s.organs.clear();
        s.dairy.clear();
    }
    let one = |id: &'static str| ok(id).then(|| id.to_owned());
    s.oil = one("04053");
    s.vitamin_oil = one("04589");
    s.calcium_source = Some("calcium_carbonate".into());
    s.phosphorus_source =
        (!applied.contains(&Condition::Ckd)).then(|| "dicalcium_phosphate".into());
    s.supplement = Some("supplement".into());
    s
}
