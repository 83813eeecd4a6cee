//! The engine's own Chinese texts (principles, notes, suggestions, cooking method, overall
//! suggestions). Every number in them comes from the engine's own results; an LLM narrative
//! may replace the texts but never the numbers (see `assemble`).
//!
//! Sources of the advice: 7-day transition 25/50/75/100 % (§6 DELVALLE, TROVET ✅); water
//! ≈ 1 mL per kcal (§6 MERCK-WATER ✅); treats ≤ 10 % of kcal (VNJ22 ✅); reweigh every 2–4
//! weeks (§1.7, PETMEDAPP ◐); weight-loss rates dog 1–2 %/week, cat 0.5–1 %/week (§1.5, the
//! conservative end for cats); dose calcium by the gram, never by the teaspoon (§3.2); cats
//! need a taurine source because cooking/grinding destroys it (§2.2 HARE ◐).

use super::Species;
use super::assess::AssessData;
use super::checks::Portion;
use super::conditions::Condition;
use super::ingredients::Role;
use super::planner::Day;

/// The always-present veterinarian note.
pub const VET_NOTE: &str = "本计划仅供参考，请在实施前咨询兽医。";

/// What the week texts talk about.
pub(crate) struct WeekFacts<'a> {
    a: &'a AssessData,
    n: usize,
    main: Vec<&'static str>,
    extras: Vec<(&'static str, Vec<usize>)>,
}

impl<'a> WeekFacts<'a> {
    /// Collects the week's main proteins and the days each secondary item appears on.
    pub(crate) fn new(a: &'a AssessData, n: usize, days: &[Day]) -> Self {
        let mut main: Vec<&'static str> = Vec::new();
        let mut extras: Vec<(&'static str, Vec<usize>)> = Vec::new();
        for (i, d) in days.iter().enumerate() {
            if !main.contains(&d.main.zh) {
                main.push(d.main.zh);
            }
            for p in &d.portions {
                if matches!(
                    p.ing.role,
                    Role::Egg | Role::Fish | Role::Organ | Role::Dairy | Role::Fruit
                ) && p.ing.id != d.main.id
                {
                    match extras.iter_mut().find(|(name, _)| *name == p.ing.zh) {
                        Some((_, v)) => v.push(i + 1),
                        None => extras.push((p.ing.zh, vec![i + 1])),
                    }
                }
            }
        }
        WeekFacts { a, n, main, extras }
    }
}

fn pet_word(a: &AssessData) -> &'static str {
    if a.species == Species::Dog {
        "狗狗"
    } else {
        "猫咪"
    }
}

/// `diet_adjustment_principle` of the week.
pub(crate) fn principle(f: &WeekFacts) -> String {
    let t = &f.a.nutrition_targets;
    let main = f.main.join("、");
    let base = format!(
        "每日总热量{:.0} kcal（蛋白质约{:.0} g、脂肪约{:.0} g、碳水化合物不超过{:.0} g），主蛋白：{main}。",
        t.daily_kcal, t.protein_g, t.fat_g, t.carbohydrates_g
    );
    match f.n {
        1 => format!(
            "第1周（换粮过渡期）：新旧食物按7天过渡——第1–2天新食物占25%，第3–4天50%，第5–6天75%，第7天100%；若出现软便，退回上一步并放慢节奏。{base}"
        ),
        2 => format!("第2周：全部改为新食谱，主蛋白轮换以增加多样性，热量保持不变。{base}"),
        3 => format!(
            "第3周：本周开始前称重并记录体况评分，与起始体重比较；体重变化超出预期时按±10%调整每日热量。{base}"
        ),
        _ => {
            format!("第4周：月末再次称重、评估体况，并带着本计划与兽医一起复核下个月的方案。{base}")
        }
    }
}

