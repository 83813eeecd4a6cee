//! The bundled ingredient table (per 100 g edible portion) and name matching for it.
//!
//! **Source.** Every food row is a USDA National Nutrient Database for Standard Reference,
//! Legacy (SR28) row, keyed by its NDB number, copied from `reference/nutrition.md` §3.1.
//! Only cooked forms are used (the engine never plans raw meat, fish or egg — §4). Rows the
//! reference lists but the planner does not use: raw liver/egg/carrot/spinach (raw), spinach
//! (its calcium is largely oxalate-bound, §3.4 ⚠ — the conservative choice is to leave it
//! out rather than credit that calcium), wild salmon and salmon/menhaden oil (vitamin D "not
//! analysed" in SR28, so a vitamin D maximum could not be checked), baked sweet potato and
//! canned pumpkin (one form of each is enough).
//!
//! **Energy basis.** `kcal` is the SR28 energy value, which uses human Atwater factors
//! (≈ 4 / 9 / 4 kcal per g, food-specific). For the same food the AAFCO modified Atwater
//! factors (3.5 / 8.5 / 3.5) give ≈ 10–15 % less (§2.4). The planner weighs food by these
//! USDA kcal; targets in grams use modified Atwater (see `targets`).
//!
//! Non-food rows: `calcium_carbonate` (40.0 % Ca by mass, stoichiometry, §3.2 ✅);
//! `dicalcium_phosphate` — **not in the reference**: food-grade CaHPO₄·2H₂O, Ca 40.078 /
//! 172.09 = 23.29 %, P 30.974 / 172.09 = 18.00 % by stoichiometry, added because meat-based
//! recipes cannot reach the AAFCO growth phosphorus minimum (2.5 g/1000 kcal for puppies) or,
//! some days, the adult one; `supplement` — a generic complete vitamin–mineral supplement for
//! home-cooked diets whose label values are *assumed* (see `planner`), so every nutrient
//! column is 0 here and nothing is credited to it.

use std::sync::OnceLock;

use super::{Species, matching, toxic};

/// Index of each nutrient in a [`Nutrients`] row (per 100 g).
pub(crate) mod nu {
    pub const KCAL: usize = 0;
    pub const PROTEIN: usize = 1;
    pub const FAT: usize = 2;
    pub const CARB: usize = 3;
    pub const FIBER: usize = 4;
    /// mg
    pub const CA: usize = 5;
    /// mg
    pub const P: usize = 6;
    /// mg
    pub const NA: usize = 7;
    /// mg
    pub const K: usize = 8;
    /// mg
    pub const FE: usize = 9;
    /// µg RAE (carotenoids counted; valid for dogs only)
    pub const VIT_A_RAE: usize = 10;
    /// µg preformed retinol (the only vitamin A cats can use)
    pub const RETINOL: usize = 11;
    /// µg
    pub const VIT_D: usize = 12;
    /// mg
    pub const VIT_C: usize = 13;
    /// mg
    pub const CHOL: usize = 14;
    /// g
    pub const WATER: usize = 15;
    pub const COUNT: usize = 16;
}

/// One row of nutrients, indexed by [`nu`].
pub(crate) type Nutrients = [f64; nu::COUNT];

/// What an ingredient is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Muscle meat that can be the day's main protein.
    Meat,
    /// Fish (a secondary protein for dogs because of the vitamin D maximum; main or
    /// secondary for cats).
    Fish,
    /// Cooked egg (secondary protein, or main when nothing else is left).
    Egg,
    /// Liver (capped, never daily).
    Organ,
    /// Dairy (dogs only, small, only when preferred).
    Dairy,
    /// Cooked starch.
    Carb,
    /// Cooked vegetable.
    Veg,
    /// Fruit snack (dogs).
    Fruit,
    /// Energy/fat balancing oil.
    Oil,
    /// Vitamin A/D oil (cod liver oil).
    VitaminOil,
    /// Calcium carbonate.
    Calcium,
    /// Dicalcium phosphate.
    Phosphate,
    /// The vitamin–mineral supplement.
    Supplement,
}

