//! Streaming exports of collected items: JSON, JSONL, CSV and XLSX (collectors.md §0.5 and
//! §4: "JSONL/JSON, CSV with a UTF-8 BOM and IDs as text, XLSX").
//!
//! The caller feeds rows page by page as a [`Stream`] and gets a byte stream back, ready
//! for `axum::body::Body::from_stream(export(..))`. No format holds all rows at once:
//!
//! - JSON and JSONL are written row by row into ~64 KiB chunks ([`ExportFormat::Json`] is
//!   still a single array: `[`, the rows separated by `,`, `]`);
//! - CSV is RFC 4180 (CRLF line ends), UTF-8 with a byte-order mark so Excel does not
//!   show Chinese text as mojibake (MediaCrawler#262), Id cells always quoted and formula
//!   injection neutralised (see [`ColumnKind::Id`] for what quoting cannot do in Excel);
//! - XLSX uses `rust_xlsxwriter` in constant-memory mode on a blocking thread: only the
//!   current row is in memory, earlier rows go to the library's anonymous temp file, and
//!   the zip is streamed to the client as it is compressed. Id cells are text cells with
//!   the text number format `@`, so Excel never turns long ids into numbers
//!   (MediaCrawler#110).
//!
//! Errors: the output stream ends with an [`std::io::Error`] (wrapping an [`ExportError`],
//! reachable with `get_ref().downcast_ref()`) when a row fails, a row is not a JSON object
//! or the XLSX writer fails; the HTTP layer then aborts the response. Dropping the stream
//! early stops the work, including the XLSX thread, and leaves no file behind.

mod cell;
mod csv;
mod json;
mod sheet;
mod text;
mod xlsx;

use std::fmt::Display;
use std::path::PathBuf;

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use serde_json::{Map, Value};

/// The output of [`export`]: chunks of the file, or one final error.
pub type ExportStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// An export file format, parsed from the `format` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON array of row objects.
    Json,
    /// One JSON object per line (newline-delimited JSON).
    Jsonl,
    /// RFC 4180 CSV, UTF-8 with a byte-order mark.
    Csv,
    /// An Excel workbook (Office Open XML).
    Xlsx,
}

/// An export format name that is not one of `json`, `jsonl`, `csv`, `xlsx`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown export format \"{0}\"; expected one of json, jsonl, csv, xlsx")]
pub struct UnknownFormat(pub String);

impl ExportFormat {
    /// Parses a lower-case format name: `json`, `jsonl`, `csv` or `xlsx`.
    ///
    /// # Errors
    /// [`UnknownFormat`] for anything else; its message lists the four names.
    pub fn parse(name: &str) -> Result<Self, UnknownFormat> {
        match name {
            "json" => Ok(Self::Json),
            "jsonl" => Ok(Self::Jsonl),
            "csv" => Ok(Self::Csv),
            "xlsx" => Ok(Self::Xlsx),
            other => Err(UnknownFormat(other.to_owned())),
        }
    }

    /// The `Content-Type` header value for this format.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Jsonl => "application/x-ndjson",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    /// The file-name extension without the dot: `json`, `jsonl`, `csv` or `xlsx`.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }
}

/// How a column's values are written. A value that does not fit its kind (say the string
/// `"1.2万"` in an [`Integer`](Self::Integer) column) is written as text, never dropped; a
/// missing or `null` value is JSON `null`, an empty CSV field or a blank XLSX cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Free text. In CSV a text cell (of any kind, ids included) starting with `=`, `+`,
    /// `-`, `@`, tab or CR gets a leading `'` (OWASP "CSV Injection"); XLSX string cells are
    /// never formulas, so they are written unchanged.
    Text,
    /// An identifier, always a string, even when all digits (JSON numbers become strings).
    ///
    /// CSV always quotes it, but Excel converts a quoted all-digit field to a number all
    /// the same: ids longer than 15 digits lose their tail and leading zeros vanish. CSV has
    /// no standard way to force text (`="0123"` breaks other readers), so XLSX, where the
    /// cell is text with the format `@`, is the format to offer Excel users.
    Id,
    /// A whole number. In XLSX, integers beyond 15 digits are text (Excel keeps 15).
    Integer,
    /// A number.
    Number,
    /// `true` or `false` (an XLSX boolean cell).
    Bool,
    /// A nested value: kept nested in JSON and JSONL, compact JSON text in CSV and XLSX.
    Json,
    /// A point in time as RFC 3339 text. Strings are written as given; a JSON integer is
    /// read as Unix epoch milliseconds (the platform's storage unit) and written in UTC.
    Timestamp,
}

