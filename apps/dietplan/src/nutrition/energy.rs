//! Energy: resting energy requirement (RER), the maintenance multiplier (MER factor) and the
//! daily kcal (reference §1).
//!
//! - RER is **always** the exponential form `70 × BW^0.75` kcal ME/day (MERCK-NRQ, SACN5 ✅;
//!   §1.1 "Engine: always use the exponential form").
//! - Factors are the §1.7 engine defaults (a PROPOSAL derived from AAHA14-T, BEDROSSIAN,
//!   SACN5 Table 24-4), see [`factor`].
//! - Body condition (9-point scale): BCS > 5 → ideal weight `current / (1 + 0.10 × (BCS − 5))`
//!   (INFUSIONFOX ◐; other texts use 10–15 %/unit ⚠ — 10 % gives the *higher* ideal weight,
//!   i.e. the smaller restriction, which is the conservative side for a plan made without a
//!   vet) and adults get weight-loss energy `RER(ideal) × 1.0` (dog) / `× 0.8` (cat)
//!   (AAHA14-T, BEDROSSIAN ◐). Growing animals keep their growth factor, applied to the ideal
//!   weight, and are flagged for vet review (restricting growth is not a home-planner call).
//!   BCS ≤ 3 → maintenance on the current weight, warning and vet review (§5).
//! - Senior animals (dog ≥ 7 y, ≥ 6 y for large/giant breeds; cat ≥ 11 y) keep the adult
//!   factor: §1.2/§1.3 mark every senior multiplier ⚠ ("no authority gives a multiplier");
//!   the engine labels the stage and asks for a reweigh every 2–4 weeks instead of guessing.
//! - Large/giant dogs grow until 18 months instead of 12 (§1.4 MERCK-NRQ ◐): recognised from
//!   the breed name, or inferred when a dog of 12–17 months already weighs more than 23 kg
//!   (large breed = adult BW > 23 kg, VNJ22 ✅).

use super::{Activity, Pet, Species};

/// Life stage used for the factor and the AAFCO profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Dog < 4 months.
    PuppyEarly,
    /// Dog 4 months to adult size (12, or 18 for large/giant breeds).
    PuppyLate,
    /// Cat ≤ 4 months.
    KittenEarly,
    /// Cat 5–8 months.
    KittenMid,
    /// Cat 9–11 months.
    KittenLate,
    Adult,
    Senior,
}

impl Stage {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Stage::PuppyEarly => "puppy_under_4_months",
            Stage::PuppyLate => "puppy_4_months_to_adult",
            Stage::KittenEarly => "kitten_up_to_4_months",
            Stage::KittenMid => "kitten_4_to_9_months",
            Stage::KittenLate => "kitten_9_to_12_months",
            Stage::Adult => "adult",
            Stage::Senior => "senior",
        }
    }

    pub(crate) fn zh(self) -> &'static str {
        match self {
            Stage::PuppyEarly => "幼犬（4月龄以下）",
            Stage::PuppyLate => "幼犬（4月龄至成年）",
            Stage::KittenEarly => "幼猫（4月龄及以下）",
            Stage::KittenMid => "幼猫（4–9月龄）",
            Stage::KittenLate => "幼猫（9–12月龄）",
            Stage::Adult => "成年",
            Stage::Senior => "老年",
        }
    }

    /// Growth (AAFCO "growth and reproduction" profile) rather than adult maintenance.
    pub(crate) fn growing(self) -> bool {
        !matches!(self, Stage::Adult | Stage::Senior)
    }
}

/// Breed size class from the free-text breed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Size {
    Regular,
    Large,
    Giant,
}

static GIANT: &[&str] = &[
    "great dane",
    "大丹",
    "saint bernard",
    "st bernard",
    "圣伯纳",
    "newfoundland",
    "纽芬兰",
    "mastiff",
    "獒",
    "irish wolfhound",
    "猎狼犬",
    "leonberger",
    "莱昂贝格",
    "great pyrenees",
    "大白熊",
    "caucasian",
    "高加索",
    "cane corso",
    "卡斯罗",
];
static LARGE: &[&str] = &[
    "labrador",
    "拉布拉多",
    "golden retriever",
    "金毛",
    "german shepherd",
    "德国牧羊犬",
    "德牧",
    "rottweiler",
    "罗威纳",
    "bernese",
    "伯恩山",
    "malamute",
    "阿拉斯加",
    "samoyed",
    "萨摩耶",
    "doberman",
    "杜宾",
    "akita",
    "秋田",
    "boxer",
    "拳师",
    "weimaraner",
    "魏玛",
    "bloodhound",
    "寻血",
    "borzoi",
    "greyhound",
    "灵缇",
    "old english sheepdog",
    "古牧",
    "dogo argentino",
    "杜高",
    "belgian malinois",
    "马犬",
    "马里努阿",
];

