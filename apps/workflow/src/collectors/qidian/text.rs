//! Small text, number, URL and DOM helpers shared by the Qidian parsers.
//!
//! Everything here is pure and allocation-light: the parsers call these helpers once per
//! field, thousands of times per catalog page.

use scraper::{ElementRef, Html, Node, Selector};
use serde_json::Value;
use std::collections::HashMap;

/// Compiles one constant CSS selector for [`sel!`].
///
/// Panics only on a malformed constant (never on page input); every selector is exercised by
/// the unit tests beside the parsers, so a typo fails the test run, not production.
#[expect(
    clippy::expect_used,
    reason = "constant selectors, all exercised by unit tests"
)]
pub(crate) fn compile(css: &str) -> Selector {
    Selector::parse(css).expect("constant CSS selector")
}

/// A `&'static Selector` compiled once per call site (`std::sync::LazyLock`).
macro_rules! sel {
    ($css:literal) => {{
        static SELECTOR: std::sync::LazyLock<scraper::Selector> =
            std::sync::LazyLock::new(|| $crate::collectors::qidian::text::compile($css));
        &*SELECTOR
    }};
}
pub(crate) use sel;

/// Parses a Chinese-formatted count: `"446.52万"` → 4 465 200, `"1.2亿"` → 120 000 000,
/// `"3,415"` → 3415, `"7442月票"` → 7442 (a trailing unit after the number is ignored).
///
/// `万` (and the XHS-style `w`) is 10⁴ and `亿` is 10⁸; decimals are exact (no floats) and
/// rounded half up at the unit. Returns `None` for text without a leading number and on
/// overflow. Leading whitespace and a `-` sign are accepted (`-1` means "hidden" on mobile).
pub fn parse_cn_number(text: &str) -> Option<i64> {
    let text = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{3000}');
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut int_part: i128 = 0;
    let mut frac = String::new();
    let mut seen_digit = false;
    let mut in_frac = false;
    let mut rest = "";
    for (i, c) in text.char_indices() {
        match c {
            '0'..='9' if in_frac => frac.push(c),
            '0'..='9' => {
                seen_digit = true;
                int_part = int_part
                    .checked_mul(10)?
                    .checked_add(i128::from(c as u8 - b'0'))?;
            }
            ',' | '，' if !in_frac => {}
            '.' if !in_frac && seen_digit => in_frac = true,
            _ => {
                rest = &text[i..];
                break;
            }
        }
    }
    if !seen_digit {
        return None;
    }
    let scale: i128 = match rest.trim_start().chars().next() {
        Some('万' | 'w' | 'W') => 10_000,
        Some('亿') => 100_000_000,
        _ => 1,
    };
    let mut value = int_part.checked_mul(scale)?;
    if !frac.is_empty() {
        // Keep at most 18 fraction digits so the power of ten fits an i128.
        let digits = &frac[..frac.len().min(18)];
        let num: i128 = digits.parse().ok()?;
        let den = 10_i128.checked_pow(u32::try_from(digits.len()).ok()?)?;
        let scaled = num.checked_mul(scale)?;
        value = value.checked_add((scaled * 2 + den) / (den * 2))?;
    }
    let value = if negative { -value } else { value };
    i64::try_from(value).ok()
}

/// True for code points the anti-spider fonts draw digits with (collectors.md §1.10):
/// U+18700–U+18AFF (observed `&#100101;`…`&#100382;`), the BMP private-use area, and the
/// supplementary private-use planes 15–16.
pub fn is_obfuscated_char(c: char) -> bool {
    matches!(c as u32, 0x18700..=0x18AFF | 0xE000..=0xF8FF | 0xF_0000..=0x10_FFFF)
}

