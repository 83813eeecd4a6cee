//! The remaining fixture responses: chapter pages in three states (classified only, never
//! collected), the legacy catalog XHR JSON, the WAF challenge page and the 404 page.

use super::data::FixtureBook;
use super::{esc, ssr_page};
use serde_json::{Value, json};

/// The state a chapter page shows (collectors.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChapterState {
    /// `vipStatus 0`.
    Free,
    /// `vipStatus 1, isBuy 0`.
    Locked,
    /// `cES 2` (as a bought, font-encrypted chapter).
    Encrypted,
}

/// The state of chapter `cid` of `b`; `None` if the book has no such chapter.
pub fn chapter_state(b: &FixtureBook, cid: i64) -> Option<ChapterState> {
    let c = b.chapter(cid)?;
    Some(if c.encrypted {
        ChapterState::Encrypted
    } else if c.locked {
        ChapterState::Locked
    } else {
        ChapterState::Free
    })
}

/// A chapter page with `pageData.chapterInfo`. The "body" is placeholder text.
pub fn chapter_page(b: &FixtureBook, cid: i64) -> Option<String> {
    let c = b.chapter(cid)?;
    let state = chapter_state(b, cid)?;
    let (vip, buy, ces, fens, content, class, notice) = match state {
        ChapterState::Free => (
            0,
            0,
            0,
            0,
            "<p>（夹具正文，非原文）雾从河面上升起。</p><p>钟声响了三次。</p>",
            "content",
            "",
        ),
        ChapterState::Locked => (
            1,
            0,
            0,
            0,
            "<p>（夹具试读）雾从河面上升起。</p>",
            "content",
            "<div class=\"vip-limit-wrap\"><p>这是VIP章节，需要订阅后才能阅读</p></div>",
        ),
        ChapterState::Encrypted => (
            1,
            1,
            2,
            1,
            "<p>\u{e3a1}\u{e0f2}\u{e471}</p>",
            "content r-font-encrypt",
            "",
        ),
    };
    let data = json!({
        "bookId": b.id,
        "bookName": b.title,
        "chapterInfo": {
            "chapterId": c.id,
            "chapterName": c.title,
            "authorSay": "",
            "content": content,
            "vipStatus": vip,
            "isBuy": buy,
            "cES": ces,
            "fEnS": fens,
            "eFW": 0,
            "actualWords": c.words,
            "modifyTime": 1_700_000_000_000_i64,
        },
    });
    let body = format!(
        "<div id=\"reader-content\"><h1 class=\"title\">{}</h1><main id=\"c-{}\" class=\"{class}\">{content}</main>{notice}</div>",
        esc(&c.title),
        c.id
    );
    Some(ssr_page(
        &format!("{}_{}_起点中文网", c.title, b.title),
        &body,
        &data,
    ))
}

/// The legacy catalog XHR body: `{"code":0,"msg":"suc","data":{"vs":[…]}}` (collectors.md §1.5).
pub fn catalog_json(b: &FixtureBook) -> Value {
    let vs: Vec<Value> = b
        .volumes
        .iter()
        .map(|v| {
            let cs: Vec<Value> = v
                .chapters
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    json!({ "id": c.id, "cN": c.title, "cU": c.slug, "uT": c.published_at,
                            "cnt": c.words, "sS": if c.locked { 0 } else { 1 }, "uuid": i + 1 })
                })
                .collect();
            json!({ "vId": v.id, "vN": v.name, "vS": if v.vip { 1 } else { 0 }, "cCnt": v.chapters.len(), "cs": cs })
        })
        .collect();
    json!({ "code": 0, "msg": "suc", "data": {
        "vs": vs, "chapterTotalCnt": b.chapter_count(), "hasRead": 0, "loginStatus": 0, "salesMode": 1 } })
}

/// A Tencent-Cloud-WAF-style challenge page (TCaptcha script, `waf_captcha` probe, "请完成验证").
pub fn waf_page() -> String {
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>安全验证</title>\
     <script src=\"https://turing.captcha.qcloud.com/TCaptcha.js\"></script>\
     <script src=\"/waf_captcha/probe.js\"></script></head>\n<body><div class=\"waf-captcha\">\
     <p>当前访问存在风险，请完成验证后继续访问</p><div id=\"captcha-box\"></div></div></body></html>\n"
        .to_owned()
}

/// The site's 404 page.
pub fn not_found_page() -> String {
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>404_起点中文网</title></head>\
     <body><div class=\"error-wrap\"><h3>抱歉，您访问的页面不存在</h3></div></body></html>\n"
        .to_owned()
}
