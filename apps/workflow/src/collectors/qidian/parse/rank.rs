//! Rank and list pages: PC `#book-img-text` lists (and the two older containers) and the
//! mobile `pageData.records` JSON (collectors.md §1.7).
//!
//! PC metrics are drawn with a per-response anti-spider font; they are detected and stored
//! as `None` with `metric_obfuscated = true`, never decoded. Mobile metrics are plain.

use super::super::error::ParseError;
use super::super::model::{BookStatus, LatestChapter, Pagination, RankItem};
use super::super::text::{
    absolutize, clean_text, is_obfuscated, json_i64, json_text, non_empty, numeric_segments,
    page_data, parse_cn_number, sel,
};
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

/// Books per PC list page (collectors.md §1.1).
pub const PAGE_SIZE: i64 = 20;

/// Parses a PC rank/list page or a mobile rank page into rows, in page order.
///
/// Errors: [`ParseError::Unrecognised`] when the page has no list container and no mobile
/// `records` (a WAF page); [`ParseError::Json`] for malformed mobile JSON. A list without
/// rows (past the last page) is `Ok(vec![])`. Rows without a book id are skipped.
pub fn parse_rankings(html: &str) -> Result<Vec<RankItem>, ParseError> {
    if let Some(data) = page_data(html) {
        let data = data.map_err(ParseError::Json)?;
        if let Some(records) = data.get("records").and_then(Value::as_array) {
            return Ok(records
                .iter()
                .enumerate()
                .filter_map(|(i, r)| mobile_item(r, i))
                .collect());
        }
    }
    let doc = Html::parse_document(html);
    let lists: [&Selector; 3] = [
        sel!("#book-img-text ul li[data-rid]"),
        sel!("div.book-img-text ul li"),
        sel!("#rank-view-list li"),
    ];
    let rows: Vec<ElementRef<'_>> = lists
        .iter()
        .map(|s| doc.select(s).collect::<Vec<_>>())
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    if rows.is_empty()
        && doc
            .select(sel!("#book-img-text, div.book-img-text, #rank-view-list"))
            .next()
            .is_none()
    {
        return Err(ParseError::Unrecognised("rank list"));
    }
    let offset =
        pagination_of(&doc).map_or(0, |p| i64::from(p.current.saturating_sub(1)) * PAGE_SIZE);
    Ok(rows
        .into_iter()
        .enumerate()
        .filter_map(|(i, li)| pc_item(li, offset + i as i64 + 1))
        .collect())
}

/// Reads the `.lbf-pagination` block of a PC list page; `None` when the page has none.
pub fn parse_pagination(html: &str) -> Option<Pagination> {
    pagination_of(&Html::parse_document(html))
}

/// [`parse_pagination`] on an already parsed document.
pub(super) fn pagination_of(doc: &Html) -> Option<Pagination> {
    let number = |el: ElementRef<'_>| -> Option<u32> {
        el.value()
            .attr("data-page")
            .and_then(|p| p.trim().parse().ok())
            .or_else(|| clean_text(el).parse().ok())
    };
    let current = doc
        .select(sel!(".lbf-pagination-current"))
        .next()
        .and_then(number)?;
    let last = doc
        .select(sel!(".lbf-pagination-item-list a[data-page]"))
        .filter_map(number)
        .max()
        .unwrap_or(current)
        .max(current);
    Some(Pagination { current, last })
}

/// The fields list rows share on rank, library and search pages (collectors.md §1.7–§1.8).
pub(super) struct Row {
    pub book_id: String,
    pub title: String,
    pub author: String,
    pub category: String,
    pub subcategory: Option<String>,
    pub status: Option<BookStatus>,
    pub intro: Option<String>,
    pub latest_chapter: Option<LatestChapter>,
}

