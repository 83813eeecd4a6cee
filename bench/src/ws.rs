//! Momentum realtime tools (issue 9; the seed's `websocket_client` and `websocket_stress_test`).
//!
//! - `ws-client`: an interactive client. Lines read from standard input are sent as commands;
//!   every frame received is printed as one JSON line.
//! - `ws-stress`: creates real users through the REST API (an owner with a workspace and
//!   `--users` members invited into it), then drives `-c` sockets in one of five scenarios
//!   (`storm`, `throughput`, `sustained`, `broadcast`, `resume`) and prints connection success,
//!   rates, latency percentiles, delivery checks and the server's RSS.
//!
//! With `--server <bin>` the scenario starts its own `trellis` (Momentum only, SQLite in a
//! scratch directory unless `--database-url`), pinned to CPU 0 like the other scenarios; run
//! the load generator on the other core (`taskset -c 1 trellis-bench ws-stress …`). With
//! `--base http://…` it uses a running server (RSS only with `--server-pid`).

mod client;
pub(crate) mod stress;

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::momentum::call as api;

pub use client::{ClientArgs, run_client};
pub use stress::{StressArgs, run_stress};

/// A client socket.
type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The socket configuration of every bench socket: a 4 KiB read buffer instead of 128 KiB, so
/// that 10,000 sockets do not cost the load generator a gigabyte, and writes that go out at
/// once.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// Opens a socket at `url` (with `TCP_NODELAY`). The error is a short category fit for
/// counting: `HTTP 503`, `io ConnectionRefused`, `timeout`, …
async fn open(url: &str, timeout: Duration) -> Result<Ws, String> {
    use tokio_tungstenite::tungstenite::Error;
    match tokio::time::timeout(
        timeout,
        tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true),
    )
    .await
    {
        Err(_) => Err("timeout".into()),
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(Error::Http(r))) => Err(format!("HTTP {}", r.status().as_u16())),
        Ok(Err(Error::Io(e))) => Err(format!("io {:?}", e.kind())),
        Ok(Err(e)) => Err(e.to_string().chars().take(60).collect()),
    }
}

/// What a received text frame says, as far as the bench needs it. Fields absent from the
/// frame, or whose `data` is not an object, are `None`.
#[derive(Debug, Default)]
struct Frame {
    /// `message_type` of the envelope.
    kind: String,
    /// `data.request_id` (command responses).
    request_id: Option<String>,
    /// `data.success` (command responses).
    success: Option<bool>,
    /// `data.error.code` (failed command responses).
    error_code: Option<String>,
    /// `data.sync_id` (events, `initial_data`, command responses of changes).
    sync_id: Option<i64>,
    /// `data.entity_id` (events), as text.
    entity_id: Option<String>,
    /// `data.type` (`system_message`: `connected`, `resumed`, `resume_failed`, …).
    system: Option<String>,
    /// `data.resync_required` (the `resumed` system message, the `resume` command).
    resync_required: Option<bool>,
    /// `data.replayed` (the `resumed` system message): events replayed.
    replayed: Option<u64>,
}

