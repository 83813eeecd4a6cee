//! The driver for the text formats (JSON, JSONL, CSV): pulls rows, lets an [`Encoder`]
//! append their bytes to a buffer and yields the buffer whenever it passes [`CHUNK`], so
//! the output is a few large chunks rather than one per row, and never the whole file.

use std::fmt::Display;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::{Map, Value};

use super::{ExportError, ExportRow, ExportStream};

/// The size at which a chunk is yielded: 64 KiB, large enough to keep per-chunk overhead
/// low, small enough that memory stays flat.
pub(super) const CHUNK: usize = 64 * 1024;

/// One text format: its prologue, one row, its epilogue, each appended to `out`.
pub(super) trait Encoder: Send + 'static {
    /// Appends what comes before the first row (BOM and header, `[`).
    fn start(&mut self, out: &mut Vec<u8>);
    /// Appends one row.
    ///
    /// # Errors
    /// Only if serialising a value fails (it does not for `serde_json::Value`).
    fn row(&mut self, fields: &Map<String, Value>, out: &mut Vec<u8>) -> std::io::Result<()>;
    /// Appends what comes after the last row.
    fn finish(&mut self, out: &mut Vec<u8>);
}

enum Phase {
    Start,
    Rows,
    Done,
}

struct State<Enc, R, E> {
    encoder: Enc,
    rows: BoxStream<'static, Result<R, E>>,
    buf: Vec<u8>,
    /// The number of rows read so far (for error messages).
    row: u64,
    phase: Phase,
}

/// Encodes `rows` with `encoder` into chunks of about [`CHUNK`] bytes.
pub(super) fn encode<Enc, R, E>(
    encoder: Enc,
    rows: BoxStream<'static, Result<R, E>>,
) -> ExportStream
where
    Enc: Encoder,
    R: ExportRow,
    E: Display + Send + 'static,
{
    let state = State {
        encoder,
        rows,
        buf: Vec::with_capacity(CHUNK + CHUNK / 4),
        row: 0,
        phase: Phase::Start,
    };
    stream::unfold(state, |mut st| async move {
        let item = next_chunk(&mut st).await?;
        Some((item, st))
    })
    .boxed()
}

/// The next chunk, the final error, or `None` once everything has been yielded.
async fn next_chunk<Enc, R, E>(st: &mut State<Enc, R, E>) -> Option<std::io::Result<Bytes>>
where
    Enc: Encoder,
    R: ExportRow,
    E: Display,
{
    loop {
        match st.phase {
            Phase::Done => return None,
            Phase::Start => {
                st.encoder.start(&mut st.buf);
                st.phase = Phase::Rows;
            }
            Phase::Rows => match st.rows.next().await {
                Some(Ok(row)) => {
                    st.row += 1;
                    let written = match row.fields() {
                        Some(fields) => st.encoder.row(fields, &mut st.buf),
                        None => Err(ExportError::NotAnObject { row: st.row }.into()),
                    };
                    if let Err(error) = written {
                        st.phase = Phase::Done;
                        return Some(Err(error));
                    }
                    if st.buf.len() >= CHUNK {
                        return Some(Ok(take(&mut st.buf)));
                    }
                }
                Some(Err(error)) => {
                    st.phase = Phase::Done;
                    let row = st.row + 1;
                    let message = error.to_string();
                    return Some(Err(ExportError::Rows { row, message }.into()));
                }
                None => {
                    st.encoder.finish(&mut st.buf);
                    st.phase = Phase::Done;
                    return Some(Ok(take(&mut st.buf)));
                }
            },
        }
    }
}

/// Moves the buffer's bytes out, keeping a buffer of the same capacity for the next chunk.
fn take(buf: &mut Vec<u8>) -> Bytes {
    let next = Vec::with_capacity(buf.capacity());
    Bytes::from(std::mem::replace(buf, next))
}
