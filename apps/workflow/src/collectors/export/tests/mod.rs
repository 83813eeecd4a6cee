//! Tests of the public export API: the text formats in `text`, XLSX in `xlsx`.

mod text;
mod xlsx;

use std::convert::Infallible;

use futures::stream::{Stream, StreamExt};
use serde_json::{Value, json};

use super::{Column, ColumnKind, ExportError, ExportStream};

/// The columns of a collected Qidian/XHS item, one of each kind.
fn columns() -> Vec<Column> {
    vec![
        Column::new("id", ColumnKind::Id),
        Column::new("title", ColumnKind::Text),
        Column::new("likes", ColumnKind::Integer),
        Column::new("score", ColumnKind::Number),
        Column::new("vip", ColumnKind::Bool),
        Column::new("tags", ColumnKind::Json),
        Column::new("created", ColumnKind::Timestamp),
    ]
}

/// Three rows: a leading-zero id with a formula title, an all-digit numeric id with
/// Chinese text and a comma, a 24-hex XHS note id with a missing field.
fn sample() -> Vec<Value> {
    vec![
        json!({"id": "0123", "title": "=HYPERLINK(\"http://x\")", "likes": 12, "score": 4.5,
               "vip": true, "tags": ["玄幻", "系统"], "created": 1_727_784_000_123_i64}),
        json!({"id": 1_010_868_264_u64, "title": "斗破苍穹, 第一卷", "likes": 0, "score": -1,
               "vip": false, "tags": {"k": "v"}, "created": "2024-10-01T20:00:00+08:00"}),
        json!({"id": "64b7f0c1000000001e03a1b2", "title": "-1 day", "likes": "1.2万",
               "vip": null, "tags": null}),
    ]
}

/// `values` as an infallible row stream.
fn ok_rows(values: Vec<Value>) -> impl Stream<Item = Result<Value, Infallible>> + Send {
    futures::stream::iter(values.into_iter().map(Ok))
}

/// `count` generated rows, produced lazily (never a vector of them all).
fn many_rows(count: u64) -> impl Stream<Item = Result<Value, Infallible>> + Send {
    futures::stream::iter(
        (0..count).map(|i| {
            Ok(json!({"id": format!("{:024x}", i), "title": format!("第{i}章"), "likes": i}))
        }),
    )
}

/// Two rows, then a database error.
fn failing_rows() -> impl Stream<Item = Result<Value, &'static str>> + Send {
    futures::stream::iter(vec![
        Ok(json!({"id": "1"})),
        Ok(json!({"id": "2"})),
        Err("connection reset"),
    ])
}

/// Every chunk of `stream` concatenated, and the error it ended with, if any.
async fn collect(mut stream: ExportStream) -> (Vec<u8>, Vec<usize>, Option<std::io::Error>) {
    let mut bytes = Vec::new();
    let mut sizes = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => {
                sizes.push(chunk.len());
                bytes.extend_from_slice(&chunk);
            }
            Err(error) => {
                assert!(stream.next().await.is_none(), "nothing follows the error");
                return (bytes, sizes, Some(error));
            }
        }
    }
    (bytes, sizes, None)
}

/// The [`ExportError`] inside a stream error.
fn export_error(error: &std::io::Error) -> Option<&ExportError> {
    error.get_ref()?.downcast_ref::<ExportError>()
}
