//! Issue 7 (hardening), platform part: slow and hostile clients cannot hold connections,
//! uploads or the disk; crashes leave no upload files behind; per-IP limits see the real
//! client behind trusted proxies. Every test runs the real server (`trellis::build_on` +
//! `trellis::run`) on both backends. Waits are bounded only so that a regression fails
//! instead of hanging; nothing asserts on how long anything took.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::{Backend, TestApp};

backend_tests!(
    trickled_request_head_is_cut_off,
    idle_keep_alive_connection_is_closed,
    trickled_json_body_gets_408,
    trickled_upload_gets_408_and_leaves_no_file,
    uploads_over_the_cap_get_503_while_downloads_are_served,
    uploads_refused_with_507_below_the_disk_floor,
    uploads_per_ip_are_limited,
    start_up_sweeps_files_left_by_crashed_uploads,
    per_ip_limit_uses_the_client_behind_trusted_proxies,
    forwarding_headers_are_ignored_without_trusted_proxies
);

/// Short limits so each slow client is cut off after about a second.
const FAST_LIMITS: &[(&str, &str)] = &[
    ("RATE_LIMIT_ENABLED", "false"),
    ("TRELLIS_HEADER_TIMEOUT_SECONDS", "1"),
    ("TRELLIS_BODY_GRACE_SECONDS", "1"),
    ("TRELLIS_BODY_MIN_BYTES_PER_SECOND", "1024"),
];

async fn spawn(b: Backend, vars: &[(&str, &str)]) -> TestApp {
    TestApp::new(b)
        .with_vars(FAST_LIMITS)
        .with_vars(vars)
        .start(trellis::testing::launch)
        .await
}

/// How a trickling client's connection ended.
#[derive(Debug)]
enum Ended {
    /// The server closed it (EOF, reset, or a failed write) without answering.
    Closed,
    /// The server answered; the text read so far.
    Answered(String),
}

/// Sends `head`, then one byte of `filler` every 100 ms (a slowloris client), until the
/// server answers or closes the connection; panics after `max_bytes` bytes (the server
/// let the client hold the connection).
async fn trickle(addr: SocketAddr, head: &[u8], filler: u8, max_bytes: usize) -> Ended {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(head).await.unwrap();
    let mut buf = vec![0u8; 4096];
    for _ in 0..max_bytes {
        tokio::select! {
            r = sock.read(&mut buf) => {
                return match r {
                    Ok(0) | Err(_) => Ended::Closed,
                    Ok(n) => Ended::Answered(String::from_utf8_lossy(&buf[..n]).into_owned()),
                };
            }
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                if sock.write_all(&[filler]).await.is_err() {
                    return Ended::Closed;
                }
            }
        }
    }
    panic!("the server still held a trickling connection after {max_bytes} bytes");
}

/// Regression (issue 7, item 9): a connection that sent one header byte every 5 s was still
/// open after 100-130 s. The request head now has `TRELLIS_HEADER_TIMEOUT_SECONDS` in total.
async fn trickled_request_head_is_cut_off(b: Backend) {
    let app = spawn(b, &[]).await;
    let ended = trickle(
        app.server.addr,
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        b'a',
        300,
    )
    .await;
    match ended {
        Ended::Closed => {}
        Ended::Answered(text) => assert!(text.starts_with("HTTP/1.1 408"), "{text}"),
    }
}

/// Regression (issue 7, item 9): an idle keep-alive connection stayed open indefinitely; it
/// is closed after the header timeout once its request is answered.
async fn idle_keep_alive_connection_is_closed(b: Backend) {
    let app = spawn(b, &[]).await;
    let mut sock = TcpStream::connect(app.server.addr).await.unwrap();
    sock.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    let closed = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(closed.is_ok(), "idle keep-alive connection still open");
}

/// Regression (issue 7, item 9): a body trickled one byte at a time kept its request (and
/// connection) alive; below `TRELLIS_BODY_MIN_BYTES_PER_SECOND` after the grace period it
/// fails with 408 `request_timeout` in the app's envelope.
async fn trickled_json_body_gets_408(b: Backend) {
    let app = spawn(b, &[]).await;
    let ended = trickle(
        app.server.addr,
        b"POST /api/v1/users/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
        b' ',
        300,
    )
    .await;
    match ended {
        Ended::Answered(text) => {
            assert!(text.starts_with("HTTP/1.1 408"), "{text}");
            assert!(text.contains("REQUEST_TIMEOUT"), "{text}");
        }
        Ended::Closed => panic!("closed without an answer"),
    }
}

