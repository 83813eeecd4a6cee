//! Nutrient targets: the AAFCO per-1000-kcal limits the plan is checked against and the
//! macro targets in grams.
//!
//! **AAFCO limits** (reference §2.1 dogs, §2.2 cats; 2014 revision, per 1000 kcal ME) — only
//! the nutrients the bundled table can quantify. ⚠ choices, all on the conservative side:
//! adult-dog calcium maximum 4.5 g (the 2014 value; 6.25 g in later editions is unverified,
//! §2.1 note ①); cat Ca:P kept within 1:1–2:1 (AAFCO sets none for cats; engine choice, and
//! the issue asks for 1:1–2:1 for both species); dog growth sodium 0.80 g (not the 0.75 g of
//! the DM table). Adult-dog iron 10 mg is from §3.3 (AAFCO14-DJ p173 / AAFCO14-WIKI ÷ 4);
//! growth-dog and cat iron and cat potassium are not in the reference and are left
//! unchecked rather than guessed.
//!
//! **Macro split** (% of ME): the §2.4 PROPOSAL ranges — dogs protein 25–40 %, fat 25–45 %,
//! carbohydrate ≤ 45 %; cats protein ≥ 40 %, fat 30–55 %, carbohydrate ≤ 20 % — with these
//! point values: dog 30/30/40, cat 45/40/15. Vet-confirmed conditions (§5) move them:
//! dog pancreatitis 35/20/45 (low fat; the fat cap is ⚠ "not found", 20 % ≈ 23.5 g/1000 kcal
//! sits at the low end of the 20–25 g figure quoted), dog diabetes 30/30/40 (+ more fibre in
//! the plan), dog CKD 25/40/35 (protein at the low end of the range), cat diabetes 50/40/10
//! (carbohydrate ≤ 12 % ⚠ → 10 %), cat CKD 40/45/15 (protein kept ≥ 40 %: "do not slash
//! protein in cats"). Grams use the AAFCO modified Atwater factors 3.5/8.5/3.5 kcal/g
//! (AAFCO-FOOT ✅), are never below the AAFCO protein/fat minimums, and carbohydrate is the
//! remainder of the energy.

use super::Species;
use super::conditions::Condition;

/// The AAFCO nutrient profile that applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Profile {
    AdultMaintenance,
    Growth,
}

impl Profile {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Profile::AdultMaintenance => "adult_maintenance",
            Profile::Growth => "growth",
        }
    }
}

/// One checked nutrient limit, per 1000 kcal ME.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Limit {
    /// Key, e.g. `calcium_g` (the unit is the suffix; `ca_p_ratio` is a ratio).
    pub key: &'static str,
    pub min: f64,
    pub max: Option<f64>,
}

const fn l(key: &'static str, min: f64, max: Option<f64>) -> Limit {
    Limit { key, min, max }
}

static DOG_ADULT: &[Limit] = &[
    l("protein_g", 45.0, None),
    l("fat_g", 13.8, None),
    l("calcium_g", 1.25, Some(4.5)),
    l("phosphorus_g", 1.0, Some(4.0)),
    l("ca_p_ratio", 1.0, Some(2.0)),
    l("sodium_g", 0.2, None),
    l("potassium_g", 1.5, None),
    l("iron_mg", 10.0, None),
    l("vitamin_a_iu", 1250.0, Some(62_500.0)),
    l("vitamin_d_iu", 125.0, Some(750.0)),
];
static DOG_GROWTH: &[Limit] = &[
    l("protein_g", 56.3, None),
    l("fat_g", 21.3, None),
    l("calcium_g", 3.0, Some(4.5)),
    l("phosphorus_g", 2.5, Some(4.0)),
    l("ca_p_ratio", 1.0, Some(2.0)),
    l("sodium_g", 0.8, None),
    l("potassium_g", 1.5, None),
    l("vitamin_a_iu", 1250.0, Some(62_500.0)),
    l("vitamin_d_iu", 125.0, Some(750.0)),
];
static CAT_ADULT: &[Limit] = &[
    l("protein_g", 65.0, None),
    l("fat_g", 22.5, None),
    l("calcium_g", 1.5, None),
    l("phosphorus_g", 1.25, None),
    l("ca_p_ratio", 1.0, Some(2.0)),
    l("sodium_g", 0.5, None),
    l("vitamin_a_iu", 833.0, Some(83_325.0)),
    l("vitamin_d_iu", 70.0, Some(7520.0)),
];
static CAT_GROWTH: &[Limit] = &[
    l("protein_g", 75.0, None),
    l("fat_g", 22.5, None),
    l("calcium_g", 2.5, None),
    l("phosphorus_g", 2.0, None),
    l("ca_p_ratio", 1.0, Some(2.0)),
    l("sodium_g", 0.5, None),
    l("vitamin_a_iu", 1667.0, Some(83_325.0)),
    l("vitamin_d_iu", 70.0, Some(7520.0)),
];

