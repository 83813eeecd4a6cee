//! The XHS response envelope `{"code":0, "success":true, "msg":"成功", "data":{…}}` and
//! the classification of everything else into [`XhsError`] (`collectors.md` §2.3, §2.5).
//!
//! Order matters: HTTP-level signals (captcha statuses, a captcha redirect, 401/403/429)
//! come first, then the body's `code`. Most blocks arrive as HTTP 200 with an error code.

use reqwest::header::{HeaderMap, LOCATION};
use serde_json::Value;

use super::error::{BlockKind, XhsError};

/// The path a captcha redirect points at (`collectors.md` §2.5, MediaCrawler#414).
pub const CAPTCHA_PATH: &str = "/website-login/captcha";

/// Classifies one API response. `status` is the HTTP status, `headers` the response
/// headers, `body` the raw body. Returns the envelope's `data` (or `null` when a
/// successful envelope has none).
///
/// Errors: HTTP 461/471 → `Blocked{Captcha}`; a 3xx whose `Location` contains
/// [`CAPTCHA_PATH`] → `Blocked{Captcha}`; 401/403 → `Blocked{Forbidden}`; 429 →
/// `Blocked{RateLimited}`; other non-2xx → `Http`; a body that is not a JSON object with
/// a `code` or `success` → `Malformed`; a non-zero code → the variant for that code
/// (see [`classify_code`]).
pub fn parse_envelope(status: u16, headers: &HeaderMap, body: &[u8]) -> Result<Value, XhsError> {
    if let Some(err) = classify_status(status, headers) {
        return Err(err);
    }
    let envelope: Value = serde_json::from_slice(body)
        .map_err(|e| XhsError::Malformed(format!("the body is not JSON ({e})")))?;
    let Value::Object(mut fields) = envelope else {
        return Err(XhsError::Malformed("the body is not a JSON object".into()));
    };
    let code = fields.get("code").and_then(as_i64);
    let success = fields.get("success").and_then(Value::as_bool);
    let message = fields
        .get("msg")
        .or_else(|| fields.get("message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match (code, success) {
        (Some(0), _) | (None, Some(true)) => Ok(fields.remove("data").unwrap_or(Value::Null)),
        (Some(code), _) => Err(classify_code(code, message)),
        (None, _) => Err(XhsError::Malformed(
            "the envelope has neither `code` nor `success`".into(),
        )),
    }
}

/// Maps a non-zero envelope code to its error (`collectors.md` §2.5 table).
pub fn classify_code(code: i64, message: String) -> XhsError {
    let blocked = |kind| XhsError::Blocked {
        kind,
        code: Some(code),
        message: message.clone(),
    };
    match code {
        300_013 => blocked(BlockKind::RateLimited),
        300_012 => blocked(BlockKind::IpBlocked),
        300_011 => blocked(BlockKind::AccountRestricted),
        300_015 => XhsError::BadSignature(message),
        300_017 => XhsError::BadXsecToken(message),
        300_031 => XhsError::NotViewable(message),
        -100 => XhsError::SessionExpired(message),
        -510_000 | -510_001 => XhsError::NotFound { code, message },
        _ => XhsError::Api { code, message },
    }
}

/// The HTTP-level part of the classification; `None` when the body decides.
fn classify_status(status: u16, headers: &HeaderMap) -> Option<XhsError> {
    let blocked = |kind, message: String| XhsError::Blocked {
        kind,
        code: None,
        message,
    };
    match status {
        200..=299 => None,
        461 | 471 => {
            // Verifytype names the captcha flavour (124, 102, …); the Verifyuuid is an
            // opaque per-challenge id and stays out of messages.
            let verify_type = headers
                .get("verifytype")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("unknown");
            Some(blocked(
                BlockKind::Captcha,
                format!("HTTP {status}: captcha required (verifytype {verify_type})"),
            ))
        }
        300..=399 => {
            let to_captcha = headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|location| location.contains(CAPTCHA_PATH));
            if to_captcha {
                Some(blocked(
                    BlockKind::Captcha,
                    format!("HTTP {status}: redirect to the captcha page"),
                ))
            } else {
                Some(XhsError::Http { status })
            }
        }
        401 | 403 => Some(blocked(
            BlockKind::Forbidden,
            format!("HTTP {status}: access blocked"),
        )),
        429 => Some(blocked(
            BlockKind::RateLimited,
            format!("HTTP {status}: too many requests"),
        )),
        _ => Some(XhsError::Http { status }),
    }
}

