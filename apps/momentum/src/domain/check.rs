//! [`Check`]: validates a request's fields and reports every problem at once, as
//! `errors: [{field, code, message}]` in a 422 (issue 8, "Authorization and bad input").
//!
//! Bodies take ids, enums and dates as strings and parse them here, so a body with a bad
//! UUID, an unknown priority and an oversized title lists all three.

use chrono::NaiveDate;
use trellis_kernel::ApiError;
use trellis_kernel::error::FieldError;
use uuid::Uuid;

/// Longest text field: descriptions, comments (seed 002 / originals §2.4: ≤ 10 000).
pub const LONG_TEXT: usize = 10_000;

/// [`Check::text`] with `min` 1, as a JSON Schema `pattern`: no control characters but
/// `\t`, `\n`, `\r`, and at least one character that is neither white space nor control.
pub const TEXT_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";

/// [`Check::text`] with `min` 0, as a JSON Schema `pattern`: no control characters but `\t`,
/// `\n`, `\r`.
pub const FREE_TEXT_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";

/// [`Check::url`] as a JSON Schema `pattern`: empty, or `http://`, `https://` or `/` followed
/// by characters that are neither white space nor control.
pub const URL_PATTERN: &str = r"^((https?://|/)[^\s\x00-\x1f\x7f-\x9f]*)?$";

/// [`Check::color`] as a JSON Schema `pattern`.
pub const COLOR_PATTERN: &str = "^#[0-9A-Fa-f]{6}$";

/// [`Check::key`] with lengths 2–10 as a JSON Schema `pattern`.
pub const KEY_PATTERN: &str = "^[A-Za-z][A-Za-z0-9]{1,9}$";

/// An e-mail address as identity takes it (`trellis_identity::domain::Email`), as a JSON
/// Schema `pattern`: ASCII, a local part of 1–64 characters, `@`, a dotted domain, without
/// white space, control characters or `<>(),;:\"[]`. Not `format: email`: identity also takes
/// addresses RFC 5322 does not (`a.@b.c`).
pub const EMAIL_PATTERN: &str =
    r"^[!#-'*+\-./0-9=?A-Z^-~]{1,64}@[!#-'*+\-/0-9=?A-Z^-~]+(\.[!#-'*+\-/0-9=?A-Z^-~]+)+$";

/// A control character [`Check::text`] refuses: all but tab, newline and carriage return.
fn is_forbidden_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t' && c != '\r'
}

