//! Typed errors of the Qidian parsers ([`ParseError`]) and URL builders ([`UrlError`]).
//!
//! Messages name the missing part or the rule broken, never echo page bodies, cookies or
//! tokens (STYLE.md habit 9).

use thiserror::Error;

/// Why a Qidian page or JSON response could not be turned into records.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// A field every page of this kind carries is absent (e.g. the title); names the field.
    #[error("the page has no {0}")]
    Missing(&'static str),
    /// Embedded or returned JSON is malformed; carries the decoder's message.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// The site's XHR envelope reported failure (`{"code":1006,"msg":"未定义异常"}` when the
    /// `_csrfToken` is missing or wrong; collectors.md §1.2).
    #[error("qidian returned code {code}: {msg}")]
    Api {
        /// The envelope's `code` (0 is success).
        code: i64,
        /// The envelope's `msg`.
        msg: String,
    },
    /// The page is none of the layouts this parser knows (also what a WAF or captcha page
    /// looks like; check [`super::detect_block`] first).
    #[error("not a recognised qidian {0} page")]
    Unrecognised(&'static str),
}

/// A URL builder's argument broke a rule (collectors.md §1.1).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    /// Book ids are 1 to 12 ASCII digits (real ones are 7–10).
    #[error("book id must be 1 to 12 ASCII digits")]
    BookId,
    /// Chapter ids are 1 to 12 ASCII digits.
    #[error("chapter id must be 1 to 12 ASCII digits")]
    ChapterId,
    /// The rank slug is not one of the site's (`yuepiao`, `hotsales`, …).
    #[error("unknown rank type {0:?}")]
    RankType(String),
    /// Pages run from 1 to 500.
    #[error("page {0} is outside 1..=500")]
    Page(u32),
    /// Periods are `YYYY-MM` with a month 01–12 and a year 2000–2099.
    #[error("period {0:?} is not YYYY-MM")]
    Period(String),
    /// Keywords are 1 to 100 characters after trimming.
    #[error("search keyword must be 1 to 100 characters")]
    Keyword,
    /// The `_csrfToken` must be 1 to 128 ASCII letters and digits (its value is not shown).
    #[error("csrf token must be 1 to 128 ASCII letters or digits")]
    CsrfToken,
}