const BOUNDARY: &str = "XhardeningX";

fn upload_head(path: &str, length: usize, expect_continue: bool) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n{}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.zip\"\r\nContent-Type: application/zip\r\n\r\n",
        if expect_continue { "Expect: 100-continue\r\n" } else { "" }
    )
    .into_bytes()
}

/// Regression (issue 7, item 9): an upload sending one body byte every 5 s held its
/// connection, a blocking thread and a spool file for minutes. It now ends with 408 and
/// leaves no file.
async fn trickled_upload_gets_408_and_leaves_no_file(b: Backend) {
    let app = spawn(b, &[]).await;
    let ended = trickle(
        app.server.addr,
        &upload_head("/api/backups/upload", 10_000_000, false),
        b'z',
        300,
    )
    .await;
    match ended {
        Ended::Answered(text) => {
            assert!(text.starts_with("HTTP/1.1 408"), "{text}");
            assert!(text.contains("request_timeout"), "{text}");
        }
        Ended::Closed => panic!("closed without an answer"),
    }
    let spool = app.t.dir.join("blobs").join(".tmp");
    let left: Vec<_> = std::fs::read_dir(&spool)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "spool files left: {left:?}");
}

/// Issue 7, item 9: 540 trickling uploads tied up the blocking pool and every plugin download
/// hung. Uploads are capped (`TRELLIS_MAX_CONCURRENT_UPLOADS`): past the cap the answer is
/// 503 `too_many_uploads` at once, and reads and downloads are still served.
async fn uploads_over_the_cap_get_503_while_downloads_are_served(b: Backend) {
    let app = spawn(
        b,
        &[
            ("TRELLIS_MAX_CONCURRENT_UPLOADS", "1"),
            // This test's slow upload must stay alive while the others are tried.
            ("TRELLIS_BODY_GRACE_SECONDS", "600"),
        ],
    )
    .await;
    // A slow upload that has reached its handler: the server asks for the body (100 Continue)
    // only once the handler reads it, i.e. while it holds the upload permit.
    let mut slow = TcpStream::connect(app.server.addr).await.unwrap();
    let head = upload_head("/api/backups/upload", 10_000_000, true);
    let split = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    slow.write_all(&head[..split]).await.unwrap();
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(60), slow.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 100"), "{text}");
    slow.write_all(&head[split..]).await.unwrap();

    let refused = app
        .post_multipart(
            "/api/backups/upload",
            (b"PK".to_vec(), "b.zip"),
            &[("user_key", "user123abc"), ("backup_type", "program")],
        )
        .await;
    refused.err(503, "too_many_uploads");
    assert!(refused.headers.contains_key("retry-after"));
    // Everything else is still served.
    let list = app
        .server
        .client
        .get(app.server.url("/api/plugins/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    let health = app
        .server
        .client
        .get(app.server.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    drop(slow);
}

/// Issue 7, item 9: anonymous uploads could fill the disk. Below
/// `TRELLIS_MIN_FREE_DISK_BYTES` of free space an upload is refused with 507 and nothing
/// is stored.
async fn uploads_refused_with_507_below_the_disk_floor(b: Backend) {
    // A floor no disk meets (10^18 bytes).
    let app = spawn(b, &[("TRELLIS_MIN_FREE_DISK_BYTES", "1000000000000000000")]).await;
    let r = app
        .post_multipart(
            "/api/backups/upload",
            (b"PK\x03\x04 backup".to_vec(), "b.zip"),
            &[("user_key", "user123abc"), ("backup_type", "program")],
        )
        .await;
    r.err(507, "insufficient_storage");
    assert!(app.stored_files("microdock/backups").is_empty());
    assert!(app.stored_files(".tmp").is_empty());
}

/// Issue 7, item 9: anonymous uploads could fill the disk at the pace of the general rate
/// limit. Each client IP may start `TRELLIS_UPLOADS_PER_IP_PER_HOUR` uploads; more get 429
/// `upload_rate_limited` with `Retry-After`, and nothing is stored.
async fn uploads_per_ip_are_limited(b: Backend) {
    let app = spawn(b, &[("TRELLIS_UPLOADS_PER_IP_PER_HOUR", "2")]).await;
    let upload = || {
        app.post_multipart(
            "/api/backups/upload",
            (b"PK\x03\x04 backup".to_vec(), "b.zip"),
            &[("user_key", "user123abc"), ("backup_type", "program")],
        )
    };
    upload().await.ok();
    upload().await.ok();
    let r = upload().await;
    r.err(429, "upload_rate_limited");
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(app.stored_files("microdock/backups").len(), 2);
}

/// Regression (issue 7, item 11): kill -9 during a 50 MiB upload left a 20 MB hidden
/// `.upload-*` file that no restart removed. Start-up now sweeps the spool directory (and
/// the hidden upload files of earlier releases); blobs are untouched.
async fn start_up_sweeps_files_left_by_crashed_uploads(b: Backend) {
    let t = trellis_kernel::testing::platform(b, &[]).await;
    let root = t.dir.join("blobs");
    std::fs::create_dir_all(root.join(".tmp")).unwrap();
    std::fs::create_dir_all(root.join("backups")).unwrap();
    std::fs::write(root.join(".tmp").join("0123abcd.part"), vec![0u8; 4096]).unwrap();
    std::fs::write(root.join(".upload-7f3a"), vec![0u8; 4096]).unwrap();
    std::fs::write(root.join("backups").join("kept.zip"), b"PK").unwrap();

    let server = trellis::build_on(t.platform.clone()).await.unwrap();
    drop(server);

    assert!(!root.join(".tmp").join("0123abcd.part").exists());
    assert!(!root.join(".upload-7f3a").exists());
    assert!(root.join("backups").join("kept.zip").exists());
}

async fn me_status(app: &TestApp, header: (&str, &str)) -> u16 {
    app.server
        .client
        .get(app.server.url("/api/v1/users/me"))
        .header(header.0, header.1)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

const TWO_PER_MINUTE: &[(&str, &str)] = &[
    ("RATE_LIMIT_ENABLED", "true"),
    ("RATE_LIMIT_TIMES", "2"),
    ("RATE_LIMIT_SECONDS", "60"),
];

/// Issue 7, item 12: behind a reverse proxy every client shared the proxy's rate bucket.
/// With `TRELLIS_TRUSTED_PROXIES` the client is the rightmost untrusted hop of `Forwarded`
/// (RFC 7239) or `X-Forwarded-For`.
async fn per_ip_limit_uses_the_client_behind_trusted_proxies(b: Backend) {
    let app = TestApp::new(b)
        .with_vars(TWO_PER_MINUTE)
        .with_vars(&[("TRELLIS_TRUSTED_PROXIES", "127.0.0.0/8, 10.0.0.0/8")])
        .start(trellis::testing::launch)
        .await;
    let xff = ("x-forwarded-for", "203.0.113.5");
    assert_eq!(me_status(&app, xff).await, 401);
    assert_eq!(me_status(&app, xff).await, 401);
    assert_eq!(me_status(&app, xff).await, 429);
    // Another client through two trusted proxies; the spoofed leftmost entry is not believed
    // (the client would otherwise pick its own bucket).
    let chain = ("x-forwarded-for", "203.0.113.5, 198.51.100.7, 10.1.2.3");
    assert_eq!(me_status(&app, chain).await, 401);
    assert_eq!(me_status(&app, chain).await, 401);
    assert_eq!(me_status(&app, chain).await, 429);
    // RFC 7239 `Forwarded`, IPv6 with a port.
    let fwd = ("forwarded", "for=\"[2001:db8::1]:4711\";proto=https");
    assert_eq!(me_status(&app, fwd).await, 401);
    assert_eq!(me_status(&app, fwd).await, 401);
    assert_eq!(me_status(&app, fwd).await, 429);
}

/// Issue 7, item 12: without trusted proxies (the default) forwarding headers are the
/// client's own words and change nothing: a client cannot escape its bucket by inventing
/// addresses.
async fn forwarding_headers_are_ignored_without_trusted_proxies(b: Backend) {
    let app = TestApp::new(b)
        .with_vars(TWO_PER_MINUTE)
        .start(trellis::testing::launch)
        .await;
    assert_eq!(
        me_status(&app, ("x-forwarded-for", "203.0.113.1")).await,
        401
    );
    assert_eq!(
        me_status(&app, ("x-forwarded-for", "203.0.113.2")).await,
        401
    );
    assert_eq!(me_status(&app, ("forwarded", "for=203.0.113.3")).await, 429);
}