/// Collects field errors; [`Check::finish`] turns them into one 422.
#[derive(Debug, Default)]
pub struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    /// An empty check.
    pub fn new() -> Self {
        Check::default()
    }

    /// Records a problem with `field`.
    pub fn fail(&mut self, field: &str, code: &'static str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, code, message));
    }

    /// Whether no problem was recorded yet.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok` when nothing failed, else 422 `validation_error` listing every field.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            return Ok(());
        }
        let message = if self.errors.len() == 1 {
            format!("{}: {}", self.errors[0].field, self.errors[0].message)
        } else {
            format!("{} fields are invalid", self.errors.len())
        };
        Err(ApiError::validation(message).with_fields(self.errors))
    }

    /// A text of at most `max` characters as sent, without control characters other than
    /// newlines and tabs, and of at least `min` characters once trimmed (answered trimmed).
    /// The document states it as `maxLength: max` and [`TEXT_PATTERN`] (`min` 1) or
    /// [`FREE_TEXT_PATTERN`] (`min` 0).
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) -> Option<String> {
        if value.chars().count() > max {
            self.fail(
                field,
                "too_long",
                format!("must be at most {max} characters"),
            );
            return None;
        }
        if value.chars().any(is_forbidden_control) {
            self.fail(
                field,
                "invalid_characters",
                "must not contain control characters",
            );
            return None;
        }
        let v = value.trim();
        if v.chars().count() < min {
            if min == 1 {
                self.fail(field, "required", "must not be empty");
            } else {
                self.fail(
                    field,
                    "too_short",
                    format!("must be at least {min} characters"),
                );
            }
            return None;
        }
        Some(v.to_string())
    }

    /// A required field that was absent.
    pub fn required<T>(&mut self, field: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.fail(field, "required", "is required");
        }
        value
    }

    /// A `#RRGGBB` color (originals §2.4), returned as sent (document: [`COLOR_PATTERN`]).
    pub fn color(&mut self, field: &str, value: &str) -> Option<String> {
        let v = value;
        let ok =
            v.len() == 7 && v.starts_with('#') && v[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if ok {
            Some(v.to_string())
        } else {
            self.fail(field, "invalid_color", "must be a color like #FF6B6B");
            None
        }
    }

    /// A UUID.
    pub fn uuid(&mut self, field: &str, value: &str) -> Option<Uuid> {
        match Uuid::parse_str(value.trim()) {
            Ok(u) => Some(u),
            Err(_) => {
                self.fail(field, "invalid_uuid", "must be a UUID");
                None
            }
        }
    }

    /// A calendar date `YYYY-MM-DD` (RFC 3339 full-date); a full timestamp is accepted and
    /// its date kept.
    pub fn date(&mut self, field: &str, value: &str) -> Option<NaiveDate> {
        let v = value.trim();
        let parsed = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok().or_else(|| {
            chrono::DateTime::parse_from_rfc3339(v)
                .ok()
                .map(|d| d.date_naive())
        });
        if parsed.is_none() {
            self.fail(field, "invalid_date", "must be a date like 2026-12-31");
        }
        parsed
    }

    /// One of a closed set, parsed by `parse`; `names` lists the accepted values.
    pub fn one_of<T>(
        &mut self,
        field: &str,
        value: &str,
        parse: fn(&str) -> Option<T>,
        names: fn() -> String,
    ) -> Option<T> {
        let v = parse(value.trim());
        if v.is_none() {
            self.fail(
                field,
                "invalid_choice",
                format!("must be one of {}", names()),
            );
        }
        v
    }

    /// A key of `min..=max` ASCII letters and digits starting with a letter (`ENG`, `WEB2`),
    /// answered upper-cased (document, for 2–10: [`KEY_PATTERN`]).
    pub fn key(&mut self, field: &str, value: &str, min: usize, max: usize) -> Option<String> {
        let v = value.to_ascii_uppercase();
        let ok = (min..=max).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && v.bytes().next().is_some_and(|b| b.is_ascii_uppercase());
        if ok {
            Some(v)
        } else {
            self.fail(
                field,
                "invalid_key",
                format!("must be {min}-{max} letters and digits, starting with a letter"),
            );
            None
        }
    }

    /// An http(s) URL (or a path starting with `/`) of at most 2048 characters without white
    /// space or control characters, or empty (cleared). The document states it as
    /// `maxLength: 2048` and [`URL_PATTERN`].
    pub fn url(&mut self, field: &str, value: &str) -> Option<String> {
        let v = value;
        if v.is_empty() {
            return Some(String::new());
        }
        let ok = v.chars().count() <= 2048
            && (v.starts_with("https://") || v.starts_with("http://") || v.starts_with('/'))
            && !v.chars().any(|c| c.is_control() || c.is_whitespace());
        if ok {
            Some(v.to_string())
        } else {
            self.fail(field, "invalid_url", "must be an http(s) URL");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_problem_is_listed() {
        let mut c = Check::new();
        c.text("title", "", 1, 255);
        c.color("color", "red");
        c.uuid("team_id", "x");
        c.key("team_key", "e", 2, 10);
        let err = c.finish().unwrap_err();
        let fields: Vec<_> = err.fields.unwrap().into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["title", "color", "team_id", "team_key"]);
    }

    #[test]
    fn accepted_forms() {
        let mut c = Check::new();
        assert_eq!(c.key("k", "eng", 2, 10).as_deref(), Some("ENG"));
        assert_eq!(c.color("c", "#ff6B6b").as_deref(), Some("#ff6B6b"));
        assert!(c.date("d", "2026-02-28").is_some());
        assert!(c.date("d", "2026-02-28T10:00:00Z").is_some());
        assert!(c.is_ok());
        assert!(c.date("d", "2026-02-30").is_none());
    }

    fn matches(pattern: &str, s: &str) -> bool {
        regex::Regex::new(pattern).unwrap().is_match(s)
    }

    #[test]
    fn documented_patterns_agree_on_edges() {
        let mut c = Check::new();
        for s in ["a", " a ", "a\tb\nc\r", "\u{a0}x", "é"] {
            assert!(c.text("t", s, 1, 10).is_some(), "{s:?}");
            assert!(matches(TEXT_PATTERN, s), "{s:?}");
        }
        for s in ["", " ", "\n\t", "a\u{0}", "a\u{b}", "\u{85}a", "a\u{9f}"] {
            assert!(c.text("t", s, 1, 10).is_none(), "{s:?}");
            assert!(!matches(TEXT_PATTERN, s), "{s:?}");
        }
        for s in ["", "/x", "https://a.b/c?d=e", "http://x"] {
            assert!(c.url("u", s).is_some(), "{s:?}");
            assert!(matches(URL_PATTERN, s), "{s:?}");
        }
        for s in [" ", "ftp://x", "https://a b", " https://a", "x"] {
            assert!(c.url("u", s).is_none(), "{s:?}");
            assert!(!matches(URL_PATTERN, s), "{s:?}");
        }
    }

    #[test]
    fn documented_email_pattern_is_identitys_rule() {
        use trellis_identity::domain::Email;
        for s in [
            "a@b.c",
            "A.B+c!#$%&'*/=?^_`{|}~-@x-y.z.example",
            "a.@b.c",
            ".a@b.c",
        ] {
            assert!(Email::parse(s).is_ok(), "{s:?}");
            assert!(matches(EMAIL_PATTERN, s), "{s:?}");
        }
        let long_local = format!("{}@b.c", "a".repeat(65));
        for s in [
            "",
            "a",
            "a@b",
            "a@b..c",
            "a@.b.c",
            "a@b.c.",
            "a b@c.d",
            "<a@b.c>",
            "é@b.c",
            "a@b@c.d",
            "a\"b@c.d",
            long_local.as_str(),
        ] {
            assert!(Email::parse(s).is_err(), "{s:?}");
            assert!(!matches(EMAIL_PATTERN, s), "{s:?}");
        }
    }

    proptest! {
        /// The e-mail pattern is identity's rule, for addresses of at most 254 characters
        /// without surrounding white space (which identity trims).
        #[test]
        fn documented_email_pattern_agrees(s in "[a.@é \"!#~<_-]{0,10}(@[a.-]{0,6})?") {
            prop_assert_eq!(
                trellis_identity::domain::Email::parse(&s).is_ok(),
                matches(EMAIL_PATTERN, &s) || (s.trim() != s && matches(EMAIL_PATTERN, s.trim()))
            );
        }

        /// What `/openapi.json` says about text, URL, color and key fields (a pattern and a
        /// `maxLength`) is exactly what the server accepts.
        #[test]
        fn documented_patterns_are_the_rules(s in "[ a\\t\\n\\r\\u{0}-\\u{1f}\\u{7f}-\\u{a0}#/:Aa0-9fFgGh\\PC]{0,12}") {
            let mut c = Check::new();
            prop_assert_eq!(
                c.text("t", &s, 1, 8).is_some(),
                s.chars().count() <= 8 && matches(TEXT_PATTERN, &s)
            );
            prop_assert_eq!(
                c.text("t", &s, 0, 8).is_some(),
                s.chars().count() <= 8 && matches(FREE_TEXT_PATTERN, &s)
            );
            prop_assert_eq!(c.url("u", &s).is_some(), matches(URL_PATTERN, &s));
            prop_assert_eq!(c.color("c", &s).is_some(), matches(COLOR_PATTERN, &s));
            prop_assert_eq!(c.key("k", &s, 2, 10).is_some(), matches(KEY_PATTERN, &s));
        }

        #[test]
        fn text_never_panics_and_respects_bounds(s in "\\PC{0,300}") {
            let mut c = Check::new();
            if let Some(v) = c.text("t", &s, 1, 255) {
                prop_assert!((1..=255).contains(&v.chars().count()));
            }
        }

        #[test]
        fn colors_are_seven_hex_chars(s in "\\PC{0,10}") {
            let mut c = Check::new();
            if let Some(v) = c.color("c", &s) {
                prop_assert_eq!(v.len(), 7);
            }
        }
    }
}
