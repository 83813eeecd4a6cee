//! Composing one day: gram amounts that hit the day's kcal exactly (±1 % after rounding to
//! 0.1 g) and the protein/fat targets as closely as the foods allow, then the vitamin A/D
//! oil, phosphorus and calcium sized against the AAFCO limits.
//!
//! Method (closed form, deterministic, no iteration over random guesses):
//! 1. Fixed items (vegetables, egg/fish/liver/fruit/dairy) get a share of the day's kcal.
//! 2. Main protein `m`, carbohydrate `c` and oil `o` (in kcal) solve the linear system
//!    kcal = E, protein = P*, fat = F* (Gaussian elimination). A variable that leaves its
//!    bounds (`c` ≤ carb cap, `o` ≤ oil cap, all ≥ 0) is clamped and the rest re-solved with
//!    the equations in priority order kcal > protein > fat (so energy is always exact and
//!    fat, then protein, give way; the carbohydrate target is therefore a ceiling).
//! 3. Dogs: if potassium is under 1.05 × the AAFCO minimum, part of the carbohydrate's kcal
//!    moves to a potassium-rich partner (sweet potato, else pumpkin), at most 60 %.
//! 4. Liver is held at ≤ 4.5 % of the day's food weight (§4 PROPOSAL: ≤ 5 %).
//! 5. Cod liver oil brings vitamin A (retinol for cats) and D to 1.25 × the minimum, capped
//!    at 0.8 × the maximums.
//! 6. Dicalcium phosphate lifts P to 1.1 × the minimum; calcium carbonate then sets Ca to
//!    max(1.1 × Ca minimum, 1.2 × P), at most 1.9 × P and 0.9 × the Ca maximum (so
//!    Ca:P stays within 1:1–2:1).
//! 7. Weights are rounded to 0.1 g; the main protein absorbs the kcal rounding error; the
//!    mineral powders are re-searched in 0.1 g steps (±0.5 g) if rounding broke a Ca/P
//!    limit (matters for very small pets, where 0.1 g of calcium carbonate is 40 mg Ca).

use super::Species;
use super::checks::{self, Portion};
use super::ingredients::{Ingredient, nu};
use super::targets::{self, Profile};

/// What a day needs.
pub(crate) struct Spec<'a> {
    pub species: Species,
    pub profile: Profile,
    pub kcal: f64,
    pub protein_g: f64,
    pub fat_g: f64,
    pub main: &'static Ingredient,
    pub carb: Option<&'static Ingredient>,
    pub carb_partner: Option<&'static Ingredient>,
    /// Items with a fixed share of the day's kcal.
    pub fixed: &'a [(&'static Ingredient, f64)],
    pub oil: Option<&'static Ingredient>,
    pub vitamin_oil: Option<&'static Ingredient>,
    pub phosphate: Option<&'static Ingredient>,
    pub calcium: Option<&'static Ingredient>,
    pub supplement: Option<&'static Ingredient>,
    /// Largest share of kcal from the carbohydrate source / the oil.
    pub carb_cap: f64,
    pub oil_cap: f64,
}

/// `[kcal, protein, fat]` per kcal of an ingredient.
fn per_kcal(i: &Ingredient) -> [f64; 3] {
    let k = i.n[nu::KCAL].max(1e-9);
    [1.0, i.n[nu::PROTEIN] / k, i.n[nu::FAT] / k]
}

/// Solves the first `n` rows of `a x = b` (n ≤ 3) by Gaussian elimination.
fn gauss(cols: &[[f64; 3]], b: [f64; 3]) -> Option<Vec<f64>> {
    let n = cols.len();
    let mut m: Vec<Vec<f64>> = (0..n)
        .map(|r| (0..n).map(|c| cols[c][r]).chain([b[r]]).collect())
        .collect();
    for c in 0..n {
        let pivot = (c..n).max_by(|x, y| m[*x][c].abs().total_cmp(&m[*y][c].abs()))?;
        if m[pivot][c].abs() < 1e-12 {
            return None;
        }
        m.swap(c, pivot);
        let pivot_row = m[c].clone();
        for (r, row) in m.iter_mut().enumerate() {
            if r != c {
                let f = row[c] / pivot_row[c];
                for (x, p) in row.iter_mut().zip(&pivot_row).skip(c) {
                    *x -= f * p;
                }
            }
        }
    }
    Some((0..n).map(|r| m[r][n] / m[r][r]).collect())
}

