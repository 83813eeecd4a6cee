//! URL builders for the Qidian pages the collector may fetch (collectors.md §1.1), with
//! validation at the edge: ids, rank slugs, pages and periods are checked before a URL exists.
//!
//! Bases are passed in (`https://www.qidian.com`, `https://book.qidian.com`,
//! `https://m.qidian.com`, or a fixture's `http://127.0.0.1:port[/m]`); a trailing `/` on a base
//! is ignored.

use super::error::UrlError;

/// PC rank slugs (`/rank/{type}/`), collectors.md §1.1.
pub const RANK_TYPES: [&str; 9] = [
    "yuepiao",
    "hotsales",
    "readindex",
    "recom",
    "collect",
    "signnewbook",
    "pubnewbook",
    "newsign",
    "newauthor",
];

/// Mobile rank slugs (`m.qidian.com/rank/{type}/`), collectors.md §1.1.
pub const MOBILE_RANK_TYPES: [&str; 8] = [
    "hotsales",
    "yuepiao",
    "sign",
    "newbook",
    "newauthor",
    "rec",
    "readindex",
    "newfans",
];

/// Highest page number a builder accepts.
pub const MAX_PAGE: u32 = 500;

/// Checks a book or chapter id: 1 to 12 ASCII digits.
fn digits(id: &str) -> bool {
    (1..=12).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

/// Validates a book id (1–12 ASCII digits) and returns it.
pub fn validate_book_id(id: &str) -> Result<&str, UrlError> {
    if digits(id) {
        Ok(id)
    } else {
        Err(UrlError::BookId)
    }
}

fn page(page: u32) -> Result<u32, UrlError> {
    if (1..=MAX_PAGE).contains(&page) {
        Ok(page)
    } else {
        Err(UrlError::Page(page))
    }
}

fn trim(base: &str) -> &str {
    base.trim_end_matches('/')
}

/// New-layout PC book page: `{base}/book/{id}/`.
pub fn book_url(base: &str, id: &str) -> Result<String, UrlError> {
    Ok(format!("{}/book/{}/", trim(base), validate_book_id(id)?))
}

/// Legacy PC book page on the `book.` host: `{book_base}/info/{id}/`.
pub fn legacy_book_url(book_base: &str, id: &str) -> Result<String, UrlError> {
    Ok(format!(
        "{}/info/{}/",
        trim(book_base),
        validate_book_id(id)?
    ))
}

/// Catalog page: `{base}/book/{id}/catalog/`.
pub fn catalog_url(base: &str, id: &str) -> Result<String, UrlError> {
    Ok(format!(
        "{}/book/{}/catalog/",
        trim(base),
        validate_book_id(id)?
    ))
}

/// Legacy catalog XHR: `{book_base}/ajax/book/category?_csrfToken={token}&bookId={id}`.
/// The token is the `_csrfToken` cookie the first page view set (collectors.md §1.2); it is
/// 1–128 ASCII alphanumerics. The URL holds the token: never log it unredacted.
pub fn catalog_json_url(book_base: &str, id: &str, csrf: &str) -> Result<String, UrlError> {
    let id = validate_book_id(id)?;
    if csrf.is_empty() || csrf.len() > 128 || !csrf.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(UrlError::CsrfToken);
    }
    Ok(format!(
        "{}/ajax/book/category?_csrfToken={csrf}&bookId={id}",
        trim(book_base)
    ))
}

/// Chapter page: `{base}/chapter/{book_id}/{chapter_id}/` (only ever fetched to classify
/// free/locked/encrypted, collectors.md §3).
pub fn chapter_url(base: &str, book_id: &str, chapter_id: &str) -> Result<String, UrlError> {
    let book_id = validate_book_id(book_id)?;
    if !digits(chapter_id) {
        return Err(UrlError::ChapterId);
    }
    Ok(format!("{}/chapter/{book_id}/{chapter_id}/", trim(base)))
}

