//! The fixture book model: what a fixture book's pages show.

/// A chapter of a fixture book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureChapter {
    /// Numeric id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Locked VIP chapter (lock glyph, `sS = 0`).
    pub locked: bool,
    /// Served as a bought, font-encrypted chapter (`cES = 2`).
    pub encrypted: bool,
    /// Words.
    pub words: i64,
    /// `首发时间`, `"2018-04-01 12:28:26"`.
    pub published_at: String,
    /// Legacy `cU` slug.
    pub slug: String,
}

/// A volume of a fixture book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureVolume {
    /// Volume id (`data-volumeid`).
    pub id: i64,
    /// Name (may repeat).
    pub name: String,
    /// VIP volume.
    pub vip: bool,
    /// Chapters.
    pub chapters: Vec<FixtureChapter>,
}

/// A fixture book with everything its pages show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureBook {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Author.
    pub author: String,
    /// Author id.
    pub author_id: String,
    /// Channel name (`玄幻`).
    pub category: String,
    /// Channel path (`xuanhuan`).
    pub category_slug: String,
    /// `chanId`.
    pub chan_id: i64,
    /// Subcategory (`异世大陆`).
    pub subcategory: String,
    /// `subCateId`.
    pub sub_cate_id: i64,
    /// The legacy page's third `a.red` badge (`轻小说`).
    pub extra_label: Option<String>,
    /// Tags (`p.all-label`, mobile `ugcTagInfos`).
    pub tags: Vec<String>,
    /// `完本` rather than `连载`.
    pub completed: bool,
    /// Words (a multiple of 100, shown as `446.52万`).
    pub word_count: i64,
    /// Total recommendations (a multiple of 100).
    pub total_recs: i64,
    /// Weekly recommendations.
    pub weekly_recs: i64,
    /// Month tickets.
    pub month_tickets: i64,
    /// One-line intro.
    pub intro: String,
    /// Full intro lines.
    pub intro_full: Vec<String>,
    /// Volumes in order.
    pub volumes: Vec<FixtureVolume>,
}

impl FixtureBook {
    /// The newest chapter (the last one).
    pub fn latest(&self) -> Option<&FixtureChapter> {
        self.volumes.iter().rev().find_map(|v| v.chapters.last())
    }

    /// Last update: the newest chapter's time.
    pub fn updated_at(&self) -> String {
        self.latest()
            .map(|c| c.published_at.clone())
            .unwrap_or_default()
    }

    /// All chapters.
    pub fn chapters(&self) -> impl Iterator<Item = &FixtureChapter> {
        self.volumes.iter().flat_map(|v| v.chapters.iter())
    }

    /// Chapter count.
    pub fn chapter_count(&self) -> usize {
        self.volumes.iter().map(|v| v.chapters.len()).sum()
    }

    /// A chapter by id.
    pub fn chapter(&self, id: i64) -> Option<&FixtureChapter> {
        self.chapters().find(|c| c.id == id)
    }
}
