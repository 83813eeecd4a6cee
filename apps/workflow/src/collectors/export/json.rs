//! JSON (one array) and JSONL (one object per line) encoders. Each row is an object with
//! the columns in order, missing fields as `null`, ids as strings and Json columns nested.

use serde_json::{Map, Value};

use super::Column;
use super::cell::{Cell, cell};
use super::text::Encoder;

/// Writes rows as JSON objects, either inside one array or one per line.
pub(super) struct JsonEncoder {
    /// Each column with its key already serialised with the colon: `"name":`.
    keys: Vec<(Column, Vec<u8>)>,
    array: bool,
    /// Whether a row has been written (the array needs `,` before the next one).
    wrote_row: bool,
}

impl JsonEncoder {
    /// `[` rows separated by `,` `]`, one row per line for readability.
    pub(super) fn array(columns: Vec<Column>) -> Self {
        Self::new(columns, true)
    }

    /// One object per line, each line ending in `\n`.
    pub(super) fn lines(columns: Vec<Column>) -> Self {
        Self::new(columns, false)
    }

    fn new(columns: Vec<Column>, array: bool) -> Self {
        let keys = columns
            .into_iter()
            .map(|column| {
                let mut key = Value::String(column.name.clone()).to_string().into_bytes();
                key.push(b':');
                (column, key)
            })
            .collect();
        Self {
            keys,
            array,
            wrote_row: false,
        }
    }
}

impl Encoder for JsonEncoder {
    fn start(&mut self, out: &mut Vec<u8>) {
        if self.array {
            out.push(b'[');
        }
    }

    fn row(&mut self, fields: &Map<String, Value>, out: &mut Vec<u8>) -> std::io::Result<()> {
        if self.array {
            out.extend_from_slice(if self.wrote_row { b",\n" } else { b"\n" });
        }
        self.wrote_row = true;
        out.push(b'{');
        for (i, (column, key)) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            match cell(column.kind, fields.get(&column.name)) {
                Cell::Empty => out.extend_from_slice(b"null"),
                Cell::Text(text) => serde_json::to_writer(&mut *out, text.as_ref())?,
                Cell::Number(n) => serde_json::to_writer(&mut *out, n)?,
                Cell::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
                Cell::Nested(v) => serde_json::to_writer(&mut *out, v)?,
            }
        }
        out.push(b'}');
        if !self.array {
            out.push(b'\n');
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.array {
            out.extend_from_slice(if self.wrote_row { b"\n]\n" } else { b"]\n" });
        }
    }
}
