//! Search results: PC `so/{kw}.html` (`#result-list li.res-book-item[data-bid]`) and mobile
//! `pageData.bookInfo.records` (collectors.md §1.8).

use super::super::error::ParseError;
use super::super::model::{BookStatus, SearchItem};
use super::super::text::{absolutize, json_i64, json_text, page_data, sel};
use super::super::urls;
use super::rank::{PAGE_SIZE, count, pagination_of, pc_row};
use scraper::Html;
use serde_json::Value;

/// Parses a PC or mobile search result page, in page order.
///
/// Errors: [`ParseError::Unrecognised`] when the page has neither `#result-list` nor mobile
/// `bookInfo.records` (a WAF page). "No results" pages give `Ok(vec![])`.
pub fn parse_search(html: &str) -> Result<Vec<SearchItem>, ParseError> {
    if let Some(data) = page_data(html) {
        let data = data.map_err(ParseError::Json)?;
        if let Some(records) = data.pointer("/bookInfo/records").and_then(Value::as_array) {
            let offset = (json_i64(&data["bookInfo"], "pageNum").unwrap_or(1).max(1) - 1)
                .saturating_mul(PAGE_SIZE);
            return Ok(records
                .iter()
                .enumerate()
                .filter_map(|(i, r)| mobile_item(r, offset + i as i64 + 1))
                .collect());
        }
    }
    let doc = Html::parse_document(html);
    if doc
        .select(sel!("#result-list, div.no-result"))
        .next()
        .is_none()
    {
        return Err(ParseError::Unrecognised("search result"));
    }
    let offset =
        pagination_of(&doc).map_or(0, |p| i64::from(p.current.saturating_sub(1)) * PAGE_SIZE);
    let items = doc
        .select(sel!("#result-list li.res-book-item[data-bid]"))
        .filter_map(pc_row_item)
        .enumerate()
        .map(|(i, mut item)| {
            item.position = offset + i as i64 + 1;
            item
        })
        .collect();
    Ok(items)
}

fn pc_row_item(li: scraper::ElementRef<'_>) -> Option<SearchItem> {
    let row = pc_row(li)?;
    let words = li
        .select(sel!("div.book-right-info div.total p:first-child span"))
        .next();
    let (word_count, word_count_text, word_count_obfuscated) = count(words, "");
    let cover_url = li
        .select(sel!("div.book-img-box img"))
        .next()
        .and_then(|img| img.value().attr("src"))
        .map(absolutize);
    // A link title reads "{书名}在线阅读"; the link text may be split by keyword highlights.
    let title = li
        .select(sel!("h3.book-info-title a[title]"))
        .next()
        .and_then(|a| a.value().attr("title"))
        .map(|t| t.trim().trim_end_matches("在线阅读").trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or(row.title);
    Some(SearchItem {
        position: 0,
        book_id: row.book_id,
        title,
        author: row.author,
        category: row.category,
        subcategory: row.subcategory,
        status: row.status,
        intro: row.intro,
        cover_url,
        latest_chapter: row.latest_chapter,
        word_count,
        word_count_text,
        word_count_obfuscated,
    })
}

fn mobile_item(r: &Value, position: i64) -> Option<SearchItem> {
    let book_id = json_text(r, "bid")?;
    let cnt = json_text(r, "cnt");
    Some(SearchItem {
        position,
        cover_url: urls::cover_url(&book_id).ok(),
        book_id,
        title: json_text(r, "bName").unwrap_or_default(),
        author: json_text(r, "bAuth").unwrap_or_default(),
        category: json_text(r, "cat").unwrap_or_default(),
        subcategory: json_text(r, "subCat"),
        status: json_text(r, "state").map(|s| BookStatus::from_label(&s)),
        intro: json_text(r, "desc"),
        latest_chapter: None,
        word_count: json_i64(r, "cnt"),
        word_count_text: cnt,
        word_count_obfuscated: false,
    })
}
