//! Health conditions recognised in the free-text `health_notes` (reference §5).
//!
//! Recognised: chronic kidney disease, diabetes, pancreatitis, food allergy / adverse food
//! reaction (each changes the plan only when `vet_confirmed` is true), pregnancy/lactation
//! (always refused — §1.7 "gestation/lactation → refuse to plan, refer to vet"), and any
//! other text that reads like a diagnosis (`病`, `炎`, `症`, `结石`, `过敏`, `disease`,
//! `-itis`, `stone`, `allerg…`; looked for only after the specific words above, negated or
//! not, are removed, so "无糖尿病" does not count as "…病") which is not interpreted but
//! requires vet review.
//! A mention directly preceded by a negation (`无`, `没有`, `没`, `未`, `非`, `不是`, `否认`,
//! `no `, `not `, `without `, `non `) does not count ("无糖尿病", "not pregnant").
//! Matching uses [`super::matching::normalize`] and plain substring search.

use super::matching::normalize;

/// A recognised condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Condition {
    Ckd,
    Diabetes,
    Pancreatitis,
    FoodAllergy,
    Reproduction,
    Other,
}

impl Condition {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Condition::Ckd => "chronic_kidney_disease",
            Condition::Diabetes => "diabetes",
            Condition::Pancreatitis => "pancreatitis",
            Condition::FoodAllergy => "food_allergy",
            Condition::Reproduction => "pregnancy_or_lactation",
            Condition::Other => "other_condition",
        }
    }

    pub(crate) fn zh(self) -> &'static str {
        match self {
            Condition::Ckd => "慢性肾病",
            Condition::Diabetes => "糖尿病",
            Condition::Pancreatitis => "胰腺炎",
            Condition::FoodAllergy => "食物过敏",
            Condition::Reproduction => "怀孕或哺乳",
            Condition::Other => "其他健康问题",
        }
    }
}

static WORDS: &[(Condition, &[&str])] = &[
    (
        Condition::Reproduction,
        &[
            "怀孕",
            "妊娠",
            "孕期",
            "哺乳",
            "泌乳",
            "pregnant",
            "pregnancy",
            "gestation",
            "lactating",
            "lactation",
        ],
    ),
    (
        Condition::Ckd,
        &[
            "肾病",
            "肾衰",
            "肾功能不全",
            "肾脏病",
            "慢性肾",
            "kidney disease",
            "kidney failure",
            "renal",
            "ckd",
        ],
    ),
    (Condition::Diabetes, &["糖尿病", "diabetes", "diabetic"]),
    (Condition::Pancreatitis, &["胰腺炎", "pancreatitis"]),
    (
        Condition::FoodAllergy,
        &[
            "食物过敏",
            "食物不耐受",
            "food allergy",
            "food allergies",
            "adverse food reaction",
        ],
    ),
    (
        Condition::Other,
        &[
            "病", "炎", "症", "结石", "过敏", "disease", "itis", "stone", "allerg", "tumor",
            "cancer", "肿瘤", "癌",
        ],
    ),
];

static NEGATIONS: &[&str] = &[
    "无", "没有", "没", "未", "非", "不是", "否认", "no ", "not ", "without ", "non ",
];

/// True when an un-negated occurrence of `word` is in `text` (normalised).
fn mentions(text: &str, word: &str) -> bool {
    let needs_boundary = word.is_ascii() && word != "itis";
    text.match_indices(word).any(|(at, _)| {
        let before = &text[..at];
        let glued = before
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        !(NEGATIONS.iter().any(|n| before.ends_with(n)) || (needs_boundary && glued))
    })
}

/// The conditions mentioned in `notes`, in a fixed order, without duplicates. `Other` is only
/// reported when no specific condition explains the text.
pub(crate) fn detect(notes: Option<&str>) -> Vec<Condition> {
    let Some(text) = notes.map(normalize) else {
        return Vec::new();
    };
    let mut found: Vec<Condition> = Vec::new();
    let mut rest = text.clone();
    for (cond, words) in WORDS {
        if *cond == Condition::Other {
            if found.is_empty() && words.iter().any(|w| mentions(&rest, w)) {
                found.push(*cond);
            }
            continue;
        }
        if words.iter().any(|w| mentions(&text, w)) && !found.contains(cond) {
            found.push(*cond);
        }
        for w in *words {
            rest = rest.replace(w, " ");
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_and_respects_negation() {
        assert_eq!(
            detect(Some("确诊糖尿病，需要控制")),
            vec![Condition::Diabetes]
        );
        assert_eq!(detect(Some("无糖尿病")), vec![]);
        assert_eq!(
            detect(Some("Chronic kidney disease stage 2")),
            vec![Condition::Ckd]
        );
        assert_eq!(detect(Some("not pregnant, healthy")), vec![]);
        assert_eq!(detect(Some("正在哺乳")), vec![Condition::Reproduction]);
        assert_eq!(detect(Some("已避孕，健康")), vec![]);
        assert_eq!(detect(Some("皮肤病")), vec![Condition::Other]);
        assert_eq!(detect(Some("健康")), vec![]);
        assert_eq!(detect(None), vec![]);
        assert_eq!(
            detect(Some("adrenal gland disease")),
            vec![Condition::Other]
        );
        assert_eq!(
            detect(Some("胰腺炎 and diabetes")),
            vec![Condition::Diabetes, Condition::Pancreatitis]
        );
    }
}
