//! PC book pages: the legacy `book.qidian.com/info/{id}` layout (collectors.md §1.3, after the
//! 2024-10 capture) and the new `www.qidian.com/book/{id}/` layout (§1.4), each with its
//! inline catalog, plus the new-layout catalog page.

use super::data::{FixtureBook, wan};
use super::{esc, obfuscated_number};
use std::fmt::Write;

/// How a book page renders its counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookPageOptions {
    /// Draw word count, recommendations and month tickets with an anti-spider font (older
    /// page versions did; the 2024-10 capture does not).
    pub obfuscate_metrics: bool,
    /// Font name for the obfuscated counters (random per response on the server).
    pub font: String,
}

impl BookPageOptions {
    fn number(&self, text: &str) -> String {
        if self.obfuscate_metrics {
            obfuscated_number(text, &self.font)
        } else {
            esc(text)
        }
    }
}

fn status(b: &FixtureBook) -> &'static str {
    if b.completed { "完本" } else { "连载" }
}

fn cover(b: &FixtureBook) -> String {
    format!("//bookcover.yuewen.com/qdbimg/349573/{}/180", b.id)
}

fn chapter_href(b: &FixtureBook, cid: i64) -> String {
    format!("//www.qidian.com/chapter/{}/{cid}/", b.id)
}

/// The `og:*` meta block both PC layouts carry.
fn og_meta(b: &FixtureBook, url: &str) -> String {
    let latest = b.latest();
    let description = esc(&b.intro_full.join("<br>"));
    format!(
        "<meta property=\"og:type\" content=\"novel\">\n<meta property=\"og:title\" content=\"{t}\">\n\
         <meta property=\"og:description\" content=\"{description}\">\n\
         <meta property=\"og:image\" content=\"{cover}\">\n<meta property=\"og:url\" content=\"{url}\">\n\
         <meta property=\"og:novel:category\" content=\"{sub}\">\n<meta property=\"og:novel:author\" content=\"{a}\">\n\
         <meta property=\"og:novel:book_name\" content=\"{t}\">\n<meta property=\"og:novel:read_url\" content=\"{url}\">\n\
         <meta property=\"og:novel:status\" content=\"{st}\">\n\
         <meta property=\"og:novel:author_link\" content=\"//my.qidian.com/author/{aid}/\">\n\
         <meta property=\"og:novel:update_time\" content=\"{upd}\">\n\
         <meta property=\"og:novel:latest_chapter_name\" content=\"{ln}\">\n\
         <meta property=\"og:novel:latest_chapter_url\" content=\"{lu}\">\n",
        t = esc(&b.title),
        cover = cover(b),
        sub = esc(&b.subcategory),
        a = esc(&b.author),
        st = status(b),
        aid = b.author_id,
        upd = b.updated_at(),
        ln = latest.map(|c| esc(&c.title)).unwrap_or_default(),
        lu = latest.map(|c| chapter_href(b, c.id)).unwrap_or_default(),
    )
}

fn head(b: &FixtureBook, url: &str, extra: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"UTF-8\">\n<title>{t}({a})最新章节在线阅读-起点中文网官方正版</title>\n\
         <meta name=\"robots\" content=\"all\">\n\
         <meta name=\"mobile-agent\" content=\"format=html5; url=http://m.qidian.com/book/{id}.html\">\n{og}\
         <script src=\"//turing.captcha.qcloud.com/TCaptcha.js\"></script>\n{extra}</head>\n",
        t = esc(&b.title),
        a = esc(&b.author),
        id = b.id,
        og = og_meta(b, url),
    )
}

