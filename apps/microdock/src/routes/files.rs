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

use crate::error::MicroDockError;

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

/// What the request's preconditions and `Range` ask for.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// 200 with the whole file.
    Full,
    /// 206 with bytes `start..=end`.
    Partial(u64, u64),
    /// 304.
    NotModified,
    /// 412.
    Failed,
    /// 416.
    Unsatisfiable,
}

/// The entity tags of an `If-Match` / `If-None-Match` list; `None` for `*`.
fn tags(v: &str) -> Option<Vec<&str>> {
    let v = v.trim();
    if v == "*" {
        return None;
    }
    Some(
        v.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect(),
    )
}

/// Strong comparison (RFC 9110 §8.8.3.2): both tags strong and equal. Ours is always strong.
fn strong_eq(tag: &str, ours: &str) -> bool {
    !tag.starts_with("W/") && tag == ours
}

/// Weak comparison: equal once any `W/` is ignored.
fn weak_eq(tag: &str, ours: &str) -> bool {
    tag.trim_start_matches("W/") == ours
}

/// Evaluates the preconditions in RFC 9110 §13.2.2's order, then `Range` (§14.2):
/// 1. `If-Match` (strong comparison; `*` matches the existing file): false → 412.
/// 2. `If-Unmodified-Since`: ignored, the file has no modification date (§13.1.4).
/// 3. `If-None-Match` (weak comparison): true → 304 (downloads are retrievals: MicroDock's
///    clients POST them, with GET's meaning).
/// 4. `If-Modified-Since`: ignored likewise (§13.1.3).
/// 5. `If-Range` (only with `Range`): an entity tag compared strongly; a date never matches
///    (no `Last-Modified` is sent). False → the `Range` is ignored and the whole file sent,
///    so a resumed download never splices two files together.
///
/// A `Range` that is malformed, not in bytes or has several ranges is ignored (200).
fn preconditions(h: &HeaderMap, etag: &str, size: u64) -> Outcome {
    let get = |name: header::HeaderName| {
        h.get(name)
            .map(|v: &HeaderValue| v.to_str().unwrap_or("\u{0}"))
    };
    if let Some(v) = get(header::IF_MATCH) {
        let ok = tags(v).is_none_or(|t| t.iter().any(|t| strong_eq(t, etag)));
        if !ok {
            return Outcome::Failed;
        }
    }
    if let Some(v) = get(header::IF_NONE_MATCH) {
        let matched = tags(v).is_none_or(|t| t.iter().any(|t| weak_eq(t, etag)));
        if matched {
            return Outcome::NotModified;
        }
    }
    if h.contains_key(header::RANGE)
        && let Some(v) = get(header::IF_RANGE)
        && !strong_eq(v.trim(), etag)
    {
        return Outcome::Full;
    }
    match parse_range(h, size) {
        None => Outcome::Full,
        Some(Ok((s, e))) => Outcome::Partial(s, e),
        Some(Err(())) => Outcome::Unsatisfiable,
    }
}

/// Streams `d` with the headers above; `on_complete` runs when the whole file has been sent in
/// this response (a 200, or a 206 covering every byte), never for a part.
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
        other => crate::error::MicroDockError::Blob(other).into(),
    })?;
    let size = blob.size;
    let etag = format!("\"{}\"", d.sha256);
    let (status, start, end) = match preconditions(request, &etag, size) {
        Outcome::Full => (StatusCode::OK, 0, size.saturating_sub(1)),
        Outcome::Partial(s, e) => (StatusCode::PARTIAL_CONTENT, s, e),
        Outcome::NotModified => {
            return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
        }
        Outcome::Failed => {
            return Err(MicroDockError::PreconditionFailed.into());
        }
        Outcome::Unsatisfiable => {
            let mut res = ApiError::from(MicroDockError::RangeNotSatisfiable).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(res);
        }
    };
    let len = if size == 0 { 0 } else { end - start + 1 };
    let range = (status == StatusCode::PARTIAL_CONTENT).then_some(start..end + 1);
    // Counted only when the whole file went out in this response (issue 7 item 5): a range
    // that merely reaches the end (`bytes=-1`) would count a download that never happened.
    let reaches_end = size == 0 || (start == 0 && end + 1 == size);
    let stream = blob
        .into_stream(range)
        .map_err(|e| ApiError::from(crate::error::MicroDockError::Blob(e)))?;
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

    fn pre(headers: &[(&str, &str)]) -> Outcome {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        preconditions(&h, "\"abc\"", 1000)
    }

    /// Issue 7 item 5: `Range: bytes=100-` with `If-Range: "stale"` answered 206; a stale
    /// validator must give the whole file.
    #[test]
    fn stale_if_range_sends_the_whole_file() {
        let stale = pre(&[("range", "bytes=100-"), ("if-range", "\"stale\"")]);
        assert_eq!(stale, Outcome::Full);
        let weak = pre(&[("range", "bytes=100-"), ("if-range", "W/\"abc\"")]);
        assert_eq!(weak, Outcome::Full, "If-Range compares strongly");
        let date = pre(&[
            ("range", "bytes=100-"),
            ("if-range", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ]);
        assert_eq!(date, Outcome::Full);
        let fresh = pre(&[("range", "bytes=100-"), ("if-range", "\"abc\"")]);
        assert_eq!(fresh, Outcome::Partial(100, 999));
        assert_eq!(pre(&[("if-range", "\"stale\"")]), Outcome::Full);
    }

    #[test]
    fn precondition_order_and_comparisons() {
        assert_eq!(pre(&[("if-match", "\"x\"")]), Outcome::Failed);
        assert_eq!(pre(&[("if-match", "W/\"abc\"")]), Outcome::Failed);
        assert_eq!(pre(&[("if-match", "\"x\", \"abc\"")]), Outcome::Full);
        assert_eq!(pre(&[("if-match", "*")]), Outcome::Full);
        // If-Match is evaluated before If-None-Match.
        assert_eq!(
            pre(&[("if-match", "\"x\""), ("if-none-match", "\"abc\"")]),
            Outcome::Failed
        );
        assert_eq!(pre(&[("if-none-match", "W/\"abc\"")]), Outcome::NotModified);
        assert_eq!(pre(&[("if-none-match", "*")]), Outcome::NotModified);
        assert_eq!(pre(&[("if-none-match", "\"x\"")]), Outcome::Full);
        // If-None-Match wins over Range.
        assert_eq!(
            pre(&[("if-none-match", "\"abc\""), ("range", "bytes=0-1")]),
            Outcome::NotModified
        );
        assert_eq!(pre(&[("range", "bytes=1000-")]), Outcome::Unsatisfiable);
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