/// An ingredient of the bundled table.
#[derive(Debug)]
pub(crate) struct Ingredient {
    /// NDB number or a stable name for non-food rows.
    pub id: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    /// Extra names (normalised form; `=` prefix: whole input only).
    pub aliases: &'static [&'static str],
    pub role: Role,
    /// Per 100 g.
    pub n: Nutrients,
    /// Preparation, Chinese.
    pub prep: &'static str,
    /// Why it is in the plan, Chinese.
    pub reason: &'static str,
}

const fn ing(
    id: &'static str,
    names: [&'static str; 2],
    aliases: &'static [&'static str],
    role: Role,
    n: Nutrients,
    text: [&'static str; 2],
) -> Ingredient {
    Ingredient {
        id,
        zh: names[0],
        en: names[1],
        aliases,
        role,
        n,
        prep: text[0],
        reason: text[1],
    }
}

use Role::*;

/// The table. Columns: kcal, protein g, fat g, carbohydrate g, fibre g, Ca mg, P mg, Na mg,
/// K mg, Fe mg, vitamin A µg RAE, retinol µg, vitamin D µg, vitamin C mg, cholesterol mg,
/// water g — USDA SR28 per 100 g (reference §3.1).
#[rustfmt::skip]
pub(crate) static TABLE: &[Ingredient] = &[
    ing("05064", ["鸡胸肉（去皮，烤）", "Chicken breast, meat only, roasted"], &["鸡胸肉", "鸡胸", "chicken breast"], Meat,
        [165.0, 31.02, 3.57, 0.0, 0.0, 15.0, 228.0, 74.0, 256.0, 1.04, 6.0, 6.0, 0.1, 0.0, 85.0, 65.26],
        ["鸡胸肉去皮去骨，烤熟或水煮至全熟，切丁", "主蛋白：瘦肉，优质动物蛋白"]),
    ing("05098", ["鸡腿肉（去皮，烤）", "Chicken thigh, meat only, roasted"], &["鸡腿肉", "鸡腿", "chicken thigh"], Meat,
        [179.0, 24.76, 8.15, 0.0, 0.0, 9.0, 230.0, 106.0, 269.0, 1.13, 8.0, 8.0, 0.2, 0.0, 133.0, 67.0],
        ["鸡腿肉去皮去骨（熟骨头绝对不能喂），烤熟或煮熟，切丁", "主蛋白：适口性好的禽肉"]),
    ing("05666", ["火鸡肉末（93%瘦，煎熟）", "Turkey, ground, 93% lean, pan-broiled"], &["火鸡肉末", "火鸡肉馅", "ground turkey"], Meat,
        [213.0, 27.10, 11.60, 0.0, 0.0, 31.0, 259.0, 90.0, 304.0, 1.56, 30.0, 30.0, 0.2, 0.0, 104.0, 61.05],
        ["火鸡肉末不加油盐炒至全熟", "主蛋白：轮换用禽肉"]),
    ing("05220", ["火鸡胸肉（烤）", "Turkey breast, meat only, roasted"], &["火鸡胸肉", "火鸡胸", "turkey breast"], Meat,
        [147.0, 30.13, 2.08, 0.0, 0.0, 9.0, 230.0, 99.0, 249.0, 0.71, 3.0, 3.0, 0.3, 0.0, 80.0, 67.88],
        ["火鸡胸肉烤熟或水煮，切丁", "主蛋白：低脂禽肉"]),
    ing("23476", ["瘦牛肉末（93%瘦，炒熟）", "Beef, ground, 93% lean, crumbles, pan-browned"], &["瘦牛肉末", "牛肉末", "牛肉馅", "瘦牛肉", "ground beef", "lean beef"], Meat,
        [209.0, 28.88, 9.51, 0.0, 0.0, 12.0, 258.0, 86.0, 449.0, 3.17, 3.0, 3.0, 0.0, 0.0, 89.0, 60.82],
        ["牛肉末不加油盐炒至全熟，沥去多余油脂", "主蛋白：红肉，铁含量较高"]),
    ing("23563", ["牛肉饼（90%瘦，烤）", "Beef, ground, 90% lean, patty, broiled"], &["牛肉饼", "beef patty"], Meat,
        [217.0, 26.11, 11.75, 0.0, 0.0, 13.0, 202.0, 68.0, 333.0, 2.71, 3.0, 3.0, 0.0, 0.0, 88.0, 61.24],
        ["牛肉馅压成饼，烤至全熟，不加调味料", "主蛋白：红肉"]),
    ing("15237", ["三文鱼（养殖大西洋鲑，熟）", "Salmon, Atlantic, farmed, cooked, dry heat"], &["三文鱼", "鲑鱼", "salmon"], Fish,
        [206.0, 22.10, 12.35, 0.0, 0.0, 15.0, 252.0, 61.0, 384.0, 0.34, 69.0, 69.0, 13.1, 3.7, 63.0, 64.75],
        ["三文鱼烤熟或蒸熟（不可生喂），仔细去除鱼刺", "鱼类蛋白，含维生素D和ω-3脂肪酸"]),
    ing("15088", ["沙丁鱼（罐装油浸，沥干，带骨）", "Sardine, Atlantic, canned in oil, drained, with bone"], &["沙丁鱼", "sardine", "sardines"], Fish,
        [208.0, 24.62, 11.45, 0.0, 0.0, 382.0, 490.0, 307.0, 397.0, 2.92, 32.0, 32.0, 4.8, 0.0, 142.0, 59.61],
        ["选无盐或低盐罐头，沥干油，连软骨压碎拌入", "鱼类蛋白，含钙和维生素D（钠偏高，少量）"]),
    ing("01129", ["水煮蛋（全蛋）", "Egg, whole, cooked, hard-boiled"], &["水煮蛋", "鸡蛋", "熟鸡蛋", "=蛋", "egg", "eggs", "boiled egg"], Egg,
        [155.0, 12.58, 10.61, 1.12, 0.0, 50.0, 172.0, 124.0, 126.0, 1.19, 149.0, 148.0, 2.2, 0.0, 373.0, 74.62],
        ["鸡蛋煮至全熟（不可生喂），去壳切碎", "辅助蛋白，营养密度高"]),
    ing("13326", ["牛肝（炖）", "Beef, variety meats, liver, braised"], &["牛肝", "beef liver"], Organ,
        [191.0, 29.08, 5.26, 5.13, 0.0, 6.0, 497.0, 79.0, 352.0, 6.54, 9442.0, 9428.0, 1.2, 1.9, 396.0, 58.81],
        ["牛肝切小块煮熟，严格按克数称量", "少量内脏：铁和维生素A（限量，不超过全天食物重量的5%，每周不超过2天）"]),
    ing("05028", ["鸡肝（煮）", "Chicken liver, simmered"], &["鸡肝", "chicken liver", "chicken livers"], Organ,
        [167.0, 24.46, 6.51, 0.87, 0.0, 11.0, 405.0, 76.0, 263.0, 11.63, 3981.0, 3978.0, 0.0, 27.9, 563.0, 66.81],
        ["鸡肝煮熟切碎，严格按克数称量", "少量内脏：铁和维生素A（限量，不超过全天食物重量的5%，每周不超过2天）"]),
    ing("01117", ["低脂原味酸奶", "Yogurt, plain, low fat"], &["酸奶", "原味酸奶", "优格", "yogurt", "yoghurt"], Dairy,
        [63.0, 5.25, 1.55, 7.04, 0.0, 183.0, 144.0, 70.0, 234.0, 0.08, 14.0, 14.0, 0.0, 0.8, 6.0, 85.07],
        ["无糖原味酸奶，直接拌入（不含木糖醇）", "偏好食物：少量乳制品"]),
    ing("01016", ["低脂茅屋奶酪（1%乳脂）", "Cheese, cottage, lowfat, 1% milkfat"], &["茅屋奶酪", "农家奶酪", "cottage cheese"], Dairy,
        [72.0, 12.39, 1.02, 2.72, 0.0, 61.0, 134.0, 406.0, 86.0, 0.14, 11.0, 11.0, 0.0, 0.0, 4.0, 82.48],
        ["直接拌入，少量", "偏好食物：少量乳制品（钠偏高）"]),
    ing("20045", ["白米饭（长粒，强化，煮熟）", "Rice, white, long-grain, enriched, cooked"], &["白米饭", "白米", "white rice"], Carb,
        [130.0, 2.69, 0.28, 28.17, 0.4, 10.0, 43.0, 1.0, 35.0, 1.20, 0.0, 0.0, 0.0, 0.0, 0.0, 68.44],
        ["白米煮软，不加盐", "易消化的碳水化合物"]),
    ing("20037", ["糙米饭（长粒，煮熟）", "Rice, brown, long-grain, cooked"], &["糙米", "糙米饭", "brown rice"], Carb,
        [123.0, 2.74, 0.97, 25.58, 1.6, 3.0, 103.0, 4.0, 86.0, 0.56, 0.0, 0.0, 0.0, 0.0, 0.0, 70.27],
        ["糙米浸泡后煮软烂，不加盐", "碳水化合物，含较多膳食纤维"]),
    ing("08121", ["燕麦粥（水煮，无盐）", "Oats, regular and quick, cooked with water, no salt"], &["燕麦", "燕麦片", "燕麦粥", "oats", "oat", "oatmeal"], Carb,
        [71.0, 2.54, 1.52, 12.0, 1.7, 9.0, 77.0, 4.0, 70.0, 0.90, 0.0, 0.0, 0.0, 0.0, 0.0, 83.61],
        ["燕麦片用清水煮成粥，不加糖盐", "碳水化合物，含可溶性纤维"]),
    ing("11510", ["红薯（去皮水煮）", "Sweet potato, cooked, boiled, without skin"], &["红薯", "地瓜", "番薯", "甘薯", "sweet potato", "sweet potatoes"], Carb,
        [76.0, 1.37, 0.14, 17.72, 2.5, 27.0, 32.0, 27.0, 230.0, 0.72, 787.0, 0.0, 0.0, 12.8, 0.0, 80.13],
        ["红薯去皮切块水煮至软，压泥", "碳水化合物，富含钾和β-胡萝卜素"]),
    ing("11423", ["南瓜（水煮沥干）", "Pumpkin, cooked, boiled, drained, without salt"], &["南瓜", "pumpkin"], Veg,
        [20.0, 0.72, 0.07, 4.90, 1.1, 15.0, 30.0, 1.0, 230.0, 0.57, 288.0, 0.0, 0.0, 4.7, 0.0, 93.69],
        ["南瓜去皮去籽，水煮后压泥", "蔬菜：膳食纤维，有助肠道"]),
    ing("11125", ["胡萝卜（水煮）", "Carrots, cooked, boiled, drained, without salt"], &["胡萝卜", "红萝卜", "carrot", "carrots"], Veg,
        [35.0, 0.76, 0.18, 8.22, 3.0, 30.0, 30.0, 58.0, 235.0, 0.34, 852.0, 0.0, 0.0, 3.6, 0.0, 90.17],
        ["胡萝卜切丁水煮至软（或切碎）", "蔬菜：膳食纤维和β-胡萝卜素"]),
    ing("11091", ["西兰花（水煮）", "Broccoli, cooked, boiled, drained, without salt"], &["西兰花", "西蓝花", "青花菜", "broccoli"], Veg,
        [35.0, 2.38, 0.41, 7.18, 3.3, 40.0, 67.0, 41.0, 293.0, 0.67, 77.0, 0.0, 0.0, 64.9, 0.0, 89.25],
        ["西兰花切小朵水煮后切碎", "蔬菜：膳食纤维和维生素C"]),
    ing("11053", ["四季豆（水煮）", "Beans, snap, green, cooked, boiled, drained, without salt"], &["四季豆", "豆角", "菜豆", "green beans", "green bean", "string beans"], Veg,
        [35.0, 1.89, 0.28, 7.88, 3.2, 44.0, 29.0, 1.0, 146.0, 0.65, 32.0, 0.0, 0.0, 9.7, 0.0, 89.22],
        ["四季豆去筋，彻底煮熟后切段", "蔬菜：低热量膳食纤维"]),
    ing("09050", ["蓝莓", "Blueberries, raw"], &["蓝莓", "blueberry", "blueberries"], Fruit,
        [57.0, 0.74, 0.33, 14.49, 2.4, 6.0, 12.0, 1.0, 77.0, 0.28, 3.0, 0.0, 0.0, 9.7, 0.0, 84.21],
        ["洗净，作为加餐", "加餐水果（零食不超过每日热量的10%）"]),
    ing("09004", ["苹果（去皮去核）", "Apples, raw, without skin"], &["苹果", "apple", "apples"], Fruit,
        [48.0, 0.27, 0.13, 12.76, 1.3, 5.0, 11.0, 0.0, 90.0, 0.07, 2.0, 0.0, 0.0, 4.0, 0.0, 86.67],
        ["去皮、去核去籽（籽含氰苷），切小块作为加餐", "加餐水果（零食不超过每日热量的10%）"]),
    ing("04053", ["橄榄油", "Oil, olive, salad or cooking"], &["橄榄油", "olive oil"], Oil,
        [884.0, 0.0, 100.0, 0.0, 0.0, 1.0, 0.0, 2.0, 1.0, 0.56, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ["出锅稍凉后拌入", "补充脂肪与能量，使脂肪达到目标"]),
    ing("04589", ["鳕鱼肝油", "Fish oil, cod liver"], &["鳕鱼肝油", "鱼肝油", "cod liver oil"], VitaminOil,
        [902.0, 0.0, 100.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 30000.0, 30000.0, 250.0, 0.0, 570.0, 0.0],
        ["按克数称量，出锅稍凉后拌入（勿过量）", "按需补充维生素A（预成型）和维生素D，使其达到AAFCO最低量"]),
    ing("calcium_carbonate", ["碳酸钙粉（食品级）", "Calcium carbonate powder, food grade"], &["碳酸钙", "碳酸钙粉", "calcium carbonate"], Calcium,
        [0.0, 0.0, 0.0, 0.0, 0.0, 40000.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ["用厨房秤按克称量（不要用茶匙估计），拌入食物", "补钙：使钙达到AAFCO最低量且钙磷比在1:1–2:1之间"]),
    ing("dicalcium_phosphate", ["磷酸氢钙（二水，食品级）", "Dicalcium phosphate dihydrate, food grade"], &["磷酸氢钙", "dicalcium phosphate"], Phosphate,
        [0.0, 0.0, 0.0, 0.0, 0.0, 23290.0, 18000.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ["按克称量，拌入食物", "补磷（同时含钙）：肉类配方的磷不足AAFCO最低量时使用"]),
    ing("supplement", ["宠物自制粮复合维生素矿物质补充剂", "Complete vitamin-mineral supplement for home-cooked diets"], &["复合维生素", "营养补充剂", "维生素补充剂", "multivitamin", "vitamin supplement"], Supplement,
        [0.0; nu::COUNT],
        ["按产品标签剂量（每1000千卡一份）拌入已放凉的食物，勿加热", "补充食材表无法核算的微量元素和维生素（锌、铜、锰、硒、碘、维生素E、B族、胆碱等；猫另需牛磺酸）"]),
];

/// Names for a whole group of ingredients (an allergy to `chicken` excludes chicken liver).
static GROUPS: &[(&[&str], &[&str])] = &[
    (&["=鸡", "鸡肉", "chicken"], &["05064", "05098", "05028"]),
    (&["=牛", "牛肉", "beef"], &["23476", "23563", "13326"]),
    (&["火鸡", "火鸡肉", "turkey"], &["05666", "05220"]),
    (
        &["禽", "禽类", "禽肉", "家禽", "poultry"],
        &["05064", "05098", "05028", "05666", "05220"],
    ),
    (&["红肉", "red meat"], &["23476", "23563", "13326"]),
    (&["蛋类", "=蛋白", "egg white"], &["01129"]),
    (
        &[
            "=鱼", "鱼肉", "鱼类", "海鲜", "鱼油", "fish", "seafood", "fish oil",
        ],
        &["15237", "15088", "04589"],
    ),
    (
        &["=肝", "肝脏", "内脏", "liver", "organ", "organs", "offal"],
        &["13326", "05028"],
    ),
    (
        &["=奶", "牛奶", "奶制品", "乳制品", "dairy", "milk"],
        &["01117", "01016"],
    ),
    (&["米饭", "大米", "=米", "rice"], &["20045", "20037"]),
    (
        &["谷物", "谷类", "grain", "grains", "cereal", "cereals"],
        &["20045", "20037", "08121"],
    ),
    (&["水果", "fruit", "fruits"], &["09050", "09004"]),
];

/// Safe words that contain an ingredient alias but are not that ingredient.
static BLOCKERS: &[&str] = &["牛油果", "牛蛙", "蜗牛"];

/// True when neither name of `ing` matches a toxic food for `species` (computed once; the
/// `no_bundled_ingredient_is_toxic` test keeps this all-true, the check is a guard).
pub(crate) fn safe_for(species: Species, ing: &Ingredient) -> bool {
    static SAFE: OnceLock<[Vec<bool>; 2]> = OnceLock::new();
    let safe = SAFE.get_or_init(|| {
        [Species::Dog, Species::Cat].map(|sp| {
            TABLE
                .iter()
                .map(|i| toxic::find(sp, i.zh).is_none() && toxic::find(sp, i.en).is_none())
                .collect()
        })
    });
    let idx = TABLE.iter().position(|i| i.id == ing.id);
    idx.and_then(|i| safe[usize::from(species == Species::Cat)].get(i).copied())
        .unwrap_or(false)
}

/// The row for `id`.
pub(crate) fn by_id(id: &str) -> Option<&'static Ingredient> {
    TABLE.iter().find(|i| i.id == id)
}

/// Every ingredient id `name` refers to (a group name gives all its members), in table order
/// of the match position. Empty when nothing matches.
pub(crate) fn match_all(name: &str) -> Vec<&'static str> {
    type Entry = (&'static str, &'static [&'static str]);
    static ENTRIES: OnceLock<Vec<Entry>> = OnceLock::new();
    let entries = ENTRIES.get_or_init(|| {
        let mut entries: Vec<Entry> = Vec::new();
        for ing in TABLE {
            entries.push((ing.id, std::slice::from_ref(&ing.id)));
            for alias in ing.aliases {
                entries.push((alias, std::slice::from_ref(&ing.id)));
            }
        }
        for (aliases, ids) in GROUPS {
            entries.extend(aliases.iter().map(|a| (*a, *ids)));
        }
        matching::longest_first(entries)
    });
    let mut out: Vec<&'static str> = Vec::new();
    for ids in matching::scan(name, entries, BLOCKERS) {
        for id in ids {
            if !out.contains(id) {
                out.push(id);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_rows_sane() {
        for (i, a) in TABLE.iter().enumerate() {
            assert!(TABLE[i + 1..].iter().all(|b| b.id != a.id), "{}", a.id);
            assert!(a.n.iter().all(|v| v.is_finite() && *v >= 0.0), "{}", a.id);
            assert!(a.n[nu::RETINOL] <= a.n[nu::VIT_A_RAE], "{}", a.id);
        }
    }

    #[test]
    fn group_and_specific_names() {
        assert_eq!(match_all("鸡胸肉"), vec!["05064"]);
        assert_eq!(match_all("鸡肉"), vec!["05064", "05098", "05028"]);
        assert_eq!(match_all("Chicken"), vec!["05064", "05098", "05028"]);
        assert_eq!(match_all("chicken liver"), vec!["05028"]);
        assert_eq!(match_all("火鸡"), vec!["05666", "05220"]);
        assert_eq!(match_all("鸡蛋"), vec!["01129"]);
        assert_eq!(match_all("对牛肉过敏"), vec!["23476", "23563", "13326"]);
        assert_eq!(match_all("green beans"), vec!["11053"]);
        assert!(match_all("牛油果").is_empty());
        assert!(match_all("玉米").is_empty());
        assert!(match_all("").is_empty());
    }
}
