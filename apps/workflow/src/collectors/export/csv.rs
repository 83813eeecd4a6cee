//! The CSV encoder: RFC 4180 (fields separated by `,`, records ended by CRLF, quotes
//! doubled inside quoted fields), UTF-8 with a byte-order mark first so Excel reads the
//! file as UTF-8 instead of the local code page (MediaCrawler#262 mojibake).
//!
//! The fields are quoted here rather than by the `csv` crate's writer because its
//! `QuoteStyle` applies to a whole file, and we want Id fields always quoted while numbers
//! stay bare. The tests read the output back with the `csv` crate's reader.
//!
//! Every text cell that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab,
//! CR first) gets a leading `'` (OWASP "CSV Injection"). That includes ids: they come from
//! the collected sites, so they are as untrusted as any text.

use serde_json::{Map, Value};

use super::cell::{Cell, cell, is_formula_like};
use super::text::Encoder;
use super::{Column, ColumnKind};

/// The UTF-8 byte-order mark.
pub(super) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Writes the BOM, a header of column names and one CRLF-ended record per row.
pub(super) struct CsvEncoder {
    columns: Vec<Column>,
}

impl CsvEncoder {
    /// An encoder for `columns`, in order.
    pub(super) fn new(columns: Vec<Column>) -> Self {
        Self { columns }
    }
}

impl Encoder for CsvEncoder {
    fn start(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(BOM);
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_text(out, &column.name, false);
        }
        out.extend_from_slice(b"\r\n");
    }

    fn row(&mut self, fields: &Map<String, Value>, out: &mut Vec<u8>) -> std::io::Result<()> {
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let always_quote = column.kind == ColumnKind::Id;
            match cell(column.kind, fields.get(&column.name)) {
                Cell::Empty => {}
                Cell::Text(text) => write_text(out, &text, always_quote),
                Cell::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
                Cell::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
                Cell::Nested(v) => write_text(out, &v.to_string(), always_quote),
            }
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }

    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

/// Appends one text field: neutralised if formula-like, quoted when `always_quote` or when
/// it holds a comma, a quote, CR or LF (RFC 4180 §2.6), with inner quotes doubled.
fn write_text(out: &mut Vec<u8>, text: &str, always_quote: bool) {
    let neutralise = is_formula_like(text);
    let quote = always_quote
        || text
            .bytes()
            .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
    if quote {
        out.push(b'"');
    }
    if neutralise {
        out.push(b'\'');
    }
    if quote {
        for part in text.split_inclusive('"') {
            out.extend_from_slice(part.as_bytes());
            if part.ends_with('"') {
                out.push(b'"');
            }
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(text: &str, always_quote: bool) -> String {
        let mut out = Vec::new();
        write_text(&mut out, text, always_quote);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn quotes_only_when_needed_or_asked() {
        assert_eq!(field("plain", false), "plain");
        assert_eq!(field("0123", true), "\"0123\"");
        assert_eq!(field("a,b", false), "\"a,b\"");
        assert_eq!(field("say \"hi\"", false), "\"say \"\"hi\"\"\"");
        assert_eq!(field("line\nbreak", false), "\"line\nbreak\"");
    }

    #[test]
    fn formulas_get_an_apostrophe_inside_the_quotes() {
        assert_eq!(
            field("=HYPERLINK(\"x\")", false),
            "\"'=HYPERLINK(\"\"x\"\")\""
        );
        assert_eq!(field("-1", true), "\"'-1\"");
        assert_eq!(field("@cmd", false), "'@cmd");
    }
}