/// The checked limits for a species and profile.
pub(crate) fn limits(species: Species, profile: Profile) -> &'static [Limit] {
    match (species, profile) {
        (Species::Dog, Profile::AdultMaintenance) => DOG_ADULT,
        (Species::Dog, Profile::Growth) => DOG_GROWTH,
        (Species::Cat, Profile::AdultMaintenance) => CAT_ADULT,
        (Species::Cat, Profile::Growth) => CAT_GROWTH,
    }
}

/// The limit for `key`, if checked.
pub(crate) fn limit(species: Species, profile: Profile, key: &str) -> Option<Limit> {
    limits(species, profile)
        .iter()
        .find(|l| l.key == key)
        .copied()
}

/// AAFCO nutrients the bundled table cannot quantify (never claimed; the supplement is
/// expected to cover them — an assumption, not a check).
pub(crate) fn unchecked(species: Species, profile: Profile) -> Vec<&'static str> {
    let mut v = vec![
        "arginine_and_other_amino_acids",
        "linoleic_acid",
        "vitamin_e",
        "zinc",
        "copper",
        "manganese",
        "selenium",
        "iodine",
        "magnesium",
        "chloride",
        "b_vitamins",
        "choline",
    ];
    match (species, profile) {
        (Species::Dog, Profile::Growth) => v.extend(["iron", "epa_dha"]),
        (Species::Dog, Profile::AdultMaintenance) => {}
        (Species::Cat, _) => v.extend(["taurine", "arachidonic_acid", "potassium", "iron"]),
    }
    v
}

/// Chinese label of a limit key or an unchecked-nutrient key (the key itself if unknown).
pub(crate) fn label_zh(key: &str) -> &str {
    match key {
        "protein_g" => "蛋白质",
        "fat_g" => "脂肪",
        "calcium_g" => "钙",
        "phosphorus_g" => "磷",
        "ca_p_ratio" => "钙磷比",
        "sodium_g" => "钠",
        "potassium_g" | "potassium" => "钾",
        "iron_mg" | "iron" => "铁",
        "vitamin_a_iu" => "维生素A",
        "vitamin_d_iu" => "维生素D",
        "arginine_and_other_amino_acids" => "精氨酸等必需氨基酸",
        "linoleic_acid" => "亚油酸",
        "vitamin_e" => "维生素E",
        "zinc" => "锌",
        "copper" => "铜",
        "manganese" => "锰",
        "selenium" => "硒",
        "iodine" => "碘",
        "magnesium" => "镁",
        "chloride" => "氯",
        "b_vitamins" => "B族维生素",
        "choline" => "胆碱",
        "epa_dha" => "EPA+DHA（ω-3脂肪酸）",
        "taurine" => "牛磺酸",
        "arachidonic_acid" => "花生四烯酸",
        other => other,
    }
}

/// Macro energy split (% of ME, modified Atwater basis).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Split {
    pub protein: f64,
    pub fat: f64,
    pub carb: f64,
}

