//! Server-sent events with pre-rendered frames (WHATWG HTML §9.2, "Server-sent events").
//!
//! axum's `Sse` renders every event for every client: with 100 followers of a task, the
//! same frame is formatted, scanned for newlines and copied 100 times, and each frame
//! resets the follower's keep-alive timer. Here a frame is rendered once ([`event`]) into
//! [`Bytes`] that every follower's response shares (a reference count, no copy), and the
//! keep-alive timer is re-armed only when it fires ([`response`]): a follower that received
//! something in the last interval gets no comment, one that did not gets `: keep-alive`.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::Stream;
use tokio::time::{Instant, Sleep};

/// One event's wire form: `id: <id>` (when given), `event: <name>` (when given), one
/// `data:` line per line of `data` (a `\r\n`, `\r` or `\n` in it starts a new line, as the
/// spec's parser splits them), then the blank line that dispatches it.
///
/// `event` must not contain a line break (event names here are constants).
pub fn event(id: Option<i64>, event: Option<&str>, data: &str) -> Bytes {
    debug_assert!(event.is_none_or(|e| !e.contains(['\r', '\n'])));
    let mut s = String::with_capacity(data.len() + 48);
    if let Some(id) = id {
        let _ = writeln!(s, "id: {id}");
    }
    if let Some(e) = event {
        let _ = writeln!(s, "event: {e}");
    }
    let data = data.replace("\r\n", "\n").replace('\r', "\n");
    for line in data.split('\n') {
        s.push_str("data: ");
        s.push_str(line);
        s.push('\n');
    }
    s.push('\n');
    Bytes::from(s)
}

/// `frame` with a `retry: <ms>` field in front (the reconnection delay a client should use,
/// sent once per stream).
pub fn with_retry(retry: Duration, frame: &[u8]) -> Bytes {
    let mut v = format!("retry: {}\n", retry.as_millis()).into_bytes();
    v.extend_from_slice(frame);
    Bytes::from(v)
}

/// A `text/event-stream` response of `frames` (each a complete rendered event or events),
/// with `Cache-Control: no-cache` and `X-Accel-Buffering: no` (nginx must not buffer it),
/// and a `: keep-alive` comment after every `keep_alive` without a frame. The stream ends
/// the response when it ends.
pub fn response<S>(frames: S, keep_alive: Duration) -> Response
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    let body = SseBody {
        frames: Box::pin(frames),
        timer: Box::pin(tokio::time::sleep(keep_alive)),
        interval: keep_alive,
        last: Instant::now(),
        ended: false,
    };
    let mut r = Body::new(body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

/// The comment sent on an idle stream.
const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

struct SseBody {
    frames: Pin<Box<dyn Stream<Item = Bytes> + Send>>,
    timer: Pin<Box<Sleep>>,
    interval: Duration,
    /// When the last frame or comment was handed to hyper.
    last: Instant,
    ended: bool,
}

impl http_body::Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        match this.frames.as_mut().poll_next(cx) {
            Poll::Ready(Some(b)) => {
                this.last = Instant::now();
                return Poll::Ready(Some(Ok(http_body::Frame::data(b))));
            }
            Poll::Ready(None) => {
                this.ended = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        loop {
            ready!(this.timer.as_mut().poll(cx));
            let due = this.last + this.interval;
            let now = Instant::now();
            if now >= due {
                this.last = now;
                this.timer.as_mut().reset(now + this.interval);
                return Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(
                    KEEP_ALIVE,
                )))));
            }
            // Frames went out since the timer was set: wait out the rest of the interval.
            this.timer.as_mut().reset(due);
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_renders_its_fields_and_splits_data_lines() {
        assert_eq!(
            &event(Some(7), Some("progress"), r#"{"a":1}"#)[..],
            b"id: 7\nevent: progress\ndata: {\"a\":1}\n\n"
        );
        assert_eq!(
            &event(None, None, "a\r\nb\rc\nd")[..],
            b"data: a\ndata: b\ndata: c\ndata: d\n\n"
        );
        assert_eq!(
            &with_retry(Duration::from_secs(3), b"data: x\n\n")[..],
            b"retry: 3000\ndata: x\n\n"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_stream_gets_a_keep_alive_comment_and_a_busy_one_does_not() {
        use http_body_util::BodyExt as _;
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let frames =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
        let mut body = response(frames, Duration::from_secs(15)).into_body();
        // A frame at 10 s: the comment is due 15 s after it, not at 15 s.
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(tx.send(Bytes::from_static(b"data: 1\n\n")).await.is_ok());
        let f = body.frame().await;
        assert_eq!(
            f.and_then(|f| f.ok())
                .and_then(|f| f.into_data().ok())
                .as_deref(),
            Some(&b"data: 1\n\n"[..])
        );
        let started = Instant::now();
        let f = body.frame().await;
        assert_eq!(
            f.and_then(|f| f.ok())
                .and_then(|f| f.into_data().ok())
                .as_deref(),
            Some(KEEP_ALIVE)
        );
        assert_eq!(started.elapsed(), Duration::from_secs(15));
        drop(tx);
        assert!(
            body.frame().await.is_none(),
            "the stream's end ends the body"
        );
    }
}
