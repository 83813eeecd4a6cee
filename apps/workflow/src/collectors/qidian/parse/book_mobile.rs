//! The mobile book page (`m.qidian.com/book/{id}/`): `pageData.bookInfo` and friends
//! (collectors.md §1.9). Mobile numbers are plain, never font-obfuscated; `clickTotal = -1`
//! means hidden.

use super::super::error::ParseError;
use super::super::model::{Book, BookLayout, BookStatus, LatestChapter};
use super::super::text::{json_i64, json_text, lines_of, non_empty, parse_cn_number};
use super::super::urls;
use serde_json::Value;

/// Builds a [`Book`] from a mobile `pageData` object.
pub(crate) fn from_page_data(data: &Value) -> Result<Book, ParseError> {
    let info = data
        .get("bookInfo")
        .ok_or(ParseError::Missing("pageData.bookInfo"))?;
    let book_id = json_text(info, "bookId")
        .or_else(|| json_text(info, "bid"))
        .ok_or(ParseError::Missing("book id"))?;
    let title = json_text(info, "bookName")
        .or_else(|| json_text(info, "bName"))
        .ok_or(ParseError::Missing("title"))?;
    let author = json_text(info, "authorName")
        .or_else(|| json_text(info, "bAuth"))
        .ok_or(ParseError::Missing("author"))?;
    let word_count_text = json_text(info, "showWordsCnt").map(|t| {
        if t.ends_with('字') {
            t
        } else {
            format!("{t}字")
        }
    });
    let word_count = json_i64(info, "wordsCnt")
        .filter(|n| *n >= 0)
        .or_else(|| word_count_text.as_deref().and_then(parse_cn_number));
    let desc = json_text(info, "desc").map(|d| lines_of(&d));
    let updated_at = info.get("updTime").and_then(time_text);
    let latest_chapter = json_text(info, "updChapterName").map(|title| LatestChapter {
        title,
        url: None,
        updated_at: updated_at.clone(),
    });
    let tags = data
        .pointer("/bookExtra/ugcTagInfos")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|t| json_text(t, "TagName"))
                .collect()
        })
        .unwrap_or_default();
    Ok(Book {
        cover_url: urls::cover_url(&book_id).ok(),
        book_id,
        title,
        author,
        author_id: json_text(info, "authorId"),
        category: json_text(info, "chanName").unwrap_or_default(),
        subcategory: json_text(info, "subCateName"),
        status: json_text(info, "bookStatus")
            .map_or(BookStatus::Unknown, |s| BookStatus::from_label(&s)),
        word_count_text: word_count.and(word_count_text),
        word_count,
        total_recommendations: json_i64(info, "recomAll").filter(|n| *n >= 0),
        weekly_recommendations: None,
        month_tickets: json_i64(info, "monthTicket").filter(|n| *n >= 0),
        intro: desc
            .as_deref()
            .and_then(|d| d.lines().next())
            .unwrap_or_default()
            .to_owned(),
        intro_full: desc.and_then(non_empty),
        tags,
        latest_chapter,
        chapter_count: json_i64(data, "cTCnt"),
        updated_at,
        obfuscated: Vec::new(),
        layout: BookLayout::Mobile,
    })
}

/// `updTime` as text: strings as written; epoch milliseconds (or seconds) formatted in
/// Beijing time like the PC pages (`"2022-11-25 16:27:26"`).
fn time_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => non_empty(s.trim().to_owned()),
        Value::Number(n) => {
            let raw = n.as_i64()?;
            let ms = if raw > 100_000_000_000 {
                raw
            } else {
                raw.checked_mul(1000)?
            };
            let beijing = chrono::FixedOffset::east_opt(8 * 3600)?;
            let at = chrono::DateTime::from_timestamp_millis(ms)?.with_timezone(&beijing);
            Some(at.format("%Y-%m-%d %H:%M:%S").to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn epoch_times_are_beijing_time() {
        assert_eq!(
            time_text(&json!(1_669_364_846_000_i64)).as_deref(),
            Some("2022-11-25 16:27:26")
        );
        assert_eq!(
            time_text(&json!(1_669_364_846_i64)).as_deref(),
            Some("2022-11-25 16:27:26")
        );
        assert_eq!(
            time_text(&json!("2022-11-25")).as_deref(),
            Some("2022-11-25")
        );
    }

    #[test]
    fn minimal_page_data() {
        let data = json!({"bookInfo": {"bookId": 7, "bName": "书", "authorName": "作者",
            "showWordsCnt": "1.5万", "clickTotal": -1, "bookStatus": "连载中"}, "cTCnt": 12});
        let book = from_page_data(&data).unwrap();
        assert_eq!(book.book_id, "7");
        assert_eq!(book.word_count, Some(15_000));
        assert_eq!(book.word_count_text.as_deref(), Some("1.5万字"));
        assert_eq!(book.status, BookStatus::Serialising);
        assert_eq!(book.chapter_count, Some(12));
        assert_eq!(
            from_page_data(&json!({"bookInfo": {}})),
            Err(ParseError::Missing("book id"))
        );
    }
}
