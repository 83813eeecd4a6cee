//! JSON, JSONL and CSV: shapes, ids as text, BOM, CRLF, formula neutralising, chunking
//! and errors.

use serde_json::{Value, json};

use super::{collect, columns, export_error, failing_rows, many_rows, ok_rows, sample};
use crate::collectors::export::text::CHUNK;
use crate::collectors::export::{ExportError, ExportFormat, UnknownFormat, export};

#[test]
fn formats_parse_and_describe_themselves() {
    assert_eq!(ExportFormat::parse("jsonl"), Ok(ExportFormat::Jsonl));
    assert_eq!(ExportFormat::Csv.content_type(), "text/csv; charset=utf-8");
    assert_eq!(ExportFormat::Xlsx.extension(), "xlsx");
    let error = ExportFormat::parse("XLS").unwrap_err();
    assert_eq!(error, UnknownFormat("XLS".into()));
    assert!(error.to_string().contains("json, jsonl, csv, xlsx"));
}

#[tokio::test]
async fn json_is_one_array_with_columns_in_order_and_ids_as_strings() {
    let (bytes, _, error) = collect(export(ExportFormat::Json, columns(), ok_rows(sample()))).await;
    assert!(error.is_none());
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with("[\n{\"id\":\"0123\",\"title\":"), "{text}");
    let rows: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["id"], json!("1010868264"));
    assert_eq!(rows[1]["title"], json!("斗破苍穹, 第一卷"));
    assert_eq!(rows[0]["tags"], json!(["玄幻", "系统"]));
    assert_eq!(rows[0]["created"], json!("2024-10-01T12:00:00.123Z"));
    assert_eq!(rows[0]["likes"], json!(12));
    // Missing fields are present as null; a misfit value is kept as text.
    assert_eq!(rows[2]["score"], Value::Null);
    assert_eq!(rows[2]["created"], Value::Null);
    assert_eq!(rows[2]["likes"], json!("1.2万"));
}

#[tokio::test]
async fn empty_json_is_an_empty_array() {
    let (bytes, _, _) = collect(export(ExportFormat::Json, columns(), ok_rows(vec![]))).await;
    assert!(
        serde_json::from_slice::<Vec<Value>>(&bytes)
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn jsonl_is_one_object_per_line() {
    let (bytes, _, error) =
        collect(export(ExportFormat::Jsonl, columns(), ok_rows(sample()))).await;
    assert!(error.is_none());
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    assert_eq!(lines.len(), 3);
    for (line, original) in lines.iter().zip(sample()) {
        let row: Value = serde_json::from_str(line).unwrap();
        assert_eq!(row["title"], original["title"]);
    }
    let first: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["id"], json!("0123"));
}

#[tokio::test]
async fn csv_has_bom_header_crlf_quoted_ids_and_neutralised_formulas() {
    let (bytes, _, error) = collect(export(ExportFormat::Csv, columns(), ok_rows(sample()))).await;
    assert!(error.is_none());
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM first");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(text.matches("\r\n").count(), 4);
    assert_eq!(text.matches('\n').count(), 4, "no bare LF");
    assert_eq!(lines[0], "id,title,likes,score,vip,tags,created");
    assert_eq!(
        lines[1],
        r#""0123","'=HYPERLINK(""http://x"")",12,4.5,true,"[""玄幻"",""系统""]",2024-10-01T12:00:00.123Z"#
    );
    assert!(lines[2].starts_with(r#""1010868264","斗破苍穹, 第一卷",0,-1,false,"#));
    assert_eq!(lines[3], r#""64b7f0c1000000001e03a1b2",'-1 day,1.2万,,,,"#);

    // A standard reader gets the values back (the apostrophe is the only change).
    let mut reader = ::csv::Reader::from_reader(&bytes[3..]);
    let records: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 3);
    assert_eq!(&records[0][0], "0123");
    assert_eq!(&records[0][1], "'=HYPERLINK(\"http://x\")");
    assert_eq!(&records[1][1], "斗破苍穹, 第一卷");
    assert_eq!(&records[1][5], r#"{"k":"v"}"#);
}

#[tokio::test]
async fn text_output_comes_in_chunks_of_about_64_kib() {
    let (bytes, sizes, error) =
        collect(export(ExportFormat::Csv, columns(), many_rows(20_000))).await;
    assert!(error.is_none());
    assert!(sizes.len() > 3, "{sizes:?}");
    let (last, full) = sizes.split_last().unwrap();
    assert!(
        full.iter()
            .all(|&size| (CHUNK..CHUNK + 1024).contains(&size)),
        "{sizes:?}"
    );
    assert!(*last < CHUNK + 1024);
    let records = ::csv::Reader::from_reader(&bytes[3..]).records().count();
    assert_eq!(records, 20_000);
}

#[tokio::test]
async fn a_row_error_ends_the_stream_with_an_io_error() {
    for format in [ExportFormat::Json, ExportFormat::Jsonl, ExportFormat::Csv] {
        let (_, _, error) = collect(export(format, columns(), failing_rows())).await;
        let error = error.unwrap();
        match export_error(&error) {
            Some(ExportError::Rows { row: 3, message }) => assert_eq!(message, "connection reset"),
            other => panic!("{format:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_row_that_is_not_an_object_is_invalid_data() {
    let rows = ok_rows(vec![json!({"id": "1"}), json!(5)]);
    let (_, _, error) = collect(export(ExportFormat::Jsonl, columns(), rows)).await;
    let error = error.unwrap();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert!(matches!(
        export_error(&error),
        Some(ExportError::NotAnObject { row: 2 })
    ));
}

#[tokio::test]
async fn the_stream_is_an_axum_body() {
    let body =
        axum::body::Body::from_stream(export(ExportFormat::Jsonl, columns(), ok_rows(sample())));
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 3);
}
