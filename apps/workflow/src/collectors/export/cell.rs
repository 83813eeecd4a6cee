//! One cell's value, normalised from a row field by its column kind; shared by every
//! format so JSON, CSV and XLSX agree on what an Id, a Timestamp or a misfit value is.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat};
use serde_json::{Number, Value};

use super::ColumnKind;

/// A field as the writers see it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell<'a> {
    /// Missing or `null`.
    Empty,
    /// Text: Text, Id and Timestamp values and any value that does not fit its kind.
    Text(Cow<'a, str>),
    /// A JSON number in an Integer or Number column, kept exact.
    Number(&'a Number),
    /// A boolean in a Bool column.
    Bool(bool),
    /// A value in a Json column (nested in JSON, compact text elsewhere).
    Nested(&'a Value),
}

/// Normalises `value` (the row's field, if present) for a column of `kind`.
pub(super) fn cell(kind: ColumnKind, value: Option<&Value>) -> Cell<'_> {
    let Some(value) = value else {
        return Cell::Empty;
    };
    match (kind, value) {
        (_, Value::Null) => Cell::Empty,
        (ColumnKind::Json, v) => Cell::Nested(v),
        (ColumnKind::Integer | ColumnKind::Number, Value::Number(n)) => Cell::Number(n),
        (ColumnKind::Bool, Value::Bool(b)) => Cell::Bool(*b),
        (ColumnKind::Timestamp, Value::Number(n)) => match n.as_i64().and_then(from_millis) {
            Some(text) => Cell::Text(Cow::Owned(text)),
            None => Cell::Text(Cow::Owned(n.to_string())),
        },
        (_, Value::String(s)) => Cell::Text(Cow::Borrowed(s)),
        // Value's Display is compact JSON: `12`, `true`, `["a"]`.
        (_, v) => Cell::Text(Cow::Owned(v.to_string())),
    }
}

/// Unix epoch milliseconds as RFC 3339 in UTC with millisecond precision, if in range.
fn from_millis(ms: i64) -> Option<String> {
    DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// Whether a text cell would start a formula in a spreadsheet (OWASP "CSV Injection":
/// `=`, `+`, `-`, `@`, tab, carriage return); such cells get a leading `'`.
pub(super) fn is_formula_like(text: &str) -> bool {
    matches!(
        text.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ids_are_text_even_when_numbers() {
        let n = json!(1_010_868_264_u64);
        assert_eq!(
            cell(ColumnKind::Id, Some(&n)),
            Cell::Text("1010868264".into())
        );
        let s = json!("0123");
        assert_eq!(cell(ColumnKind::Id, Some(&s)), Cell::Text("0123".into()));
    }

    #[test]
    fn missing_and_null_are_empty() {
        assert_eq!(cell(ColumnKind::Text, None), Cell::Empty);
        assert_eq!(cell(ColumnKind::Json, Some(&Value::Null)), Cell::Empty);
    }

    #[test]
    fn misfits_become_text() {
        let v = json!("1.2万");
        assert_eq!(
            cell(ColumnKind::Integer, Some(&v)),
            Cell::Text("1.2万".into())
        );
        let v = json!(1);
        assert_eq!(cell(ColumnKind::Bool, Some(&v)), Cell::Text("1".into()));
        let v = json!(["a", 1]);
        assert_eq!(
            cell(ColumnKind::Text, Some(&v)),
            Cell::Text(r#"["a",1]"#.into())
        );
    }

    #[test]
    fn timestamps_from_millis_are_rfc3339_utc() {
        let v = json!(1_727_784_000_123_i64);
        assert_eq!(
            cell(ColumnKind::Timestamp, Some(&v)),
            Cell::Text("2024-10-01T12:00:00.123Z".into())
        );
        let v = json!("2024-10-01T20:00:00+08:00");
        assert_eq!(
            cell(ColumnKind::Timestamp, Some(&v)),
            Cell::Text("2024-10-01T20:00:00+08:00".into())
        );
    }

    #[test]
    fn formula_prefixes() {
        for s in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(is_formula_like(s), "{s:?}");
        }
        for s in ["", "a=1", "小红书", "'=1"] {
            assert!(!is_formula_like(s), "{s:?}");
        }
    }
}
