//! Book and catalog parsers against the fixture pages (`qidian::pages`).

use super::super::model::{BookLayout, BookStatus, Catalog};
use super::super::pages::data::{self, BIG_BOOK_ID, SMALL_BOOK_ID};
use super::super::pages::{self, BookPageOptions};
use super::super::{ParseError, parse_book, parse_catalog_html, parse_catalog_json};

fn plain() -> BookPageOptions {
    BookPageOptions::default()
}

#[test]
fn legacy_page_fields() {
    let b = data::book(BIG_BOOK_ID).unwrap();
    let book = parse_book(&pages::legacy_book_page(&b, &plain())).unwrap();
    assert_eq!(book.layout, BookLayout::Legacy);
    assert_eq!(book.book_id, "1010868264");
    assert_eq!(book.title, "诡秘之主");
    assert_eq!(book.author, "爱潜水的乌贼");
    assert_eq!(book.author_id.as_deref(), Some("4362088"));
    assert_eq!(book.category, "玄幻");
    assert_eq!(book.subcategory.as_deref(), Some("异世大陆"));
    assert_eq!(book.tags, ["轻小说"]);
    assert_eq!(book.status, BookStatus::Completed);
    assert_eq!(book.word_count, Some(4_465_200));
    assert_eq!(book.word_count_text.as_deref(), Some("446.52万字"));
    assert_eq!(book.total_recommendations, Some(34_156_200));
    assert_eq!(book.weekly_recommendations, Some(1195));
    assert_eq!(book.month_tickets, Some(7442));
    assert_eq!(book.intro, b.intro);
    assert_eq!(book.intro_full, Some(b.intro_full.join("\n")));
    assert_eq!(book.chapter_count, Some(1418));
    assert_eq!(book.updated_at.as_deref(), Some("2022-11-25 16:27:26"));
    assert_eq!(
        book.cover_url.as_deref(),
        Some("https://bookcover.yuewen.com/qdbimg/349573/1010868264/180")
    );
    let latest = book.latest_chapter.unwrap();
    let want = b.latest().unwrap();
    assert_eq!(latest.title, want.title);
    assert_eq!(
        latest.url,
        Some(format!(
            "https://www.qidian.com/chapter/1010868264/{}/",
            want.id
        ))
    );
    assert_eq!(latest.updated_at.as_deref(), Some("2022-11-25 16:27:26"));
    assert!(book.obfuscated.is_empty());
}

#[test]
fn new_page_matches_legacy_where_both_show_a_field() {
    let b = data::book(BIG_BOOK_ID).unwrap();
    let legacy = parse_book(&pages::legacy_book_page(&b, &plain())).unwrap();
    let new = parse_book(&pages::new_book_page(&b, &plain())).unwrap();
    assert_eq!(new.layout, BookLayout::New);
    assert_eq!(new.tags, ["西方奇幻", "蒸汽朋克", "克苏鲁"]);
    let mut aligned = new.clone();
    aligned.tags = legacy.tags.clone();
    aligned.layout = BookLayout::Legacy;
    assert_eq!(aligned, legacy);
}

#[test]
fn new_page_falls_back_to_css_without_meta() {
    let b = data::book(SMALL_BOOK_ID).unwrap();
    let html = pages::new_book_page(&b, &plain());
    // Drop every og:* tag: the CSS selectors of §1.4 must carry the page alone.
    let stripped: String = html
        .lines()
        .filter(|l| !l.contains("property=\"og:"))
        .collect::<Vec<_>>()
        .join("\n");
    let book = parse_book(&stripped).unwrap();
    assert_eq!(book.book_id, SMALL_BOOK_ID);
    assert_eq!(book.title, "星门旅人");
    assert_eq!(book.author, "青石");
    assert_eq!(book.author_id.as_deref(), Some("90000007"));
    assert_eq!(
        (book.category.as_str(), book.subcategory.as_deref()),
        ("都市", Some("都市生活"))
    );
    assert_eq!(book.status, BookStatus::Serialising);
    assert_eq!(book.word_count, Some(125_300));
    assert_eq!(book.updated_at.as_deref(), Some("2026-10-30 20:05:11"));
    assert_eq!(
        book.intro_full.as_deref(),
        Some("门开了，他走了进去。\n门后是另一座城。")
    );
    assert_eq!(book.chapter_count, Some(30));
    assert_eq!(
        book.latest_chapter.map(|c| c.title),
        b.latest().map(|c| c.title.clone())
    );
    assert!(
        book.cover_url
            .unwrap()
            .starts_with("https://bookcover.yuewen.com/")
    );
}

