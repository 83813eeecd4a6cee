//! Mobile pages (`m.qidian.com`, served under `/m` by the fixture): small SSR markup plus the
//! `vite-plugin-ssr_pageContext` JSON the parsers read (collectors.md §1.7, §1.8, §1.9).
//! Mobile numbers are plain, never font-obfuscated.

use super::data::{FixtureBook, wan};
use super::{esc, ssr_page};
use serde_json::{Value, json};

fn record(b: &FixtureBook) -> Value {
    json!({
        "bid": b.id.parse::<i64>().unwrap_or_default(),
        "bName": b.title,
        "bAuth": b.author,
        "cat": b.category,
        "catId": b.chan_id,
        "subCat": b.subcategory,
        "cnt": wan(b.word_count),
        "state": if b.completed { "完本" } else { "连载" },
        "desc": b.intro,
    })
}

/// The mobile book page: `pageData.bookInfo` (numbers plain, `clickTotal = -1` hidden),
/// `bookExtra.ugcTagInfos`, `cTCnt`, `monthTicketInfo`, `chapterContentInfo`.
pub fn mobile_book_page(b: &FixtureBook) -> String {
    let latest = b.latest();
    let first = b.chapters().next();
    let data = json!({
        "bookInfo": {
            "bookId": b.id.parse::<i64>().unwrap_or_default(),
            "bookName": b.title,
            "authorName": b.author,
            "authorId": b.author_id,
            "desc": b.intro_full.join("\n"),
            "bookStatus": if b.completed { "完本" } else { "连载" },
            "showWordsCnt": wan(b.word_count),
            "wordsCnt": b.word_count,
            "chanName": b.category,
            "chanId": b.chan_id,
            "subCateName": b.subcategory,
            "updChapterName": latest.map(|c| c.title.clone()),
            "updChapterId": latest.map(|c| c.id),
            "updTime": b.updated_at(),
            "collect": b.total_recs / 3,
            "recomAll": b.total_recs,
            "clickTotal": -1,
            "isSign": 1,
            "isVip": 1,
            "signStatus": "签约",
            "rateInfo": { "rate": 9.1, "userCount": 1024 },
        },
        "bookExtra": { "ugcTagInfos": b.tags.iter().map(|t| json!({ "TagName": t })).collect::<Vec<_>>() },
        "cTCnt": b.chapter_count(),
        "monthTicketInfo": { "rank": 52 },
        "seoBookCirclePost": { "bookCirclePostCount": 3120 },
        "chapterContentInfo": { "firstChapterT": first.map(|c| c.title.clone()), "firstChapterC": "<p>（夹具试读内容）</p>" },
    });
    let body = format!(
        "<div class=\"detail\"><h1 class=\"detail__header-detail__title\">{}</h1><p>{}</p></div>",
        esc(&b.title),
        esc(&b.author)
    );
    ssr_page(
        &format!("{}_{}_起点中文网", b.title, b.author),
        &body,
        &data,
    )
}

/// A mobile rank page: `pageData.records[]` with `rankNum`, `rankCnt` (plain), and `filters`.
pub fn mobile_rank_page(rank_type: &str, rows: &[(i64, FixtureBook, i64)], page: usize) -> String {
    let records: Vec<Value> = rows
        .iter()
        .map(|(rank, b, metric)| {
            let mut r = record(b);
            r["rankNum"] = json!(rank);
            r["rankCnt"] = json!(metric.to_string());
            r
        })
        .collect();
    let data = json!({
        "rankType": rank_type,
        "pageNum": page,
        "isLast": rows.len() < 20,
        "records": records,
        "filters": [{ "key": "catId", "items": [{ "value": "-1", "text": "全部" }, { "value": "21", "text": "玄幻" }] }],
    });
    ssr_page(
        "排行榜_起点中文网",
        "<div class=\"rank-list\"></div>",
        &data,
    )
}

/// A mobile search page: `pageData.bookInfo.records[]`.
pub fn mobile_search_page(kw: &str, hits: &[FixtureBook], page: usize, total: usize) -> String {
    let data = json!({
        "keyword": kw,
        "bookInfo": { "total": total, "pageNum": page, "isLast": page * 20 >= total, "records": hits.iter().map(record).collect::<Vec<_>>() },
    });
    ssr_page(
        &format!("{kw}_搜索_起点中文网"),
        "<div class=\"search-list\"></div>",
        &data,
    )
}
