//! Rank, search and chapter parsers against the fixture pages (`qidian::pages`).

use super::super::model::{BookStatus, ChapterAccess, Pagination};
use super::super::pages::data::{self, BIG_BOOK_ID, SMALL_BOOK_ID};
use super::super::pages::{self, ChapterState};
use super::super::{ParseError, classify_chapter, parse_pagination, parse_rankings, parse_search};

#[test]
fn pc_rank_page_hides_the_obfuscated_metric() {
    let rows = data::rank_page("yuepiao", 2);
    let html = pages::rank_page_html("月票榜", &rows, 2, 5, "月票", "XbWqPzRt");
    let items = parse_rankings(&html).unwrap();
    assert_eq!(items.len(), 20);
    assert_eq!(
        parse_pagination(&html),
        Some(Pagination {
            current: 2,
            last: 5
        })
    );
    for (item, (rank, b, _)) in items.iter().zip(&rows) {
        assert_eq!(item.rank, *rank);
        assert_eq!(item.book_id, b.id);
        assert_eq!(item.title, b.title);
        assert_eq!(item.author, b.author);
        assert_eq!(item.category, b.category);
        assert_eq!(item.subcategory.as_deref(), Some(b.subcategory.as_str()));
        assert_eq!(
            item.status,
            Some(if b.completed {
                BookStatus::Completed
            } else {
                BookStatus::Serialising
            })
        );
        assert_eq!(item.intro.as_deref(), Some(b.intro.as_str()));
        assert_eq!(
            item.latest_chapter.as_ref().map(|c| c.title.as_str()),
            b.latest().map(|c| c.title.as_str())
        );
        assert_eq!(
            (
                item.metric,
                item.metric_text.as_deref(),
                item.metric_obfuscated
            ),
            (None, None, true)
        );
    }
    assert_eq!(items[0].rank, 21);
}

#[test]
fn older_plain_list_markup() {
    let html = r#"<div id="rank-view-list"><div class="book-img-text"><ul><li>
      <div class="book-img-box"><span class="rank-tag no3"><cite></cite></span></div>
      <div class="book-mid-info"><h4><a href="//book.qidian.com/info/1010868264">诡秘之主</a></h4>
      <p class="author"><a class="name" href="//my.qidian.com/author/4362088/">爱潜水的乌贼</a><em>|</em>
      <a href="//www.qidian.com/xuanhuan">玄幻</a><em>|</em><span>连载</span></p></div>
      <div class="book-right-info"><div class="total"><p><span>7,442</span></p><p>月票</p></div></div>
      </li></ul></div></div>"#;
    let items = parse_rankings(html).unwrap();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(
        (item.rank, item.book_id.as_str(), item.title.as_str()),
        (3, BIG_BOOK_ID, "诡秘之主")
    );
    assert_eq!(
        (
            item.author.as_str(),
            item.category.as_str(),
            item.subcategory.as_deref()
        ),
        ("爱潜水的乌贼", "玄幻", None)
    );
    assert_eq!(item.status, Some(BookStatus::Serialising));
    assert_eq!(
        (
            item.metric,
            item.metric_text.as_deref(),
            item.metric_obfuscated
        ),
        (Some(7442), Some("7,442月票"), false)
    );
}

#[test]
fn mobile_rank_page_has_plain_metrics() {
    let rows = data::rank_page("yuepiao", 1);
    let items = parse_rankings(&pages::mobile_rank_page("yuepiao", &rows, 1)).unwrap();
    assert_eq!(items.len(), 20);
    for (item, (rank, b, metric)) in items.iter().zip(&rows) {
        assert_eq!((item.rank, item.book_id.as_str()), (*rank, b.id.as_str()));
        assert_eq!(item.metric, Some(*metric));
        assert_eq!(item.metric_text, Some(metric.to_string()));
        assert!(!item.metric_obfuscated);
        assert_eq!(item.word_count, Some(b.word_count));
        assert_eq!(item.category, b.category);
    }
}

