//! `trellis-bench ws-client`: the seed's `websocket_client`, interactive.
//!
//! Each line of standard input is one command:
//! - a line starting with `{` is sent as it is;
//! - `name key=value …` is sent in the seed's form `{type: name, request_id: "c<n>", data: {…}}`.
//!   `topics`, `filters`, `updates` and `label_ids` go at the top level (`topics` and
//!   `label_ids` split at commas into lists), as the seed's examples write them; so do the ids
//!   `label_id`, `team_id`, `project_id`, `issue_id`, `status_id`, `workspace_id`,
//!   `invitation_id` and `member_user_id`, except in `create_*` and `invite_*` commands, where
//!   they are fields of the new thing and go in `data`. `data.key=value` always goes in `data`.
//!   A value that is JSON (`5`, `true`, `null`, `"a b"`, `{"level":"issue"}`) is taken as
//!   JSON, anything else as text; double quotes and braces keep spaces inside one value;
//! - `quit` (or the end of input, after waiting up to 5 s for the replies) closes the socket.
//!
//! Every frame received is printed on standard output as one JSON line; a `command_response`
//! to a command of this session gets `"_rtt_ms"` (time since it was sent) added at the top,
//! a close frame prints as `{"_close": …}`. Notes go to standard error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio_tungstenite::tungstenite::Message;

use super::{Frame, Read, base_of, command, login, open, percentiles, read_text, round_trip};

/// `ws-client` options.
#[derive(clap::Args)]
pub struct ClientArgs {
    /// The socket endpoint; `token` (and nothing else) is added to its query.
    #[arg(long, default_value = "ws://127.0.0.1:8000/ws")]
    url: String,
    /// An access token (JWT) of a Momentum user.
    #[arg(long)]
    token: Option<String>,
    /// Without `--token`: sign in with this e-mail address and `--password` first.
    #[arg(long, requires = "password")]
    email: Option<String>,
    /// The password for `--email`.
    #[arg(long)]
    password: Option<String>,
    /// The REST base for `--email` (default: the scheme, host and port of `--url`).
    #[arg(long)]
    base: Option<String>,
    /// Do not send the `{message_type: "ping"}` frame every 20 s.
    #[arg(long)]
    no_ping: bool,
    /// Send this many `ping` commands one after the other (each after the previous reply),
    /// print the round-trip percentiles and exit.
    #[arg(long, value_name = "N")]
    benchmark: Option<usize>,
}

/// Keys that go at the top level of a command built from `name key=value …`.
const TOP_LEVEL: &[&str] = &["topics", "filters", "updates", "label_ids"];
/// Id keys that go at the top level except in `create_*` and `invite_*` commands.
const IDS: &[&str] = &[
    "label_id",
    "team_id",
    "project_id",
    "issue_id",
    "status_id",
    "workspace_id",
    "invitation_id",
    "member_user_id",
];

/// Splits a line at white space outside double quotes, braces and brackets.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut depth, mut quoted, mut escaped) = (0i32, false, false);
    for ch in line.chars() {
        if quoted {
            cur.push(ch);
            match (escaped, ch) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => quoted = false,
                _ => {}
            }
            continue;
        }
        match ch {
            '"' => quoted = true,
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            c if c.is_whitespace() && depth <= 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A value typed on the command line: JSON if it parses, text otherwise.
fn value_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Builds the command of a `name key=value …` line with request id `request_id`.
fn build(line: &str, request_id: &str) -> Result<String, String> {
    let w = words(line);
    let Some((name, args)) = w.split_first() else {
        return Err("empty line".into());
    };
    let creates = name.starts_with("create_") || name.starts_with("invite_");
    let mut top = serde_json::Map::new();
    let mut data = serde_json::Map::new();
    for a in args {
        let Some((k, v)) = a.split_once('=') else {
            return Err(format!("`{a}` is not key=value"));
        };
        if let Some(k) = k.strip_prefix("data.") {
            data.insert(k.to_string(), value_of(v));
        } else if matches!(k, "topics" | "label_ids") && !v.starts_with('[') {
            let list: Vec<Value> = v
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| json!(s))
                .collect();
            top.insert(k.to_string(), Value::Array(list));
        } else if TOP_LEVEL.contains(&k) || (IDS.contains(&k) && !creates) {
            top.insert(k.to_string(), value_of(v));
        } else {
            data.insert(k.to_string(), value_of(v));
        }
    }
    if !data.is_empty() {
        top.insert("data".into(), Value::Object(data));
    }
    Ok(command(name, request_id, Value::Object(top)))
}

