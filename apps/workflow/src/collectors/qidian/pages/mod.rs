//! Page builders imitating Qidian's markup and embedded JSON (collectors.md §1, §5), shared
//! by the parsers' unit tests and the fixture server (`collectors::fixtures::qidian`).
//! Compiled only for tests and the `fixtures` feature.
//!
//! Content is deterministic given the id or key (see [`data`]), except the anti-spider font
//! name, which the caller passes in (the server randomises it per response).

mod book;
pub mod data;
mod lists;
mod misc;
mod mobile;
mod pc_book;

pub use lists::{rank_page_html, search_page_html};
pub use misc::{ChapterState, catalog_json, chapter_page, chapter_state, not_found_page, waf_page};
pub use mobile::{mobile_book_page, mobile_rank_page, mobile_search_page};
pub use pc_book::{BookPageOptions, catalog_page, legacy_book_page, new_book_page};

/// Escapes text for HTML content and double-quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A number drawn with an anti-spider font, as on PC list pages (collectors.md §1.10):
/// `<span class=F><style>@font-face{…F…}</style><span class=F>&#100xxx;…</span></span>`.
/// Digits map to code points in 100101–100382 by a per-font permutation.
pub fn obfuscated_number(text: &str, font: &str) -> String {
    let shift = data::hash(font) % 10;
    let glyphs: String = text
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => format!("&#{};", 100_101 + (u64::from(d) + shift) % 10 * 13 + shift),
            None if c == '.' => format!("&#{};", 100_250 + shift),
            None => esc(&c.to_string()),
        })
        .collect();
    format!(
        "<span class=\"{font}\"><style>@font-face {{ font-family: {font}; src: url('https://qidian.gtimg.com/qd_anti_spider/{font}.eot?') format('eot'); src: url('https://qidian.gtimg.com/qd_anti_spider/{font}.woff') format('woff'), url('https://qidian.gtimg.com/qd_anti_spider/{font}.ttf') format('truetype'); }} .{font} {{ font-family: '{font}' !important; display: initial !important; color: inherit !important; vertical-align: initial !important; }}</style><span class=\"{font}\">{glyphs}</span></span>"
    )
}

/// Wraps a `pageContext` object in the `vite-plugin-ssr_pageContext` script of an otherwise
/// small SSR page. `<` is written `\u003c` so no string can close the script early.
pub fn ssr_page(title: &str, body: &str, page_data: &serde_json::Value) -> String {
    let ctx = serde_json::json!({ "pageContext": { "pageProps": { "pageData": page_data } } });
    let json = ctx.to_string().replace('<', "\\u003c");
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"></head>\n\
         <body><div id=\"app\">{body}</div>\n<script id=\"vite-plugin-ssr_pageContext\" \
         type=\"application/json\">{json}</script>\n</body></html>\n",
        esc(title)
    )
}