/// The size class `breed` names (dogs only; cats are always `Regular`).
pub(crate) fn size(species: Species, breed: Option<&str>) -> Size {
    let Some(breed) = breed.filter(|_| species == Species::Dog) else {
        return Size::Regular;
    };
    let b = super::matching::normalize(breed);
    if GIANT.iter().any(|n| b.contains(n)) {
        Size::Giant
    } else if LARGE.iter().any(|n| b.contains(n)) {
        Size::Large
    } else {
        Size::Regular
    }
}

/// The life stage of `pet` given its size class.
pub(crate) fn stage(pet: &Pet, size: Size) -> Stage {
    let m = pet.age_months;
    match pet.species {
        Species::Dog => {
            let big = size != Size::Regular || ((12..18).contains(&m) && pet.weight_kg > 23.0);
            let adult_at = if big { 18 } else { 12 };
            let senior_at = if size == Size::Regular { 84 } else { 72 };
            if m < 4 {
                Stage::PuppyEarly
            } else if m < adult_at {
                Stage::PuppyLate
            } else if m >= senior_at {
                Stage::Senior
            } else {
                Stage::Adult
            }
        }
        Species::Cat => match m {
            0..=4 => Stage::KittenEarly,
            5..=8 => Stage::KittenMid,
            9..=11 => Stage::KittenLate,
            12..=131 => Stage::Adult,
            _ => Stage::Senior,
        },
    }
}

/// RER in kcal/day for a body weight in kg: `70 × kg^0.75` (§1.1).
pub(crate) fn rer(weight_kg: f64) -> f64 {
    70.0 * weight_kg.powf(0.75)
}

/// Ideal body weight from the 9-point BCS (§1.5); `None` when BCS ≤ 3 (a vet must set it).
pub(crate) fn ideal_weight(weight_kg: f64, bcs: u8) -> Option<f64> {
    match bcs {
        0..=3 => None,
        4 | 5 => Some(weight_kg),
        _ => Some(weight_kg / (1.0 + 0.10 * (f64::from(bcs) - 5.0))),
    }
}

/// The MER factor and a short Chinese + English rule label (§1.7 defaults).
///
/// Dogs: <4 mo 3.0; 4 mo–adult 2.0; adult neutered 1.6, intact 1.8, low activity 1.4, high
/// 2.0, working 3.0 (the §1.7 cap; above that "refer to vet"). Cats: ≤4 mo 3.0, 4–9 mo 2.5,
/// 9–12 mo 2.0 (SACN5 ✅); adult neutered 1.2, intact 1.4, low 1.0, high 1.6 (working is
/// treated as high). Weight loss (BCS > 5, adults): dog 1.0, cat 0.8 of RER(ideal). Growth
/// factors do not depend on activity or neuter status.
pub(crate) fn factor(pet: &Pet, stage: Stage) -> (f64, &'static str) {
    let losing = pet.body_condition_score > 5 && !stage.growing();
    match (pet.species, stage) {
        (Species::Dog, Stage::PuppyEarly) => (3.0, "幼犬 <4月龄 ×3.0 (puppy <4 mo)"),
        (Species::Dog, Stage::PuppyLate) => (2.0, "幼犬 4月龄至成年 ×2.0 (puppy 4 mo to adult)"),
        (Species::Cat, Stage::KittenEarly) => (3.0, "幼猫 ≤4月龄 ×3.0 (kitten ≤4 mo, SACN)"),
        (Species::Cat, Stage::KittenMid) => (2.5, "幼猫 4–9月龄 ×2.5 (kitten 4–9 mo, SACN)"),
        (Species::Cat, Stage::KittenLate) => (2.0, "幼猫 9–12月龄 ×2.0 (kitten 9–12 mo, SACN)"),
        (Species::Dog, _) if losing => (1.0, "减重：理想体重RER ×1.0 (weight loss, dog)"),
        (Species::Cat, _) if losing => (0.8, "减重：理想体重RER ×0.8 (weight loss, cat)"),
        (Species::Dog, _) => match pet.activity {
            Activity::Low => (1.4, "低活动量成犬 ×1.4 (inactive adult dog)"),
            Activity::High => (2.0, "高活动量成犬 ×2.0 (active adult dog)"),
            Activity::Working => (3.0, "工作犬 ×3.0 (working dog, capped)"),
            Activity::Moderate if pet.neutered => (1.6, "已绝育成犬 ×1.6 (neutered adult dog)"),
            Activity::Moderate => (1.8, "未绝育成犬 ×1.8 (intact adult dog)"),
        },
        (Species::Cat, _) => match pet.activity {
            Activity::Low => (1.0, "低活动量成猫 ×1.0 (inactive adult cat)"),
            Activity::High | Activity::Working => (1.6, "高活动量成猫 ×1.6 (active adult cat)"),
            Activity::Moderate if pet.neutered => (1.2, "已绝育成猫 ×1.2 (neutered adult cat)"),
            Activity::Moderate => (1.4, "未绝育成猫 ×1.4 (intact adult cat)"),
        },
    }
}