/// The `request_id` of a command typed as JSON, in either form.
fn request_id_of(cmd: &Value) -> Option<String> {
    cmd.get("request_id")
        .or_else(|| cmd.get("data").and_then(|d| d.get("request_id")))
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

/// Runs `ws-client`.
pub async fn run_client(a: ClientArgs) -> anyhow::Result<()> {
    let token = match (&a.token, &a.email, &a.password) {
        (Some(t), _, _) => t.clone(),
        (None, Some(e), Some(p)) => {
            let base = a.base.clone().unwrap_or_else(|| base_of(&a.url));
            let http = reqwest::Client::builder().no_proxy().build()?;
            let t = login(&http, &base, e, p).await?;
            eprintln!("# signed in as {e}");
            t
        }
        _ => anyhow::bail!("give --token, or --email and --password"),
    };
    let sep = if a.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}token={token}", a.url);
    let mut ws = open(&url, Duration::from_secs(10))
        .await
        .map_err(|e| anyhow::anyhow!("connecting to {}: {e}", a.url))?;
    eprintln!("# connected to {}", a.url);
    if let Some(n) = a.benchmark {
        return benchmark(&mut ws, n).await;
    }
    let (mut sink, mut stream) = ws.split();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let reader = {
        let sent = sent.clone();
        tokio::spawn(async move {
            loop {
                let (text, at) = match stream.next().await {
                    Some(Ok(Message::Text(t))) => (t.as_str().to_owned(), Instant::now()),
                    Some(Ok(Message::Close(c))) => {
                        let c = c.map(
                            |f| json!({"code": u16::from(f.code), "reason": f.reason.as_str()}),
                        );
                        println!("{}", json!({ "_close": c }));
                        break;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        eprintln!("# socket error: {e}");
                        break;
                    }
                    None => break,
                };
                let mut v: Value = serde_json::from_str(&text).unwrap_or(json!({ "_raw": text }));
                let f = Frame::parse(&text);
                if f.kind == "command_response"
                    && let Some(rid) = &f.request_id
                    && let Some(t) = sent.lock().ok().and_then(|mut m| m.remove(rid))
                    && let Value::Object(m) = &mut v
                {
                    let mut o = serde_json::Map::new();
                    o.insert(
                        "_rtt_ms".into(),
                        json!(((at - t).as_secs_f64() * 1e5).round() / 100.0),
                    );
                    o.extend(std::mem::take(m));
                    *m = o;
                }
                println!("{v}");
            }
        })
    };
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut ping = tokio::time::interval(Duration::from_secs(20));
    ping.tick().await;
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = ping.tick(), if !a.no_ping => {
                let f = json!({"message_type": "ping", "data": {}}).to_string();
                if sink.send(Message::text(f)).await.is_err() { break; }
            }
            line = lines.next_line() => {
                let Ok(Some(line)) = line else { break };
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') { continue; }
                if line == "quit" || line == "exit" { break; }
                let (text, rid) = if line.starts_with('{') {
                    match serde_json::from_str::<Value>(line) {
                        Ok(v) => (line.to_string(), request_id_of(&v)),
                        Err(e) => {
                            eprintln!("# not JSON ({e}); sent anyway");
                            (line.to_string(), None)
                        }
                    }
                } else {
                    n += 1;
                    let rid = format!("c{n}");
                    match build(line, &rid) {
                        Ok(t) => (t, Some(rid)),
                        Err(e) => { eprintln!("# {e}"); continue; }
                    }
                };
                eprintln!("# > {text}");
                if let (Some(r), Ok(mut m)) = (rid, sent.lock()) {
                    m.insert(r, Instant::now());
                }
                if sink.send(Message::text(text)).await.is_err() { break; }
            }
        }
    }
    // Give outstanding commands their replies (scripted use: `… | ws-client`).
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until && !reader.is_finished() {
        if sent.lock().map(|m| m.is_empty()).unwrap_or(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = sink.send(Message::Close(None)).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
    Ok(())
}

/// `--benchmark N`: N `ping` commands, each after the previous reply.
async fn benchmark(ws: &mut super::Ws, n: usize) -> anyhow::Result<()> {
    // Let the greeting frames (system_message, initial_data, presence) arrive first.
    let settle = tokio::time::Instant::now() + Duration::from_millis(300);
    while let Ok(r) = tokio::time::timeout_at(settle, read_text(ws)).await {
        if let Read::Closed(why) = r {
            anyhow::bail!("socket closed: {why}");
        }
    }
    let mut rtts = Vec::with_capacity(n);
    let mut failed = HashMap::<String, usize>::new();
    let started = Instant::now();
    for i in 0..n {
        let rid = format!("b{i}");
        let cmd = command("ping", &rid, json!({}));
        match round_trip(ws, cmd, &rid, Duration::from_secs(10), |_, _| {}).await {
            Ok((f, rtt)) => {
                rtts.push(rtt);
                if f.success != Some(true) {
                    *failed.entry(f.error_code.unwrap_or_default()).or_default() += 1;
                }
            }
            Err(e) => anyhow::bail!("ping {i}: {e}"),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n} ping commands in {secs:.2} s ({:.0}/s), round trip {}",
        n as f64 / secs,
        percentiles(&mut rtts)
    );
    if !failed.is_empty() {
        println!("failed replies by code: {failed:?}");
    }
    let _ = ws.close(None).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(line: &str) -> Value {
        build(line, "c1")
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default()
    }

    #[test]
    fn lines_become_seed_form_commands() {
        assert_eq!(
            built("create_label name=Bug color=#ff0000 level=issue"),
            json!({"type": "create_label", "request_id": "c1",
                   "data": {"name": "Bug", "color": "#ff0000", "level": "issue"}})
        );
        assert_eq!(
            built("subscribe topics=issues,projects"),
            json!({"type": "subscribe", "request_id": "c1", "topics": ["issues", "projects"]})
        );
        assert_eq!(
            built(r#"update_label label_id=L1 name="Two words""#),
            json!({"type": "update_label", "request_id": "c1", "label_id": "L1",
                   "data": {"name": "Two words"}})
        );
        assert_eq!(
            built(r#"create_issue title=T team_id=X priority=high"#)["data"]["team_id"],
            "X"
        );
        assert_eq!(
            built(r#"query_labels filters={"level": "issue", "limit": 5}"#)["filters"]["limit"],
            5
        );
        assert_eq!(built("ping"), json!({"type": "ping", "request_id": "c1"}));
        assert!(build("create_label oops", "c1").is_err());
    }

    #[test]
    fn request_ids_are_found_in_both_forms() {
        assert_eq!(
            request_id_of(&json!({"type": "ping", "request_id": "a"})).as_deref(),
            Some("a")
        );
        assert_eq!(
            request_id_of(
                &json!({"message_type": "command", "data": {"type": "ping", "request_id": 3}})
            )
            .as_deref(),
            Some("3")
        );
    }
}
