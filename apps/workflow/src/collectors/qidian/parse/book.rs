//! `parse_book`: one book's public metadata from either PC layout or the mobile page
//! (collectors.md §1.3, §1.4, §1.9).
//!
//! Each field is read from the embedded JSON first (mobile `pageData`, legacy
//! `g_data.pageJson`), then the `og:novel:*` meta tags, then CSS selectors of both layouts.
//! A metric drawn with an anti-spider font is left `None` and named in `Book::obfuscated`.

use super::super::error::ParseError;
use super::super::jsobj::assigned_literal;
use super::super::model::{Book, BookLayout, BookStatus, LatestChapter};
use super::super::text::{
    absolutize, clean_text, collapse, is_obfuscated, lines_of, non_empty, numeric_segments,
    og_meta, page_data, parse_cn_number, sel, text_with_breaks,
};
use super::book_mobile;
use scraper::{ElementRef, Html};
use serde_json::Value;
use std::collections::HashMap;

/// Parses a book page: legacy `book.qidian.com/info/{id}`, new `www.qidian.com/book/{id}/`, or
/// mobile `m.qidian.com/book/{id}/`.
///
/// Errors: [`ParseError::Json`] for malformed embedded JSON, [`ParseError::Missing`] when no
/// book id, title or author can be found (a WAF page, a 404 page …).
pub fn parse_book(html: &str) -> Result<Book, ParseError> {
    if let Some(data) = page_data(html) {
        let data = data.map_err(ParseError::Json)?;
        if data.get("bookInfo").is_some() {
            return book_mobile::from_page_data(&data);
        }
    }
    Pc::new(html).book()
}

/// Channel names by `chanId` (collectors.md §1.1, from the page's own redirect map).
pub(crate) fn channel_name(chan_id: i64) -> Option<&'static str> {
    Some(match chan_id {
        21 => "玄幻",
        1 => "奇幻",
        2 => "武侠",
        22 => "仙侠",
        4 => "都市",
        9 => "科幻",
        10 => "悬疑",
        15 => "现实",
        6 => "军事",
        5 => "历史",
        7 => "游戏",
        8 => "体育",
        20109 => "诸天无限",
        12 => "轻小说",
        20076 => "短篇",
        _ => return None,
    })
}

/// The parsed PC document with its two embedded sources.
struct Pc {
    doc: Html,
    og: HashMap<String, String>,
    json: Option<Value>,
    chan_id: Option<i64>,
}

impl Pc {
    fn new(html: &str) -> Self {
        let doc = Html::parse_document(html);
        let og = og_meta(&doc);
        let json = assigned_literal(html, "g_data.pageJson");
        let chan_id = assigned_literal(html, "g_data.chanId").and_then(|v| v.as_i64());
        Self {
            doc,
            og,
            json,
            chan_id,
        }
    }

    fn og(&self, key: &str) -> Option<String> {
        self.og.get(key).map(|v| collapse(v)).and_then(non_empty)
    }