#[test]
fn obfuscated_metrics_are_none_and_named() {
    let b = data::book(BIG_BOOK_ID).unwrap();
    let opts = BookPageOptions {
        obfuscate_metrics: true,
        font: "QkUaTvLd".into(),
    };
    for html in [
        pages::legacy_book_page(&b, &opts),
        pages::new_book_page(&b, &opts),
    ] {
        let book = parse_book(&html).unwrap();
        assert_eq!(book.word_count, None);
        assert_eq!(book.word_count_text, None);
        assert_eq!(book.total_recommendations, None);
        assert_eq!(book.weekly_recommendations, None);
        assert_eq!(book.month_tickets, None);
        assert_eq!(
            book.obfuscated,
            [
                "word_count",
                "total_recommendations",
                "weekly_recommendations",
                "month_tickets"
            ]
        );
        assert_eq!(book.title, "诡秘之主");
    }
}

#[test]
fn mobile_page() {
    let b = data::book(BIG_BOOK_ID).unwrap();
    let book = parse_book(&pages::mobile_book_page(&b)).unwrap();
    assert_eq!(book.layout, BookLayout::Mobile);
    assert_eq!(book.book_id, "1010868264");
    assert_eq!(
        (book.title.as_str(), book.author.as_str()),
        ("诡秘之主", "爱潜水的乌贼")
    );
    assert_eq!(
        (book.category.as_str(), book.subcategory.as_deref()),
        ("玄幻", Some("异世大陆"))
    );
    assert_eq!(book.status, BookStatus::Completed);
    assert_eq!(book.word_count, Some(4_465_200));
    assert_eq!(book.word_count_text.as_deref(), Some("446.52万字"));
    assert_eq!(book.total_recommendations, Some(34_156_200));
    assert_eq!(book.chapter_count, Some(1418));
    assert_eq!(book.tags, ["西方奇幻", "蒸汽朋克", "克苏鲁"]);
    assert_eq!(book.updated_at.as_deref(), Some("2022-11-25 16:27:26"));
    assert_eq!(book.intro, b.intro_full[0]);
    assert!(book.obfuscated.is_empty());
}

#[test]
fn non_book_pages_are_errors_not_panics() {
    assert_eq!(
        parse_book(&pages::waf_page()),
        Err(ParseError::Missing("book id"))
    );
    assert_eq!(
        parse_book(&pages::not_found_page()),
        Err(ParseError::Missing("book id"))
    );
    assert_eq!(parse_book(""), Err(ParseError::Missing("book id")));
    let bad = "<script id=\"vite-plugin-ssr_pageContext\">{\"pageContext\":</script>";
    assert!(matches!(parse_book(bad), Err(ParseError::Json(_))));
}

#[test]
fn truncated_pages_never_panic() {
    let b = data::book(SMALL_BOOK_ID).unwrap();
    let pages = [
        pages::legacy_book_page(&b, &plain()),
        pages::new_book_page(&b, &plain()),
        pages::mobile_book_page(&b),
    ];
    for html in &pages {
        for cut in (0..html.len())
            .step_by(97)
            .filter(|c| html.is_char_boundary(*c))
        {
            let part = &html[..cut];
            let _ = parse_book(part);
            let _ = parse_catalog_html(part);
            let _ = parse_catalog_json(part);
        }
    }
}

fn locked_per_volume(c: &Catalog) -> Vec<usize> {
    c.volumes
        .iter()
        .map(|v| v.chapters.iter().filter(|ch| ch.vip).count())
        .collect()
}

