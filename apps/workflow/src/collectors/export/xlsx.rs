//! XLSX export plumbing: the async side pumps rows through a bounded channel to a blocking
//! thread that writes the workbook ([`super::sheet`]); the thread streams the zip back
//! through a second bounded channel while `rust_xlsxwriter` compresses it.
//!
//! No output file: `rust_xlsxwriter` writes its zip in streaming mode
//! (`ZipWriter::new_stream`, `Write` without `Seek`), so the bytes go straight to the
//! client. The only file is the worksheet spill that constant-memory mode keeps in
//! `temp_dir`, and that one is anonymous (`tempfile_in`): it disappears with the writer.
//!
//! Cancellation: dropping the output stream drops a channel end; the thread sees it (a
//! closed row channel without [`Msg::End`], or a failed send of bytes), stops and drops the
//! workbook. Both channels are bounded, so a slow client slows the database reads down
//! instead of filling memory.

use std::fmt::Display;
use std::io::Write;
use std::path::PathBuf;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::text::CHUNK;
use super::{Column, ExportError, ExportRow, ExportStream, sheet};

/// Data rows per sheet: Excel's 1,048,576 rows less the header. Past it the export
/// continues on a new sheet (`Sheet2`, …) with the header repeated, rather than failing
/// an export that CSV or JSONL would have carried.
pub(super) const DATA_ROWS_PER_SHEET: u32 = 1_048_575;

/// Rows queued for the writer thread: enough to cover a database page.
const ROW_QUEUE: usize = 256;
/// Chunks of [`CHUNK`] bytes queued for the client.
const BYTE_QUEUE: usize = 4;

/// A message to the writer thread. `End` tells a finished row stream apart from a dropped
/// export: only after `End` is the workbook saved.
pub(super) enum Msg<R> {
    /// The next row.
    Row(R),
    /// No more rows: save the workbook.
    End,
}

/// Streams `rows` as an XLSX workbook, `rows_per_sheet` data rows per sheet (tests pass a
/// small number to exercise the rollover).
pub(super) fn encode<R, E>(
    columns: Vec<Column>,
    rows: BoxStream<'static, Result<R, E>>,
    temp_dir: PathBuf,
    rows_per_sheet: u32,
) -> ExportStream
where
    R: ExportRow,
    E: Display + Send + 'static,
{
    stream::once(start(columns, rows, temp_dir, rows_per_sheet))
        .try_flatten()
        .boxed()
}

/// Starts the writer thread, feeds it every row, then hands back the byte stream.
async fn start<R, E>(
    columns: Vec<Column>,
    rows: BoxStream<'static, Result<R, E>>,
    temp_dir: PathBuf,
    rows_per_sheet: u32,
) -> std::io::Result<ExportStream>
where
    R: ExportRow,
    E: Display + Send + 'static,
{
    let (row_tx, row_rx) = mpsc::channel(ROW_QUEUE);
    let (byte_tx, byte_rx) = mpsc::channel(BYTE_QUEUE);
    let sink = ByteSink {
        tx: byte_tx,
        buf: Vec::with_capacity(CHUNK + CHUNK / 4),
    };
    let writer = tokio::task::spawn_blocking(move || {
        sheet::write_workbook(&columns, row_rx, sink, &temp_dir, rows_per_sheet)
    });
    let pumped = pump(rows, &row_tx).await;
    drop(row_tx);
    if let Err(error) = pumped {
        // Wait for the thread to notice the closed channel, so the workbook (and its
        // spill file) is gone by the time the caller sees the error.
        let _stopped = writer.await;
        return Err(error);
    }
    Ok(drain(byte_rx, writer))
}

/// Sends every row, then [`Msg::End`].
///
/// # Errors
/// [`ExportError::Rows`] when the row stream fails. A writer that stopped early is not an
/// error here: [`drain`] reports why it stopped.
async fn pump<R, E>(
    mut rows: BoxStream<'static, Result<R, E>>,
    tx: &mpsc::Sender<Msg<R>>,
) -> std::io::Result<()>
where
    E: Display,
{
    let mut row = 0_u64;
    while let Some(item) = rows.next().await {
        row += 1;
        match item {
            Ok(value) => {
                if tx.send(Msg::Row(value)).await.is_err() {
                    return Ok(());
                }
            }
            Err(error) => {
                let message = error.to_string();
                return Err(ExportError::Rows { row, message }.into());
            }
        }
    }
    // A closed channel means the writer already stopped; `drain` reports why.
    let _sent = tx.send(Msg::End).await;
    Ok(())
}

/// The workbook's bytes as they arrive, then the writer's error if it failed.
fn drain(rx: mpsc::Receiver<Bytes>, writer: JoinHandle<std::io::Result<()>>) -> ExportStream {
    stream::unfold(Some((rx, writer)), |state| async move {
        let (mut rx, writer) = state?;
        if let Some(chunk) = rx.recv().await {
            return Some((Ok(chunk), Some((rx, writer))));
        }
        match writer.await {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some((Err(error), None)),
            Err(join) => Some((Err(std::io::Error::other(join)), None)),
        }
    })
    .boxed()
}

/// A `Write` into the byte channel, batching the zip writer's small writes into chunks of
/// about [`CHUNK`] bytes. Runs on the blocking thread (`blocking_send`).
pub(super) struct ByteSink {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl ByteSink {
    /// Sends what is buffered.
    ///
    /// # Errors
    /// `BrokenPipe` when the export stream was dropped.
    fn send(&mut self) -> std::io::Result<()> {
        let next = Vec::with_capacity(self.buf.capacity());
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, next));
        self.tx.blocking_send(chunk).map_err(|_closed| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the export stream was dropped",
            )
        })
    }

    /// Sends the last, partial chunk.
    ///
    /// # Errors
    /// `BrokenPipe` when the export stream was dropped.
    pub(super) fn finish(mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.send()
    }
}

impl Write for ByteSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    /// Does not send: nothing downstream waits on a flush, and sending on every flush could
    /// defeat the batching. [`ByteSink::finish`] sends the rest once the workbook is saved.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
