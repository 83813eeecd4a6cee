//! A WebSocket client for the realtime tests: connects to `/ws`, sends commands in the
//! seed's form, and waits for the frames the tests expect (every wait is bounded).

use std::collections::VecDeque;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::harness::{TestApp, User};

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a test waits for a frame it expects.
pub const WAIT: Duration = Duration::from_secs(10);

/// One open socket.
pub struct Ws {
    s: Stream,
    /// Frames read but not yet consumed.
    pending: VecDeque<Value>,
    /// The `initial_data` frame's `data` (when opened with [`Ws::open`]).
    pub initial: Value,
    /// The close code, once closed.
    pub close_code: Option<u16>,
    seq: u64,
}

impl Ws {
    /// Connects to `/ws?<query>`; panics when the upgrade is refused.
    pub async fn connect(app: &TestApp, query: &str) -> Ws {
        Self::try_connect(app, query, None).await.unwrap()
    }

    /// Connects, answering the HTTP status when the server refuses the upgrade.
    pub async fn try_connect(app: &TestApp, query: &str, bearer: Option<&str>) -> Result<Ws, u16> {
        Self::try_connect_to(app.server.addr, query, bearer).await
    }

    /// Connects to the server at `addr` as `u` and reads the opening frames.
    pub async fn open_at(addr: std::net::SocketAddr, query: &str) -> Ws {
        let mut ws = Self::try_connect_to(addr, query, None).await.unwrap();
        ws.expect_opening().await;
        ws
    }

    /// [`Ws::try_connect`] to the server at `addr`.
    pub async fn try_connect_to(
        addr: std::net::SocketAddr,
        query: &str,
        bearer: Option<&str>,
    ) -> Result<Ws, u16> {
        let mut req = format!("ws://{addr}/ws?{query}")
            .into_client_request()
            .unwrap();
        if let Some(t) = bearer {
            req.headers_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok((s, _)) => Ok(Ws {
                s,
                pending: VecDeque::new(),
                initial: Value::Null,
                close_code: None,
                seq: 0,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
            Err(e) => panic!("connect failed: {e}"),
        }
    }

    /// Connects as `u` and reads the first two frames (connected, initial data).
    pub async fn open(app: &TestApp, u: &User) -> Ws {
        let mut ws = Self::connect(app, &format!("token={}", u.token)).await;
        ws.expect_opening().await;
        ws
    }

    /// Reads `system_message {type: connected}` and `initial_data`.
    pub async fn expect_opening(&mut self) {
        let hello = self.next().await;
        assert_eq!(hello["message_type"], "system_message", "{hello}");
        assert_eq!(hello["data"]["type"], "connected", "{hello}");
        let init = self.next().await;
        assert_eq!(init["message_type"], "initial_data", "{init}");
        self.initial = init["data"].clone();
    }

    /// Sends a JSON frame.
    pub async fn send(&mut self, v: Value) {
        self.s.send(Message::text(v.to_string())).await.unwrap();
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, t: &str) {
        self.s.send(Message::text(t.to_string())).await.unwrap();
    }

    async fn read(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let m = tokio::time::timeout(wait, self.s.next()).await.ok()??;
            match m {
                Ok(Message::Text(t)) => return Some(serde_json::from_str(t.as_str()).unwrap()),
                Ok(Message::Close(f)) => {
                    self.close_code = Some(f.map_or(1005, |f| u16::from(f.code)));
                    return None;
                }
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// The next frame (pending first); panics after [`WAIT`].
    pub async fn next(&mut self) -> Value {
        if let Some(v) = self.pending.pop_front() {
            return v;
        }
        self.read(WAIT)
            .await
            .unwrap_or_else(|| panic!("no frame within {WAIT:?}"))
    }

    /// The first frame matching `pred`, keeping the others for later; panics after [`WAIT`].
    pub async fn next_where(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&pred) {
            return self.pending.remove(i).unwrap();
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let v = self
                .read(left)
                .await
                .unwrap_or_else(|| panic!("no matching frame; pending: {:?}", self.pending));
            if pred(&v) {
                return v;
            }
            self.pending.push_back(v);
        }
    }

    /// Frames arriving within `ms` (for "nothing else arrives" checks), pending included.
    pub async fn drain(&mut self, ms: u64) -> Vec<Value> {
        let mut out: Vec<Value> = self.pending.drain(..).collect();
        while let Some(v) = self.read(Duration::from_millis(ms)).await {
            out.push(v);
        }
        out
    }

    /// Sends command `kind` in the seed's top-level form with `args` merged in and a fresh
    /// `request_id`; answers the `command_response` frame's `data`.
    pub async fn cmd(&mut self, kind: &str, args: Value) -> Value {
        self.seq += 1;
        let rid = format!("r{}-{}", self.seq, uuid::Uuid::new_v4().simple());
        self.cmd_with_id(kind, args, &rid).await
    }

    /// [`Ws::cmd`] with a chosen `request_id`.
    pub async fn cmd_with_id(&mut self, kind: &str, args: Value, rid: &str) -> Value {
        let mut v = json!({"type": kind, "request_id": rid});
        if let Value::Object(a) = args {
            for (k, x) in a {
                v[k] = x;
            }
        }
        self.send(v).await;
        self.reply(rid).await
    }

    /// The `command_response` data for `rid`.
    pub async fn reply(&mut self, rid: &str) -> Value {
        let rid = rid.to_string();
        self.next_where(move |f| {
            f["message_type"] == "command_response" && f["data"]["request_id"] == rid.as_str()
        })
        .await["data"]
            .clone()
    }

    /// The `event` frame with this `sync_id`.
    pub async fn event(&mut self, sync_id: i64) -> Value {
        self.next_where(move |f| f["message_type"] == "event" && f["data"]["sync_id"] == sync_id)
            .await["data"]
            .clone()
    }

    /// Waits for the server to close the socket; answers the close code.
    pub async fn closed(&mut self) -> u16 {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.close_code.is_none() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(!left.is_zero(), "socket not closed in time");
            match self.read(left).await {
                Some(v) => self.pending.push_back(v),
                None => {
                    if self.close_code.is_none() {
                        self.close_code = Some(1006);
                    }
                }
            }
        }
        self.close_code.unwrap()
    }

    /// Closes from the client side.
    pub async fn close(mut self) {
        let _ = self.s.close(None).await;
    }
}