/// The energy result.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Energy {
    pub stage: Stage,
    pub size: Size,
    /// Weight the RER is computed on (ideal weight when BCS > 5).
    pub weight_for_rer_kg: f64,
    pub ideal_weight_kg: Option<f64>,
    pub rer_kcal: f64,
    pub factor: f64,
    pub daily_kcal: f64,
    pub rule: &'static str,
}

/// Energy for `pet` (inputs already validated: finite weight, BCS 1–9).
pub(crate) fn compute(pet: &Pet) -> Energy {
    let size = size(pet.species, pet.breed.as_deref());
    let stage = stage(pet, size);
    let ideal = ideal_weight(pet.weight_kg, pet.body_condition_score);
    let weight_for_rer_kg = if pet.body_condition_score > 5 {
        ideal.unwrap_or(pet.weight_kg)
    } else {
        pet.weight_kg
    };
    let rer_kcal = rer(weight_for_rer_kg);
    let (factor, rule) = factor(pet, stage);
    Energy {
        stage,
        size,
        weight_for_rer_kg,
        ideal_weight_kg: ideal,
        rer_kcal,
        factor,
        daily_kcal: rer_kcal * factor,
        rule,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nutrition::tests::pet;

    #[test]
    fn ten_kg_neutered_moderate_adult_dog() {
        let e = compute(&pet(Species::Dog, 36, 10.0));
        assert_eq!(e.factor, 1.6);
        assert!((e.daily_kcal - 1.6 * 70.0 * 10f64.powf(0.75)).abs() < 1e-9);
        assert!((e.daily_kcal - 630.0).abs() < 1.0, "{}", e.daily_kcal);
    }

    #[test]
    fn four_kg_neutered_adult_cat() {
        let e = compute(&pet(Species::Cat, 36, 4.0));
        assert!((e.daily_kcal - 1.2 * 70.0 * 4f64.powf(0.75)).abs() < 1e-9);
        assert!((e.daily_kcal - 237.6).abs() < 0.1, "{}", e.daily_kcal);
    }

    #[test]
    fn growth_factors() {
        let f = |s, m, kg| compute(&pet(s, m, kg)).factor;
        assert_eq!(f(Species::Dog, 3, 3.0), 3.0);
        assert_eq!(f(Species::Dog, 4, 5.0), 2.0);
        assert_eq!(f(Species::Dog, 11, 8.0), 2.0);
        assert_eq!(f(Species::Dog, 12, 10.0), 1.6);
        assert_eq!(
            f(Species::Dog, 14, 30.0),
            2.0,
            "12–17 mo and > 23 kg: still growing"
        );
        assert_eq!(f(Species::Cat, 4, 1.5), 3.0);
        assert_eq!(f(Species::Cat, 6, 2.5), 2.5);
        assert_eq!(f(Species::Cat, 10, 3.5), 2.0);
        assert_eq!(f(Species::Cat, 12, 4.0), 1.2);
        let mut lab = pet(Species::Dog, 15, 20.0);
        lab.breed = Some("拉布拉多".into());
        assert_eq!(compute(&lab).factor, 2.0);
    }

    #[test]
    fn activity_and_neuter() {
        let mut p = pet(Species::Dog, 36, 10.0);
        p.neutered = false;
        assert_eq!(compute(&p).factor, 1.8);
        for (a, f) in [
            (Activity::Low, 1.4),
            (Activity::High, 2.0),
            (Activity::Working, 3.0),
        ] {
            p.activity = a;
            assert_eq!(compute(&p).factor, f);
        }
        let mut c = pet(Species::Cat, 36, 4.0);
        for (a, f) in [
            (Activity::Low, 1.0),
            (Activity::High, 1.6),
            (Activity::Moderate, 1.2),
        ] {
            c.activity = a;
            assert_eq!(compute(&c).factor, f);
        }
        c.neutered = false;
        assert_eq!(compute(&c).factor, 1.4);
    }

    #[test]
    fn bcs_seven_uses_ideal_weight() {
        let mut p = pet(Species::Dog, 36, 12.0);
        p.body_condition_score = 7;
        let e = compute(&p);
        assert!((e.weight_for_rer_kg - 10.0).abs() < 1e-9);
        assert_eq!(e.factor, 1.0);
        assert!((e.daily_kcal - rer(10.0)).abs() < 1e-9);
        let mut c = pet(Species::Cat, 36, 6.0);
        c.body_condition_score = 7;
        let e = compute(&c);
        assert!((e.daily_kcal - 0.8 * rer(5.0)).abs() < 1e-9);
        assert_eq!(ideal_weight(5.0, 3), None);
        assert_eq!(ideal_weight(5.0, 4), Some(5.0));
    }

    #[test]
    fn senior_keeps_adult_factor() {
        let e = compute(&pet(Species::Dog, 100, 10.0));
        assert_eq!((e.stage, e.factor), (Stage::Senior, 1.6));
        let e = compute(&pet(Species::Cat, 140, 4.0));
        assert_eq!((e.stage, e.factor), (Stage::Senior, 1.2));
    }
}