/// kcal of main, carbohydrate (blend) and oil given the fixed totals.
fn solve(s: &Spec, base: &checks::DayTotals, blend: f64) -> [f64; 3] {
    let b = &base.sum;
    let rhs = [
        s.kcal - b[nu::KCAL],
        s.protein_g - b[nu::PROTEIN],
        s.fat_g - b[nu::FAT],
    ];
    let carb = s.carb.map(|c| {
        let a = per_kcal(c);
        let p = s.carb_partner.map_or(a, per_kcal);
        [
            1.0,
            a[1] * (1.0 - blend) + p[1] * blend,
            a[2] * (1.0 - blend) + p[2] * blend,
        ]
    });
    let vecs = [Some(per_kcal(s.main)), carb, s.oil.map(per_kcal)];
    let caps = [f64::INFINITY, s.carb_cap * s.kcal, s.oil_cap * s.kcal];
    let mut val = [0.0; 3];
    let mut free = [true, vecs[1].is_some(), vecs[2].is_some()];
    for _ in 0..4 {
        let idx: Vec<usize> = (0..3).filter(|i| free[*i]).collect();
        let mut r = rhs;
        for i in (0..3).filter(|i| !free[*i]) {
            if let Some(v) = vecs[i] {
                (0..3).for_each(|e| r[e] -= v[e] * val[i]);
            }
        }
        let cols: Vec<[f64; 3]> = idx.iter().filter_map(|i| vecs[*i]).collect();
        let Some(x) = gauss(&cols, r) else {
            let Some(&last) = idx.last() else { break };
            free[last] = false;
            val[last] = 0.0;
            continue;
        };
        idx.iter().zip(&x).for_each(|(i, v)| val[*i] = *v);
        let bad = [2, 1, 0]
            .into_iter()
            .find(|i| free[*i] && (val[*i] < 0.0 || val[*i] > caps[*i]));
        match bad {
            Some(i) => {
                val[i] = val[i].clamp(0.0, caps[i]);
                free[i] = false;
            }
            None => break,
        }
    }
    val.map(|v| v.max(0.0))
}

fn grams(i: &'static Ingredient, kcal: f64) -> Portion {
    Portion {
        ing: i,
        grams: kcal / i.n[nu::KCAL].max(1e-9) * 100.0,
    }
}

