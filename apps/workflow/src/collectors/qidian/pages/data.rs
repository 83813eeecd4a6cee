//! Deterministic fixture data: two hand-shaped books and a pool of generated ones, rank
//! orders and search hits. Everything is a pure function of the id or key, so tests can
//! compute the exact values a page must yield.

pub use super::book::{FixtureBook, FixtureChapter, FixtureVolume};
use chrono::{Duration, NaiveDateTime};

/// The big fixture book (the captured 诡秘之主 page's id and shape: 9 volumes, 1418 chapters).
pub const BIG_BOOK_ID: &str = "1010868264";
/// The small serialising fixture book (2 volumes, 30 chapters, 3 encrypted).
pub const SMALL_BOOK_ID: &str = "1000000007";
/// Generated pool books are `1040000001` ..= `1040000098`.
const POOL_BASE: i64 = 1_040_000_000;
/// Books in the rank/search pool (the two fixed ones plus 98 generated): 5 rank pages.
pub const POOL_SIZE: usize = 100;

/// `446.52万` style text for a multiple of 100.
pub fn wan(n: i64) -> String {
    let hundredths = n / 100;
    if n < 10_000 {
        n.to_string()
    } else {
        format!("{}.{:02}万", hundredths / 100, hundredths % 100)
    }
}

/// FNV-1a, for seeding deterministic choices from keys.
pub fn hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

const WORDS: [&str; 40] = [
    "绯红",
    "占卜家",
    "安全屋",
    "夜晚的钟声",
    "雾中来客",
    "灰雾之上",
    "新的聚会",
    "报纸",
    "值夜者",
    "梦境",
    "邀请函",
    "旧日",
    "黑荆棘",
    "码头",
    "出海",
    "神秘学",
    "密修会",
    "极光",
    "疯狂",
    "序列",
    "魔药",
    "非凡特性",
    "封印物",
    "镜子",
    "门",
    "正义",
    "太阳",
    "月亮",
    "隐者",
    "命运",
    "观众",
    "收尾",
    "蒸汽",
    "机械",
    "灯塔",
    "旧信",
    "钟楼",
    "雨夜",
    "审判",
    "归途",
];
const TITLE_A: [&str; 10] = [
    "星海", "长夜", "剑来", "深空", "万古", "凡人", "青云", "灵境", "大道", "雪中",
];
const TITLE_B: [&str; 10] = [
    "旅人", "之主", "行者", "纪元", "问仙", "归来", "长歌", "笔记", "天穹", "余烬",
];
const AUTHORS: [&str; 12] = [
    "青石",
    "北川",
    "墨白",
    "南山客",
    "风起",
    "一叶",
    "苏未",
    "林间雨",
    "沧海",
    "远舟",
    "白鹿",
    "夜行者",
];
/// (chanId, name, slug, subCateId, subcategory).
const CHANNELS: [(i64, &str, &str, i64, &str); 6] = [
    (21, "玄幻", "xuanhuan", 73, "异世大陆"),
    (22, "仙侠", "xianxia", 18, "修真文明"),
    (4, "都市", "dushi", 12, "都市生活"),
    (9, "科幻", "kehuan", 44, "星际文明"),
    (10, "悬疑", "lingyi", 26, "诡秘悬疑"),
    (5, "历史", "lishi", 22, "架空历史"),
];

