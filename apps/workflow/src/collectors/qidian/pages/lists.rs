//! PC list pages: rank pages (`#book-img-text`, metric behind an anti-spider font) and search
//! results (`#result-list li.res-book-item`), collectors.md §1.7–§1.8.

use super::data::{FixtureBook, wan};
use super::{esc, obfuscated_number};
use std::fmt::Write;

fn pagination(current: usize, last: usize) -> String {
    let mut out =
        String::from("<div class=\"lbf-pagination\"><ul class=\"lbf-pagination-item-list\">");
    for p in 1..=last.max(1) {
        let class = if p == current {
            "lbf-pagination-page lbf-pagination-current"
        } else {
            "lbf-pagination-page"
        };
        let _ = write!(
            out,
            "<li class=\"lbf-pagination-item\"><a href=\"javascript:;\" class=\"{class}\" data-page=\"{p}\">{p}</a></li>"
        );
    }
    out.push_str("</ul></div>");
    out
}

/// The `p.author` line of a list row: avatar, `a.name`, category, `a.go-sub-type`, status.
fn author_line(b: &FixtureBook) -> String {
    format!(
        "<p class=\"author\"><img src=\"//facepic.qidian.com/qd_face/349573/{aid}/0\" class=\"avatar\"><a class=\"name\" href=\"//my.qidian.com/author/{aid}/\" target=\"_blank\">{a}</a><em>|</em>\
         <a href=\"//www.qidian.com/{slug}/\" target=\"_blank\" data-eid=\"qd_C42\">{cat}</a><i>·</i><a class=\"go-sub-type\" data-typeid=\"{chan}\" data-subtypeid=\"{sid}\" href=\"javascript:\">{sub}</a><em>|</em><span>{st}</span></p>",
        aid = b.author_id,
        a = esc(&b.author),
        slug = b.category_slug,
        cat = esc(&b.category),
        chan = b.chan_id,
        sid = b.sub_cate_id,
        sub = esc(&b.subcategory),
        st = if b.completed { "完本" } else { "连载" },
    )
}

fn update_line(b: &FixtureBook, date_only: bool) -> String {
    let Some(c) = b.latest() else {
        return String::new();
    };
    let when = if date_only {
        c.published_at.get(..10).unwrap_or_default()
    } else {
        c.published_at.get(..16).unwrap_or_default()
    };
    format!(
        "<p class=\"update\"><a href=\"//www.qidian.com/chapter/{}/{}/\" target=\"_blank\">最新更新 {}</a><em>·</em><span>{when}</span></p>",
        b.id,
        c.id,
        esc(&c.title)
    )
}

/// One rank page: `rows` of `(rank, book, metric)`, `unit` after the metric (`月票`), the
/// metric drawn with `font` (a fresh name per response on the server), pagination 1..=`last`.
pub fn rank_page_html(
    title: &str,
    rows: &[(i64, FixtureBook, i64)],
    page: usize,
    last: usize,
    unit: &str,
    font: &str,
) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\"><title>{}_起点中文网</title>\
         <script src=\"//turing.captcha.qcloud.com/TCaptcha.js\"></script></head>\n<body>\n<div class=\"rank-body\">\n\
         <div class=\"main-content-wrap\"><div class=\"book-img-text\" id=\"book-img-text\"><ul>\n",
        esc(title)
    );
    for (i, (rank, b, metric)) in rows.iter().enumerate() {
        let _ = writeln!(
            out,
            "<li data-rid=\"{rid}\"><div class=\"book-img-box\"><span class=\"rank-tag no{rank}\">{rank}<cite></cite></span>\
             <a href=\"//www.qidian.com/book/{id}/\" target=\"_blank\" data-bid=\"{id}\"><img src=\"//bookcover.yuewen.com/qdbimg/349573/{id}/150.webp\"></a></div>\n\
             <div class=\"book-mid-info\"><h2><a href=\"//www.qidian.com/book/{id}/\" target=\"_blank\" data-eid=\"qd_C40\" data-bid=\"{id}\">{t}</a></h2>\n{author}\n\
             <p class=\"intro\">{intro}</p>\n{update}</div>\n\
             <div class=\"book-right-info\"><div class=\"total\"><p>{metric}</p><p>{unit}</p></div>\
             <p class=\"btn\"><a class=\"red-btn\" href=\"//www.qidian.com/book/{id}/\" target=\"_blank\">书籍详情</a><a class=\"blue-btn add-book\" href=\"javascript:\" data-bookid=\"{id}\">加入书架</a></p></div></li>",
            rid = i + 1,
            id = b.id,
            t = esc(&b.title),
            author = author_line(b),
            intro = esc(&b.intro),
            update = update_line(b, false),
            metric = obfuscated_number(&metric.to_string(), font),
            unit = esc(unit),
        );
    }
    out.push_str("</ul></div>\n");
    if last > 0 {
        out.push_str(&pagination(page, last));
    }
    out.push_str("</div>\n</div>\n</body></html>\n");
    out
}

/// One PC search page (`so/{kw}.html`): `hits` already cut to the page, `total` hits in all,
/// 20 per page; "no results" markup when `total` is 0.
pub fn search_page_html(kw: &str, hits: &[FixtureBook], page: usize, total: usize) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\"><title>{}_搜索_起点中文网</title></head>\n<body>\n\
         <form id=\"formUrl\" action=\"//www.qidian.com/so/\"><input id=\"s-box\" value=\"{0}\"></form>\n",
        esc(kw)
    );
    if total == 0 {
        let _ = write!(
            out,
            "<div class=\"no-result\"><p>抱歉，没有找到与“{}”相关的作品</p></div>\n</body></html>\n",
            esc(kw)
        );
        return out;
    }
    let _ = writeln!(
        out,
        "<div class=\"search-result-count\">共 <span>{total}</span> 个相关作品</div>\n<div id=\"result-list\" class=\"book-img-text\"><ul>"
    );
    for (i, b) in hits.iter().enumerate() {
        let highlighted = esc(&b.title).replace(
            &esc(kw),
            &format!("<cite class=\"red-kw\">{}</cite>", esc(kw)),
        );
        let _ = writeln!(
            out,
            "<li class=\"res-book-item\" data-bid=\"{id}\" data-rid=\"{rid}\"><div class=\"book-img-box\"><a href=\"//www.qidian.com/book/{id}/\" target=\"_blank\" data-bid=\"{id}\">\
             <img src=\"//bookcover.yuewen.com/qdbimg/349573/{id}/150.webp\"></a></div>\n\
             <div class=\"book-mid-info\"><h3 class=\"book-info-title\"><a href=\"//www.qidian.com/book/{id}/\" target=\"_blank\" data-bid=\"{id}\" title=\"{t}在线阅读\">{highlighted}</a></h3>\n{author}\n\
             <p class=\"intro\">{intro}</p>\n{update}</div>\n\
             <div class=\"book-right-info\"><div class=\"total\"><p><span>{words}</span>总字数</p><p><span>{recs}</span>总推荐</p></div></div></li>",
            id = b.id,
            rid = i + 1,
            t = esc(&b.title),
            author = author_line(b),
            intro = esc(&b.intro),
            update = update_line(b, true),
            words = wan(b.word_count),
            recs = wan(b.total_recs),
        );
    }
    out.push_str("</ul></div>\n");
    out.push_str(&pagination(page, total.div_ceil(20)));
    out.push_str("\n</body></html>\n");
    out
}
