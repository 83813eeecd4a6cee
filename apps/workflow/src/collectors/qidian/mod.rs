//! Qidian (起点中文网) collector building blocks: pure parsers for public metadata (book,
//! catalog, rankings, search), chapter access classification, soft-block detection,
//! robots.txt and URL builders (collectors.md §1, §3).
//!
//! Scope, by policy (collectors.md §0.4, §3): metadata only. Chapter bodies are never
//! returned or stored, VIP content and anti-spider fonts are never decoded (an obfuscated
//! metric is `None` and flagged), anti-bot tokens are never forged, captchas never solved.
//! Fetching, pacing and storage live in the step handlers built on this API.

mod block;
mod error;
mod jsobj;
mod model;
#[cfg(any(test, feature = "fixtures"))]
pub mod pages;
mod parse;
mod robots;
pub(crate) mod text;
mod urls;

pub use block::{detect_block, retry_after_seconds};
pub use error::{ParseError, UrlError};
pub use model::{
    Block, BlockKind, Book, BookLayout, BookStatus, Catalog, Chapter, ChapterAccess, LatestChapter,
    Pagination, RankItem, SearchItem, Volume,
};
pub use parse::{
    PAGE_SIZE, classify_chapter, parse_book, parse_catalog_html, parse_catalog_json,
    parse_pagination, parse_rankings, parse_search,
};
pub use robots::{Robots, USER_AGENT};
pub use text::{is_obfuscated_char, parse_cn_number};
pub use urls::{
    MAX_PAGE, MOBILE_RANK_TYPES, RANK_TYPES, book_url, catalog_json_url, catalog_url, chapter_url,
    cover_url, legacy_book_url, mobile_book_url, mobile_rank_url, mobile_search_url, parse_period,
    percent_decode, percent_encode, rank_url, search_url, validate_book_id,
};
