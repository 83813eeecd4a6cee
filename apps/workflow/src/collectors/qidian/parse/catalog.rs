//! Catalogs: the HTML catalog inlined in both PC layouts and on the catalog page, and the
//! legacy `ajax/book/category` JSON (collectors.md §1.3–§1.5). Chapter bodies are never read.
//!
//! Volume names repeat on the real site (two volumes named "小丑"), so volumes are kept by
//! position, never merged by name. VIP is per chapter: a VIP volume can hold free author notes.

use super::super::error::ParseError;
use super::super::jsobj::assigned_literal;
use super::super::model::{Catalog, Chapter, Volume};
use super::super::text::{
    absolutize, chapter_title_attr, clean_text, collapse, json_i64, json_text, non_empty,
    numeric_segments, sel,
};
use scraper::{ElementRef, Html, Node};
use serde_json::Value;

/// Parses the inline HTML catalog of a legacy book page (`#j-catalogWrap`), or of a new-layout
/// book or catalog page (`#allCatalog`).
///
/// Errors: [`ParseError::Unrecognised`] when the page has neither catalog container (a WAF
/// page, a 404 page). A container without volumes gives an empty catalog.
pub fn parse_catalog_html(html: &str) -> Result<Catalog, ParseError> {
    let doc = Html::parse_document(html);
    let mut volumes = Vec::new();
    let legacy = doc.select(sel!("#j-catalogWrap div.volume-wrap div.volume"));
    for (i, el) in legacy.enumerate() {
        let chapters = el
            .select(sel!("ul.cf li"))
            .filter_map(|li| {
                let link = li.select(sel!("h2.book_name a, a")).next()?;
                chapter(link, li.select(sel!("em.iconfont")).next().is_some())
            })
            .collect();
        let header = el.select(sel!("h3")).next();
        let vip = header.is_some_and(|h| h.select(sel!("span.vip")).next().is_some());
        volumes.push(volume(i, header, vip, chapters));
    }
    if volumes.is_empty() {
        for (i, el) in doc
            .select(sel!("#allCatalog div.catalog-volume"))
            .enumerate()
        {
            let chapters: Vec<Chapter> = el
                .select(sel!("ul.volume-chapters li"))
                .filter_map(|li| {
                    let link = li.select(sel!("a.chapter-name, a")).next()?;
                    chapter(link, li.select(sel!("em.chapter-locked")).next().is_some())
                })
                .collect();
            let header = el.select(sel!("h3.volume-name, h3")).next();
            let vip = header.is_some_and(|h| h.select(sel!("span.vip")).next().is_some())
                || chapters.iter().any(|c| c.vip);
            volumes.push(volume(i, header, vip, chapters));
        }
    }
    if volumes.is_empty()
        && doc
            .select(sel!("#j-catalogWrap, #allCatalog"))
            .next()
            .is_none()
    {
        return Err(ParseError::Unrecognised("catalog"));
    }
    let book_id = assigned_literal(html, "g_data.pageJson")
        .and_then(|v| json_text(&v, "bookId"))
        .or_else(|| {
            let el = doc.select(sel!("a#bookImg[data-bid]")).next()?;
            non_empty(el.value().attr("data-bid")?.trim().to_owned())
        })
        .or_else(|| {
            let url = volumes
                .iter()
                .flat_map(|v: &Volume| &v.chapters)
                .find_map(|c| c.url.as_deref())?;
            let segs = numeric_segments(url);
            (segs.len() >= 2).then(|| segs[segs.len() - 2].to_owned())
        });
    Ok(Catalog { book_id, volumes })
}