/// Foods for the given blend, vitamin-oil grams and fixed shares.
fn foods(s: &Spec, shares: &[(&'static Ingredient, f64)], blend: f64, vit_g: f64) -> Vec<Portion> {
    let mut out: Vec<Portion> = shares.iter().map(|(i, sh)| grams(i, sh * s.kcal)).collect();
    if let (Some(v), true) = (s.vitamin_oil, vit_g > 0.0) {
        out.push(Portion {
            ing: v,
            grams: vit_g,
        });
    }
    let [m, c, o] = solve(s, &checks::totals(&out), blend);
    out.insert(0, grams(s.main, m));
    if let Some(carb) = s.carb {
        let partner_kcal = if s.carb_partner.is_some() {
            c * blend
        } else {
            0.0
        };
        out.push(grams(carb, c - partner_kcal));
        if let Some(p) = s.carb_partner.filter(|_| partner_kcal > 0.0) {
            out.push(grams(p, partner_kcal));
        }
    }
    if let Some(oil) = s.oil {
        out.push(grams(oil, o));
    }
    out
}

fn min_of(s: &Spec, key: &str) -> f64 {
    targets::limit(s.species, s.profile, key).map_or(0.0, |l| l.min)
}

fn max_of(s: &Spec, key: &str) -> Option<f64> {
    targets::limit(s.species, s.profile, key).and_then(|l| l.max)
}

/// Potassium blend fraction (dogs with a partner carbohydrate).
fn k_blend(s: &Spec, day: &[Portion]) -> f64 {
    let (Some(carb), Some(partner)) = (s.carb, s.carb_partner) else {
        return 0.0;
    };
    let k_min = min_of(s, "potassium_g");
    let t = checks::totals(day);
    let deficit = k_min * 1.05 * s.kcal - t.sum[nu::K];
    let carb_kcal: f64 = day
        .iter()
        .filter(|p| p.ing.id == carb.id)
        .map(|p| p.grams * carb.n[nu::KCAL] / 100.0)
        .sum();
    let per = |i: &Ingredient| i.n[nu::K] / i.n[nu::KCAL].max(1e-9);
    let gain = (per(partner) - per(carb)) * carb_kcal;
    if deficit <= 0.0 || gain <= 0.0 {
        0.0
    } else {
        (deficit / gain).min(0.6)
    }
}

/// Cod liver oil grams for vitamin A and D.
fn vitamin_oil_g(s: &Spec, day: &[Portion]) -> f64 {
    let Some(v) = s.vitamin_oil else { return 0.0 };
    let t = checks::totals(day);
    let (a_per_g, d_per_g) = (
        checks::vitamin_a_ug(s.species, &v.n) / 100.0,
        v.n[nu::VIT_D] / 100.0,
    );
    let a_now = checks::vitamin_a_ug(s.species, &t.sum);
    let d_now = t.sum[nu::VIT_D];
    let k = s.kcal / 1000.0;
    let need_a = (min_of(s, "vitamin_a_iu") * 0.3 * 1.25 * k - a_now) / a_per_g.max(1e-9);
    let need_d = (min_of(s, "vitamin_d_iu") / 40.0 * 1.25 * k - d_now) / d_per_g.max(1e-9);
    let mk = t.modified_kcal / 1000.0;
    let cap_a = max_of(s, "vitamin_a_iu").map_or(f64::INFINITY, |m| {
        (m * 0.3 * 0.8 * mk - a_now) / a_per_g.max(1e-9)
    });
    let cap_d = max_of(s, "vitamin_d_iu").map_or(f64::INFINITY, |m| {
        (m / 40.0 * 0.8 * mk - d_now) / d_per_g.max(1e-9)
    });
    need_a.max(need_d).min(cap_a).min(cap_d).max(0.0)
}

/// Dicalcium phosphate and calcium carbonate grams for `day`.
fn minerals(s: &Spec, day: &[Portion]) -> (f64, f64) {
    let t = checks::totals(day);
    let per_g = |i: Option<&Ingredient>, col: usize| i.map_or(0.0, |i| i.n[col] / 100.0);
    let (dcp_p, dcp_ca, caco3_ca) = (
        per_g(s.phosphate, nu::P),
        per_g(s.phosphate, nu::CA),
        per_g(s.calcium, nu::CA),
    );
    let p_target = min_of(s, "phosphorus_g") * 1.1 * s.kcal;
    let dcp = if dcp_p > 0.0 {
        ((p_target - t.sum[nu::P]) / dcp_p).max(0.0)
    } else {
        0.0
    };
    let p_total = t.sum[nu::P] + dcp * dcp_p;
    let ca_now = t.sum[nu::CA] + dcp * dcp_ca;
    let lower = (min_of(s, "calcium_g") * 1.1 * s.kcal).max(1.2 * p_total);
    let mut upper = 1.9 * p_total;
    if let Some(m) = max_of(s, "calcium_g") {
        upper = upper.min(0.9 * m * t.modified_kcal);
    }
    let target = if lower <= upper {
        lower
    } else {
        upper.max(1.05 * p_total)
    };
    let caco3 = if caco3_ca > 0.0 {
        ((target - ca_now) / caco3_ca).max(0.0)
    } else {
        0.0
    };
    (dcp, caco3)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The day's portions (rounded to 0.1 g, zero amounts dropped, main protein first).
pub(crate) fn compose(s: &Spec) -> Vec<Portion> {
    let mut shares: Vec<(&'static Ingredient, f64)> = s.fixed.to_vec();
    let mut day = foods(s, &shares, 0.0, 0.0);
    let blend = k_blend(s, &day);
    day = foods(s, &shares, blend, 0.0);
    let total_w: f64 = day.iter().map(|p| p.grams).sum();
    for (ing, share) in shares.iter_mut() {
        let g: f64 = day
            .iter()
            .filter(|p| p.ing.id == ing.id)
            .map(|p| p.grams)
            .sum();
        if ing.role == super::ingredients::Role::Organ && g > 0.045 * total_w {
            *share *= 0.045 * total_w / g;
        }
    }
    let vit = vitamin_oil_g(s, &foods(s, &shares, blend, 0.0));
    let vit = if vit > 0.0 {
        (vit * 10.0).ceil() / 10.0
    } else {
        0.0
    };
    day = foods(s, &shares, blend, vit);
    for p in &mut day {
        p.grams = if p.ing.role == super::ingredients::Role::VitaminOil {
            p.grams
        } else {
            round1(p.grams)
        };
    }
    let kcal_now = checks::totals(&day).sum[nu::KCAL];
    if let Some(main) = day.first_mut() {
        main.grams = round1(
            (main.grams + (s.kcal - kcal_now) / main.ing.n[nu::KCAL].max(1e-9) * 100.0).max(0.0),
        );
    }
    day.retain(|p| p.grams > 0.0);
    let (dcp, caco3) = minerals(s, &day);
    let mut powders = [(s.phosphate, round1(dcp)), (s.calcium, round1(caco3))];
    nudge(s, &day, &mut powders);
    for (ing, g) in powders {
        if let (Some(ing), true) = (ing, g > 0.0) {
            day.push(Portion { ing, grams: g });
        }
    }
    if let Some(sup) = s.supplement {
        day.push(Portion {
            ing: sup,
            grams: round1(2.0 * s.kcal / 1000.0).max(0.1),
        });
    }
    day
}

/// Fixes Ca/P limits broken by rounding the powders: tries every pair of amounts within
/// ±0.5 g (0.1 g steps) of the rounded ones and keeps the closest pair that passes the
/// phosphorus, calcium and Ca:P checks; if no pair passes all three, the closest pair that
/// keeps Ca:P within 1:1–2:1 (the safety-relevant one); otherwise unchanged.
fn nudge(s: &Spec, day: &[Portion], powders: &mut [(Option<&'static Ingredient>, f64); 2]) {
    let limits: Vec<targets::Limit> = ["ca_p_ratio", "phosphorus_g", "calcium_g"]
        .into_iter()
        .filter_map(|k| targets::limit(s.species, s.profile, k))
        .collect();
    let mut all = day.to_vec();
    let base = all.len();
    // (all checks pass, the Ca:P check passes)
    let mut grade = |pw: [f64; 2]| {
        all.truncate(base);
        for ((ing, _), g) in powders.iter().zip(pw) {
            if let (Some(ing), true) = (ing, g > 0.0) {
                all.push(Portion { ing, grams: g });
            }
        }
        let t = checks::totals(all.iter());
        let ok: Vec<bool> = limits
            .iter()
            .map(|l| checks::check(s.species, l, &t).ok)
            .collect();
        (ok.iter().all(|x| *x), ok.first().copied().unwrap_or(true))
    };
    let start = [powders[0].1, powders[1].1];
    if grade(start).0 {
        return;
    }
    let steps = |have: bool| if have { -5i32..=5 } else { 0..=0 };
    let mut best_all: Option<(i32, [f64; 2])> = None;
    let mut best_ratio: Option<(i32, [f64; 2])> = None;
    for dp in steps(powders[0].0.is_some()) {
        for dc in steps(powders[1].0.is_some()) {
            let pw = [
                round1(start[0] + f64::from(dp) / 10.0),
                round1(start[1] + f64::from(dc) / 10.0),
            ];
            if pw.iter().any(|g| *g < 0.0) {
                continue;
            }
            let cost = dp.abs() + dc.abs();
            let (all_ok, ratio_ok) = grade(pw);
            if all_ok && best_all.is_none_or(|(c, _)| cost < c) {
                best_all = Some((cost, pw));
            }
            if ratio_ok && best_ratio.is_none_or(|(c, _)| cost < c) {
                best_ratio = Some((cost, pw));
            }
        }
    }
    if let Some((_, pw)) = best_all.or(best_ratio) {
        powders[0].1 = pw[0];
        powders[1].1 = pw[1];
    }
}
