//! Streaming stored files to clients: `Content-Type`, `Content-Disposition` (with an RFC 5987
//! `filename*` for non-ASCII names), `Content-Length`, `ETag` and `X-Checksum-Sha256` (the
//! SHA-256), single `Range` requests, and a callback once a transfer reaches the end.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::Stream;
use trellis_kernel::ApiError;
use trellis_kernel::blob::{BlobError, BlobStore};

/// What to send.
pub struct Download<'a> {
    pub key: &'a str,
    pub file_name: &'a str,
    pub sha256: &'a str,
    pub content_type: &'static str,
}

/// Calls `done` once every byte of the response has been handed to the connection: when the
/// body is dropped with nothing left to send (an interrupted transfer drops it earlier).
struct OnComplete<S> {
    inner: S,
    remaining: u64,
    done: Option<Box<dyn FnOnce() + Send>>,
}

impl<S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin> Stream for OnComplete<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &next {
            self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
        }
        next
    }
}

impl<S> Drop for OnComplete<S> {
    fn drop(&mut self) {
        if self.remaining == 0
            && let Some(done) = self.done.take()
        {
            done();
        }
    }
}

/// `attachment; filename="…"; filename*=UTF-8''…`
pub fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if ascii == name {
        return format!("attachment; filename=\"{name}\"");
    }
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` against `size`; `Err(())` when unsatisfiable, `None`
/// when absent or not a single byte range (then the whole file is sent).
fn parse_range(headers: &HeaderMap, size: u64) -> Option<Result<(u64, u64), ()>> {
    let v = headers.get(header::RANGE)?.to_str().ok()?;
    let spec = v.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.is_empty(), b.is_empty()) {
        (true, false) => {
            let n: u64 = b.parse().ok()?;
            if n == 0 || size == 0 {
                return Some(Err(()));
            }
            (size.saturating_sub(n), size - 1)
        }
        (false, _) => {
            let start: u64 = a.parse().ok()?;
            let end: u64 = if b.is_empty() {
                size.saturating_sub(1)
            } else {
                b.parse().ok()?
            };
            if start >= size || end < start {
                return Some(Err(()));
            }
            (start, end.min(size - 1))
        }
        _ => return None,
    };
    Some(Ok(range))
}

/// Streams `d` with the headers above; `on_complete` runs when the last byte of the file has
/// been sent (a whole download, or the range that finishes one).
pub async fn send(
    blobs: &BlobStore,
    d: Download<'_>,
    request: &HeaderMap,
    on_complete: Box<dyn FnOnce() + Send>,
) -> Result<Response, ApiError> {
    let blob = blobs.get(d.key).await.map_err(|e| match e {
        BlobError::NotFound => {
            tracing::error!(blob.key = d.key, "stored file missing");
            ApiError::new(
                StatusCode::NOT_FOUND,
                "file_missing",
                "文件不存在或路径错误",
            )
        }
        other => ApiError::internal(other),
    })?;
    let size = blob.size;
    let etag = format!("\"{}\"", d.sha256);
    if request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let (status, start, end) = match parse_range(request, size) {
        None => (StatusCode::OK, 0, size.saturating_sub(1)),
        Some(Ok((s, e))) => (StatusCode::PARTIAL_CONTENT, s, e),
        Some(Err(())) => {
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{size}"))],
            )
                .into_response());
        }
    };
    let len = if size == 0 { 0 } else { end - start + 1 };
    let range = (status == StatusCode::PARTIAL_CONTENT).then_some(start..end + 1);
    let reaches_end = size == 0 || end + 1 == size;
    let stream = blob.into_stream(range).map_err(ApiError::internal)?;
    let body: Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin> = if reaches_end
    {
        Box::new(OnComplete {
            inner: stream,
            remaining: len,
            done: Some(on_complete),
        })
    } else {
        Box::new(stream)
    };
    let mut res = Response::new(Body::from_stream(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(d.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition(d.file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(d.sha256) {
        h.insert("x-checksum-sha256", v);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}"))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        parse_range(&h, size)
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(range("bytes=50-1000", 100), Some(Ok((50, 99))));
        assert_eq!(range("bytes=100-", 100), Some(Err(())));
        assert_eq!(range("bytes=5-1", 100), Some(Err(())));
        assert_eq!(range("bytes=0-1,5-6", 100), None);
        assert_eq!(range("items=0-1", 100), None);
    }

    #[test]
    fn dispositions() {
        assert_eq!(
            disposition("a@1.0.0.zip"),
            "attachment; filename=\"a@1.0.0.zip\""
        );
        assert_eq!(
            disposition("备份.zip"),
            "attachment; filename=\"__.zip\"; filename*=UTF-8''%E5%A4%87%E4%BB%BD.zip"
        );
    }
}