/// One output column: the row field it reads (and the header it gets) and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The field name in each row object; also the header text and the JSON key.
    pub name: String,
    /// How the field's values are written.
    pub kind: ColumnKind,
}

impl Column {
    /// A column reading field `name` as `kind`.
    #[must_use]
    pub fn new(name: impl Into<String>, kind: ColumnKind) -> Self {
        Self {
            name: name.into(),
            kind,
        }
    }
}

/// A row the exporter can read: a JSON object, either as a map or as a [`Value`].
pub trait ExportRow: Send + 'static {
    /// The row's fields, or `None` when the row is not an object (the export then fails
    /// with [`ExportError::NotAnObject`]).
    fn fields(&self) -> Option<&Map<String, Value>>;
}

impl ExportRow for Map<String, Value> {
    fn fields(&self) -> Option<&Map<String, Value>> {
        Some(self)
    }
}

impl ExportRow for Value {
    fn fields(&self) -> Option<&Map<String, Value>> {
        self.as_object()
    }
}

/// Why an export stream ended early; carried inside the stream's [`std::io::Error`].
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The row stream yielded an error (row numbers count data rows from 1).
    #[error("reading row {row} failed: {message}")]
    Rows {
        /// The number of the row that failed.
        row: u64,
        /// The row stream error's message.
        message: String,
    },
    /// A row was not a JSON object.
    #[error("row {row} is not a JSON object")]
    NotAnObject {
        /// The number of the offending row.
        row: u64,
    },
    /// More columns than an Excel sheet holds (16,384).
    #[error("XLSX holds at most 16,384 columns; {count} were requested")]
    TooManyColumns {
        /// The number of columns asked for.
        count: usize,
    },
    /// `rust_xlsxwriter` failed (temp directory not writable, …).
    #[error("writing the XLSX file failed: {0}")]
    Xlsx(String),
}

impl From<ExportError> for std::io::Error {
    fn from(error: ExportError) -> Self {
        let kind = match error {
            ExportError::NotAnObject { .. } => std::io::ErrorKind::InvalidData,
            _ => std::io::ErrorKind::Other,
        };
        Self::new(kind, error)
    }
}

/// Exports `rows` as `format`, with `columns` in order; XLSX spills rows to the system
/// temp directory ([`std::env::temp_dir`]).
///
/// The stream yields chunks of about 64 KiB (CSV, JSON, JSONL) or of the compressed
/// workbook (XLSX); it ends with an error as described in the [module docs](self). Call it
/// inside a Tokio runtime (XLSX uses `spawn_blocking` when first polled).
pub fn export<S, R, E>(format: ExportFormat, columns: Vec<Column>, rows: S) -> ExportStream
where
    S: Stream<Item = Result<R, E>> + Send + 'static,
    R: ExportRow,
    E: Display + Send + 'static,
{
    export_with_temp_dir(format, columns, rows, std::env::temp_dir())
}

/// [`export`] with XLSX spilling rows to `temp_dir` instead of the system temp directory
/// (the spill file is anonymous: the OS removes it when the export ends or is dropped).
pub fn export_with_temp_dir<S, R, E>(
    format: ExportFormat,
    columns: Vec<Column>,
    rows: S,
    temp_dir: PathBuf,
) -> ExportStream
where
    S: Stream<Item = Result<R, E>> + Send + 'static,
    R: ExportRow,
    E: Display + Send + 'static,
{
    let rows = rows.boxed();
    match format {
        ExportFormat::Json => text::encode(json::JsonEncoder::array(columns), rows),
        ExportFormat::Jsonl => text::encode(json::JsonEncoder::lines(columns), rows),
        ExportFormat::Csv => text::encode(csv::CsvEncoder::new(columns), rows),
        ExportFormat::Xlsx => xlsx::encode(columns, rows, temp_dir, xlsx::DATA_ROWS_PER_SHEET),
    }
}

#[cfg(test)]
mod tests;
