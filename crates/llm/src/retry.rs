//! When to try again: the backoff between attempts, `Retry-After`, and short, key-free
//! descriptions of provider errors.
//!
//! `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3); either way the
//! wait is capped at [`MAX_RETRY_AFTER`] so one provider cannot stall a call for minutes
//! while others could answer.

use std::time::Duration;

use rand::Rng;
use serde_json::Value;

/// The longest wait honoured from a `Retry-After` header.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// First backoff step; doubled per retry.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Largest backoff step before jitter.
const BACKOFF_MAX: Duration = Duration::from_secs(8);

/// The wait before retry number `retry` (0-based) without a `Retry-After`: exponential from
/// 500 ms, capped at 8 s, with "equal jitter" (half fixed, half random) so clients that failed
/// together do not retry together.
pub(crate) fn backoff(retry: u32) -> Duration {
    let step = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(retry.min(16)))
        .min(BACKOFF_MAX);
    let half = u64::try_from(step.as_millis() / 2).unwrap_or(0);
    let jitter = rand::thread_rng().gen_range(0..=half);
    Duration::from_millis(half + jitter)
}

/// A `Retry-After` value as a wait, capped at [`MAX_RETRY_AFTER`]; `None` when unparseable.
pub(crate) fn parse_retry_after(
    value: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else if let Ok(secs) = value.parse::<f64>() {
        // Not in the RFC, but some gateways send fractions.
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        Duration::try_from_secs_f64(secs).unwrap_or(MAX_RETRY_AFTER)
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// A short description of an error body: `error.message` (with `code`/`type` when given) of
/// a JSON error, else the first line of the text; at most 300 characters, control characters
/// replaced.
pub(crate) fn describe_error_body(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let err = match v.get("error") {
            Some(e) if !e.is_null() => e,
            _ => &v,
        };
        return clip(&describe_error_value(err));
    }
    let text = String::from_utf8_lossy(body);
    clip(
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or(""),
    )
}

/// The message of an `error` value (a string, or an object with `message`, `code`, `type`).
pub(crate) fn describe_error_value(err: &Value) -> String {
    match err {
        Value::String(s) => clip(s),
        Value::Object(o) => {
            let message = o
                .get("message")
                .or_else(|| o.get("msg"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let code = o
                .get("code")
                .or_else(|| o.get("type"))
                .and_then(|c| match c {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                });
            match (message.is_empty(), code) {
                (false, Some(code)) => clip(&format!("{message} ({code})")),
                (false, None) => clip(message),
                (true, Some(code)) => clip(&code),
                (true, None) => clip(&err.to_string()),
            }
        }
        other => clip(&other.to_string()),
    }
}

/// At most 300 characters, control characters replaced by spaces.
pub(crate) fn clip(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(300)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().nth(300).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    #[test]
    fn retry_after_seconds_date_and_cap() {
        assert_eq!(parse_retry_after("1", now()), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 0.5 ", now()),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_retry_after("120", now()), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:00:05 GMT", now()),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("-3", now()), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for retry in 0..40 {
            let d = backoff(retry);
            assert!(d <= BACKOFF_MAX, "{retry}: {d:?}");
        }
        assert!(backoff(0) >= Duration::from_millis(250));
        assert!(backoff(0) <= Duration::from_millis(500));
    }

    #[test]
    fn error_bodies_are_described_briefly() {
        let body = br#"{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}"#;
        assert_eq!(
            describe_error_body(body),
            "Rate limit reached (rate_limit_error)"
        );
        assert_eq!(describe_error_body(br#"{"error":"busy"}"#), "busy");
        assert_eq!(describe_error_body(b"\n<html>\nBad gateway"), "<html>");
        assert_eq!(describe_error_body(b""), "");
        assert_eq!(clip(&"x".repeat(400)).chars().count(), 301);
    }
}
