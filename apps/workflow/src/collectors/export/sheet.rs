//! The blocking XLSX writer: one constant-memory worksheet at a time (only the current row
//! in memory), a bold header row, Id and Text cells as strings, Id cells and columns with
//! the text format `@` so Excel never turns long ids into numbers (MediaCrawler#110).

use std::borrow::Cow;
use std::path::Path;

use rust_xlsxwriter::{ColNum, Format, RowNum, Workbook, Worksheet, XlsxError};
use serde_json::{Map, Number, Value};
use tokio::sync::mpsc;

use super::cell::{Cell, cell};
use super::xlsx::{ByteSink, Msg};
use super::{Column, ColumnKind, ExportError, ExportRow};

/// Excel's column limit.
const MAX_COLUMNS: usize = 16_384;
/// Excel's cell limit, in UTF-16 code units (what `rust_xlsxwriter` checks).
const MAX_CELL_UNITS: usize = 32_767;
/// What replaces the tail of a longer text (1 + 11 UTF-16 units).
pub(super) const TRUNCATED: &str = "…[truncated]";
/// The largest integer Excel stores exactly: it keeps 15 significant digits.
const MAX_EXACT_INTEGER: u64 = 999_999_999_999_999;

/// The formats shared by every sheet.
struct Styles {
    header: Format,
    id: Format,
}

/// Receives rows until [`Msg::End`], writes them, then saves the workbook into `sink`.
///
/// # Errors
/// [`ExportError::TooManyColumns`], [`ExportError::NotAnObject`], [`ExportError::Xlsx`]
/// (for instance `temp_dir` not writable), or an error saying the export was dropped (no
/// one reads that one).
pub(super) fn write_workbook<R: ExportRow>(
    columns: &[Column],
    mut rows: mpsc::Receiver<Msg<R>>,
    mut sink: ByteSink,
    temp_dir: &Path,
    rows_per_sheet: u32,
) -> std::io::Result<()> {
    if columns.len() > MAX_COLUMNS {
        return Err(ExportError::TooManyColumns {
            count: columns.len(),
        }
        .into());
    }
    let styles = Styles {
        header: Format::new().set_bold(),
        id: Format::new().set_num_format("@"),
    };
    let mut workbook = Workbook::new();
    workbook.set_tempdir(temp_dir).map_err(xlsx)?;
    let mut sheet = new_sheet(&mut workbook, columns, &styles)?;
    // The next worksheet row to write; row 0 is the header.
    let mut next: RowNum = 1;
    let mut row = 0_u64;
    loop {
        match rows.blocking_recv() {
            Some(Msg::Row(value)) => {
                row += 1;
                let fields = value.fields().ok_or(ExportError::NotAnObject { row })?;
                if next > rows_per_sheet {
                    sheet = new_sheet(&mut workbook, columns, &styles)?;
                    next = 1;
                }
                write_row(sheet, next, columns, fields, &styles).map_err(xlsx)?;
                next += 1;
            }
            Some(Msg::End) => break,
            None => {
                return Err(std::io::Error::other("the XLSX export was dropped"));
            }
        }
    }
    workbook.save_to_writer(&mut sink).map_err(xlsx)?;
    sink.finish()
}

/// Adds a constant-memory worksheet with the bold header row, the header frozen, and
/// the text format on Id columns (so cells typed in later stay text too).
fn new_sheet<'w>(
    workbook: &'w mut Workbook,
    columns: &[Column],
    styles: &Styles,
) -> std::io::Result<&'w mut Worksheet> {
    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .map_err(xlsx)?;
    for (col, column) in (0..).zip(columns) {
        if column.kind == ColumnKind::Id {
            sheet.set_column_format(col, &styles.id).map_err(xlsx)?;
        }
        sheet
            .write_string_with_format(0, col, excel_text(&column.name), &styles.header)
            .map_err(xlsx)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(xlsx)?;
    Ok(sheet)
}