    fn first(&self, selector: &scraper::Selector) -> Option<ElementRef<'_>> {
        self.doc.select(selector).next()
    }

    fn first_text(&self, selector: &scraper::Selector) -> Option<String> {
        self.first(selector).map(clean_text).and_then(non_empty)
    }

    fn json_text(&self, pointer: &str) -> Option<String> {
        match self.json.as_ref()?.pointer(pointer)? {
            Value::String(s) => non_empty(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn layout(&self) -> BookLayout {
        if self.json.is_some() || self.first(sel!("em#bookName, #j-catalogWrap")).is_some() {
            BookLayout::Legacy
        } else {
            BookLayout::New
        }
    }

    fn book_id(&self) -> Option<String> {
        self.json_text("/bookId")
            .or_else(|| {
                ["og:url", "og:novel:read_url"]
                    .iter()
                    .filter_map(|k| self.og.get(*k))
                    .find_map(|u| numeric_segments(u).last().map(|s| (*s).to_owned()))
            })
            .or_else(|| {
                let img = self.first(sel!("a#bookImg[data-bid], [data-bid]"))?;
                non_empty(img.value().attr("data-bid")?.trim().to_owned())
            })
    }

    fn author_link(&self) -> Option<ElementRef<'_>> {
        self.first(sel!("h1 a.writer, a.writer-name, a.writer"))
    }

    /// `(category, subcategory, extra tags)` from the badge links of either layout.
    fn classification(&self) -> (String, Option<String>, Vec<String>) {
        let links: Vec<String> = self
            .doc
            .select(sel!("div.book-info p.tag a.red, p.book-attribute a"))
            .map(clean_text)
            .filter(|t| !t.is_empty())
            .collect();
        let category = self
            .chan_id
            .and_then(channel_name)
            .map(str::to_owned)
            .or_else(|| links.first().cloned())
            .unwrap_or_default();
        let subcategory = self
            .og("og:novel:category")
            .or_else(|| links.get(1).cloned());
        let extra = links.into_iter().skip(2).collect();
        (category, subcategory, extra)
    }

    fn status(&self) -> BookStatus {
        let label = self.og("og:novel:status").or_else(|| {
            self.doc
                .select(sel!("p.tag span.blue, p.book-attribute span:first-child"))
                .map(clean_text)
                .find(|t| BookStatus::from_label(t) != BookStatus::Unknown)
        });
        label.map_or(BookStatus::Unknown, |l| BookStatus::from_label(&l))
    }

    fn latest_chapter(&self, updated_at: Option<&String>) -> Option<LatestChapter> {
        let link = self.first(sel!(
            "p.charpter-latest a.charpter-link, a.book-latest-chapter"
        ));
        let title = self.og("og:novel:latest_chapter_name").or_else(|| {
            let text = clean_text(link?);
            non_empty(
                text.trim_start_matches("最新章节")
                    .trim_start_matches([':', '：', ' '])
                    .to_owned(),
            )
        })?;
        let url = self
            .og("og:novel:latest_chapter_url")
            .or_else(|| link?.value().attr("href").map(str::to_owned))
            .map(|u| absolutize(&u));
        Some(LatestChapter {
            title,
            url,
            updated_at: updated_at.cloned(),
        })
    }

    fn book(&self) -> Result<Book, ParseError> {
        let book_id = self.book_id().ok_or(ParseError::Missing("book id"))?;
        let title = self
            .og("og:novel:book_name")
            .or_else(|| self.og("og:title"))
            .or_else(|| self.first_text(sel!("em#bookName, h1#bookName")))
            .ok_or(ParseError::Missing("title"))?;
        let author = self
            .json_text("/authorInfo/authorName")
            .or_else(|| self.og("og:novel:author"))
            .or_else(|| self.author_link().map(clean_text).and_then(non_empty))
            .ok_or(ParseError::Missing("author"))?;
        let author_id = self.json_text("/authorInfo/authorId").or_else(|| {
            let href = self.author_link()?.value().attr("href")?;
            numeric_segments(href).last().map(|s| (*s).to_owned())
        });
        let (category, subcategory, mut tags) = self.classification();
        tags.extend(
            self.doc
                .select(sel!("p.all-label a"))
                .map(clean_text)
                .filter(|t| !t.is_empty()),
        );
        let updated_at = self.og("og:novel:update_time").or_else(|| {
            let t = self.first_text(sel!("span.book-update-time, span.update-time"))?;
            non_empty(
                t.trim_start_matches("更新时间")
                    .trim_start_matches([':', '：', ' '])
                    .to_owned(),
            )
        });
        let mut metrics = Metrics::default();
        metrics.read(self);
        Ok(Book {
            book_id,
            title,
            author,
            author_id,
            category,
            subcategory,
            status: self.status(),
            word_count: metrics.word_count,
            word_count_text: metrics.word_count_text,
            total_recommendations: metrics.total,
            weekly_recommendations: metrics.weekly,
            month_tickets: metrics.month,
            intro: self.first_text(sel!("p.intro")).unwrap_or_default(),
            intro_full: self
                .og("og:description")
                .map(|d| lines_of(&d))
                .and_then(non_empty)
                .or_else(|| {
                    let el = self.first(sel!("div.book-intro p, p#book-intro-detail"))?;
                    non_empty(text_with_breaks(el))
                }),
            tags,
            latest_chapter: self.latest_chapter(updated_at.as_ref()),
            chapter_count: self.chapter_count(),
            cover_url: self
                .og("og:image")
                .or_else(|| {
                    self.first(sel!("a#bookImg img"))?
                        .value()
                        .attr("src")
                        .map(str::to_owned)
                })
                .map(|u| absolutize(&u)),
            updated_at,
            obfuscated: metrics.obfuscated,
            layout: self.layout(),
        })
    }

    fn chapter_count(&self) -> Option<i64> {
        if let Some(text) = self.first_text(sel!("#J-catalogCount")) {
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse() {
                return Some(n);
            }
        }
        let n = self
            .doc
            .select(sel!(
                "#j-catalogWrap ul.cf li, #allCatalog ul.volume-chapters li"
            ))
            .count();
        (n > 0).then(|| i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// The counters of the book header and which of them were obfuscated.
#[derive(Default)]
struct Metrics {
    word_count: Option<i64>,
    word_count_text: Option<String>,
    total: Option<i64>,
    weekly: Option<i64>,
    month: Option<i64>,
    obfuscated: Vec<String>,
}

impl Metrics {
    fn hide(&mut self, name: &str) {
        if !self.obfuscated.iter().any(|n| n == name) {
            self.obfuscated.push(name.to_owned());
        }
    }

    /// Reads `<em>446.52</em><cite>万字</cite>` pairs (legacy: the `<p>` after `p.intro`;
    /// new: `p.count`), then the `#recCount` / `#monthCount` counters.
    fn read(&mut self, pc: &Pc) {
        let row = pc.first(sel!("div.book-info p.intro + p, p.count"));
        for em in row.into_iter().flat_map(|r| r.select(sel!("em"))) {
            let Some(unit) = em.next_siblings().find_map(ElementRef::wrap) else {
                continue;
            };
            if unit.value().name() != "cite" {
                continue;
            }
            let unit = clean_text(unit);
            let name = if unit.contains('字') {
                "word_count"
            } else if unit.contains("总推荐") {
                "total_recommendations"
            } else if unit.contains("周推荐") {
                "weekly_recommendations"
            } else {
                continue;
            };
            if is_obfuscated(em) {
                self.hide(name);
                continue;
            }
            let text = format!("{}{unit}", clean_text(em));
            let value = parse_cn_number(&text);
            match name {
                "word_count" => {
                    self.word_count = value;
                    self.word_count_text = value.and(Some(text));
                }
                "total_recommendations" => self.total = value,
                _ => self.weekly = value,
            }
        }
        for (selector, name) in [
            (sel!("#monthCount"), "month_tickets"),
            (sel!("#recCount"), "weekly_recommendations"),
        ] {
            let Some(el) = pc.first(selector) else {
                continue;
            };
            if self.obfuscated.iter().any(|n| n == name) {
                continue;
            }
            if is_obfuscated(el) {
                self.hide(name);
            } else if let Some(v) = parse_cn_number(&clean_text(el)) {
                match name {
                    "month_tickets" => self.month = Some(v),
                    _ if self.weekly.is_none() => self.weekly = Some(v),
                    _ => {}
                }
            }
        }
    }
}
