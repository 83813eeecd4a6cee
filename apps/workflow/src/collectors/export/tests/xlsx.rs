//! XLSX: ids as inline strings, typed cells, the sheet rollover, long text, errors, and no
//! file left behind whether the stream is consumed or dropped.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use super::{collect, columns, export_error, failing_rows, many_rows, ok_rows, sample};
use crate::collectors::export::sheet::TRUNCATED;
use crate::collectors::export::xlsx::{DATA_ROWS_PER_SHEET, encode};
use crate::collectors::export::{Column, ColumnKind, ExportError, ExportFormat};
use crate::collectors::export::{export, export_with_temp_dir};

/// A fresh, empty directory for one test's spill files; removed by the test when done.
fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trellis-export-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&dir).unwrap();
    dir
}

/// Whether `dir` has no entries.
fn is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

/// Waits (up to 10 s) for the writer thread to finish cleaning `dir`.
async fn wait_until_empty(dir: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !is_empty(dir) {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// The workbook part `name` (e.g. `xl/worksheets/sheet1.xml`), if present.
fn part(xlsx: &[u8], name: &str) -> Option<String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut file = archive.by_name(name).ok()?;
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    Some(text)
}

/// The XML of the cell at `reference` (e.g. `A2`) in a sheet.
fn cell<'a>(sheet: &'a str, reference: &str) -> &'a str {
    let start = sheet.find(&format!("<c r=\"{reference}\"")).unwrap();
    let end = start + sheet[start..].find("</c>").unwrap();
    &sheet[start..end]
}

/// Asserts that the cell at `reference` contains `needle`.
fn assert_cell(sheet: &str, reference: &str, needle: &str) {
    let xml = cell(sheet, reference);
    assert!(xml.contains(needle), "{reference}: {xml} lacks {needle}");
}