/// Reads a PC list row; `None` without a book id or title.
pub(super) fn pc_row(li: ElementRef<'_>) -> Option<Row> {
    let link = li
        .select(sel!(
            "div.book-mid-info h2 a, div.book-mid-info h4 a, h3.book-info-title a"
        ))
        .next()?;
    let book_id = [li.value().attr("data-bid"), link.value().attr("data-bid")]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|b| !b.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            numeric_segments(link.value().attr("href")?)
                .last()
                .map(|s| (*s).to_owned())
        })?;
    let title = non_empty(clean_text(link))?;
    let text = |s: &Selector| li.select(s).next().map(clean_text).and_then(non_empty);
    let latest_chapter = li.select(sel!("p.update a")).next().map(|a| LatestChapter {
        title: clean_text(a)
            .trim_start_matches("最新更新")
            .trim()
            .to_owned(),
        url: a.value().attr("href").map(absolutize),
        updated_at: text(sel!("p.update span")),
    });
    Some(Row {
        book_id,
        title,
        author: text(sel!("p.author a.name, p.author i")).unwrap_or_default(),
        category: li
            .select(sel!("p.author a"))
            .find(|a| {
                !a.value()
                    .classes()
                    .any(|c| c == "name" || c == "go-sub-type")
            })
            .map(clean_text)
            .unwrap_or_default(),
        subcategory: text(sel!("p.author a.go-sub-type")),
        status: text(sel!("p.author span")).map(|s| BookStatus::from_label(&s)),
        intro: text(sel!("p.intro")),
        latest_chapter,
    })
}

/// A displayed count: `(value, text, obfuscated)` from a `<span>` that may carry an
/// anti-spider font. Obfuscated counts give `(None, None, true)`.
pub(super) fn count(
    span: Option<ElementRef<'_>>,
    unit: &str,
) -> (Option<i64>, Option<String>, bool) {
    let Some(span) = span else {
        return (None, None, false);
    };
    if is_obfuscated(span) {
        return (None, None, true);
    }
    let text = clean_text(span);
    let value = parse_cn_number(&text);
    (value, value.map(|_| format!("{text}{unit}")), false)
}

fn pc_item(li: ElementRef<'_>, fallback_rank: i64) -> Option<RankItem> {
    let row = pc_row(li)?;
    let rank = li
        .select(sel!("span.rank-tag"))
        .next()
        .and_then(|tag| {
            parse_cn_number(&clean_text(tag)).or_else(|| {
                tag.value()
                    .classes()
                    .find_map(|c| c.strip_prefix("no")?.parse().ok())
            })
        })
        .unwrap_or(fallback_rank);
    let total = li.select(sel!("div.book-right-info div.total")).next();
    let span = total.and_then(|t| t.select(sel!("p span")).next());
    let unit = total
        .and_then(|t| {
            t.select(sel!("p"))
                .filter(|p| p.select(sel!("span")).next().is_none())
                .map(clean_text)
                .next()
        })
        .unwrap_or_default();
    let (metric, metric_text, metric_obfuscated) = count(span, &unit);
    Some(RankItem {
        rank,
        book_id: row.book_id,
        title: row.title,
        author: row.author,
        category: row.category,
        subcategory: row.subcategory,
        status: row.status,
        intro: row.intro,
        latest_chapter: row.latest_chapter,
        word_count: None,
        metric,
        metric_text,
        metric_obfuscated,
    })
}

fn mobile_item(r: &Value, index: usize) -> Option<RankItem> {
    Some(RankItem {
        rank: json_i64(r, "rankNum").unwrap_or(index as i64 + 1),
        book_id: json_text(r, "bid")?,
        title: json_text(r, "bName").unwrap_or_default(),
        author: json_text(r, "bAuth").unwrap_or_default(),
        category: json_text(r, "cat").unwrap_or_default(),
        subcategory: json_text(r, "subCat"),
        status: json_text(r, "state").map(|s| BookStatus::from_label(&s)),
        intro: json_text(r, "desc"),
        latest_chapter: json_text(r, "updChapterName").map(|title| LatestChapter {
            title,
            url: None,
            updated_at: json_text(r, "updTime"),
        }),
        word_count: json_i64(r, "cnt"),
        metric: json_i64(r, "rankCnt"),
        metric_text: json_text(r, "rankCnt"),
        metric_obfuscated: false,
    })
}
