//! The typed records the Qidian parsers return. Ids are always strings (they exceed what
//! spreadsheets keep exact; collectors.md §0.5), counts are `i64`, times are kept as the page
//! writes them (`"2022-11-25 16:27:26"`, Beijing time).

use serde::{Deserialize, Serialize};

/// Serialisation state of a book (`连载` / `完本`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookStatus {
    /// `连载`: still being written.
    Serialising,
    /// `完本` (or `完结`): finished.
    Completed,
    /// Anything else, or not shown.
    Unknown,
}

impl BookStatus {
    /// Maps the site's label (`连载`, `完本`, `完结`, mobile `连载中`) to a status.
    pub fn from_label(label: &str) -> Self {
        if label.contains("完本") || label.contains("完结") {
            Self::Completed
        } else if label.contains("连载") {
            Self::Serialising
        } else {
            Self::Unknown
        }
    }
}

/// Which page layout a [`Book`] was read from (collectors.md §1.3, §1.4, §1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookLayout {
    /// `book.qidian.com/info/{id}`, with `g_data.pageJson`.
    Legacy,
    /// `www.qidian.com/book/{id}/`.
    New,
    /// `m.qidian.com/book/{id}/`, `pageData.bookInfo`.
    Mobile,
}

/// A book's newest chapter as the book or list page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestChapter {
    /// Chapter title.
    pub title: String,
    /// Absolute chapter URL (`https://www.qidian.com/chapter/{bid}/{cid}/`), when linked.
    pub url: Option<String>,
    /// Update time as written on the page (date, or date and time).
    pub updated_at: Option<String>,
}

/// Public metadata of one book (collectors.md §1.3, §1.4, §1.9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Book {
    /// Numeric id as a string (`"1010868264"`).
    pub book_id: String,
    /// Title (`书名`).
    pub title: String,
    /// Pen name.
    pub author: String,
    /// Author id from `my.qidian.com/author/{id}/` or `pageJson.authorInfo`.
    pub author_id: Option<String>,
    /// Channel/category (`玄幻`); empty when the page names none.
    pub category: String,
    /// Subcategory (`异世大陆`).
    pub subcategory: Option<String>,
    /// `连载` / `完本`.
    pub status: BookStatus,
    /// Words, `"446.52万字"` → 4 465 200; `None` if absent or font-obfuscated.
    pub word_count: Option<i64>,
    /// The word count as displayed (`"446.52万字"`); `None` if absent or obfuscated.
    pub word_count_text: Option<String>,
    /// Total recommendation tickets (`总推荐`, mobile `recomAll`).
    pub total_recommendations: Option<i64>,
    /// Weekly recommendation tickets (`周推荐`, `#recCount`).
    pub weekly_recommendations: Option<i64>,
    /// Monthly tickets (`#monthCount`).
    pub month_tickets: Option<i64>,
    /// One-line intro (`p.intro`); empty when absent.
    pub intro: String,
    /// Full intro, lines joined with `\n`.
    pub intro_full: Option<String>,
    /// Tags (`p.all-label a`, the legacy extra `a.red`, mobile `ugcTagInfos`).
    pub tags: Vec<String>,
    /// Newest chapter.
    pub latest_chapter: Option<LatestChapter>,
    /// Number of chapters (`目录(1418章)`, mobile `cTCnt`).
    pub chapter_count: Option<i64>,
    /// Absolute cover URL.
    pub cover_url: Option<String>,
    /// Last update, as written (`"2022-11-25 16:27:26"`).
    pub updated_at: Option<String>,
    /// Names of the metrics hidden behind an anti-spider font (`"word_count"`,
    /// `"total_recommendations"`, …); each is `None` above. The font is never decoded.
    pub obfuscated: Vec<String>,
    /// Layout the record was read from.
    pub layout: BookLayout,
}

/// A book's table of contents (collectors.md §1.3–§1.5). Never chapter bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Book id, when the page names it (the JSON XHR does not).
    pub book_id: Option<String>,
    /// Volumes in page order; repeated names stay separate volumes.
    pub volumes: Vec<Volume>,
}

impl Catalog {
    /// Chapters across all volumes.
    pub fn chapter_count(&self) -> usize {
        self.volumes.iter().map(|v| v.chapters.len()).sum()
    }

