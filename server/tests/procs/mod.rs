//! Real `trellis` processes sharing one deployment (a data directory and, on PostgreSQL, a
//! fresh database), for the tests that kill, race or restart processes.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use trellis_kernel::testing::{Backend, services};

pub const ADMIN_PASSWORD: &str = "Crash-Test-Admin-Password-1";

pub struct Proc {
    pub child: Child,
    pub base: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shared deployment: a data directory and, on PostgreSQL, a fresh database.
pub struct Deployment {
    dir: PathBuf,
    database_url: Option<String>,
}

impl Deployment {
    pub async fn new(b: Backend) -> Deployment {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("trellis-procs-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let database_url = match b {
            Backend::Embedded => None,
            Backend::Services => {
                let (url, _) = services().unwrap();
                let name = format!("trellis_procs_{id}");
                let admin = trellis_kernel::db::Db::connect(&url).await.unwrap();
                let trellis_kernel::db::Db::Postgres(pool) = &admin else {
                    unreachable!("TEST_DATABASE_URL is a postgres URL")
                };
                // `name` is made above from a UUID.
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(pool)
                    .await
                    .unwrap();
                admin.close().await;
                let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
                Some(format!("{base}/{name}"))
            }
        };
        Deployment { dir, database_url }
    }

    /// Starts one `trellis` process of this deployment, with extra environment.
    pub fn start_with(&self, extra: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trellis"));
        cmd.env("TRELLIS_APPS", "workflow");
        cmd.env("TRELLIS_DATA_DIR", &self.dir)
            .env("PORT", "0")
            .env("LOG_LEVEL", "warn")
            .env(
                "JWT_SECRET_KEY",
                "process-test-secret-process-test-secret-42",
            )
            .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("TRELLIS_ALLOW_PRIVATE_TARGETS", "true")
            .env("TRELLIS_ENGINE_HEARTBEAT_SECONDS", "1")
            .env("RATE_LIMIT_ENABLED", "false")
            .env_remove("REDIS_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        match &self.database_url {
            Some(u) => cmd.env("DATABASE_URL", u),
            None => cmd.env_remove("DATABASE_URL"),
        };
        // The test's own settings last, so they win (`TRELLIS_APPS=dietplan`).
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let mut base = None;
        while out.read_line(&mut line).unwrap() > 0 {
            if let Some(rest) = line.trim_end().strip_prefix("trellis: listening on ") {
                base = rest.split_whitespace().next().map(str::to_string);
                break;
            }
            line.clear();
        }
        // Keep draining stdout so the process never blocks on a full pipe.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut out, &mut std::io::sink());
        });
        Proc {
            child,
            base: base.unwrap(),
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn call(
    base: &str,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut req = client.request(method, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {v}");
    v["data"].clone()
}

pub async fn admin_token(base: &str) -> String {
    let d = call(
        base,
        None,
        reqwest::Method::POST,
        "/api/v1/users/auth/login",
        Some(json!({"username_or_email": "admin", "password": ADMIN_PASSWORD})),
    )
    .await;
    d["access_token"].as_str().unwrap().to_string()
}

/// Polls `GET /api/v1/workflow/executions/{id}` on `base` until the execution has ended
/// (completed or failed), for at most `limit`; answers the execution.
pub async fn wait_ended(base: &str, token: &str, id: &str, limit: std::time::Duration) -> Value {
    let t0 = std::time::Instant::now();
    loop {
        let d = call(
            base,
            Some(token),
            reqwest::Method::GET,
            &format!("/api/v1/workflow/executions/{id}"),
            None,
        )
        .await;
        if d["status"] == "completed" || d["status"] == "failed" {
            return d;
        }
        assert!(t0.elapsed() < limit, "not ended: {d}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
