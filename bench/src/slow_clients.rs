//! Slow and hostile clients (issue 7, item 9): opens `holders` connections of each kind
//! against a fresh server with its default limits:
//!
//! - *header*: sends a request line, then one header byte every `every` seconds;
//! - *idle*: sends one request, reads the answer, then stays silent (keep-alive);
//! - *upload*: starts a 10 MB backup upload, then sends one body byte every `every` seconds;
//!
//! and, every `sample` seconds for `seconds`, counts how many of them the server still holds
//! open and downloads a 1 MiB backup `downloads` times (plus one `/health`), printing what
//! succeeded and the slowest download.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::server::Server;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "target/release/trellis")]
    server: String,
    /// Connections of each kind.
    #[arg(long, default_value_t = 200)]
    holders: usize,
    /// Seconds between two bytes of a trickling client.
    #[arg(long, default_value_t = 5)]
    every: u64,
    /// Length of the attack, seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Seconds between two samples.
    #[arg(long, default_value_t = 5)]
    sample: u64,
    /// Downloads per sample.
    #[arg(long, default_value_t = 10)]
    downloads: usize,
}

#[derive(Clone, Copy)]
enum Kind {
    Header,
    Idle,
    Upload,
}

const BOUNDARY: &str = "XbenchX";
const USER_KEY: &str = "bench-slow-clients";

pub async fn run(a: Args) -> anyhow::Result<()> {
    // Every client here is 127.0.0.1: the per-IP request limit is off so that it is the
    // slow-client defences, not the rate limit, that are measured (and downloads are not 429).
    let server = Server::start(&a.server, None, &[("RATE_LIMIT_ENABLED", "false")])?;
    let host = server.base.trim_start_matches("http://").to_string();
    let client = reqwest::Client::builder().no_proxy().build()?;

    // The download target: a 1 MiB backup.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![7u8; 1024 * 1024]).file_name("b.zip"),
        )
        .text("user_key", USER_KEY)
        .text("backup_type", "program");
    let up: serde_json::Value = client
        .post(format!("{}/api/backups/upload", server.base))
        .multipart(form)
        .send()
        .await?
        .json()
        .await?;
    let id = up["data"]["id"].clone();
    anyhow::ensure!(!id.is_null(), "backup upload failed: {up}");

    let open = [
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    ];
    for (i, kind) in [Kind::Header, Kind::Idle, Kind::Upload]
        .into_iter()
        .enumerate()
    {
        for _ in 0..a.holders {
            let counter = open[i].clone();
            let host = host.clone();
            let every = Duration::from_secs(a.every);
            tokio::spawn(async move {
                if let Ok(sock) = TcpStream::connect(&host).await {
                    counter.fetch_add(1, Ordering::Relaxed);
                    hold(sock, kind, every).await;
                    counter.fetch_sub(1, Ordering::Relaxed);
                }
            });
        }
    }

    println!("t(s)  open:header  idle  upload   downloads ok  slowest(ms)  /health");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(a.seconds) {
        tokio::time::sleep(Duration::from_secs(a.sample)).await;
        let mut ok = 0;
        let mut slowest = Duration::ZERO;
        for _ in 0..a.downloads {
            let t = Instant::now();
            let r = tokio::time::timeout(
                Duration::from_secs(30),
                client
                    .post(format!("{}/api/backups/download", server.base))
                    .json(&serde_json::json!({"user_key": USER_KEY, "id": id}))
                    .send(),
            )
            .await;
            if let Ok(Ok(r)) = r
                && r.status().is_success()
                && r.bytes().await.map(|b| b.len()).unwrap_or(0) == 1024 * 1024
            {
                ok += 1;
            }
            slowest = slowest.max(t.elapsed());
        }
        let health = match tokio::time::timeout(
            Duration::from_secs(30),
            client.get(format!("{}/health", server.base)).send(),
        )
        .await
        {
            Ok(Ok(r)) => r.status().as_u16().to_string(),
            _ => "timeout".to_string(),
        };
        println!(
            "{:>4}  {:>11}  {:>4}  {:>6}   {:>6}/{:<6}  {:>11}  {}",
            start.elapsed().as_secs(),
            open[0].load(Ordering::Relaxed),
            open[1].load(Ordering::Relaxed),
            open[2].load(Ordering::Relaxed),
            ok,
            a.downloads,
            slowest.as_millis(),
            health
        );
    }
    Ok(())
}

/// Holds `sock` the way `kind` does until the server closes it.
async fn hold(mut sock: TcpStream, kind: Kind, every: Duration) {
    let first: Vec<u8> = match kind {
        Kind::Header => b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec(),
        Kind::Idle => b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        Kind::Upload => format!(
            "POST /api/backups/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: 10000000\r\n\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.zip\"\r\n\r\n"
        )
        .into_bytes(),
    };
    if sock.write_all(&first).await.is_err() {
        return;
    }
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            r = sock.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                // An answer (the idle client's response, or a refusal): keep reading until
                // the server closes.
                Ok(_) => {}
            },
            () = tokio::time::sleep(every) => {
                if matches!(kind, Kind::Idle) {
                    continue;
                }
                if sock.write_all(b"a").await.is_err() {
                    return;
                }
            }
        }
    }
}
