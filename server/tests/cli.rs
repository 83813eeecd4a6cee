//! The `trellis` binary: start-up errors, config printing, migrate, admin creation, and a
//! graceful stop on SIGTERM.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn trellis(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trellis"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TRELLIS_DATA_DIR", dir)
        .env("LOG_LEVEL", "warn")
        .current_dir(dir);
    c
}

/// A port nothing listens on: bind one, note it, free it.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("trellis-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn invalid_config_names_every_offending_variable() {
    let dir = tempdir();
    let out = trellis(&dir)
        .env("PORT", "eighty")
        .env("LOG_FORMAT", "xml")
        .env("TRELLIS_ENV", "production")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for name in [
        "PORT",
        "LOG_FORMAT",
        "JWT_SECRET_KEY",
        "ADMIN_PASSWORD",
        "TRELLIS_SECRETS_KEY",
    ] {
        assert!(err.contains(name), "{name} missing from: {err}");
    }
}

/// Issue 7, item 10: an unreachable `REDIS_URL` at start-up is reported once, clearly, and
/// stops the server (no retry storm, no half-started server).
#[test]
fn unreachable_redis_is_reported_once_at_start_up() {
    let dir = tempdir();
    let port = closed_port();
    let out = trellis(&dir)
        .env("REDIS_URL", format!("redis://127.0.0.1:{port}"))
        .env("PORT", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("cannot connect to Redis").count(),
        1,
        "stderr: {err}"
    );
}

#[test]
fn unknown_apps_stop_start_up() {
    let dir = tempdir();
    let out = trellis(&dir)
        .env("TRELLIS_APPS", "workflow,nosuchapp")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nosuchapp") && err.contains("known: workflow"),
        "{err}"
    );
}

#[test]
fn config_masks_secrets() {
    let dir = tempdir();
    let out = trellis(&dir)
        .arg("config")
        .env("JWT_SECRET_KEY", "super-secret-value-that-must-not-print")
        .env("DATABASE_URL", "postgres://u:hunter2@db:5432/x")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("PORT=8000"));
    assert!(text.contains("DATABASE_URL=postgres://u:****@db:5432/x"));
    assert!(!text.contains("super-secret"));
    assert!(!text.contains("hunter2"));
}

#[test]
fn migrate_then_create_admin() {
    let dir = tempdir();
    let out = trellis(&dir).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("trellis.db").exists());
    let out = trellis(&dir)
        .args([
            "admin",
            "create",
            "--username",
            "ops",
            "--email",
            "ops@example.com",
            "--password-env",
            "OPS_PW",
        ])
        .env("OPS_PW", "Ops-Password-2026")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created admin ops"));
    // A weak password is refused with a clear message.
    let out = trellis(&dir)
        .args([
            "admin",
            "create",
            "--username",
            "ops2",
            "--email",
            "ops2@example.com",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"weak\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue 7, item 10: S3-compatible storage that does not answer fails fast and visibly:
/// `/health` says `blobs: unhealthy` with a 503, and an upload answers 503
/// `storage_unavailable` (not a 500, not a long wait).
#[test]
fn unreachable_s3_fails_fast_and_health_says_so() {
    let dir = tempdir();
    let port = closed_port();
    let mut child = trellis(&dir)
        .env("PORT", "0")
        .env("TRELLIS_BLOB_URL", "s3://nowhere/trellis")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("RATE_LIMIT_ENABLED", "false")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("trellis: listening on ")
                .and_then(|r| r.split_whitespace().next().map(str::to_string))
        })
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (health, health_body, upload, upload_body) = rt.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let h = client.get(format!("{base}/health")).send().await.unwrap();
        let hs = h.status();
        let hb: serde_json::Value = h.json().await.unwrap();
        let zip = {
            use std::io::Write;
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            w.start_file("plugin.json", zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(
                br#"{"name":"com.s3.down","version":"1.0.0","main":"M.dll","entryClass":"M.E"}"#,
            )
            .unwrap();
            w.start_file("M.dll", zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(b"MZ").unwrap();
            w.finish().unwrap().into_inner()
        };
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(zip).file_name("p.zip"),
            )
            .text("plugin_key", "k");
        let u = client
            .post(format!("{base}/api/plugins/upload"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let us = u.status();
        let ub: serde_json::Value = u.json().await.unwrap();
        (hs, hb, us, ub)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(health, 503, "{health_body}");
    assert_eq!(health_body["blobs"], "unhealthy");
    assert_eq!(health_body["database"], "healthy");
    assert_eq!(upload, 503, "{upload_body}");
    assert_eq!(upload_body["error"], "storage_unavailable");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn serves_and_stops_gracefully_on_sigterm() {
    let dir = tempdir();
    let mut child = trellis(&dir)
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut saw_app = false;
    let mut base = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("workflow") && line.contains("docs") {
            saw_app = true;
        }
        if let Some(rest) = line.strip_prefix("trellis: listening on ") {
            base = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    assert!(saw_app, "no start-up line for the workflow app");
    let base = base.expect("listening line");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        reqwest::get(format!("{base}/health"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "exit status {s}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(dir);
}