fn time_at(end: &str, steps_back: i64, step_secs: i64) -> String {
    NaiveDateTime::parse_from_str(end, "%Y-%m-%d %H:%M:%S")
        .map(|t| {
            (t - Duration::seconds(steps_back * step_secs))
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

/// Volumes `(name, vip, chapter count, unlocked author notes at the end)` → volumes with
/// chapters whose times end at `end`. `encrypted_tail` last chapters are encrypted.
fn build_volumes(
    seed: i64,
    first_chapter_id: i64,
    spec: &[(&str, bool, usize, usize)],
    end: &str,
    encrypted_tail: usize,
) -> Vec<FixtureVolume> {
    let total: usize = spec.iter().map(|s| s.2).sum();
    let mut k = 0usize;
    let mut number = 0usize;
    let mut id = first_chapter_id;
    let mut volumes = Vec::new();
    for (vi, &(name, vip, count, notes)) in spec.iter().enumerate() {
        let mut chapters = Vec::new();
        for j in 0..count {
            let note = vip && j >= count - notes;
            let title = if note {
                format!("{name}·作者的话（{}）", j + notes + 1 - count)
            } else {
                number += 1;
                format!("第{number}章 {}", WORDS[(number * 7 + vi) % WORDS.len()])
            };
            let ki = k as i64;
            chapters.push(FixtureChapter {
                id,
                title,
                locked: vip && !note,
                encrypted: k + encrypted_tail >= total,
                words: 2000 + (ki * 7919 + seed) % 2300,
                published_at: time_at(end, (total - 1 - k) as i64, 80_000 - (seed % 997)),
                slug: format!("{:x}{:08x}", seed, (ki + 1) * 2_654_435_761 % 0xffff_ffff),
            });
            id += 1_000 + (ki * 7_919 + seed) % 50_000;
            k += 1;
        }
        volumes.push(FixtureVolume {
            id: seed % 100_000 + vi as i64 * 7,
            name: name.to_owned(),
            vip,
            chapters,
        });
    }
    volumes
}

fn big_book() -> FixtureBook {
    // Counts from the captured page (collectors.md §1.3): a free volume, then VIP volumes of
    // 85/270/252/216/205/118/88/54 chapters with 84/269/250/214/204/116/87/41 locked.
    let spec = [
        ("小丑", false, 130, 0),
        ("小丑", true, 85, 1),
        ("无面人", true, 270, 1),
        ("秘偶大师", true, 252, 2),
        ("诡法师", true, 216, 2),
        ("古代学者", true, 205, 1),
        ("隐秘之仆", true, 118, 2),
        ("倒吊人", true, 88, 1),
        ("愚者", true, 54, 13),
    ];
    FixtureBook {
        id: BIG_BOOK_ID.into(),
        title: "诡秘之主".into(),
        author: "爱潜水的乌贼".into(),
        author_id: "4362088".into(),
        category: "玄幻".into(),
        category_slug: "xuanhuan".into(),
        chan_id: 21,
        subcategory: "异世大陆".into(),
        sub_cate_id: 73,
        extra_label: Some("轻小说".into()),
        tags: vec!["西方奇幻".into(), "蒸汽朋克".into(), "克苏鲁".into()],
        completed: true,
        word_count: 4_465_200,
        total_recs: 34_156_200,
        weekly_recs: 1195,
        month_tickets: 7442,
        intro: "蒸汽与机械的浪潮里，一个普通人走进了灰雾。".into(),
        intro_full: vec![
            "（夹具简介，非原文）蒸汽与机械的浪潮里，一个普通人走进了灰雾。".into(),
            "他在雾中找到了一张桌子、一些座位，还有一段不属于自己的记忆。".into(),
            "这是一个关于序列、魔药与秘密的故事。".into(),
        ],
        volumes: build_volumes(17, 402_733_549, &spec, "2022-11-25 16:27:26", 0),
    }
}

fn small_book() -> FixtureBook {
    let spec = [("序章", false, 10, 0), ("星门初开", true, 20, 0)];
    let mut volumes = build_volumes(29, 700_000_101, &spec, "2026-10-30 20:05:11", 3);
    // An author note at the start of the VIP volume, not locked.
    if let Some(first) = volumes.get_mut(1).and_then(|v| v.chapters.first_mut()) {
        first.title = "上架感言".into();
        first.locked = false;
    }
    FixtureBook {
        id: SMALL_BOOK_ID.into(),
        title: "星门旅人".into(),
        author: "青石".into(),
        author_id: "90000007".into(),
        category: "都市".into(),
        category_slug: "dushi".into(),
        chan_id: 4,
        subcategory: "都市生活".into(),
        sub_cate_id: 12,
        extra_label: None,
        tags: vec!["都市".into(), "穿越".into()],
        completed: false,
        word_count: 125_300,
        total_recs: 8_800,
        weekly_recs: 321,
        month_tickets: 56,
        intro: "门开了，他走了进去。".into(),
        intro_full: vec!["门开了，他走了进去。".into(), "门后是另一座城。".into()],
        volumes,
    }
}

/// A generated pool book, `n` in 1..=98.
fn pool_book(n: i64) -> FixtureBook {
    let i = n as usize;
    let (chan_id, category, slug, sub_id, sub) = CHANNELS[i % CHANNELS.len()];
    let title = format!("{}{}", TITLE_A[i % 10], TITLE_B[(i / 10) % 10]);
    let spec = [("第一卷", false, 3, 0), ("第二卷", true, 5, 1)];
    FixtureBook {
        id: (POOL_BASE + n).to_string(),
        intro: format!("{title}的故事，从第{n}个清晨开始。"),
        intro_full: vec![
            format!("{title}的故事，从第{n}个清晨开始。"),
            "（夹具生成的简介）".into(),
        ],
        title,
        author: AUTHORS[i % AUTHORS.len()].into(),
        author_id: (500_000 + n).to_string(),
        category: category.into(),
        category_slug: slug.into(),
        chan_id,
        subcategory: sub.into(),
        sub_cate_id: sub_id,
        extra_label: None,
        tags: vec![WORDS[i % WORDS.len()].into()],
        completed: n % 3 == 0,
        word_count: 100 * (1_000 + n * 1_237),
        total_recs: 100 * (50 + n * 97),
        weekly_recs: 10 * n + 3,
        month_tickets: 40 * n + 11,
        volumes: build_volumes(
            n,
            800_000_000 + n * 100_000,
            &spec,
            "2026-10-01 08:00:00",
            0,
        ),
    }
}

/// The fixture book with this id; `None` (a 404) for any other id.
pub fn book(id: &str) -> Option<FixtureBook> {
    match id {
        BIG_BOOK_ID => Some(big_book()),
        SMALL_BOOK_ID => Some(small_book()),
        _ => {
            let n: i64 = id.parse().ok()?;
            let n = n.checked_sub(POOL_BASE)?;
            (1..=POOL_SIZE as i64 - 2)
                .contains(&n)
                .then(|| pool_book(n))
        }
    }
}

/// The pool's ids: the two fixed books, then the generated ones.
pub fn pool_ids() -> Vec<String> {
    let mut ids = vec![BIG_BOOK_ID.to_owned(), SMALL_BOOK_ID.to_owned()];
    ids.extend((1..=POOL_SIZE as i64 - 2).map(|n| (POOL_BASE + n).to_string()));
    ids
}

/// The whole ranked order for a list key (`"yuepiao|2024-05|chn21"`): a deterministic
/// shuffle of the pool, with a descending metric. Entries are `(rank, book, metric)`.
pub fn rank_order(key: &str) -> Vec<(i64, FixtureBook, i64)> {
    let mut ids = pool_ids();
    let mut state = hash(key) | 1;
    for i in (1..ids.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ids.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let offset = (hash(key) % 997) as i64;
    ids.iter()
        .enumerate()
        .filter_map(|(i, id)| {
            let rank = i as i64 + 1;
            Some((rank, book(id)?, 30_000 + offset - rank * 271))
        })
        .collect()
}

/// One page (20 rows, from 1) of a rank order; empty past the last page.
pub fn rank_page(key: &str, page: usize) -> Vec<(i64, FixtureBook, i64)> {
    rank_order(key)
        .into_iter()
        .skip(page.saturating_sub(1) * 20)
        .take(20)
        .collect()
}

/// Pool books whose title, author or intro contains `kw`, in pool order (`清晨` matches
/// the 98 generated books: five pages).
pub fn search(kw: &str) -> Vec<FixtureBook> {
    pool_ids()
        .iter()
        .filter_map(|id| book(id))
        .filter(|b| {
            !kw.is_empty()
                && (b.title.contains(kw) || b.author.contains(kw) || b.intro.contains(kw))
        })
        .collect()
}