/// True when `el` renders its number through an anti-spider font: an inline
/// `<style>@font-face…` inside it, or any glyph code point from [`is_obfuscated_char`].
/// Such a metric is stored as `None`; the font is never decoded (collectors.md §3).
pub(crate) fn is_obfuscated(el: ElementRef<'_>) -> bool {
    el.select(sel!("style"))
        .any(|s| s.text().any(|t| t.contains("@font-face")))
        || el.text().any(|t| t.chars().any(is_obfuscated_char))
}

/// The element's text with runs of whitespace (including U+3000 and NBSP) collapsed to one
/// space and trimmed.
pub(crate) fn clean_text(el: ElementRef<'_>) -> String {
    collapse(&el.text().collect::<String>())
}

/// Collapses whitespace runs (including U+3000 and NBSP) to one space and trims.
pub(crate) fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split(|c: char| c.is_whitespace() || c == '\u{3000}') {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Multi-line text: `<br>` and `<p>` boundaries become line breaks, each line is collapsed
/// and empty lines dropped (the site indents intro lines with U+3000).
pub(crate) fn text_with_breaks(el: ElementRef<'_>) -> String {
    let mut raw = String::new();
    push_lines(el, &mut raw);
    lines_of(&raw)
}

fn push_lines(el: ElementRef<'_>, out: &mut String) {
    for child in el.children() {
        match child.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) if e.name() == "br" => out.push('\n'),
            Node::Element(e) => {
                if let Some(child_el) = ElementRef::wrap(child) {
                    let block = e.name() == "p";
                    if block {
                        out.push('\n');
                    }
                    push_lines(child_el, out);
                    if block {
                        out.push('\n');
                    }
                }
            }
            _ => {}
        }
    }
}

/// Splits on newlines and `<br>` tags written as text, collapses each line, drops empties.
pub(crate) fn lines_of(raw: &str) -> String {
    raw.replace("<br/>", "\n")
        .replace("<br />", "\n")
        .replace("<br>", "\n")
        .lines()
        .map(collapse)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// All-digit path segments of a URL, in order: `//www.qidian.com/chapter/1/2/` → `["1","2"]`.
pub(crate) fn numeric_segments(url: &str) -> Vec<&str> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    path.split('/')
        .map(|s| s.trim_end_matches(".html"))
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

/// Makes a protocol-relative URL (`//host/…`, as the site writes them) absolute with https.
pub(crate) fn absolutize(url: &str) -> String {
    let url = url.trim();
    match url.strip_prefix("//") {
        Some(rest) => format!("https://{rest}"),
        None => url.to_owned(),
    }
}

/// `None` for an empty string, else the string.
pub(crate) fn non_empty(text: String) -> Option<String> {
    if text.is_empty() { None } else { Some(text) }
}

/// The `og:*` meta tags of a page (`<meta property=… content=…>`), collected once.
pub(crate) fn og_meta(doc: &Html) -> HashMap<String, String> {
    doc.select(sel!("meta[property]"))
        .filter_map(|m| {
            let key = m.value().attr("property")?;
            let value = m.value().attr("content")?.trim();
            (!value.is_empty()).then(|| (key.to_owned(), value.to_owned()))
        })
        .collect()
}

/// `pageContext.pageProps.pageData` of the `vite-plugin-ssr_pageContext` JSON script that
/// chapter pages and every `m.qidian.com` page carry (collectors.md §1.2).
///
/// Found by string search, not DOM parsing (script text is raw, never entity-encoded, and
/// cannot contain `</script>`). `None` when the page has no such script; `Some(Err)` when
/// it has one whose JSON is malformed or lacks `pageData`.
pub(crate) fn page_data(html: &str) -> Option<Result<Value, String>> {
    let at = html.find("vite-plugin-ssr_pageContext")?;
    let start = at + html[at..].find('>')? + 1;
    let end = start + html[start..].find("</script>")?;
    let root: Value = match serde_json::from_str(html[start..end].trim()) {
        Ok(v) => v,
        Err(e) => return Some(Err(format!("pageContext JSON: {e}"))),
    };
    let ctx = root.get("pageContext").unwrap_or(&root);
    Some(
        ctx.pointer("/pageProps/pageData")
            .cloned()
            .ok_or_else(|| "pageContext has no pageProps.pageData".to_owned()),
    )
}

/// A JSON field as text: strings as they are, numbers printed (ids arrive as either).
pub(crate) fn json_text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => non_empty(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A JSON field as an integer: numbers, or strings holding a count (`"446.52万"`).
pub(crate) fn json_i64(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.round() as i64)),
        Value::String(s) => parse_cn_number(s),
        _ => None,
    }
}