/// Writes one data row at `row`.
fn write_row(
    sheet: &mut Worksheet,
    row: RowNum,
    columns: &[Column],
    fields: &Map<String, Value>,
    styles: &Styles,
) -> Result<(), XlsxError> {
    for (col, column) in (0..).zip(columns) {
        match cell(column.kind, fields.get(&column.name)) {
            Cell::Empty => {}
            Cell::Text(text) => write_text(sheet, row, col, column.kind, &text, styles)?,
            Cell::Number(n) => match excel_number(n) {
                Some(number) => {
                    sheet.write_number(row, col, number)?;
                }
                None => write_text(sheet, row, col, column.kind, &n.to_string(), styles)?,
            },
            Cell::Bool(b) => {
                sheet.write_boolean(row, col, b)?;
            }
            Cell::Nested(v) => write_text(sheet, row, col, column.kind, &v.to_string(), styles)?,
        }
    }
    Ok(())
}

/// A string cell (inline in constant-memory mode), formatted `@` in Id columns.
fn write_text(
    sheet: &mut Worksheet,
    row: RowNum,
    col: ColNum,
    kind: ColumnKind,
    text: &str,
    styles: &Styles,
) -> Result<(), XlsxError> {
    let text = excel_text(text);
    if kind == ColumnKind::Id {
        sheet.write_string_with_format(row, col, text, &styles.id)?;
    } else {
        sheet.write_string(row, col, text)?;
    }
    Ok(())
}

/// The number as Excel stores it, or `None` for an integer Excel would round (more than
/// 15 digits), which is then written as text.
fn excel_number(n: &Number) -> Option<f64> {
    let too_long = match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => u > MAX_EXACT_INTEGER,
        (None, Some(i)) => i.unsigned_abs() > MAX_EXACT_INTEGER,
        (None, None) => false,
    };
    if too_long { None } else { n.as_f64() }
}

/// `text` cut to Excel's 32,767-unit cell limit, ending in [`TRUNCATED`] when cut.
pub(super) fn excel_text(text: &str) -> Cow<'_, str> {
    // A UTF-16 string is never longer in units than its UTF-8 form in bytes.
    if text.len() <= MAX_CELL_UNITS || text.encode_utf16().count() <= MAX_CELL_UNITS {
        return Cow::Borrowed(text);
    }
    let budget = MAX_CELL_UNITS - TRUNCATED.encode_utf16().count();
    let mut units = 0;
    let mut end = 0;
    for (at, ch) in text.char_indices() {
        if units + ch.len_utf16() > budget {
            break;
        }
        units += ch.len_utf16();
        end = at + ch.len_utf8();
    }
    Cow::Owned(format!("{}{TRUNCATED}", &text[..end]))
}

/// Wraps a `rust_xlsxwriter` error.
fn xlsx(error: XlsxError) -> std::io::Error {
    ExportError::Xlsx(error.to_string()).into()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn short_text_is_borrowed_and_long_text_is_cut_at_the_limit() {
        assert!(matches!(excel_text("小红书"), Cow::Borrowed("小红书")));
        let long = "书".repeat(40_000);
        let cut = excel_text(&long);
        assert_eq!(cut.encode_utf16().count(), MAX_CELL_UNITS);
        assert!(cut.ends_with(TRUNCATED));
        // Characters outside the BMP take two units and are never split.
        let emoji = "😀".repeat(20_000);
        let cut = excel_text(&emoji);
        assert!(cut.encode_utf16().count() <= MAX_CELL_UNITS);
        assert!(cut.ends_with(TRUNCATED));
    }

    #[test]
    fn integers_past_15_digits_are_not_numbers() {
        let small = json!(999_999_999_999_999_u64);
        let big = json!(1_000_000_000_000_000_u64);
        let negative = json!(-1_000_000_000_000_000_i64);
        let float = json!(1.5);
        let as_number = |v: &Value| v.as_number().and_then(excel_number);
        assert_eq!(as_number(&small), Some(999_999_999_999_999.0));
        assert_eq!(as_number(&big), None);
        assert_eq!(as_number(&negative), None);
        assert_eq!(as_number(&float), Some(1.5));
    }
}
