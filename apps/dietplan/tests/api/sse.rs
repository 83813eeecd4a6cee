//! An SSE client for the tests: frames parsed by `eventsource-stream` from a real HTTP
//! response, read until the stream ends or a given number of frames (then the connection is
//! dropped, as a client that goes away would).

use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::Value;

use crate::harness::TestApp;

/// One received frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub id: String,
    pub event: String,
    pub data: Value,
}

impl Frame {
    pub fn seq(&self) -> i64 {
        self.id.parse().unwrap()
    }
}

/// An open stream.
pub struct Stream {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    /// The `retry:` hint, once a frame carried one.
    pub retry: std::sync::Arc<std::sync::OnceLock<std::time::Duration>>,
    inner: Option<std::pin::Pin<Box<dyn futures::Stream<Item = Frame> + Send>>>,
}

impl Stream {
    /// Up to `n` more frames (fewer when the stream ends).
    pub async fn take(&mut self, n: usize) -> Vec<Frame> {
        let mut out = Vec::new();
        let Some(s) = self.inner.as_mut() else {
            return out;
        };
        while out.len() < n {
            match tokio::time::timeout(std::time::Duration::from_secs(60), s.next()).await {
                Ok(Some(f)) => out.push(f),
                Ok(None) => break,
                Err(_) => panic!("no frame within 60 s; got {out:?}"),
            }
        }
        out
    }

    /// Every frame until the stream ends.
    pub async fn all(&mut self) -> Vec<Frame> {
        self.take(usize::MAX).await
    }
}

fn open(r: reqwest::Response) -> Stream {
    let status = r.status();
    let headers = r.headers().clone();
    let retry = std::sync::Arc::new(std::sync::OnceLock::new());
    let seen = retry.clone();
    let inner = r
        .bytes_stream()
        .eventsource()
        .filter_map(move |e| {
            let seen = seen.clone();
            async move {
                let e = e.ok()?;
                if let Some(r) = e.retry {
                    let _ = seen.set(r);
                }
                Some(Frame {
                    id: e.id,
                    event: e.event,
                    data: serde_json::from_str(&e.data).unwrap_or(Value::Null),
                })
            }
        })
        .boxed();
    Stream {
        status,
        headers,
        retry,
        inner: Some(inner),
    }
}

impl TestApp {
    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    /// `POST /api/v1/plans/stream` with `body`.
    pub async fn stream_plan(&self, token: &str, body: Value) -> Stream {
        let r = self
            .client()
            .post(self.server.url("/api/v1/plans/stream"))
            .bearer_auth(token)
            .header("accept-encoding", "gzip")
            .json(&body)
            .send()
            .await
            .unwrap();
        open(r)
    }

    /// `GET /api/v1/plans/stream?task_id=` with an optional `Last-Event-ID`.
    pub async fn resume(&self, token: &str, task: &str, last: Option<&str>) -> Stream {
        let mut req = self
            .client()
            .get(
                self.server
                    .url(&format!("/api/v1/plans/stream?task_id={task}")),
            )
            .bearer_auth(token);
        if let Some(id) = last {
            req = req.header("last-event-id", id);
        }
        open(req.send().await.unwrap())
    }
}