    /// All chapters in order.
    pub fn chapters(&self) -> impl Iterator<Item = &Chapter> {
        self.volumes.iter().flat_map(|v| v.chapters.iter())
    }
}

/// One volume (`卷`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// Position in the catalog, from 0.
    pub index: u32,
    /// Volume name (`小丑`); may repeat across volumes.
    pub name: String,
    /// A VIP (paid) volume. VIP is really per chapter: see [`Chapter::vip`].
    pub vip: bool,
    /// Chapters in order.
    pub chapters: Vec<Chapter>,
}

/// One chapter's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chapter {
    /// Numeric chapter id as a string (the legacy `cU` slug when no numeric id is shown).
    pub chapter_id: String,
    /// Chapter title.
    pub title: String,
    /// Locked (paid) chapter: the lock glyph, `em.chapter-locked`, or JSON `sS = 0`.
    pub vip: bool,
    /// Words (`章节字数`).
    pub word_count: Option<i64>,
    /// First publication time as written (`首发时间`, `"2018-04-01 12:28:26"`).
    pub published_at: Option<String>,
    /// Absolute chapter URL.
    pub url: Option<String>,
}

/// One row of a rank or list page (collectors.md §1.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankItem {
    /// Rank, from 1, across pages.
    pub rank: i64,
    /// Book id.
    pub book_id: String,
    /// Title.
    pub title: String,
    /// Author.
    pub author: String,
    /// Category; empty when absent.
    pub category: String,
    /// Subcategory.
    pub subcategory: Option<String>,
    /// Status, when shown.
    pub status: Option<BookStatus>,
    /// One-line intro.
    pub intro: Option<String>,
    /// Newest chapter and its update time.
    pub latest_chapter: Option<LatestChapter>,
    /// Words (mobile `cnt`).
    pub word_count: Option<i64>,
    /// The ranked metric (tickets, sales index …); `None` when obfuscated or absent.
    pub metric: Option<i64>,
    /// The metric as displayed with its unit (`"7442月票"`); `None` when obfuscated.
    pub metric_text: Option<String>,
    /// The metric was drawn with an anti-spider font (PC pages) and is therefore `None`.
    pub metric_obfuscated: bool,
}

/// One search hit (collectors.md §1.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchItem {
    /// Position in the result list, from 1, across pages.
    pub position: i64,
    /// Book id.
    pub book_id: String,
    /// Title (without the link title's "在线阅读" suffix).
    pub title: String,
    /// Author.
    pub author: String,
    /// Category; empty when absent.
    pub category: String,
    /// Subcategory.
    pub subcategory: Option<String>,
    /// Status, when shown.
    pub status: Option<BookStatus>,
    /// One-line intro.
    pub intro: Option<String>,
    /// Absolute cover URL.
    pub cover_url: Option<String>,
    /// Newest chapter (title without the "最新更新" prefix) and its update date.
    pub latest_chapter: Option<LatestChapter>,
    /// Words; `None` when obfuscated or absent.
    pub word_count: Option<i64>,
    /// Words as displayed (`"446.52万"`).
    pub word_count_text: Option<String>,
    /// The word count was drawn with an anti-spider font.
    pub word_count_obfuscated: bool,
}

/// Pagination of a PC list page (`.lbf-pagination`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagination {
    /// Current page, from 1.
    pub current: u32,
    /// Highest page number linked.
    pub last: u32,
}

/// What a chapter page allows, judged only from `pageData.chapterInfo` flags
/// (collectors.md §1.6). The body itself is never returned or stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChapterAccess {
    /// Readable without purchase and not font-encrypted.
    Free,
    /// VIP chapter not purchased (`vipStatus 1, isBuy 0`).
    Locked,
    /// Body is encrypted or font-obfuscated (`cES 2`, or `fEnS ≠ 0` on a VIP chapter).
    Encrypted,
}

/// Kind of soft block a response represents (collectors.md §1.10, §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// WAF or captcha challenge; a human must resolve it, never the collector.
    Captcha,
    /// Too many requests (429 or "访问过于频繁").
    RateLimited,
    /// 401/403.
    Forbidden,
}

/// A soft block detected in a response; the caller cools the identity down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// What kind.
    pub kind: BlockKind,
    /// Seconds from `Retry-After`, when sent.
    pub retry_after_seconds: Option<u64>,
    /// Short reason for logs (status or marker name; never the body).
    pub reason: String,
}