/// Reads an integer from a JSON number or a numeric string.
pub(crate) fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue, LOCATION};
    use serde_json::json;

    use super::{XhsError, parse_envelope};
    use crate::collectors::xhs::error::BlockKind;

    fn body(code: i64, msg: &str) -> Vec<u8> {
        json!({"code": code, "success": false, "msg": msg, "data": {}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn success_returns_data() {
        let ok = json!({"code": 0, "success": true, "msg": "成功", "data": {"has_more": true}});
        let data = parse_envelope(200, &HeaderMap::new(), ok.to_string().as_bytes()).unwrap();
        assert_eq!(data, json!({"has_more": true}));
        let no_data = json!({"success": true});
        let data = parse_envelope(200, &HeaderMap::new(), no_data.to_string().as_bytes()).unwrap();
        assert_eq!(data, serde_json::Value::Null);
    }

    #[test]
    fn each_code_is_classified() {
        let h = HeaderMap::new();
        type Check = Box<dyn Fn(&XhsError) -> bool>;
        let cases: Vec<(i64, Check)> = vec![
            (
                300013,
                Box::new(|e| e.block_kind() == Some(BlockKind::RateLimited)),
            ),
            (
                300012,
                Box::new(|e| e.block_kind() == Some(BlockKind::IpBlocked)),
            ),
            (
                300011,
                Box::new(|e| e.block_kind() == Some(BlockKind::AccountRestricted)),
            ),
            (300015, Box::new(|e| matches!(e, XhsError::BadSignature(_)))),
            (300017, Box::new(|e| matches!(e, XhsError::BadXsecToken(_)))),
            (
                300031,
                Box::new(|e| matches!(e, XhsError::NotViewable(_)) && e.is_skip()),
            ),
            (-100, Box::new(|e| matches!(e, XhsError::SessionExpired(_)))),
            (
                -510000,
                Box::new(|e| matches!(e, XhsError::NotFound { code: -510000, .. })),
            ),
            (-510001, Box::new(|e| e.is_skip() && !e.is_block())),
            (
                12345,
                Box::new(|e| matches!(e, XhsError::Api { code: 12345, .. })),
            ),
        ];
        for (code, check) in cases {
            let err = parse_envelope(200, &h, &body(code, "消息")).unwrap_err();
            assert!(check(&err), "code {code} gave {err:?}");
            assert!(!err.retryable(), "code {code} must not be retryable");
        }
        let err = parse_envelope(200, &h, &body(300013, "访问频次异常")).unwrap_err();
        assert_eq!(
            err,
            XhsError::Blocked {
                kind: BlockKind::RateLimited,
                code: Some(300013),
                message: "访问频次异常".into()
            }
        );
    }

    #[test]
    fn string_codes_are_read() {
        let b = json!({"code": "-510001", "msg": "当前内容无法展示"}).to_string();
        let err = parse_envelope(200, &HeaderMap::new(), b.as_bytes()).unwrap_err();
        assert!(err.is_skip());
    }

    #[test]
    fn http_signals() {
        let mut captcha = HeaderMap::new();
        captcha.insert("Verifytype", HeaderValue::from_static("124"));
        captcha.insert("Verifyuuid", HeaderValue::from_static("secret-uuid"));
        for status in [461, 471] {
            let err = parse_envelope(status, &captcha, b"{}").unwrap_err();
            assert_eq!(err.block_kind(), Some(BlockKind::Captcha));
            assert!(err.to_string().contains("124"));
            assert!(!err.to_string().contains("secret-uuid"));
        }
        let mut redirect = HeaderMap::new();
        redirect.insert(
            LOCATION,
            HeaderValue::from_static(
                "https://www.xiaohongshu.com/website-login/captcha?redirectPath=x&verifyType=102",
            ),
        );
        let err = parse_envelope(302, &redirect, b"").unwrap_err();
        assert_eq!(err.block_kind(), Some(BlockKind::Captcha));
        let mut elsewhere = HeaderMap::new();
        elsewhere.insert(LOCATION, HeaderValue::from_static("/explore"));
        assert_eq!(
            parse_envelope(302, &elsewhere, b"").unwrap_err(),
            XhsError::Http { status: 302 }
        );
        for (status, kind) in [
            (401, BlockKind::Forbidden),
            (403, BlockKind::Forbidden),
            (429, BlockKind::RateLimited),
        ] {
            let err = parse_envelope(status, &HeaderMap::new(), b"").unwrap_err();
            assert_eq!(err.block_kind(), Some(kind));
            assert!(err.is_block() && !err.retryable() && !err.is_skip());
        }
        let err = parse_envelope(503, &HeaderMap::new(), b"").unwrap_err();
        assert!(err.retryable() && !err.is_block());
        let err = parse_envelope(404, &HeaderMap::new(), b"").unwrap_err();
        assert!(!err.retryable());
    }

    #[test]
    fn malformed_bodies() {
        let h = HeaderMap::new();
        for b in [&b"<html>"[..], b"[]", b"{\"data\":{}}", b""] {
            let err = parse_envelope(200, &h, b).unwrap_err();
            assert!(matches!(err, XhsError::Malformed(_)), "{err:?}");
        }
    }
}
