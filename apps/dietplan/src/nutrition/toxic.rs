//! Foods toxic or unsafe for dogs and cats (reference §4, "Engine rule"): hard-blocked for
//! both species — Allium (onion, garlic, leek, chives, shallot), Vitis (grapes, raisins,
//! sultanas, currants; tamarind and cream of tartar per MERCK-GRAPE), chocolate/cocoa,
//! caffeine (coffee, tea), xylitol, macadamia, alcohol, raw yeast dough, cooked bones,
//! avocado, and commercial broth/seasoning cubes (the rule's "never include onion/garlic
//! powder seasonings or commercial broths"); for cats additionally lilies (incl. daylily /
//! 黄花菜, SUMMERHILL) and raw fish (thiaminase, PETMD-THIA). Liver is *capped* by the
//! planner, not blocked.
//!
//! Matching follows [`super::matching`] (normalise, safe-word blockers, longest alias first,
//! ASCII whole words, `=` for whole-input-only aliases). Conservative choices, documented:
//! every Vitis product matches (grapeseed oil, grape juice, wine), herbal "teas" match `tea`,
//! a bare `bone`/`骨头` is treated as a cooked bone. Safe words that contain a toxic alias are
//! blocked: 葡萄柚 grapefruit and 葡萄糖 glucose (葡萄), 山茶油/茶油/茶籽油 camellia oil,
//! 茶树菇 tea-tree mushroom, 大麦茶/麦茶 barley tea, 茶碗蒸 chawanmushi (茶), 野生 "wild"
//! (so 野生三文鱼 is not 生三文鱼 raw salmon), black/red currants (Ribes, not Vitis).

use std::sync::OnceLock;

use super::{Species, matching};

/// One toxic food: canonical English name, Chinese label, cats-only flag, aliases.
struct Toxic {
    canonical: &'static str,
    zh: &'static str,
    cats_only: bool,
    aliases: &'static [&'static str],
}

const fn t(canonical: &'static str, zh: &'static str, aliases: &'static [&'static str]) -> Toxic {
    Toxic {
        canonical,
        zh,
        cats_only: false,
        aliases,
    }
}

#[rustfmt::skip]
static TOXIC: &[Toxic] = &[
    t("grapes", "葡萄/葡萄干", &[
        "grape", "grapes", "raisin", "raisins", "sultana", "sultanas", "currant", "currants",
        "grapeseed", "grape seed", "tamarind", "cream of tartar", "葡萄", "葡萄干", "提子",
        "葡萄籽", "罗望子", "酸角", "塔塔粉",
    ]),
    t("onion", "洋葱（含葱）", &[
        "onion", "onions", "onion powder", "scallion", "scallions", "green onion",
        "green onions", "spring onion", "spring onions", "洋葱", "葱", "小葱", "香葱", "葱花",
        "葱头", "洋葱粉",
    ]),
    t("garlic", "大蒜", &["garlic", "garlic powder", "大蒜", "蒜", "蒜头", "蒜泥", "蒜蓉", "蒜苗"]),
    t("leek", "韭菜/大葱", &["leek", "leeks", "韭菜", "韭", "大葱", "韭黄"]),
    t("chives", "细香葱", &["chive", "chives", "细香葱"]),
    t("shallot", "红葱头", &["shallot", "shallots", "红葱头", "干葱"]),
    t("chocolate", "巧克力/可可", &["chocolate", "cocoa", "cacao", "巧克力", "可可", "朱古力"]),
    t("caffeine", "咖啡/茶/咖啡因", &[
        "coffee", "espresso", "latte", "tea", "teas", "caffeine", "cola", "energy drink",
        "energy drinks", "matcha", "咖啡", "咖啡因", "茶", "茶叶", "可乐", "能量饮料",
    ]),
    t("xylitol", "木糖醇", &["xylitol", "e967", "birch sugar", "木糖醇", "桦木糖"]),
    t("macadamia", "夏威夷果/澳洲坚果", &[
        "macadamia", "macadamias", "macadamia nut", "macadamia nuts", "夏威夷果", "澳洲坚果",
        "澳洲胡桃",
    ]),
    t("alcohol", "酒/酒精", &[
        "alcohol", "ethanol", "beer", "wine", "liquor", "vodka", "whisky", "whiskey", "rum",
        "酒", "酒精",
    ]),
    t("raw yeast dough", "生面团", &[
        "raw dough", "yeast dough", "bread dough", "raw yeast dough", "unbaked dough", "生面团",
        "发酵面团", "面团",
    ]),
    t("avocado", "牛油果/鳄梨", &["avocado", "avocados", "guacamole", "牛油果", "鳄梨", "油梨"]),
    t("cooked bones", "熟骨头", &[
        "cooked bone", "cooked bones", "=bone", "=bones", "熟骨头", "熟骨", "煮骨头", "烤骨头",
        "鸡骨", "鱼刺", "=骨头",
    ]),
    t("commercial broth", "调味汤块/鸡精", &[
        "bouillon", "stock cube", "stock cubes", "broth cube", "鸡精", "高汤块", "浓汤宝", "汤块",
    ]),
    Toxic {
        canonical: "lily",
        zh: "百合",
        cats_only: true,
        aliases: &["lily", "lilies", "daylily", "daylilies", "百合", "萱草", "金针花", "黄花菜"],
    },
    Toxic {
        canonical: "raw fish",
        zh: "生鱼",
        cats_only: true,
        aliases: &[
            "raw fish", "sashimi", "raw salmon", "raw tuna", "raw herring", "raw carp", "生鱼",
            "生鱼片", "刺身", "鱼生", "生三文鱼", "生金枪鱼", "生鲑鱼",
        ],
    },
];