/// The legacy page (`/info/{id}/`): `g_data.pageJson` JS literal, `og:novel:*`, the
/// `div.book-info` header and the inline `#j-catalogWrap` catalog with title attributes.
pub fn legacy_book_page(b: &FixtureBook, opts: &BookPageOptions) -> String {
    let url = format!("//book.qidian.com/info/{}/", b.id);
    let times: Vec<String> = b
        .chapters()
        .take(3)
        .map(|c| format!("'{}'", c.published_at))
        .collect();
    let script = format!(
        "<script>\nvar g_data = {{}};\ng_data.pageJson = {{\n  isVip: 1, isSign: 1, isPublication: 0, salesMode: 1,\n  \
         bookId: '{id}', signStatus: '签约作品', bookType: 1, // fixture\n  \
         authorInfo: {{ authorId: '{aid}', authorName: '{a}', avatar: '//facepic.qidian.com/qd_face/349573/{aid}/0' }},\n  \
         interact: {{ recTicketEnable: 1, monthTicketEnable: 1, donateEnable: 1, }},\n}};\n\
         g_data.chanId = {chan};\ng_data.chapterTimes = [{times}];\n</script>\n",
        id = b.id,
        aid = b.author_id,
        a = b.author.replace('\'', "\\'"),
        chan = b.chan_id,
        times = times.join(", "),
    );
    let mut h = head(b, &url, &script);
    let latest = b.latest();
    let extra = b.extra_label.as_ref().map(|l| {
        format!(
            "<a href=\"//www.qidian.com/2cy\" class=\"red\" target=\"_blank\">{}</a>",
            esc(l)
        )
    });
    let _ = write!(
        h,
        "<body>\n<div class=\"crumbs-nav center990 top-op\"><span><a href=\"//www.qidian.com\">首页</a><em class=\"iconfont\">&#xe621;</em>\
         <a href=\"//www.qidian.com/{slug}/\">{cat}频道</a><em class=\"iconfont\">&#xe621;</em><a href=\"//www.qidian.com/all/chanId{chan}-subCateId{sid}/\">{sub}</a></span></div>\n\
         <div class=\"book-detail-wrap center990\"><div class=\"book-information cf\">\n\
         <div class=\"book-img\"><a class=\"J-getJumpUrl\" id=\"bookImg\" href=\"{first}\" data-bid=\"{id}\" data-firstchapterjumpurl=\"{first}\"><img src=\"{cover}.webp\" alt=\"{t}\"></a></div>\n\
         <div class=\"book-info \">\n<h1><em id=\"bookName\">{t}</em> <span><a class=\"writer\" href=\"//my.qidian.com/author/{aid}/\" target=\"_blank\" data-eid=\"qd_G08\">{a}</a> 著</span></h1>\n\
         <p class=\"tag\"><span class=\"blue\">{st}</span><span class=\"blue\">签约</span><span class=\"blue\">VIP</span>\
         <a href=\"//www.qidian.com/{slug}/\" class=\"red\" target=\"_blank\">{cat}</a><a href=\"//www.qidian.com/all/chanId{chan}-subCateId{sid}/\" class=\"red\" target=\"_blank\">{sub}</a>{extra}</p>\n\
         <p class=\"intro\">{intro}</p>\n\
         <p><em>{words}</em><cite>万字</cite><i>|</i><em>{recs}</em><cite>万总推荐</cite><i>|</i><em>{weekly}</em><cite>周推荐</cite></p>\n\
         <p><a class=\"red-btn J-getJumpUrl\" id=\"readBtn\" href=\"{first}\">免费试读</a></p>\n</div>\n\
         <div class=\"take-wrap\"><div class=\"ticket month-ticket\"><p class=\"num\"><i id=\"monthCount\">{month}</i></p><p>排名52·还差 161 票追上前一名</p></div>\
         <div class=\"ticket rec-ticket\"><p class=\"num\"><i id=\"recCount\">{weekly}</i></p></div></div>\n</div>\n\
         <div class=\"book-intro\"><p>\u{3000}\u{3000}{full}</p></div>\n\
         <ul><li class=\"update\"><div class=\"detail\"><p class=\"cf\"><a class=\"blue\" href=\"{lu}\" title=\"{t} {ln} 首发时间: {ld} 章节字数：{lw}\" target=\"_blank\">最新章节</a>\
         <span class=\"time\">{upd}</span></p><p class=\"charpter-latest\"><a class=\"charpter-link\" href=\"{lu}\" title=\"{t} {ln} 首发时间: {ld} 章节字数：{lw}\">{ln}</a></p></div></li></ul>\n\
         <span class=\"book-update-time\">更新时间 {upd}</span>\n\
         <a class=\"lang\" id=\"j_catalogPage\" href=\"//www.qidian.com/book/{id}/catalog/\">目录<i><span id=\"J-catalogCount\">({count}章)</span></i></a>\n",
        slug = b.category_slug,
        cat = esc(&b.category),
        chan = b.chan_id,
        sid = b.sub_cate_id,
        sub = esc(&b.subcategory),
        first = b
            .chapters()
            .next()
            .map(|c| format!("/chapter/{}/{}/", b.id, c.id))
            .unwrap_or_default(),
        id = b.id,
        cover = cover(b),
        t = esc(&b.title),
        aid = b.author_id,
        a = esc(&b.author),
        st = status(b),
        extra = extra.unwrap_or_default(),
        intro = esc(&b.intro),
        words = opts.number(&format!("{:.2}", b.word_count as f64 / 10_000.0)),
        recs = opts.number(&format!("{:.2}", b.total_recs as f64 / 10_000.0)),
        weekly = opts.number(&b.weekly_recs.to_string()),
        month = opts.number(&b.month_tickets.to_string()),
        full = b
            .intro_full
            .iter()
            .map(|l| esc(l))
            .collect::<Vec<_>>()
            .join("<br>\u{3000}\u{3000}"),
        lu = latest.map(|c| chapter_href(b, c.id)).unwrap_or_default(),
        ln = latest.map(|c| esc(&c.title)).unwrap_or_default(),
        ld = latest
            .map(|c| c.published_at.get(..10).unwrap_or_default().to_owned())
            .unwrap_or_default(),
        lw = latest.map(|c| c.words).unwrap_or_default(),
        upd = b.updated_at(),
        count = b.chapter_count(),
    );
    h.push_str(&legacy_catalog(b));
    h.push_str("</div>\n<script src=\"//qdfepccdn.qidian.com/www.qidian.com/fock/probev3.js\"></script>\n</body>\n</html>\n");
    h
}