/// The envelope as parsed: `data` is only looked into when it is an object.
#[derive(Deserialize)]
struct RawFrame {
    #[serde(default)]
    message_type: String,
    #[serde(default)]
    data: RawData,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawData {
    request_id: Option<Value>,
    success: Option<bool>,
    error: Option<RawError>,
    sync_id: Option<Value>,
    entity_id: Option<Value>,
    #[serde(rename = "type")]
    system: Option<Value>,
    resync_required: Option<bool>,
    replayed: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawError {
    code: Option<String>,
}

/// A JSON scalar as text: a string as is, a number in decimal.
fn scalar_text(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Frame {
    /// Parses a text frame; anything that is not a JSON object comes back with an empty
    /// `kind`. The envelope's other keys, and `data`'s other keys, are skipped unparsed.
    fn parse(text: &str) -> Frame {
        let raw = match serde_json::from_str::<RawFrame>(text) {
            Ok(r) => r,
            // `data` that is not an object (a string, a list): keep the kind.
            Err(_) => match serde_json::from_str::<Value>(text) {
                Ok(v) => {
                    return Frame {
                        kind: v["message_type"].as_str().unwrap_or_default().to_string(),
                        ..Frame::default()
                    };
                }
                Err(_) => return Frame::default(),
            },
        };
        let d = raw.data;
        Frame {
            kind: raw.message_type,
            request_id: d.request_id.and_then(scalar_text),
            success: d.success,
            error_code: d.error.and_then(|e| e.code),
            sync_id: d.sync_id.and_then(|v| match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            }),
            entity_id: d.entity_id.and_then(scalar_text),
            system: d.system.and_then(scalar_text),
            resync_required: d.resync_required,
            replayed: d.replayed,
        }
    }
}

/// What reading a socket gave.
enum Read {
    /// A text frame and when it was read.
    Text(String, Instant),
    /// The socket ended: a close frame (`code reason`), an error, or the end of the stream.
    Closed(String),
}

/// The next text frame of `ws`; pings, pongs and binary frames are skipped (tungstenite
/// answers pings by itself).
async fn read_text(ws: &mut Ws) -> Read {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Read::Text(t.as_str().to_owned(), Instant::now()),
            Some(Ok(Message::Close(c))) => {
                return Read::Closed(match c {
                    Some(f) => format!("close {} {}", u16::from(f.code), f.reason),
                    None => "close".into(),
                });
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Read::Closed(format!("error {e}")),
            None => return Read::Closed("end of stream".into()),
        }
    }
}

/// Sends a text frame.
async fn send_text(ws: &mut Ws, text: String) -> Result<(), String> {
    ws.send(Message::text(text))
        .await
        .map_err(|e| format!("send: {e}"))
}

/// A command in the seed's form: `{type, request_id, …args}`.
fn command(kind: &str, request_id: &str, args: Value) -> String {
    let mut m = serde_json::Map::new();
    m.insert("type".into(), json!(kind));
    m.insert("request_id".into(), json!(request_id));
    if let Value::Object(a) = args {
        m.extend(a);
    }
    Value::Object(m).to_string()
}

/// Sends `cmd` and reads until the `command_response` carrying `request_id`; frames read on
/// the way go to `other`. Returns the response and the round trip, or why there is none.
async fn round_trip(
    ws: &mut Ws,
    cmd: String,
    request_id: &str,
    timeout: Duration,
    mut other: impl FnMut(&Frame, Instant),
) -> Result<(Frame, Duration), String> {
    let t = Instant::now();
    send_text(ws, cmd).await?;
    let deadline = tokio::time::Instant::from_std(t + timeout);
    loop {
        match tokio::time::timeout_at(deadline, read_text(ws)).await {
            Err(_) => return Err("no reply".into()),
            Ok(Read::Closed(why)) => return Err(why),
            Ok(Read::Text(text, at)) => {
                let f = Frame::parse(&text);
                if f.kind == "command_response" && f.request_id.as_deref() == Some(request_id) {
                    return Ok((f, at - t));
                }
                other(&f, at);
            }
        }
    }
}

/// `ws://host:port/ws` from `http://host:port` (`https` → `wss`).
fn ws_url_of(base: &str) -> String {
    let base = base.trim_end_matches('/');
    let rest = base
        .strip_prefix("https://")
        .map(|r| format!("wss://{r}"))
        .or_else(|| base.strip_prefix("http://").map(|r| format!("ws://{r}")))
        .unwrap_or_else(|| base.to_string());
    format!("{rest}/ws")
}

/// `http://host:port` from `ws://host:port/ws…` (`wss` → `https`).
fn base_of(ws_url: &str) -> String {
    let (scheme, rest) = if let Some(r) = ws_url.strip_prefix("wss://") {
        ("https", r)
    } else {
        ("http", ws_url.strip_prefix("ws://").unwrap_or(ws_url))
    };
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

/// Signs in through `POST /auth/login` and returns the access token.
async fn login(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<String> {
    let d = api(
        http,
        reqwest::Method::POST,
        format!("{base}/auth/login"),
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await?;
    d["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("login answered no access_token: {d}"))
}

/// Milliseconds with two decimals.
fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// `p50 … p95 … p99 … max …` of `samples` in milliseconds (sorts them).
fn percentiles(samples: &mut [Duration]) -> String {
    use crate::probe::percentile;
    if samples.is_empty() {
        return "no samples".into();
    }
    let max = samples.iter().max().copied().unwrap_or_default();
    format!(
        "p50 {} ms, p95 {} ms, p99 {} ms, max {} ms ({} samples)",
        ms(percentile(samples, 50.0)),
        ms(percentile(samples, 95.0)),
        ms(percentile(samples, 99.0)),
        ms(max),
        samples.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_for_what_the_bench_needs() {
        let f = Frame::parse(
            r#"{"id":"x","message_type":"command_response","data":{"command_type":"ping","request_id":"r1","success":false,"error":{"code":"RATE_LIMITED","message":"m"},"sync_id":7},"timestamp":"t"}"#,
        );
        assert_eq!(f.kind, "command_response");
        assert_eq!(f.request_id.as_deref(), Some("r1"));
        assert_eq!(f.success, Some(false));
        assert_eq!(f.error_code.as_deref(), Some("RATE_LIMITED"));
        assert_eq!(f.sync_id, Some(7));
        let e = Frame::parse(
            r#"{"message_type":"event","data":{"sync_id":"12","entity":"label","action":"create","entity_id":"abc","data":{"name":"x"}}}"#,
        );
        assert_eq!((e.sync_id, e.entity_id.as_deref()), (Some(12), Some("abc")));
        let r = Frame::parse(
            r#"{"message_type":"system_message","data":{"type":"resumed","message":"m","resync_required":false,"replayed":4,"sync_id":9}}"#,
        );
        assert_eq!(r.system.as_deref(), Some("resumed"));
        assert_eq!((r.resync_required, r.replayed), (Some(false), Some(4)));
        let s = Frame::parse(r#"{"message_type":"text","data":"hello"}"#);
        assert_eq!(s.kind, "text");
        assert_eq!(Frame::parse("not json").kind, "");
    }

    #[test]
    fn urls_convert_both_ways() {
        assert_eq!(
            ws_url_of("http://127.0.0.1:8000/"),
            "ws://127.0.0.1:8000/ws"
        );
        assert_eq!(ws_url_of("https://h"), "wss://h/ws");
        assert_eq!(
            base_of("ws://127.0.0.1:8000/ws?x=1"),
            "http://127.0.0.1:8000"
        );
        assert_eq!(base_of("wss://h/ws"), "https://h");
    }

    #[test]
    fn commands_are_in_the_seed_form() {
        let c: Value = serde_json::from_str(&command("ping", "r1", json!({}))).unwrap_or_default();
        assert_eq!(c, json!({"type": "ping", "request_id": "r1"}));
        let c: Value = serde_json::from_str(&command(
            "subscribe",
            "r2",
            json!({"topics": ["workspace:1"]}),
        ))
        .unwrap_or_default();
        assert_eq!(c["topics"][0], "workspace:1");
    }
}