#[rustfmt::skip]
static BLOCKERS: &[&str] = &[
    "葡萄柚", "葡萄糖", "山茶油", "茶油", "茶籽油", "茶树菇", "大麦茶", "麦茶", "茶碗蒸", "野生",
    "black currant", "black currants", "blackcurrant", "red currant", "red currants",
];

/// The canonical (English) name of the first toxic food `name` refers to for `species`.
pub(crate) fn find(species: Species, name: &str) -> Option<&'static str> {
    static ENTRIES: OnceLock<[Vec<(&'static str, usize)>; 2]> = OnceLock::new();
    let tables = ENTRIES.get_or_init(|| {
        [Species::Dog, Species::Cat].map(|sp| {
            let mut entries: Vec<(&'static str, usize)> = Vec::with_capacity(160);
            for (i, tox) in TOXIC.iter().enumerate() {
                if !tox.cats_only || sp == Species::Cat {
                    entries.extend(tox.aliases.iter().map(|a| (*a, i)));
                }
            }
            matching::longest_first(entries)
        })
    });
    let entries = &tables[usize::from(species == Species::Cat)];
    let first = matching::scan(name, entries, BLOCKERS).into_iter().next()?;
    TOXIC.get(first).map(|tox| tox.canonical)
}

/// The Chinese label of a canonical toxic-food name.
pub(crate) fn label_zh(canonical: &str) -> Option<&'static str> {
    TOXIC
        .iter()
        .find(|t| t.canonical == canonical)
        .map(|t| t.zh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nutrition::ingredients::TABLE;

    #[test]
    fn aliases_match_both_languages() {
        let dog = Species::Dog;
        for (name, want) in [
            ("Grapes", "grapes"),
            ("raisins", "grapes"),
            ("Zante currants", "grapes"),
            ("葡萄干", "grapes"),
            ("提子", "grapes"),
            ("洋葱", "onion"),
            ("GARLIC powder", "garlic"),
            ("蒜", "garlic"),
            ("大葱", "leek"),
            ("韭菜", "leek"),
            ("细香葱", "chives"),
            ("红葱头", "shallot"),
            ("dark chocolate", "chocolate"),
            ("可可粉", "chocolate"),
            ("红茶", "caffeine"),
            ("茶", "caffeine"),
            ("coffee beans", "caffeine"),
            ("木糖醇口香糖", "xylitol"),
            ("sugar-free gum (xylitol)", "xylitol"),
            ("澳洲坚果", "macadamia"),
            ("啤酒", "alcohol"),
            ("生面团", "raw yeast dough"),
            ("鳄梨", "avocado"),
            ("熟骨头", "cooked bones"),
            ("骨头", "cooked bones"),
        ] {
            assert_eq!(find(dog, name), Some(want), "{name}");
        }
        assert_eq!(find(Species::Cat, "百合"), Some("lily"));
        assert_eq!(find(Species::Cat, "生鱼片"), Some("raw fish"));
        assert_eq!(find(Species::Cat, "raw salmon"), Some("raw fish"));
    }

    #[test]
    fn no_false_positives() {
        for name in [
            "green beans",
            "四季豆",
            "葡萄柚",
            "grapefruit",
            "葡萄糖",
            "山茶油",
            "茶树菇",
            "大麦茶",
            "茶碗蒸",
            "carob",
            "rump steak",
            "black currants",
            "三文鱼",
            "野生三文鱼",
            "broccoli",
            "鸡胸肉",
            "",
            "   ",
        ] {
            assert_eq!(find(Species::Cat, name), None, "{name}");
        }
        assert_eq!(find(Species::Dog, "百合"), None);
        assert_eq!(find(Species::Dog, "生鱼片"), None);
    }

    #[test]
    fn no_bundled_ingredient_is_toxic() {
        for ing in TABLE {
            for species in [Species::Dog, Species::Cat] {
                for name in [ing.zh, ing.en].iter().chain(ing.aliases) {
                    assert_eq!(find(species, name), None, "{name}");
                }
            }
        }
    }

    #[test]
    fn labels() {
        assert_eq!(label_zh("garlic"), Some("大蒜"));
        assert_eq!(label_zh("nope"), None);
    }
}