#[test]
fn rank_pages_past_the_end_and_non_rank_pages() {
    let html = pages::rank_page_html("月票榜", &[], 6, 5, "月票", "F");
    assert_eq!(parse_rankings(&html), Ok(vec![]));
    assert_eq!(
        parse_rankings(&pages::waf_page()),
        Err(ParseError::Unrecognised("rank list"))
    );
    assert_eq!(
        parse_rankings(&pages::mobile_rank_page("yuepiao", &[], 9)),
        Ok(vec![])
    );
}

#[test]
fn pc_search_page() {
    let hits = data::search("清晨");
    assert_eq!(hits.len(), 98);
    let page2: Vec<_> = hits.iter().skip(20).take(20).cloned().collect();
    let html = pages::search_page_html("清晨", &page2, 2, hits.len());
    let items = parse_search(&html).unwrap();
    assert_eq!(items.len(), 20);
    for (item, b) in items.iter().zip(&page2) {
        assert_eq!(item.book_id, b.id);
        assert_eq!(item.title, b.title);
        assert_eq!(item.author, b.author);
        assert_eq!(item.word_count, Some(b.word_count));
        assert!(!item.word_count_obfuscated);
        assert!(
            item.cover_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://bookcover.yuewen.com/"))
        );
    }
    assert_eq!(items[0].position, 21);
    let one = data::search("诡秘");
    let items = parse_search(&pages::search_page_html("诡秘", &one, 1, one.len())).unwrap();
    assert_eq!(items.len(), 1);
    // The keyword highlight splits the link text; the title attribute restores it.
    assert_eq!(items[0].title, "诡秘之主");
    assert_eq!(
        items[0]
            .latest_chapter
            .as_ref()
            .and_then(|c| c.updated_at.as_deref()),
        Some("2022-11-25")
    );
    assert_eq!(
        parse_search(&pages::search_page_html("无此书", &[], 1, 0)),
        Ok(vec![])
    );
    assert_eq!(
        parse_search(&pages::waf_page()),
        Err(ParseError::Unrecognised("search result"))
    );
}

#[test]
fn mobile_search_page() {
    let hits = data::search("旅人");
    let items = parse_search(&pages::mobile_search_page("旅人", &hits, 1, hits.len())).unwrap();
    assert_eq!(items.len(), hits.len());
    assert_eq!(items[0].book_id, SMALL_BOOK_ID);
    assert_eq!(items[0].title, "星门旅人");
    assert_eq!(items[0].word_count, Some(125_300));
    assert_eq!(
        items.iter().map(|i| i.position).collect::<Vec<_>>(),
        (1..=hits.len() as i64).collect::<Vec<_>>()
    );
    // A keyword with markup stays inside the JSON string.
    let weird = pages::mobile_search_page("</script><b>", &[], 1, 0);
    assert_eq!(parse_search(&weird), Ok(vec![]));
}

#[test]
fn chapter_states() {
    for id in [BIG_BOOK_ID, SMALL_BOOK_ID] {
        let b = data::book(id).unwrap();
        for c in b.chapters() {
            let html = pages::chapter_page(&b, c.id).unwrap();
            let want = match pages::chapter_state(&b, c.id).unwrap() {
                ChapterState::Free => ChapterAccess::Free,
                ChapterState::Locked => ChapterAccess::Locked,
                ChapterState::Encrypted => ChapterAccess::Encrypted,
            };
            assert_eq!(classify_chapter(&html), Ok(want));
        }
    }
    let small = data::book(SMALL_BOOK_ID).unwrap();
    let states: Vec<ChapterState> = small
        .chapters()
        .map(|c| pages::chapter_state(&small, c.id).unwrap())
        .collect();
    assert_eq!(
        states
            .iter()
            .filter(|s| **s == ChapterState::Encrypted)
            .count(),
        3
    );
    assert_eq!(
        states.iter().filter(|s| **s == ChapterState::Free).count(),
        11
    );
    assert_eq!(
        classify_chapter(&pages::waf_page()),
        Err(ParseError::Unrecognised("chapter"))
    );
    assert_eq!(
        classify_chapter("<p>这是VIP章节</p>"),
        Ok(ChapterAccess::Locked)
    );
}