/// Splits and checks a `YYYY-MM` period (year 2000–2099, month 01–12).
pub fn parse_period(period: &str) -> Result<(u16, u8), UrlError> {
    let bad = || UrlError::Period(period.chars().take(16).collect());
    let (y, m) = period.split_once('-').ok_or_else(bad)?;
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if y.len() != 4 || m.len() != 2 || !all_digits(y) || !all_digits(m) {
        return Err(bad());
    }
    let year: u16 = y.parse().map_err(|_| bad())?;
    let month: u8 = m.parse().map_err(|_| bad())?;
    if !(2000..=2099).contains(&year) || !(1..=12).contains(&month) {
        return Err(bad());
    }
    Ok((year, month))
}

/// PC rank page: `{base}/rank/{type}/`, then `page{N}/` for later pages, or
/// `year{YYYY}-month{MM}-page{N}/` for a monthly period (collectors.md §1.1). Page 1 without
/// a period is the bare `/rank/{type}/`. `rank_type` must be one of [`RANK_TYPES`].
pub fn rank_url(
    base: &str,
    rank_type: &str,
    period: Option<&str>,
    page_no: u32,
) -> Result<String, UrlError> {
    if !RANK_TYPES.contains(&rank_type) {
        return Err(UrlError::RankType(rank_type.chars().take(32).collect()));
    }
    let page_no = page(page_no)?;
    let mut url = format!("{}/rank/{rank_type}/", trim(base));
    match period {
        Some(p) => {
            let (year, month) = parse_period(p)?;
            url.push_str(&format!("year{year}-month{month:02}-page{page_no}/"));
        }
        None if page_no > 1 => url.push_str(&format!("page{page_no}/")),
        None => {}
    }
    Ok(url)
}

/// Mobile rank page: `{m_base}/rank/{type}/`, `?pageNum=N` after page 1. `rank_type` must be
/// one of [`MOBILE_RANK_TYPES`] (the paging parameter is ◐ in collectors.md §1.1).
pub fn mobile_rank_url(m_base: &str, rank_type: &str, page_no: u32) -> Result<String, UrlError> {
    if !MOBILE_RANK_TYPES.contains(&rank_type) {
        return Err(UrlError::RankType(rank_type.chars().take(32).collect()));
    }
    let page_no = page(page_no)?;
    let mut url = format!("{}/rank/{rank_type}/", trim(m_base));
    if page_no > 1 {
        url.push_str(&format!("?pageNum={page_no}"));
    }
    Ok(url)
}

fn keyword(kw: &str) -> Result<String, UrlError> {
    let kw = kw.trim();
    if kw.is_empty() || kw.chars().count() > 100 {
        return Err(UrlError::Keyword);
    }
    Ok(percent_encode(kw))
}

/// PC search: `{base}/so/{percent-encoded kw}.html`, `?page=N` after page 1 (§1.8).
pub fn search_url(base: &str, kw: &str, page_no: u32) -> Result<String, UrlError> {
    let kw = keyword(kw)?;
    let page_no = page(page_no)?;
    let mut url = format!("{}/so/{kw}.html", trim(base));
    if page_no > 1 {
        url.push_str(&format!("?page={page_no}"));
    }
    Ok(url)
}

/// Mobile search: `{m_base}/so/{kw}.html?pageNum=N` (collectors.md §1.1).
pub fn mobile_search_url(m_base: &str, kw: &str, page_no: u32) -> Result<String, UrlError> {
    let kw = keyword(kw)?;
    Ok(format!(
        "{}/so/{kw}.html?pageNum={}",
        trim(m_base),
        page(page_no)?
    ))
}

/// Mobile book page: `{m_base}/book/{id}/`.
pub fn mobile_book_url(m_base: &str, id: &str) -> Result<String, UrlError> {
    Ok(format!("{}/book/{}/", trim(m_base), validate_book_id(id)?))
}