/// `#j-catalogWrap`: volume headers with `<i>·</i>共N章` and free/VIP marks, chapter rows with
/// "首发时间：… 章节字数：…" titles and a lock glyph on locked chapters.
fn legacy_catalog(b: &FixtureBook) -> String {
    let mut out = String::from(
        "<div class=\"catalog-content-wrap hidden\" id=\"j-catalogWrap\">\n<div class=\"volume-wrap\">\n",
    );
    for v in &b.volumes {
        let action = if v.vip {
            format!(
                "<a class=\"subscri j_subscribe\" href=\"javascript:\" data-volumeid=\"{}\"><em class=\"btn\"><b class=\"iconfont\">&#xe61d;</b>订阅本卷</em></a>",
                v.id
            )
        } else {
            format!(
                "<a class=\"subscri\" href=\"//www.qidian.com/hankread/{}/{}/\" target=\"_blank\"><em class=\"btn\"><b class=\"iconfont\">&#xe633;</b>分卷阅读</em></a>",
                b.id, v.id
            )
        };
        let mark = if v.vip {
            "<span class=\"vip\"> VIP</span>"
        } else {
            "<span class=\"free\"> 免费</span>"
        };
        let _ = write!(
            out,
            "<div class=\"volume\">\n<div class=\"cover\"></div>\n<h3>\n{action}\n{}<i>·</i>共{}章{mark}</h3>\n<ul class=\"cf\">\n",
            esc(&v.name),
            v.chapters.len()
        );
        for (i, c) in v.chapters.iter().enumerate() {
            let href = chapter_href(b, c.id);
            let lock = if c.locked {
                "<em class=\"iconfont\">&#xe63c;</em>"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "<li data-rid=\"{}\"><h2 class=\"book_name\"><a href=\"{href}\" target=\"_blank\" data-eid=\"qd_G55\" data-cid=\"{href}\" title=\"{} {} 首发时间：{} 章节字数：{}\">{}</a>{lock}</h2></li>",
                i + 1,
                esc(&b.title),
                esc(&c.title),
                c.published_at,
                c.words,
                esc(&c.title)
            );
        }
        out.push_str("</ul>\n</div>\n");
    }
    out.push_str("</div>\n</div>\n");
    out
}

/// `#allCatalog`: `h3.volume-name` ("卷名·共N章"), `ul.volume-chapters li a.chapter-name`,
/// `em.chapter-locked` on locked chapters.
fn new_catalog(b: &FixtureBook) -> String {
    let mut out = String::from("<div class=\"catalog-all\" id=\"allCatalog\">\n");
    for v in &b.volumes {
        let mark = if v.vip {
            "<span class=\"vip\">VIP</span>"
        } else {
            "<span class=\"free\">免费</span>"
        };
        let _ = write!(
            out,
            "<div class=\"catalog-volume\">\n<h3 class=\"volume-name\">{}<span class=\"dot\">·</span>共{}章{mark}</h3>\n<ul class=\"volume-chapters\">\n",
            esc(&v.name),
            v.chapters.len()
        );
        for (i, c) in v.chapters.iter().enumerate() {
            let lock = if c.locked {
                "<em class=\"iconfont chapter-locked\">&#xe63c;</em>"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "<li class=\"chapter-item\" data-rid=\"{}\"><a class=\"chapter-name\" href=\"{}\" target=\"_blank\" title=\"首发时间：{} 章节字数：{}\">{}</a>{lock}</li>",
                i + 1,
                chapter_href(b, c.id),
                c.published_at,
                c.words,
                esc(&c.title)
            );
        }
        out.push_str("</ul>\n</div>\n");
    }
    out.push_str("</div>\n");
    out
}

