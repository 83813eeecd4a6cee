//! The `assess` step: validation and refusals, energy, targets, the ingredient selection per
//! role, meals, warnings and the vet-review flag. Its typed result [`AssessData`] is what
//! `Assessment.data` stores (and what `plan_week` reads back).
//!
//! Refusals decided here: `pregnancy_or_lactation` (always refused, §1.7) and
//! `no_safe_protein` (the allergies exclude every protein source); the input checks are in
//! `selection`.

use serde::{Deserialize, Serialize};

use super::conditions::{self, Condition};
use super::energy::{self, Size};
use super::ingredients;
use super::targets::{self, Profile};
use super::{Pet, Refusal, Species, round1, round2, selection, toxic};

/// `energy` of the assessment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct EnergyOut {
    pub rer_kcal: f64,
    pub factor: f64,
    pub daily_kcal: f64,
    pub life_stage: String,
    pub life_stage_zh: String,
    pub basis: String,
    pub ideal_weight_kg: Option<f64>,
    pub weight_for_rer_kg: f64,
}

/// `nutrition_targets` (grams on the modified Atwater basis).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct TargetsOut {
    pub daily_kcal: f64,
    pub protein_g: f64,
    pub fat_g: f64,
    pub carbohydrates_g: f64,
}

/// `macro_split_pct`: target share of ME per macronutrient (modified Atwater basis).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SplitOut {
    pub protein: f64,
    pub fat: f64,
    pub carbohydrates: f64,
}

/// Ingredient ids chosen per role (rotated by `plan_week`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Selection {
    pub proteins: Vec<String>,
    pub eggs: Vec<String>,
    pub fish: Vec<String>,
    pub organs: Vec<String>,
    pub dairy: Vec<String>,
    pub carbohydrates: Vec<String>,
    pub vegetables: Vec<String>,
    pub fruits: Vec<String>,
    pub oil: Option<String>,
    pub vitamin_oil: Option<String>,
    pub calcium_source: Option<String>,
    pub phosphorus_source: Option<String>,
    pub supplement: Option<String>,
}

/// The whole `Assessment.data`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct AssessData {
    pub species: Species,
    pub energy: EnergyOut,
    pub nutrition_targets: TargetsOut,
    pub macro_split_pct: SplitOut,
    pub aafco_profile: String,
    pub minimums_per_1000kcal: serde_json::Map<String, serde_json::Value>,
    pub maximums_per_1000kcal: serde_json::Map<String, serde_json::Value>,
    pub ingredients: Selection,
    pub meals_per_day: u8,
    pub meal_times: Vec<String>,
    pub warnings: Vec<String>,
    pub vet_review_required: bool,
    pub conditions_detected: Vec<String>,
    pub conditions_applied: Vec<String>,
}

impl AssessData {
    /// The AAFCO profile as an enum.
    pub(crate) fn profile(&self) -> Profile {
        if self.aafco_profile == Profile::Growth.code() {
            Profile::Growth
        } else {
            Profile::AdultMaintenance
        }
    }

    /// True when the vet-confirmed condition `c` was applied.
    pub(crate) fn applied(&self, c: Condition) -> bool {
        self.conditions_applied.iter().any(|s| s == c.code())
    }
}

/// Entries that mean "nothing" (`无`, `没有`, `none`, `n/a`, `-`, empty …) are skipped.
fn is_none_word(s: &str) -> bool {
    let n = super::matching::normalize(s);
    matches!(
        n.as_str(),
        "" | "无"
            | "没有"
            | "暂无"
            | "不详"
            | "未知"
            | "none"
            | "no"
            | "n a"
            | "na"
            | "nil"
            | "unknown"
    )
}

fn refuse(code: &'static str, message: String) -> Refusal {
    Refusal { code, message }
}