/// Cover image derived from the id (collectors.md §1.1), size 180:
/// `https://bookcover.yuewen.com/qdbimg/349573/{id}/180`.
pub fn cover_url(id: &str) -> Result<String, UrlError> {
    Ok(format!(
        "https://bookcover.yuewen.com/qdbimg/349573/{}/180",
        validate_book_id(id)?
    ))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (UTF-8 bytes as `%XX`).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (invalid escapes are kept as written, invalid UTF-8 is replaced).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: &str = "https://www.qidian.com/";

    #[test]
    fn builds_the_site_shapes() {
        assert_eq!(
            book_url(W, "1010868264").unwrap(),
            "https://www.qidian.com/book/1010868264/"
        );
        assert_eq!(
            legacy_book_url("https://book.qidian.com", "1010868264").unwrap(),
            "https://book.qidian.com/info/1010868264/"
        );
        assert_eq!(
            catalog_url(W, "1").unwrap(),
            "https://www.qidian.com/book/1/catalog/"
        );
        assert_eq!(
            catalog_json_url("https://book.qidian.com", "42", "AbC123").unwrap(),
            "https://book.qidian.com/ajax/book/category?_csrfToken=AbC123&bookId=42"
        );
        assert_eq!(
            rank_url(W, "yuepiao", None, 1).unwrap(),
            "https://www.qidian.com/rank/yuepiao/"
        );
        assert_eq!(
            rank_url(W, "hotsales", None, 3).unwrap(),
            "https://www.qidian.com/rank/hotsales/page3/"
        );
        assert_eq!(
            rank_url(W, "yuepiao", Some("2024-05"), 2).unwrap(),
            "https://www.qidian.com/rank/yuepiao/year2024-month05-page2/"
        );
        assert_eq!(
            search_url(W, "诡秘", 1).unwrap(),
            "https://www.qidian.com/so/%E8%AF%A1%E7%A7%98.html"
        );
        assert_eq!(
            search_url(W, "a b/c", 2).unwrap(),
            "https://www.qidian.com/so/a%20b%2Fc.html?page=2"
        );
        assert_eq!(
            mobile_book_url("https://m.qidian.com", "7").unwrap(),
            "https://m.qidian.com/book/7/"
        );
        assert_eq!(
            mobile_rank_url("http://x/m", "yuepiao", 2).unwrap(),
            "http://x/m/rank/yuepiao/?pageNum=2"
        );
        assert_eq!(
            chapter_url(W, "1", "402733549").unwrap(),
            "https://www.qidian.com/chapter/1/402733549/"
        );
        assert_eq!(percent_decode("%E8%AF%A1%E7%A7%98%zz"), "诡秘%zz");
    }

    #[test]
    fn rejects_bad_arguments() {
        assert_eq!(book_url(W, ""), Err(UrlError::BookId));
        assert_eq!(book_url(W, "1234567890123"), Err(UrlError::BookId));
        assert_eq!(book_url(W, "12a"), Err(UrlError::BookId));
        assert_eq!(book_url(W, "１２"), Err(UrlError::BookId));
        assert_eq!(
            rank_url(W, "nope", None, 1),
            Err(UrlError::RankType("nope".into()))
        );
        assert_eq!(rank_url(W, "yuepiao", None, 0), Err(UrlError::Page(0)));
        assert_eq!(rank_url(W, "yuepiao", None, 501), Err(UrlError::Page(501)));
        assert!(matches!(
            rank_url(W, "yuepiao", Some("2024-13"), 1),
            Err(UrlError::Period(_))
        ));
        assert!(matches!(
            rank_url(W, "yuepiao", Some("24-01"), 1),
            Err(UrlError::Period(_))
        ));
        assert!(matches!(
            rank_url(W, "yuepiao", Some("2024/01"), 1),
            Err(UrlError::Period(_))
        ));
        assert_eq!(search_url(W, "  ", 1), Err(UrlError::Keyword));
        assert_eq!(catalog_json_url(W, "1", "a&b"), Err(UrlError::CsrfToken));
        assert_eq!(catalog_json_url(W, "1", ""), Err(UrlError::CsrfToken));
        assert_eq!(chapter_url(W, "1", "x"), Err(UrlError::ChapterId));
    }
}
