//! `classify_chapter`: free, locked or encrypted, from a chapter page's
//! `pageData.chapterInfo` flags (collectors.md §1.6). The body is never returned, stored or
//! decoded; this exists so a catalog's VIP flags can be checked against one chapter page.

use super::super::error::ParseError;
use super::super::model::ChapterAccess;
use super::super::text::{json_i64, page_data};

/// Classifies a chapter page.
///
/// Reads `vipStatus`, `isBuy`, `cES` and `fEnS`: a VIP chapter not bought is
/// [`ChapterAccess::Locked`]; `cES = 2` (font-encrypted) or `fEnS ≠ 0` on a VIP chapter is
/// [`ChapterAccess::Encrypted`]; anything else [`ChapterAccess::Free`]. Without the JSON the
/// page's visible markers decide ("这是VIP章节", "订阅后才能阅读" …, `r-font-encrypt`).
///
/// Errors: [`ParseError::Json`] for malformed page JSON, [`ParseError::Unrecognised`] when
/// neither the JSON nor a marker is present (a WAF page, a 404 page).
pub fn classify_chapter(html: &str) -> Result<ChapterAccess, ParseError> {
    if let Some(data) = page_data(html) {
        let data = data.map_err(ParseError::Json)?;
        if let Some(info) = data.get("chapterInfo") {
            let flag = |k| json_i64(info, k).unwrap_or(0);
            let vip = flag("vipStatus") == 1;
            // A missing isBuy on a VIP chapter means not bought, the anonymous default.
            let bought = json_i64(info, "isBuy").unwrap_or(0) == 1;
            return Ok(if vip && !bought {
                ChapterAccess::Locked
            } else if flag("cES") == 2 || (vip && flag("fEnS") != 0) {
                ChapterAccess::Encrypted
            } else {
                ChapterAccess::Free
            });
        }
    }
    const LOCKED: [&str; 4] = ["这是VIP章节", "需要订阅", "订阅后才能阅读", "自动订阅"];
    if html.contains("r-font-encrypt") {
        Ok(ChapterAccess::Encrypted)
    } else if LOCKED.iter().any(|m| html.contains(m)) {
        Ok(ChapterAccess::Locked)
    } else {
        Err(ParseError::Unrecognised("chapter"))
    }
}
