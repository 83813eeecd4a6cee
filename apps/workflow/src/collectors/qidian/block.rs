//! Soft-block detection for Qidian responses (collectors.md §1.10, §3): WAF and captcha
//! pages, 429 with `Retry-After`, 401/403, 202 challenges, 3xx redirects to a captcha.
//!
//! The caller cools the identity (proxy, session) down on a block; nothing is ever solved or
//! retried in place. Normal Qidian pages also load `TCaptcha.js`, so a 200 counts as a block
//! only when it carries a challenge marker and none of the content markers of a real page.

use super::model::{Block, BlockKind};
use axum::http::{HeaderMap, header};

/// Markers of a challenge page, with the block kind each implies.
const CHALLENGE_MARKERS: [(&str, BlockKind); 7] = [
    ("访问过于频繁", BlockKind::RateLimited),
    ("waf_captcha", BlockKind::Captcha),
    ("probe.js", BlockKind::Captcha),
    ("请完成验证", BlockKind::Captcha),
    ("安全验证", BlockKind::Captcha),
    ("请输入验证码", BlockKind::Captcha),
    ("TCaptcha.js", BlockKind::Captcha),
];

/// Markers only real content carries (book, list, search, chapter pages and XHR JSON).
const CONTENT_MARKERS: [&str; 7] = [
    "og:novel:",
    "vite-plugin-ssr_pageContext",
    "j-catalogWrap",
    "allCatalog",
    "book-img-text",
    "result-list",
    "\"code\"",
];

/// Decides whether a response is a soft block. `headers` is the response's (the same
/// `http::HeaderMap` reqwest returns); only `Retry-After` and `Location` are read.
///
/// - 429 → rate limited, with `Retry-After` (seconds or an HTTP date);
/// - 401/403 → forbidden, unless the body is a challenge page (then captcha);
/// - 202 → captcha (the WAF's JS challenge);
/// - 3xx to a `captcha`/`verify` URL → captcha;
/// - 2xx with a challenge marker and no content marker → captcha, or rate limited for
///   "访问过于频繁".
///
/// `reason` names the status or marker only, never body text.
pub fn detect_block(status: u16, headers: &HeaderMap, body: &str) -> Option<Block> {
    let retry_after = headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after_seconds);
    let block = |kind, reason: String| {
        Some(Block {
            kind,
            retry_after_seconds: retry_after,
            reason,
        })
    };
    let marker = challenge_marker(body);
    match status {
        429 => block(BlockKind::RateLimited, "http 429".into()),
        401 | 403 => match marker {
            Some((m, kind)) => block(kind, format!("http {status} with marker {m}")),
            None => block(BlockKind::Forbidden, format!("http {status}")),
        },
        202 => block(BlockKind::Captcha, "http 202 challenge".into()),
        300..=399 => {
            let location = headers
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())?
                .to_ascii_lowercase();
            (location.contains("captcha") || location.contains("verify")).then(|| Block {
                kind: BlockKind::Captcha,
                retry_after_seconds: retry_after,
                reason: format!("http {status} redirect to a captcha"),
            })
        }
        200..=299 => {
            let (m, kind) = marker?;
            if CONTENT_MARKERS.iter().any(|c| body.contains(c)) {
                return None;
            }
            block(kind, format!("challenge marker {m}"))
        }
        _ => None,
    }
}

fn challenge_marker(body: &str) -> Option<(&'static str, BlockKind)> {
    CHALLENGE_MARKERS
        .iter()
        .find(|(m, _)| body.contains(m))
        .copied()
}

/// `Retry-After` as seconds: a non-negative integer, or an HTTP date (IMF-fixdate) measured
/// from now (a date in the past gives 0).
pub fn retry_after_seconds(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let secs = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    Some(u64::try_from(secs).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn statuses() {
        let none = HeaderMap::new();
        let b = detect_block(429, &headers(&[(header::RETRY_AFTER, "120")]), "").unwrap();
        assert_eq!(
            (b.kind, b.retry_after_seconds),
            (BlockKind::RateLimited, Some(120))
        );
        assert_eq!(
            detect_block(403, &none, "").unwrap().kind,
            BlockKind::Forbidden
        );
        assert_eq!(
            detect_block(401, &none, "").unwrap().kind,
            BlockKind::Forbidden
        );
        assert_eq!(
            detect_block(403, &none, "<p>请完成验证</p>").unwrap().kind,
            BlockKind::Captcha
        );
        assert_eq!(
            detect_block(202, &none, "").unwrap().kind,
            BlockKind::Captcha
        );
        let to_captcha = headers(&[(header::LOCATION, "https://x/waf/captcha?r=1")]);
        assert_eq!(
            detect_block(302, &to_captcha, "").unwrap().kind,
            BlockKind::Captcha
        );
        let elsewhere = headers(&[(header::LOCATION, "https://www.qidian.com/book/1/")]);
        assert_eq!(detect_block(302, &elsewhere, ""), None);
        assert_eq!(detect_block(404, &none, "not found"), None);
        assert_eq!(detect_block(500, &none, "请完成验证"), None);
    }

    #[test]
    fn challenge_bodies_but_not_content_pages() {
        let none = HeaderMap::new();
        let waf = r#"<script src="https://turing.captcha.qcloud.com/TCaptcha.js"></script><p>请完成验证</p>"#;
        let b = detect_block(200, &none, waf).unwrap();
        assert_eq!(b.kind, BlockKind::Captcha);
        assert!(!b.reason.contains("<"));
        assert_eq!(
            detect_block(200, &none, "<p>访问过于频繁</p>")
                .unwrap()
                .kind,
            BlockKind::RateLimited
        );
        // The captured real book page loads TCaptcha.js too: not a block.
        let book = r#"<meta property="og:novel:book_name" content="x"><script src="//turing.captcha.qcloud.com/TCaptcha.js"></script>"#;
        assert_eq!(detect_block(200, &none, book), None);
        assert_eq!(detect_block(200, &none, "<html>ok</html>"), None);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after_seconds(" 30 "), Some(30));
        assert_eq!(
            retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(0)
        );
        let later = (chrono::Utc::now() + chrono::Duration::seconds(3600)).to_rfc2822();
        assert!(retry_after_seconds(&later).is_some_and(|s| (3500..=3600).contains(&s)));
        assert_eq!(retry_after_seconds("soon"), None);
    }
}