/// A volume from its `h3` header: the name is the header's own text before the `·` (legacy
/// `小丑<i>·</i>共130章<span class=free> 免费</span>`, new `小丑·共130章`).
fn volume(
    index: usize,
    header: Option<ElementRef<'_>>,
    vip: bool,
    chapters: Vec<Chapter>,
) -> Volume {
    let mut name = String::new();
    if let Some(h3) = header {
        for child in h3.children() {
            match child.value() {
                Node::Text(t) => name.push_str(t),
                Node::Element(e)
                    if e.name() == "i"
                        || e.has_class("dot", scraper::CaseSensitivity::CaseSensitive) =>
                {
                    break;
                }
                _ => {}
            }
        }
    }
    let name = collapse(name.split('·').next().unwrap_or_default());
    Volume {
        index: u32::try_from(index).unwrap_or(u32::MAX),
        name,
        vip,
        chapters,
    }
}

/// A chapter row from its link: id from the URL (`/chapter/{bid}/{cid}/`, or the legacy
/// `read.qidian.com/chapter/{cU}` slug), publish time and words from the `title` attribute.
fn chapter(link: ElementRef<'_>, locked: bool) -> Option<Chapter> {
    let attr = |k| {
        link.value()
            .attr(k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let href = attr("href").or_else(|| attr("data-cid"))?;
    let chapter_id = numeric_segments(href)
        .last()
        .map(|s| (*s).to_owned())
        .or_else(|| {
            href.split(['?', '#'])
                .next()?
                .rsplit('/')
                .find(|s| !s.is_empty())
                .map(str::to_owned)
        })?;
    let (published_at, word_count) = attr("title").map(chapter_title_attr).unwrap_or_default();
    Some(Chapter {
        chapter_id,
        title: clean_text(link),
        vip: locked,
        word_count,
        published_at,
        url: Some(absolutize(href)),
    })
}

/// Parses the legacy catalog XHR: `{"code":0,"msg":"suc","data":{"vs":[{"vN","vS","cs":[…]}]}}`
/// (collectors.md §1.5). `vS = 1` marks a VIP volume, `sS = 0` a locked chapter.
///
/// Errors: [`ParseError::Api`] when `code ≠ 0` (1006 = missing or wrong `_csrfToken`),
/// [`ParseError::Json`] for malformed JSON, [`ParseError::Missing`] without `data.vs`.
pub fn parse_catalog_json(json: &str) -> Result<Catalog, ParseError> {
    let root: Value = serde_json::from_str(json).map_err(|e| ParseError::Json(e.to_string()))?;
    let code = json_i64(&root, "code").ok_or(ParseError::Missing("code"))?;
    if code != 0 {
        let msg = json_text(&root, "msg").unwrap_or_default();
        return Err(ParseError::Api { code, msg });
    }
    let data = root.get("data").ok_or(ParseError::Missing("data"))?;
    let vs = data
        .get("vs")
        .and_then(Value::as_array)
        .ok_or(ParseError::Missing("data.vs"))?;
    let book_id = json_text(data, "bookId");
    let volumes = vs
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let vip = json_i64(v, "vS") == Some(1);
            let chapters = v
                .get("cs")
                .and_then(Value::as_array)
                .map(|cs| {
                    cs.iter()
                        .filter_map(|c| json_chapter(c, vip, book_id.as_deref()))
                        .collect()
                })
                .unwrap_or_default();
            Volume {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                name: json_text(v, "vN").unwrap_or_default(),
                vip,
                chapters,
            }
        })
        .collect();
    Ok(Catalog { book_id, volumes })
}

fn json_chapter(c: &Value, volume_vip: bool, book_id: Option<&str>) -> Option<Chapter> {
    let slug = json_text(c, "cU");
    let chapter_id = json_text(c, "id").or_else(|| slug.clone())?;
    let url = match (book_id, slug) {
        (Some(bid), _) => Some(format!(
            "https://www.qidian.com/chapter/{bid}/{chapter_id}/"
        )),
        (None, Some(slug)) => Some(format!("https://read.qidian.com/chapter/{slug}")),
        (None, None) => None,
    };
    Some(Chapter {
        title: json_text(c, "cN").unwrap_or_default(),
        vip: json_i64(c, "sS").map_or(volume_vip, |s| s == 0),
        word_count: json_i64(c, "cnt"),
        published_at: json_text(c, "uT"),
        url,
        chapter_id,
    })
}
