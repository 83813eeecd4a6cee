//! Day nutrient totals and the per-1000-kcal checks against the AAFCO limits.
//!
//! **Energy basis of the checks** (conservative both ways): the foods are weighed by USDA
//! SR28 kcal (human Atwater), which for the same food are ≈ 10–15 % higher than the AAFCO
//! modified Atwater estimate (3.5 × protein + 8.5 × fat + 3.5 × (carbohydrate − fibre)).
//! Minimums are checked per 1000 **USDA** kcal (the larger energy → the lower nutrient
//! density), maximums per 1000 **modified Atwater** kcal (the smaller energy → the higher
//! density). Vitamin A counts µg RAE for dogs but only preformed retinol for cats (§2.2
//! COLYER), converted at 1 IU = 0.3 µg (§2.5 ◐); vitamin D at 1 µg = 40 IU (§2.5 ✅).
//! Nothing is credited to the vitamin–mineral supplement (its label values are assumed).

use super::Species;
use super::ingredients::{Ingredient, Nutrients, nu};
use super::targets::Limit;

/// An amount of one ingredient.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Portion {
    pub ing: &'static Ingredient,
    pub grams: f64,
}

/// Nutrient sums for a day.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct DayTotals {
    /// Sum of the table columns (see [`nu`]).
    pub sum: Nutrients,
    /// Modified Atwater kcal of the same food.
    pub modified_kcal: f64,
}

/// Modified Atwater kcal per 100 g of a table row.
pub(crate) fn modified_kcal(n: &Nutrients) -> f64 {
    3.5 * n[nu::PROTEIN] + 8.5 * n[nu::FAT] + 3.5 * (n[nu::CARB] - n[nu::FIBER]).max(0.0)
}

/// Totals of `portions`.
pub(crate) fn totals<'a>(portions: impl IntoIterator<Item = &'a Portion>) -> DayTotals {
    let mut sum = [0.0; nu::COUNT];
    let mut modified = 0.0;
    for p in portions {
        let k = p.grams / 100.0;
        for (s, v) in sum.iter_mut().zip(p.ing.n.iter()) {
            *s += v * k;
        }
        modified += modified_kcal(&p.ing.n) * k;
    }
    DayTotals {
        sum,
        modified_kcal: modified,
    }
}

/// Vitamin A that counts for `species`, µg (RAE for dogs, retinol for cats).
pub(crate) fn vitamin_a_ug(species: Species, n: &Nutrients) -> f64 {
    match species {
        Species::Dog => n[nu::VIT_A_RAE],
        Species::Cat => n[nu::RETINOL],
    }
}

/// The amount behind a limit key for a whole day, in the key's unit (ratio for `ca_p_ratio`).
pub(crate) fn amount(species: Species, key: &str, t: &DayTotals) -> f64 {
    let s = &t.sum;
    match key {
        "protein_g" => s[nu::PROTEIN],
        "fat_g" => s[nu::FAT],
        "calcium_g" => s[nu::CA] / 1000.0,
        "phosphorus_g" => s[nu::P] / 1000.0,
        "sodium_g" => s[nu::NA] / 1000.0,
        "potassium_g" => s[nu::K] / 1000.0,
        "iron_mg" => s[nu::FE],
        "vitamin_a_iu" => vitamin_a_ug(species, s) / 0.3,
        "vitamin_d_iu" => s[nu::VIT_D] * 40.0,
        "ca_p_ratio" if s[nu::P] > 0.0 => s[nu::CA] / s[nu::P],
        "ca_p_ratio" if s[nu::CA] > 0.0 => 999.0,
        _ => 0.0,
    }
}

/// One day's result for one limit: the value used for the minimum, the value used for the
/// maximum (per 1000 kcal, or the ratio), and whether both hold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct DayCheck {
    pub for_min: f64,
    pub for_max: f64,
    pub ok: bool,
}

/// Checks `limit` for a day.
pub(crate) fn check(species: Species, limit: &Limit, t: &DayTotals) -> DayCheck {
    let a = amount(species, limit.key, t);
    let (for_min, for_max) = if limit.key == "ca_p_ratio" {
        (a, a)
    } else {
        let per = |kcal: f64| if kcal > 0.0 { a / (kcal / 1000.0) } else { 0.0 };
        (per(t.sum[nu::KCAL]), per(t.modified_kcal))
    };
    let ok = for_min >= limit.min && limit.max.is_none_or(|m| for_max <= m);
    DayCheck {
        for_min,
        for_max,
        ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nutrition::ingredients::by_id;

    #[test]
    fn modified_atwater_is_below_usda_for_meat() {
        let Some(chicken) = by_id("05064") else {
            panic!("chicken row")
        };
        let m = modified_kcal(&chicken.n);
        assert!((m - (3.5 * 31.02 + 8.5 * 3.57)).abs() < 1e-9);
        assert!(m < 165.0 * 0.9);
    }

    #[test]
    fn check_uses_both_bases() {
        let Some(ing) = by_id("05064") else {
            panic!("chicken row")
        };
        let t = totals(&[Portion { ing, grams: 100.0 }]);
        let l = Limit {
            key: "protein_g",
            min: 45.0,
            max: Some(200.0),
        };
        let c = check(Species::Dog, &l, &t);
        assert!((c.for_min - 31.02 / 0.165).abs() < 1e-9);
        assert!(c.for_max > c.for_min);
        assert!(!c.ok, "{c:?}");
    }
}