/// The split for `species` and the vet-confirmed `conditions` applied (first match wins:
/// pancreatitis, diabetes, CKD).
pub(crate) fn split(species: Species, applied: &[Condition]) -> Split {
    let has = |c| applied.contains(&c);
    let (protein, fat, carb) = match species {
        Species::Dog if has(Condition::Pancreatitis) => (35.0, 20.0, 45.0),
        Species::Dog if has(Condition::Ckd) && !has(Condition::Diabetes) => (25.0, 40.0, 35.0),
        Species::Dog => (30.0, 30.0, 40.0),
        Species::Cat if has(Condition::Diabetes) => (50.0, 40.0, 10.0),
        Species::Cat if has(Condition::Ckd) => (40.0, 45.0, 15.0),
        Species::Cat => (45.0, 40.0, 15.0),
    };
    Split { protein, fat, carb }
}

/// Daily macro targets in grams.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Targets {
    pub daily_kcal: f64,
    pub protein_g: f64,
    pub fat_g: f64,
    pub carbohydrates_g: f64,
}

/// Targets for `daily_kcal`: grams by modified Atwater (3.5/8.5/3.5), protein and fat never
/// below the profile's AAFCO minimums, carbohydrate the remaining energy.
pub(crate) fn targets(daily_kcal: f64, s: Split, species: Species, profile: Profile) -> Targets {
    let per = daily_kcal / 1000.0;
    let min = |key| limit(species, profile, key).map_or(0.0, |l| l.min * per);
    let protein_g = (daily_kcal * s.protein / 100.0 / 3.5).max(min("protein_g"));
    let fat_g = (daily_kcal * s.fat / 100.0 / 8.5).max(min("fat_g"));
    let carbohydrates_g = ((daily_kcal - 3.5 * protein_g - 8.5 * fat_g) / 3.5).max(0.0);
    Targets {
        daily_kcal,
        protein_g,
        fat_g,
        carbohydrates_g,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_respect_minimums_and_energy() {
        for species in [Species::Dog, Species::Cat] {
            for profile in [Profile::AdultMaintenance, Profile::Growth] {
                for applied in [
                    &[][..],
                    &[Condition::Pancreatitis],
                    &[Condition::Diabetes],
                    &[Condition::Ckd],
                ] {
                    let s = split(species, applied);
                    assert!((s.protein + s.fat + s.carb - 100.0).abs() < 1e-9);
                    let t = targets(1000.0, s, species, profile);
                    let p = limit(species, profile, "protein_g").map(|l| l.min);
                    let f = limit(species, profile, "fat_g").map(|l| l.min);
                    assert!(t.protein_g >= p.unwrap_or(0.0) && t.fat_g >= f.unwrap_or(0.0));
                    let kcal = 3.5 * t.protein_g + 8.5 * t.fat_g + 3.5 * t.carbohydrates_g;
                    assert!((kcal - 1000.0).abs() < 1e-6);
                }
            }
        }
        let t = targets(
            1000.0,
            split(Species::Dog, &[]),
            Species::Dog,
            Profile::AdultMaintenance,
        );
        assert!((t.protein_g - 300.0 / 3.5).abs() < 1e-9);
    }

    #[test]
    fn every_key_has_a_chinese_label() {
        for species in [Species::Dog, Species::Cat] {
            for profile in [Profile::AdultMaintenance, Profile::Growth] {
                let keys = limits(species, profile)
                    .iter()
                    .map(|l| l.key)
                    .chain(unchecked(species, profile));
                for key in keys {
                    assert!(!label_zh(key).is_ascii(), "{key}");
                }
            }
        }
    }

    #[test]
    fn ca_p_limits_are_one_to_two() {
        for species in [Species::Dog, Species::Cat] {
            for profile in [Profile::AdultMaintenance, Profile::Growth] {
                let r = limit(species, profile, "ca_p_ratio");
                assert_eq!(r.map(|l| (l.min, l.max)), Some((1.0, Some(2.0))));
            }
        }
    }
}
