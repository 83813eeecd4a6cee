//! Test harness (feature `testing`): a platform per test on SQLite + in-process key-value
//! (always) or PostgreSQL + Redis (when `TEST_DATABASE_URL` and `TEST_REDIS_URL` are set),
//! isolated per test (own schema, own key prefix, own data directory), served on an ephemeral
//! port. Under `CI=true` the services must be there: a missing one fails, never skips.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use axum::Router;
use sqlx::postgres::PgConnectOptions;

use crate::Platform;
use crate::config::Config;
use crate::db::Db;
use crate::kv::Kv;

/// Which real parts a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file + in-process key-value.
    Embedded,
    /// PostgreSQL + Redis from `TEST_DATABASE_URL` / `TEST_REDIS_URL`.
    Services,
}

/// The service URLs, if configured. Panics under `CI=true` when they are missing, so CI can
/// never pass by skipping the PostgreSQL/Redis half of the suite.
pub fn services() -> Option<(String, String)> {
    let db = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty());
    let redis = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.is_empty());
    match (db, redis) {
        (Some(d), Some(r)) => Some((d, r)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("CI=true but TEST_DATABASE_URL and TEST_REDIS_URL are not both set")
        }
        _ => None,
    }
}

/// Defines `mod <name> { embedded, services }` tests around `async fn <name>(Backend)`:
/// SQLite + in-process, and PostgreSQL + Redis. The `services` variant returns early
/// (passing) only outside CI when the services are not configured.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$name($crate::testing::Backend::Embedded).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn services() {
                if $crate::testing::services().is_none() {
                    eprintln!("TEST_DATABASE_URL/TEST_REDIS_URL unset: PostgreSQL variant not run");
                    return;
                }
                super::$name($crate::testing::Backend::Services).await;
            }
        }
    )*};
}

/// A platform for one test; its data directory is removed on drop.
pub struct TestPlatform {
    pub platform: Platform,
    pub dir: PathBuf,
}

impl Drop for TestPlatform {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A secret used by every test server (never by a real one: production needs its own).
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// Builds an isolated platform. `vars` override the test defaults (same names as the env).
pub async fn platform(backend: Backend, vars: &[(&str, &str)]) -> TestPlatform {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("trellis-test-{id}"));
    std::fs::create_dir_all(&dir).expect("create test data dir");
    let mut map: HashMap<String, String> = HashMap::from([
        ("TRELLIS_DATA_DIR".into(), dir.display().to_string()),
        ("JWT_SECRET_KEY".into(), TEST_JWT_SECRET.into()),
        ("ADMIN_PASSWORD".into(), "Adm1n-Test-Password".into()),
        ("LOG_LEVEL".into(), "warn".into()),
    ]);
    for (k, v) in vars {
        map.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_vars(&map).expect("test config");
    let (db, kv) = match backend {
        Backend::Embedded => (
            Db::connect(&format!("sqlite://{}/trellis.db", dir.display()))
                .await
                .expect("open sqlite"),
            Kv::memory(),
        ),
        Backend::Services => {
            let (db_url, redis_url) = services().expect("services configured");
            (
                pg_schema(&db_url, &id).await,
                Kv::redis(&redis_url, &format!("t:{id}:"))
                    .await
                    .expect("connect redis"),
            )
        }
    };
    let platform = Platform::with_parts(config, db, kv).expect("platform");
    TestPlatform { platform, dir }
}

/// A fresh schema for one test, on a pool whose `search_path` points at it. Schemas left by
/// earlier runs (older than an hour) are dropped on the way.
async fn pg_schema(url: &str, id: &str) -> Db {
    let now = chrono::Utc::now().timestamp();
    let schema = format!("t_{now}_{id}");
    let admin = Db::connect(url).await.expect("connect postgres");
    let Db::Postgres(pool) = &admin else {
        unreachable!("TEST_DATABASE_URL is not a postgres URL")
    };
    let old: Vec<(String,)> =
        sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 't\\_%'")
            .fetch_all(pool)
            .await
            .expect("list schemas");
    for (name,) in old {
        let stamp = name
            .split('_')
            .nth(1)
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(now);
        if now - stamp > 3600 {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                .execute(pool)
                .await;
        }
    }
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(pool)
        .await
        .expect("create schema");
    admin.close().await;
    let opts = PgConnectOptions::from_str(url)
        .expect("postgres url")
        .options([("search_path", schema.as_str())]);
    Db::connect_pg(opts).await.expect("connect schema")
}

/// A router served on 127.0.0.1:<ephemeral> until dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub base_url: String,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// Sends a request with an optional Bearer token and JSON body; returns the status, the
    /// headers and the JSON body (`Null` when empty). A body that is not JSON fails the test:
    /// every API answer, errors included, must be JSON.
    pub async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> (
        reqwest::StatusCode,
        reqwest::header::HeaderMap,
        serde_json::Value,
    ) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.expect("request");
        let (status, headers) = (res.status(), res.headers().clone());
        let text = res.text().await.expect("body");
        let body = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        (status, headers, body)
    }
}

/// Serves `router` with connection info (client IPs) on an ephemeral port.
pub async fn serve(router: Router) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await;
    });
    TestServer {
        addr,
        base_url: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
        shutdown: Some(tx),
    }
}