#[tokio::test]
async fn ids_are_text_cells_and_values_keep_their_types() {
    let (bytes, _, error) = collect(export(ExportFormat::Xlsx, columns(), ok_rows(sample()))).await;
    assert!(error.is_none(), "{error:?}");
    assert!(bytes.starts_with(b"PK"));
    let sheet = part(&bytes, "xl/worksheets/sheet1.xml").unwrap();
    for (reference, id) in [
        ("A2", "0123"),
        ("A3", "1010868264"),
        ("A4", "64b7f0c1000000001e03a1b2"),
    ] {
        let xml = cell(&sheet, reference);
        assert!(xml.contains("t=\"inlineStr\""), "{xml}");
        assert!(xml.contains(&format!("<t>{id}</t>")), "{xml}");
        assert!(!xml.contains("<v>"), "{xml}");
    }
    // Header row, Chinese text, numbers, booleans, nested JSON and timestamps.
    assert_cell(&sheet, "B1", "<t>title</t>");
    assert_cell(&sheet, "B3", "<t>斗破苍穹, 第一卷</t>");
    assert_cell(&sheet, "B2", r#"<t>=HYPERLINK("http://x")</t>"#);
    assert_cell(&sheet, "C2", "<v>12</v>");
    assert_cell(&sheet, "D2", "<v>4.5</v>");
    assert_cell(&sheet, "E2", "t=\"b\"");
    assert_cell(&sheet, "F2", r#"<t>["玄幻","系统"]</t>"#);
    assert_cell(&sheet, "G2", "<t>2024-10-01T12:00:00.123Z</t>");
    assert_cell(&sheet, "C4", "<t>1.2万</t>");
    assert!(!sheet.contains("<c r=\"D4\""), "missing values are blank");
    // The bold header font, and the text format `@` on the id cells.
    let styles = part(&bytes, "xl/styles.xml").unwrap();
    assert!(styles.contains("<b/>"), "{styles}");
    assert!(styles.contains(r#"formatCode="@""#), "{styles}");
    assert_cell(&sheet, "A2", " s=\"");
}

#[tokio::test]
async fn twenty_thousand_rows_stream_through() {
    let columns = vec![
        Column::new("id", ColumnKind::Id),
        Column::new("title", ColumnKind::Text),
        Column::new("likes", ColumnKind::Integer),
    ];
    let dir = temp_dir();
    let stream = export_with_temp_dir(ExportFormat::Xlsx, columns, many_rows(20_000), dir.clone());
    let (bytes, sizes, error) = collect(stream).await;
    assert!(error.is_none(), "{error:?}");
    assert!(sizes.len() > 1, "the zip is sent in chunks: {sizes:?}");
    let sheet = part(&bytes, "xl/worksheets/sheet1.xml").unwrap();
    assert!(cell(&sheet, "A20001").contains(&format!("<t>{:024x}</t>", 19_999)));
    assert_cell(&sheet, "C20001", "<v>19999</v>");
    assert!(part(&bytes, "xl/worksheets/sheet2.xml").is_none());
    assert!(is_empty(&dir), "no file left after the stream ends");
    std::fs::remove_dir(&dir).unwrap();
}

#[tokio::test]
async fn rows_past_the_sheet_limit_continue_on_a_new_sheet_with_the_header() {
    assert_eq!(DATA_ROWS_PER_SHEET, 1_048_576 - 1);
    let stream = encode(columns(), many_rows(7).boxed(), std::env::temp_dir(), 3);
    let (bytes, _, error) = collect(stream).await;
    assert!(error.is_none(), "{error:?}");
    for (name, last_id) in [("sheet1", 2), ("sheet2", 5), ("sheet3", 6)] {
        let sheet = part(&bytes, &format!("xl/worksheets/{name}.xml")).unwrap();
        assert!(cell(&sheet, "A1").contains("<t>id</t>"), "{name}");
        let last = if name == "sheet3" { "A2" } else { "A4" };
        assert!(
            cell(&sheet, last).contains(&format!("<t>{last_id:024x}</t>")),
            "{name}"
        );
        assert!(!sheet.contains("<row r=\"5\""), "{name}");
    }
    assert!(part(&bytes, "xl/worksheets/sheet4.xml").is_none());
}

#[tokio::test]
async fn text_longer_than_a_cell_is_truncated_with_a_marker() {
    let rows = ok_rows(vec![json!({"id": "1", "title": "长".repeat(40_000)})]);
    let (bytes, _, error) = collect(export(ExportFormat::Xlsx, columns(), rows)).await;
    assert!(error.is_none(), "{error:?}");
    let sheet = part(&bytes, "xl/worksheets/sheet1.xml").unwrap();
    let title = cell(&sheet, "B2");
    assert!(title.contains(&format!("{TRUNCATED}</t>")));
    assert_eq!(
        title.matches('长').count(),
        32_767 - TRUNCATED.encode_utf16().count()
    );
}

#[tokio::test]
async fn row_errors_and_writer_errors_end_the_stream() {
    let dir = temp_dir();
    let stream = export_with_temp_dir(ExportFormat::Xlsx, columns(), failing_rows(), dir.clone());
    let (bytes, _, error) = collect(stream).await;
    assert!(bytes.is_empty());
    assert!(matches!(
        export_error(&error.unwrap()),
        Some(ExportError::Rows { row: 3, .. })
    ));
    assert!(is_empty(&dir));
    std::fs::remove_dir(&dir).unwrap();

    let rows = ok_rows(vec![json!(["not", "an", "object"])]);
    let (_, _, error) = collect(export(ExportFormat::Xlsx, columns(), rows)).await;
    assert!(matches!(
        export_error(&error.unwrap()),
        Some(ExportError::NotAnObject { row: 1 })
    ));

    let missing = std::env::temp_dir().join(format!("no-such-dir-{}", uuid::Uuid::new_v4()));
    let stream = export_with_temp_dir(ExportFormat::Xlsx, columns(), ok_rows(sample()), missing);
    let (_, _, error) = collect(stream).await;
    assert!(matches!(
        export_error(&error.unwrap()),
        Some(ExportError::Xlsx(_))
    ));
}

#[tokio::test]
async fn dropping_the_stream_while_sending_bytes_leaves_no_file() {
    let dir = temp_dir();
    let mut stream = export_with_temp_dir(
        ExportFormat::Xlsx,
        columns(),
        many_rows(20_000),
        dir.clone(),
    );
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"PK"));
    // The worksheet spill is anonymous (unlinked at creation on Unix): nothing to leak.
    #[cfg(unix)]
    assert!(is_empty(&dir));
    drop(stream);
    assert!(wait_until_empty(&dir).await);
    std::fs::remove_dir(&dir).unwrap();
}

#[tokio::test]
async fn dropping_the_stream_while_reading_rows_leaves_no_file() {
    let dir = temp_dir();
    // Rows that never end, like a stalled database page.
    let rows = ok_rows(sample()).chain(futures::stream::pending::<Result<Value, _>>());
    let mut stream = export_with_temp_dir(ExportFormat::Xlsx, columns(), rows, dir.clone());
    let polled = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
    assert!(polled.is_err(), "no bytes before the rows end");
    drop(stream);
    assert!(wait_until_empty(&dir).await);
    std::fs::remove_dir(&dir).unwrap();
}