/// The text after the first `首发时间` / `章节字数` label in a chapter `title` attribute
/// (collectors.md §1.3): "{书名} {章名} 首发时间：2018-04-01 12:28:26 章节字数：2425".
/// Accepts full- and half-width colons. Returns (published_at, word_count).
pub(crate) fn chapter_title_attr(title: &str) -> (Option<String>, Option<i64>) {
    let after = |label: &str| -> Option<&str> {
        let rest = &title[title.find(label)? + label.len()..];
        Some(rest.trim_start_matches([':', '：', ' ']))
    };
    let published = after("首发时间").and_then(|rest| {
        let end = rest.find("章节字数").unwrap_or(rest.len());
        non_empty(rest[..end].trim().to_owned())
    });
    let words = after("章节字数").and_then(parse_cn_number);
    (published, words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cn_numbers() {
        assert_eq!(parse_cn_number("446.52万"), Some(4_465_200));
        assert_eq!(parse_cn_number("446.52万字"), Some(4_465_200));
        assert_eq!(parse_cn_number("3415.62万总推荐"), Some(34_156_200));
        assert_eq!(parse_cn_number("1.2亿"), Some(120_000_000));
        assert_eq!(parse_cn_number("3,415"), Some(3415));
        assert_eq!(parse_cn_number(" 7442月票"), Some(7442));
        assert_eq!(parse_cn_number("1.23456万"), Some(12_346));
        assert_eq!(parse_cn_number("-1"), Some(-1));
        assert_eq!(parse_cn_number("万"), None);
        assert_eq!(parse_cn_number(""), None);
        assert_eq!(parse_cn_number("99999999999999999999999亿"), None);
    }

    #[test]
    fn obfuscated_ranges() {
        assert!(is_obfuscated_char('\u{18705}'));
        assert!(is_obfuscated_char('\u{E63C}'));
        assert!(is_obfuscated_char('\u{F0001}'));
        assert!(!is_obfuscated_char('7'));
        assert!(!is_obfuscated_char('万'));
    }

    #[test]
    fn title_attribute() {
        let t = "诡秘之主 第一章 绯红 首发时间：2018-04-01 12:28:26 章节字数：2425";
        assert_eq!(
            chapter_title_attr(t),
            (Some("2018-04-01 12:28:26".into()), Some(2425))
        );
        let t = "诡秘之主 新番外 首发时间: 2022-11-25 章节字数：136";
        assert_eq!(
            chapter_title_attr(t),
            (Some("2022-11-25".into()), Some(136))
        );
        assert_eq!(chapter_title_attr("第一章"), (None, None));
    }

    #[test]
    fn urls_and_page_data() {
        assert_eq!(
            numeric_segments("//www.qidian.com/chapter/1010868264/402733549/"),
            ["1010868264", "402733549"]
        );
        assert_eq!(absolutize("//a.b/c"), "https://a.b/c");
        let html = r#"<script id="vite-plugin-ssr_pageContext" type="application/json">{"pageContext":{"pageProps":{"pageData":{"a":1}}}}</script>"#;
        assert_eq!(page_data(html), Some(Ok(serde_json::json!({"a": 1}))));
        assert!(page_data("<p>none</p>").is_none());
        let bad = r#"<script id="vite-plugin-ssr_pageContext">{oops</script>"#;
        assert!(matches!(page_data(bad), Some(Err(_))));
    }
}
