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

    /// A required text: trimmed, `min..=max` characters, no control characters other than
    /// newlines and tabs.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) -> Option<String> {
        let v = value.trim();
        let n = v.chars().count();
        if n < min {
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
        if n > max {
            self.fail(
                field,
                "too_long",
                format!("must be at most {max} characters"),
            );
            return None;
        }
        if v.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            self.fail(
                field,
                "invalid_characters",
                "must not contain control characters",
            );
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

    /// A `#RRGGBB` color (originals §2.4), returned as sent.
    pub fn color(&mut self, field: &str, value: &str) -> Option<String> {
        let v = value.trim();
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

    /// A key of `min..=max` upper-case ASCII letters and digits starting with a letter
    /// (`ENG`, `WEB2`), upper-cased first.
    pub fn key(&mut self, field: &str, value: &str, min: usize, max: usize) -> Option<String> {
        let v = value.trim().to_ascii_uppercase();
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

    /// An http(s) URL of at most 2048 characters, or empty (cleared).
    pub fn url(&mut self, field: &str, value: &str) -> Option<String> {
        let v = value.trim();
        if v.is_empty() {
            return Some(String::new());
        }
        let ok = v.len() <= 2048
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

    proptest! {
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