/// The new layout (`/book/{id}/`): `h1#bookName`, `a.writer-name`, `p.book-attribute`,
/// `p.all-label`, `p.count`, `p#book-intro-detail`, the `og:*` meta and `#allCatalog`.
pub fn new_book_page(b: &FixtureBook, opts: &BookPageOptions) -> String {
    let url = format!("//www.qidian.com/book/{}/", b.id);
    let mut h = head(b, &url, "");
    let latest = b.latest();
    let labels: String = b
        .tags
        .iter()
        .map(|t| {
            format!(
                "<a href=\"//www.qidian.com/so/{0}.html\" target=\"_blank\">{0}</a>",
                esc(t)
            )
        })
        .collect();
    let _ = write!(
        h,
        "<body>\n<div class=\"book-detail-wrap\"><div class=\"book-info-top\">\n\
         <div class=\"book-img\"><a id=\"bookImg\" data-bid=\"{id}\" href=\"/chapter/{id}/{first}/\"><img src=\"{cover}\" alt=\"{t}\"></a></div>\n\
         <div class=\"book-info-content\">\n<h1 id=\"bookName\">{t}</h1>\n\
         <p class=\"author-info\"><span class=\"author\">作者:<a class=\"writer-name\" href=\"//my.qidian.com/author/{aid}/\" target=\"_blank\">{a}</a></span></p>\n\
         <p class=\"book-attribute\"><span>{st}</span><span class=\"dot\">·</span><span>签约</span><span class=\"dot\">·</span>\
         <a href=\"//www.qidian.com/{slug}/\" target=\"_blank\">{cat}</a><span class=\"dot\">·</span><a href=\"//www.qidian.com/all/chanId{chan}-subCateId{sid}/\" target=\"_blank\">{sub}</a></p>\n\
         <p class=\"all-label\">{labels}</p>\n<p class=\"intro\">{intro}</p>\n\
         <p class=\"count\"><em>{words}</em><cite>字</cite><em class=\"dot\">·</em><em>{recs}</em><cite>总推荐</cite><em class=\"dot\">·</em><em>{weekly}</em><cite>周推荐</cite></p>\n\
         <p class=\"book-latest\"><a class=\"book-latest-chapter\" href=\"{lu}\" target=\"_blank\">最新章节：{ln}</a><span class=\"update-time\">更新时间:{upd}</span></p>\n\
         <div class=\"month-ticket\"><span id=\"monthCount\">{month}</span>月票</div>\n</div>\n</div>\n\
         <div class=\"book-intro-wrap\"><p id=\"book-intro-detail\">{full}</p></div>\n",
        id = b.id,
        first = b.chapters().next().map(|c| c.id).unwrap_or_default(),
        cover = cover(b),
        t = esc(&b.title),
        aid = b.author_id,
        a = esc(&b.author),
        st = status(b),
        slug = b.category_slug,
        cat = esc(&b.category),
        chan = b.chan_id,
        sid = b.sub_cate_id,
        sub = esc(&b.subcategory),
        intro = esc(&b.intro),
        words = opts.number(&wan(b.word_count)),
        recs = opts.number(&wan(b.total_recs)),
        weekly = opts.number(&b.weekly_recs.to_string()),
        month = opts.number(&b.month_tickets.to_string()),
        lu = latest.map(|c| chapter_href(b, c.id)).unwrap_or_default(),
        ln = latest.map(|c| esc(&c.title)).unwrap_or_default(),
        upd = b.updated_at(),
        full = b
            .intro_full
            .iter()
            .map(|l| esc(l))
            .collect::<Vec<_>>()
            .join("<br>"),
    );
    h.push_str(&new_catalog(b));
    h.push_str("</div>\n</body>\n</html>\n");
    h
}

/// The catalog page (`/book/{id}/catalog/`): the new-layout catalog with a small header.
pub fn catalog_page(b: &FixtureBook) -> String {
    let url = format!("//www.qidian.com/book/{}/catalog/", b.id);
    let mut h = head(b, &url, "");
    let _ = write!(
        h,
        "<body>\n<div class=\"catalog-header\"><a id=\"bookImg\" data-bid=\"{}\" href=\"//www.qidian.com/book/{}/\">{}</a> 目录({}章)</div>\n",
        b.id,
        b.id,
        esc(&b.title),
        b.chapter_count()
    );
    h.push_str(&new_catalog(b));
    h.push_str("</body>\n</html>\n");
    h
}