#[test]
fn legacy_inline_catalog() {
    let b = data::book(BIG_BOOK_ID).unwrap();
    let c = parse_catalog_html(&pages::legacy_book_page(&b, &plain())).unwrap();
    assert_eq!(c.book_id.as_deref(), Some(BIG_BOOK_ID));
    assert_eq!(c.volumes.len(), 9);
    assert_eq!(c.chapter_count(), 1418);
    let names: Vec<&str> = c.volumes.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "小丑",
            "小丑",
            "无面人",
            "秘偶大师",
            "诡法师",
            "古代学者",
            "隐秘之仆",
            "倒吊人",
            "愚者"
        ]
    );
    assert_eq!(
        c.volumes.iter().map(|v| v.vip).collect::<Vec<_>>(),
        [false, true, true, true, true, true, true, true, true]
    );
    assert_eq!(
        locked_per_volume(&c),
        [0, 84, 269, 250, 214, 204, 116, 87, 41]
    );
    let sizes: Vec<usize> = c.volumes.iter().map(|v| v.chapters.len()).collect();
    assert_eq!(sizes, [130, 85, 270, 252, 216, 205, 118, 88, 54]);
    let first = &c.volumes[0].chapters[0];
    let want = &b.volumes[0].chapters[0];
    assert_eq!(first.chapter_id, "402733549");
    assert_eq!(first.title, want.title);
    assert_eq!(
        first.published_at.as_deref(),
        Some(want.published_at.as_str())
    );
    assert_eq!(first.word_count, Some(want.words));
    assert_eq!(
        first.url.as_deref(),
        Some("https://www.qidian.com/chapter/1010868264/402733549/")
    );
    assert_eq!(
        c.volumes.iter().map(|v| v.index).collect::<Vec<_>>(),
        (0..9).collect::<Vec<_>>()
    );
}

#[test]
fn new_layout_catalogs_equal_the_legacy_one() {
    let b = data::book(BIG_BOOK_ID).unwrap();
    let legacy = parse_catalog_html(&pages::legacy_book_page(&b, &plain())).unwrap();
    assert_eq!(
        parse_catalog_html(&pages::new_book_page(&b, &plain())).unwrap(),
        legacy
    );
    assert_eq!(
        parse_catalog_html(&pages::catalog_page(&b)).unwrap(),
        legacy
    );
    assert_eq!(
        parse_catalog_html(&pages::waf_page()),
        Err(ParseError::Unrecognised("catalog"))
    );
}

#[test]
fn catalog_json_matches_the_html_catalog() {
    let b = data::book(BIG_BOOK_ID).unwrap();
    let html = parse_catalog_html(&pages::legacy_book_page(&b, &plain())).unwrap();
    let json = parse_catalog_json(&pages::catalog_json(&b).to_string()).unwrap();
    assert_eq!(json.book_id, None);
    assert_eq!(json.volumes.len(), html.volumes.len());
    for (j, h) in json.chapters().zip(html.chapters()) {
        assert_eq!(
            (&j.chapter_id, &j.title, j.vip, j.word_count),
            (&h.chapter_id, &h.title, h.vip, h.word_count)
        );
        assert_eq!(j.published_at, h.published_at);
        assert!(
            j.url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://read.qidian.com/chapter/"))
        );
    }
    assert_eq!(locked_per_volume(&json), locked_per_volume(&html));
}

#[test]
fn catalog_json_errors() {
    let e = parse_catalog_json(r#"{"code":1006,"msg":"未定义异常"}"#);
    assert_eq!(
        e,
        Err(ParseError::Api {
            code: 1006,
            msg: "未定义异常".into()
        })
    );
    assert!(matches!(
        parse_catalog_json("<html>"),
        Err(ParseError::Json(_))
    ));
    assert_eq!(
        parse_catalog_json(r#"{"code":0,"data":{}}"#),
        Err(ParseError::Missing("data.vs"))
    );
    let ok = parse_catalog_json(r#"{"code":"0","data":{"vs":[{"vN":"a","vS":1,"cs":[{"id":"9","cN":"x","sS":0,"cnt":"12"}]}]}}"#).unwrap();
    assert!(ok.volumes[0].vip && ok.volumes[0].chapters[0].vip);
    assert_eq!(ok.volumes[0].chapters[0].word_count, Some(12));
}

/// Parses the big catalog a few times; selectors are compiled once (`LazyLock`). Run with
/// `--release --nocapture` and a timer by hand to check the >50 pages/s budget; no timed
/// assertion here (shared CI cores).
#[test]
fn big_catalog_parses_repeatedly() {
    let b = data::book(BIG_BOOK_ID).unwrap();
    let html = pages::legacy_book_page(&b, &plain());
    for _ in 0..3 {
        assert_eq!(parse_catalog_html(&html).unwrap().chapter_count(), 1418);
    }
}