/// Runs the assessment.
pub(crate) fn run(pet: &Pet) -> Result<AssessData, Refusal> {
    selection::validate(pet)?;
    let detected = conditions::detect(pet.health_notes.as_deref());
    if detected.contains(&Condition::Reproduction) {
        return Err(refuse(
            "pregnancy_or_lactation",
            "怀孕或哺乳期的能量与营养需求变化大，本引擎不制定此类计划，请咨询兽医。".into(),
        ));
    }
    let mut warnings: Vec<String> = Vec::new();
    let mut vet = false;
    let mut applied: Vec<Condition> = Vec::new();
    for c in &detected {
        vet = true;
        let cat_pancreatitis = *c == Condition::Pancreatitis && pet.species == Species::Cat;
        if *c == Condition::Other {
            warnings.push("健康记录中的情况无法自动解读，计划未做调整，需兽医审核。".into());
        } else if !pet.vet_confirmed {
            warnings.push(format!("健康记录提到「{}」，但未经兽医确认（vet_confirmed），计划未做调整；请先由兽医确认诊断。", c.zh()));
        } else if cat_pancreatitis {
            warnings.push("猫胰腺炎：常规限制脂肪尚无依据，未调整脂肪比例；请遵医嘱。".into());
        } else {
            applied.push(*c);
            warnings.push(format!(
                "已按兽医确认的「{}」调整计划（草案，需兽医审核）。",
                c.zh()
            ));
        }
    }
    let mut excluded: Vec<&'static str> = Vec::new();
    for allergy in pet.allergies.iter().filter(|x| !is_none_word(x)) {
        let hit = ingredients::match_all(allergy);
        if hit.is_empty() && toxic::find(pet.species, allergy).is_none() {
            vet = true;
            warnings.push(format!(
                "过敏原「{allergy}」未能对应到食材表，无法自动排除；请人工核对并咨询兽医。"
            ));
        }
        excluded.extend(hit);
    }
    let mut preferred: Vec<&'static str> = Vec::new();
    for pref in pet.food_preferences.iter().filter(|x| !is_none_word(x)) {
        let hit = ingredients::match_all(pref);
        if hit.is_empty() {
            warnings.push(format!("偏好「{pref}」不在内置食材表中，已忽略。"));
        } else if hit.iter().all(|id| excluded.contains(id)) {
            warnings.push(format!(
                "偏好「{pref}」与过敏原冲突，已按过敏处理（不使用）。"
            ));
        }
        preferred.extend(hit.into_iter().filter(|id| !excluded.contains(id)));
    }
    let sel = selection::select(pet, &excluded, &preferred, &applied);
    if sel.proteins.is_empty() {
        return Err(refuse(
            "no_safe_protein",
            "排除过敏原后没有可用的蛋白质来源，请咨询兽医或兽医营养师制定配方。".into(),
        ));
    }
    if sel.proteins.first().is_some_and(|p| p == "01129") {
        warnings.push("过敏原排除了所有肉类，主蛋白只能使用鸡蛋，请兽医审核。".into());
        vet = true;
    }

    let e = energy::compute(pet);
    let profile = if e.stage.growing() {
        Profile::Growth
    } else {
        Profile::AdultMaintenance
    };
    let split = targets::split(pet.species, &applied);
    let daily = round1(e.daily_kcal);
    let t = targets::targets(daily, split, pet.species, profile);
    let bcs = pet.body_condition_score;
    if bcs <= 3 {
        vet = true;
        warnings.push(format!("体况评分{bcs}/9（偏瘦）：需由兽医评估原因、设定理想体重和增重方案；本计划按当前体重的维持能量计算。"));
    } else if bcs > 5 && e.stage.growing() {
        vet = true;
        warnings.push(format!("生长期体况评分{bcs}/9（超重）：按理想体重约{:.1} kg计算生长能量，不做减重限制；请兽医评估。", e.weight_for_rer_kg));
    } else if bcs > 5 {
        let rate = if pet.species == Species::Dog {
            "每周减重1–2%"
        } else {
            "每周减重0.5–1%（猫减重过快有脂肪肝风险）"
        };
        warnings.push(format!("体况评分{bcs}/9（超重）：按理想体重约{:.1} kg计算减重能量；目标{rate}，每2–4周复称并调整。", e.weight_for_rer_kg));
    }
    if e.stage == energy::Stage::Senior {
        warnings.push(
            "老年期：没有权威的能量系数，沿用成年系数；每2–4周称重，按体况和肌肉状况调整。".into(),
        );
    }
    if pet.species == Species::Dog && pet.activity == super::Activity::Working && !e.stage.growing()
    {
        warnings.push(
            "工作犬能量需求差异很大（2–5×RER），此处取上限3.0；若体重下降请咨询兽医。".into(),
        );
    }
    if e.size == Size::Giant && e.stage.growing() {
        vet = true;
        warnings.push("巨型犬生长期：钙过量或能量过高会影响骨骼发育，需兽医评估。".into());
    }
    let meals: u8 = if e.stage.growing() && pet.age_months < 6 {
        3
    } else {
        2
    };
    let (meals, times): (u8, Vec<String>) = if applied.contains(&Condition::Diabetes) {
        (2, vec!["07:00".into(), "19:00".into()])
    } else if meals == 3 {
        (3, vec!["07:30".into(), "12:30".into(), "18:30".into()])
    } else {
        (2, vec!["07:30".into(), "18:30".into()])
    };
    let rer = round1(e.rer_kcal);
    let basis = format!(
        "RER = 70 × {w:.2} kg^0.75 = {rer:.1} kcal（指数公式，Merck Veterinary Manual / SACN 5th ed.）；\
         {rule}；每日能量 = RER × {f:.1} = {daily:.1} kcal（参考资料§1.7默认系数：AAHA 2014、Bedrossian、SACN）。\
         食材热量按USDA SR28（人用Atwater系数），宏量营养素目标按AAFCO修正Atwater系数3.5/8.5/3.5计算。",
        w = e.weight_for_rer_kg,
        rule = e.rule,
        f = e.factor,
    );
    let mut mins = serde_json::Map::new();
    let mut maxs = serde_json::Map::new();
    for l in targets::limits(pet.species, profile) {
        mins.insert(l.key.into(), l.min.into());
        if let Some(m) = l.max {
            maxs.insert(l.key.into(), m.into());
        }
    }
    Ok(AssessData {
        species: pet.species,
        energy: EnergyOut {
            rer_kcal: rer,
            factor: e.factor,
            daily_kcal: daily,
            life_stage: e.stage.code().into(),
            life_stage_zh: e.stage.zh().into(),
            basis,
            ideal_weight_kg: e.ideal_weight_kg.map(round2),
            weight_for_rer_kg: round2(e.weight_for_rer_kg),
        },
        nutrition_targets: TargetsOut {
            daily_kcal: daily,
            protein_g: round1(t.protein_g),
            fat_g: round1(t.fat_g),
            carbohydrates_g: round1(t.carbohydrates_g),
        },
        macro_split_pct: SplitOut {
            protein: split.protein,
            fat: split.fat,
            carbohydrates: split.carb,
        },
        aafco_profile: profile.code().into(),
        minimums_per_1000kcal: mins,
        maximums_per_1000kcal: maxs,
        ingredients: sel,
        meals_per_day: meals,
        meal_times: times,
        warnings,
        vet_review_required: vet,
        conditions_detected: detected.iter().map(|c| c.code().to_owned()).collect(),
        conditions_applied: applied.iter().map(|c| c.code().to_owned()).collect(),
    })
}