/// `weekly_special_adjustment_note` of the week.
pub(crate) fn special_note(f: &WeekFacts) -> String {
    let mut parts: Vec<String> = f
        .extras
        .iter()
        .map(|(name, days)| {
            let d: Vec<String> = days.iter().map(|x| x.to_string()).collect();
            format!("第{}天加入{name}", d.join("、"))
        })
        .collect();
    if f.extras.iter().any(|(name, _)| name.contains('肝')) {
        parts.push("肝脏不超过当天食物重量的5%，每周不超过2天".into());
    }
    if f.a.applied(Condition::Diabetes) {
        parts.push("两餐间隔12小时，与胰岛素注射时间配合，每餐为全天的一半".into());
    }
    if f.a.applied(Condition::Pancreatitis) {
        parts.push("低脂方案：只用瘦肉，不额外添加高脂食物".into());
    }
    if f.a.applied(Condition::Ckd) {
        parts.push("肾病方案：不添加磷补充剂，定期复查血磷与肾功能".into());
    }
    if f.a.applied(Condition::FoodAllergy) {
        parts.push("食物过敏方案：整月只用一种主蛋白，不喂零食和其他食物".into());
    }
    if parts.is_empty() {
        format!("本周{}的食谱结构保持稳定。", pet_word(f.a))
    } else {
        format!("{}。", parts.join("；"))
    }
}

/// `suggestions` of the week.
pub(crate) fn suggestions(f: &WeekFacts) -> Vec<String> {
    let kcal = f.a.nutrition_targets.daily_kcal;
    let mut v = vec![
        format!("每天提供新鲜饮水，总需水量约{kcal:.0} mL（含食物中的水分）。"),
        "所有食材用厨房秤按克称量；碳酸钙粉等矿物质按克称量，不要用茶匙估计。".into(),
        "不加盐、酱油和任何含洋葱、大蒜的调味料或高汤块；葡萄、巧克力、木糖醇等有毒食物绝对不能喂。".into(),
        "复合维生素矿物质补充剂在食物放凉后再拌入，按产品标签剂量使用。".into(),
    ];
    if f.a.species == Species::Cat {
        v.push(
            "猫必须从补充剂获得牛磺酸（烹煮和绞碎会损失肉中的牛磺酸），请确认所用补充剂含牛磺酸。"
                .into(),
        );
    }
    match f.n {
        1 => v.push("观察大便、食欲和精神状态；呕吐或超过24小时不进食请立即就医。".into()),
        2 => v.push("零食（含训练奖励）不超过每日热量的10%，并相应减少正餐。".into()),
        3 => v.push("称重：每2–4周一次，体重变化请告知兽医。".into()),
        _ => v.push("下个月的计划应根据本月的体重和体况变化重新计算。".into()),
    }
    v
}

/// `cook_method` for a day's portions.
pub(crate) fn cook_method(portions: &[Portion]) -> String {
    let steps: Vec<String> = portions
        .iter()
        .map(|p| {
            let short = p.ing.zh.split('（').next().unwrap_or(p.ing.zh);
            format!("{short}：{}", p.ing.prep)
        })
        .collect();
    format!(
        "{}。所有食材不加盐、酱油、洋葱、大蒜等调味料；熟食放凉至温热后再拌入油、矿物质粉和补充剂；按餐分装，冷藏不超过3天。",
        steps.join("；")
    )
}

/// The engine's overall `ai_suggestions`.
pub(crate) fn overall(a: &AssessData, missing: &[String]) -> String {
    let e = &a.energy;
    let t = &a.nutrition_targets;
    let mut s = format!(
        "{}：{}，每日约需{:.0} kcal（RER {:.0} kcal × {:.1}）。每日目标：蛋白质约{:.0} g、脂肪约{:.0} g、碳水化合物不超过{:.0} g。\
         自制粮必须同时使用碳酸钙粉和复合维生素矿物质补充剂，否则钙磷和微量营养素不足。",
        pet_word(a),
        e.life_stage_zh,
        t.daily_kcal,
        e.rer_kcal,
        e.factor,
        t.protein_g,
        t.fat_g,
        t.carbohydrates_g
    );
    if !missing.is_empty() {
        let names: Vec<&str> = missing
            .iter()
            .map(|k| super::targets::label_zh(k))
            .collect();
        s.push_str(&format!(
            "本计划不能视为AAFCO“完全均衡”：{}未能由食材表核算或未达标。",
            names.join("、")
        ));
    }
    if a.vet_review_required {
        s.push_str("本计划需要兽医审核后再实施。");
    }
    s.push_str(VET_NOTE);
    s
}
