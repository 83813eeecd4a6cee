//! Parser tests on hand-written payloads shaped like `collectors.md` §2.3.

use serde_json::json;

use super::{parse_comments, parse_note, parse_search, parse_user_notes};

#[test]
fn search_skips_queries_and_keeps_raw_counts() {
    let data = json!({
        "has_more": true,
        "items": [
            {"id": "6630e1f5000000001e03b0a9", "model_type": "note", "xsec_token": "ABx=",
             "note_card": {"type": "video", "display_title": "露营",
                "user": {"user_id": "5f0e1c2d000000000101d84b", "nick_name": "薯队长"},
                "interact_info": {"liked": false, "liked_count": "1w+"},
                "cover": {"url_pre": "", "info_list": [
                    {"image_scene": "WB_PRV", "url": "https://img/prv"},
                    {"image_scene": "WB_DFT", "url": "https://img/dft"}]}}},
            {"id": "q1", "model_type": "rec_query", "rec_query": {"queries": []}},
            {"id": "q2", "model_type": "hot_query"},
            {"id": "6630e1f5000000001e03b0aa", "model_type": "note", "xsec_token": "ABy=",
             "note_card": {"type": "normal",
                "user": {"user_id": "u2", "nickname": "B"},
                "interact_info": {"liked_count": "9.7万"},
                "cover": {"url_default": "https://img/c2"}}},
            {"model_type": "note", "note_card": {}}
        ]
    });
    let page = parse_search(&data);
    assert!(page.has_more);
    assert_eq!(page.cursor, None);
    assert_eq!(page.items.len(), 2);
    let first = &page.items[0];
    assert_eq!(first.note_id, "6630e1f5000000001e03b0a9");
    assert_eq!(first.xsec_token, "ABx=");
    assert_eq!(first.note_type, "video");
    assert_eq!(first.title.as_deref(), Some("露营"));
    assert_eq!(first.author.nickname, "薯队长");
    assert_eq!(first.liked_count, Some(10_000));
    assert_eq!(first.liked_count_raw.as_deref(), Some("1w+"));
    assert_eq!(first.cover_url.as_deref(), Some("https://img/dft"));
    let second = &page.items[1];
    assert_eq!(second.title, None);
    assert_eq!(second.liked_count, Some(97_000));
    assert_eq!(second.cover_url.as_deref(), Some("https://img/c2"));
}

#[test]
fn note_detail_from_feed() {
    let data = json!({"cursor_score": "", "current_time": 1, "items": [{"id": "n1", "model_type": "note",
    "note_card": {
        "note_id": "6630e1f5000000001e03b0a9", "type": "video", "title": "", "desc": "好玩 #露营[话题]#",
        "time": 1714479605000_i64, "last_update_time": "1714479606000",
        "user": {"user_id": "5f0e1c2d000000000101d84b", "nickname": "薯队长", "avatar": "https://a"},
        "interact_info": {"liked_count": "3703", "collected_count": "10+", "comment_count": "44", "share_count": 7},
        "image_list": [{"url_default": "https://i/1", "info_list": []},
                       {"info_list": [{"image_scene": "WB_DFT", "url": "https://i/2"}]}],
        "tag_list": [{"id": "t1", "name": "露营", "type": "topic"}],
        "video": {"consumer": {"origin_video_key": "pre_post/abc"}}
    }}]});
    let note = parse_note(&data).unwrap();
    assert_eq!(note.note_id, "6630e1f5000000001e03b0a9");
    assert_eq!(note.title, "");
    assert_eq!(note.time_ms, Some(1_714_479_605_000));
    assert_eq!(note.last_update_time_ms, Some(1_714_479_606_000));
    assert_eq!(note.ip_location, None);
    assert_eq!(note.liked_count, Some(3703));
    assert_eq!(note.collected_count, Some(10));
    assert_eq!(note.collected_count_raw.as_deref(), Some("10+"));
    assert_eq!(note.share_count, Some(7));
    assert_eq!(note.share_count_raw.as_deref(), Some("7"));
    assert_eq!(note.tags, vec!["露营".to_owned()]);
    assert_eq!(
        note.image_urls,
        vec!["https://i/1".to_owned(), "https://i/2".to_owned()]
    );
    assert_eq!(
        note.video_url.as_deref(),
        Some("https://sns-video-bd.xhscdn.com/pre_post/abc")
    );
    assert_eq!(parse_note(&json!({"items": []})), None);
    assert_eq!(parse_note(&json!(null)), None);
}

#[test]
fn comments_flatten_inline_replies() {
    let data = json!({"cursor": "c2", "has_more": true, "comments": [
        {"id": "c1", "note_id": "n", "content": "好", "create_time": 1700000000000_i64,
         "ip_location": "上海", "like_count": "1w+", "sub_comment_count": "5",
         "user_info": {"user_id": "u1", "nickname": "A", "image": "https://a"},
         "sub_comment_cursor": "s2", "sub_comment_has_more": true,
         "sub_comments": [
            {"id": "s1", "note_id": "n", "content": "同意", "like_count": "0",
             "user_info": {"user_id": "u2", "nickname": "B"},
             "target_comment": {"id": "c1", "user_info": {"user_id": "u1"}}},
            {"id": "s2", "note_id": "n", "content": "无目标", "like_count": "2",
             "user_info": {"user_id": "u3", "nickname": "C"}}]},
        {"id": "c2", "note_id": "n", "content": "嗯", "like_count": "3", "sub_comment_count": "0",
         "user_info": {"user_id": "u4", "nickname": "D"}, "sub_comments": []}
    ]});
    let page = parse_comments(&data);
    assert_eq!(page.cursor.as_deref(), Some("c2"));
    assert!(page.has_more);
    let ids: Vec<_> = page.items.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["c1", "s1", "s2", "c2"]);
    assert_eq!(page.items[0].parent_comment_id, None);
    assert_eq!(page.items[0].like_count, Some(10_000));
    assert_eq!(page.items[0].sub_comment_count, Some(5));
    assert_eq!(page.items[0].ip_location.as_deref(), Some("上海"));
    assert_eq!(page.items[1].parent_comment_id.as_deref(), Some("c1"));
    assert_eq!(page.items[2].parent_comment_id.as_deref(), Some("c1"));
    assert_eq!(page.items[3].ip_location, None);
    let empty = parse_comments(&json!({"cursor": "", "has_more": false, "comments": []}));
    assert_eq!(empty.cursor, None);
    assert!(!empty.has_more && empty.items.is_empty());
}

#[test]
fn user_notes() {
    let data = json!({"cursor": "n2", "has_more": false, "notes": [
        {"note_id": "n1", "display_title": "一", "type": "normal", "xsec_token": "t1",
         "interact_info": {"liked": false, "liked_count": "44"}},
        {"note_id": "n2", "type": "video", "xsec_token": "t2", "interact_info": {}}
    ]});
    let page = parse_user_notes(&data);
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].liked_count, Some(44));
    assert_eq!(page.items[1].title, None);
    assert_eq!(page.items[1].liked_count_raw, None);
    assert_eq!(page.cursor.as_deref(), Some("n2"));
    assert!(!page.has_more);
}

#[test]
fn garbage_gives_empty_pages() {
    for data in [
        json!(null),
        json!([]),
        json!({"items": 3}),
        json!({"comments": "x"}),
    ] {
        assert!(parse_search(&data).items.is_empty());
        assert!(parse_comments(&data).items.is_empty());
        assert!(parse_user_notes(&data).items.is_empty());
        assert_eq!(parse_note(&data), None);
    }
}
