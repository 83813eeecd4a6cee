//! The one test kit (feature `testing`), shared by every app's black-box tests.
//!
//! - [`platform`]: a platform per test on SQLite + in-process key-value (always) or
//!   PostgreSQL + Redis (when `TEST_DATABASE_URL` and `TEST_REDIS_URL` are set), isolated per
//!   test (own schema, own key prefix, own data directory). Under `CI=true` the services must
//!   be there: a missing one fails, never skips.
//! - [`TestApp`]: a builder (`TestApp::new(backend).with_apps(..).with_vars(..).with_user(..)`)
//!   that starts the real server through a [`Launch`] function (the server crate's
//!   `trellis::testing::launch`, i.e. the same `build` + `run` as `main`) on an ephemeral port,
//!   with request helpers (`get/post/put/delete` with an optional token), a [`Resp`] checked
//!   against the app's envelope, the outbox mail and code reader, and stored-file listing.
//!   App harnesses add only helpers named after their users' actions.

#![expect(clippy::expect_used, reason = "a test kit fails the test by panicking")]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use axum::Router;
use sqlx::AssertSqlSafe;
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
    /// The platform.
    pub platform: Platform,
    /// Its data directory (`TRELLIS_DATA_DIR`).
    pub dir: PathBuf,
}

impl Drop for TestPlatform {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A secret used by every test server (never by a real one: production needs its own).
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// The defaults every test server starts from: limits off and cooldowns 0, so tests exercise
/// a limit only where they set it. `with_vars` overrides them.
pub const TEST_DEFAULTS: &[(&str, &str)] = &[
    ("RATE_LIMIT_TIMES", "100000"),
    ("TRELLIS_LOGIN_IP_PER_MINUTE", "100000"),
    ("TRELLIS_CODE_IP_PER_HOUR", "100000"),
    ("TRELLIS_CODE_COOLDOWN_SECONDS", "0"),
    ("TRELLIS_UPLOADS_PER_IP_PER_HOUR", "100000"),
];

/// The admin password of every test server.
pub const TEST_ADMIN_PASSWORD: &str = "Adm1n-Test-Password";

/// Builds an isolated platform. `vars` override the test defaults (same names as the env).
pub async fn platform(backend: Backend, vars: &[(&str, &str)]) -> TestPlatform {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("trellis-test-{id}"));
    std::fs::create_dir_all(&dir).expect("create test data dir");
    let mut map: HashMap<String, String> = HashMap::from([
        ("TRELLIS_DATA_DIR".into(), dir.display().to_string()),
        ("JWT_SECRET_KEY".into(), TEST_JWT_SECRET.into()),
        ("ADMIN_PASSWORD".into(), TEST_ADMIN_PASSWORD.into()),
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
            // `name` comes from pg_namespace and matched `t\_%`: our own schema names.
            let _ = sqlx::query(AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
            )))
            .execute(pool)
            .await;
        }
    }
    // `schema` is `t_<unix time>_<uuid>`, made above.
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
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
    /// The bound address.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// A client that never uses a proxy.
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
    /// A server already listening at `addr`, stopped (if `stop` is given) when dropped.
    pub fn at(addr: SocketAddr, stop: Option<tokio::sync::oneshot::Sender<()>>) -> TestServer {
        TestServer {
            addr,
            base_url: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            shutdown: stop,
        }
    }

    /// The absolute URL of `path`.
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

/// Serves `router` with connection info (client IPs) on an ephemeral port (for kernel tests
/// that assemble a router of their own; apps' tests use [`TestApp`]).
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
    TestServer::at(addr, Some(tx))
}

/// Declares an app's test harness: a newtype `$name` around [`TestApp`] (dereferencing to it),
/// with `$name::spawn(backend)` and `$name::with(backend, vars)` that start the real server
/// through `$launch`, after `$configure` has adjusted the builder (bound to `$b`: apps to
/// mount, users to create). The harness then adds only helpers named after its users' actions.
///
/// ```ignore
/// trellis_kernel::test_harness!(TestApp, trellis::testing::launch, |b| b.with_apps(&["workflow"]));
/// ```
#[macro_export]
macro_rules! test_harness {
    ($name:ident, $launch:path, |$b:ident| $configure:expr) => {
        /// A running server with this app's action helpers.
        pub struct $name(pub $crate::testing::TestApp);

        impl ::std::ops::Deref for $name {
            type Target = $crate::testing::TestApp;
            fn deref(&self) -> &$crate::testing::TestApp {
                &self.0
            }
        }

        impl ::std::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut $crate::testing::TestApp {
                &mut self.0
            }
        }

        impl $name {
            /// A server with the test defaults.
            pub async fn spawn(backend: $crate::testing::Backend) -> $name {
                $name::with(backend, &[]).await
            }

            /// A server with the test defaults overridden by `vars`.
            pub async fn with(backend: $crate::testing::Backend, vars: &[(&str, &str)]) -> $name {
                let $b = $crate::testing::TestApp::new(backend).with_vars(vars);
                $name($configure.start($launch).await)
            }
        }
    };
}

/// An account [`TestApp::with_user`] creates before the first request.
#[derive(Clone, Debug)]
pub struct TestUser {
    /// Login name; the e-mail is `<username>@example.com`.
    pub username: String,
    /// Password.
    pub password: String,
    /// `user`, `admin` or `super_admin`.
    pub role: String,
}

/// What a [`Launch`] function started.
pub struct Launched {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Fires the server's shutdown (the test's stand-in for SIGTERM).
    pub stop: tokio::sync::oneshot::Sender<()>,
    /// Completes when the server has drained and stopped.
    pub stopped: tokio::task::JoinHandle<()>,
}

/// Starts the real server on a platform: builds it with the users to seed and serves it on
/// an ephemeral port until `stop` fires. The server crate provides it
/// (`trellis::testing::launch`); the kernel cannot, since it knows no app.
pub type Launch = fn(Platform, Vec<TestUser>) -> futures::future::BoxFuture<'static, Launched>;

/// Builder of a [`TestApp`].
pub struct TestAppBuilder {
    backend: Backend,
    vars: Vec<(String, String)>,
    users: Vec<TestUser>,
}

impl TestAppBuilder {
    /// Mounts only these apps (`TRELLIS_APPS`); all when not called.
    pub fn with_apps(mut self, apps: &[&str]) -> Self {
        self.vars.push(("TRELLIS_APPS".into(), apps.join(",")));
        self
    }

    /// Overrides configuration variables (same names as the environment).
    pub fn with_vars(mut self, vars: &[(&str, &str)]) -> Self {
        self.vars
            .extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Creates an account before the first request.
    pub fn with_user(mut self, username: &str, password: &str, role: &str) -> Self {
        self.users.push(TestUser {
            username: username.into(),
            password: password.into(),
            role: role.into(),
        });
        self
    }

    /// Opens the platform and starts the server through `launch`.
    pub async fn start(self, launch: Launch) -> TestApp {
        let vars: Vec<(&str, &str)> = TEST_DEFAULTS
            .iter()
            .copied()
            .chain(self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect();
        let t = platform(self.backend, &vars).await;
        let launched = launch(t.platform.clone(), self.users).await;
        TestApp {
            server: TestServer::at(launched.addr, None),
            stop: Some(launched.stop),
            stopped: Some(launched.stopped),
            t,
        }
    }
}

/// A running server for one test, with request helpers; stopped when dropped.
pub struct TestApp {
    /// The server's address and client.
    pub server: TestServer,
    /// Its platform and data directory.
    pub t: TestPlatform,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    stopped: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A JSON answer: status, headers and body.
#[derive(Debug)]
pub struct Resp {
    /// The HTTP status.
    pub status: reqwest::StatusCode,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body (`Null` when empty).
    pub body: serde_json::Value,
}

impl Resp {
    /// The body's success flag: `success: true` (workflow, Momentum, MicroDock) or
    /// `code: 0` (the diet planner).
    fn succeeded(&self) -> bool {
        self.body["success"] == serde_json::json!(true) || self.body["code"] == serde_json::json!(0)
    }

    /// The error's stable code as the envelope carries it (`error`, a string `code`, or
    /// Momentum's `errors[0].code`), lower-cased (workflow sends it upper-case).
    pub fn code(&self) -> String {
        let code = match (&self.body["error"], &self.body["code"]) {
            (serde_json::Value::String(s), _) => s.clone(),
            (_, serde_json::Value::String(s)) => s.clone(),
            // Momentum: `code` is the HTTP status; the stable code is the first error's.
            _ => self.body["errors"][0]["code"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        };
        code.to_ascii_lowercase()
    }

    /// Asserts a 2xx answer with the envelope's success flag and returns its `data`.
    #[track_caller]
    pub fn ok(self) -> serde_json::Value {
        assert!(
            self.status.is_success() && self.succeeded(),
            "expected success, got {} {}",
            self.status,
            self.body
        );
        self.body["data"].clone()
    }

    /// Asserts an error answer with `status` and the stable `code`; returns its message.
    #[track_caller]
    pub fn err(&self, status: u16, code: &str) -> &str {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert!(!self.succeeded(), "success flag on an error: {}", self.body);
        assert_eq!(
            self.code(),
            code.to_ascii_lowercase(),
            "body: {}",
            self.body
        );
        // What every envelope's error shares: no data, and a request id / timestamp where the
        // envelope carries one.
        assert!(
            self.body["data"].is_null(),
            "data on an error: {}",
            self.body
        );
        if let Some(rid) = self.body.get("request_id") {
            assert!(rid.as_str().is_some_and(|s| !s.is_empty()), "{}", self.body);
        }
        if let Some(ts) = self.body.get("timestamp") {
            assert!(ts.is_string(), "{}", self.body);
        }
        self.body["message"].as_str().unwrap_or("")
    }
}

/// A raw answer (downloads).
pub struct Raw {
    /// The HTTP status.
    pub status: reqwest::StatusCode,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub bytes: Vec<u8>,
}

impl TestApp {
    /// A builder on `backend` with the test defaults.
    #[expect(
        clippy::new_ret_no_self,
        reason = "TestApp::new(..).with_..().start(..) reads as the app it builds (crates.io's TestApp)"
    )]
    pub fn new(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            vars: Vec::new(),
            users: Vec::new(),
        }
    }

    /// The platform under the server (database, clock, blobs, ...).
    pub fn platform(&self) -> &Platform {
        &self.t.platform
    }

    /// Fires the server's shutdown (as SIGTERM would) and waits until it has drained.
    pub async fn shut_down(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.stopped.take() {
            let _ = h.await;
        }
    }

    /// Sends a JSON request with an optional Bearer token.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Resp {
        let (status, headers, body) = self.server.json(method, path, token, body.as_ref()).await;
        Resp {
            status,
            headers,
            body,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: serde_json::Value, token: Option<&str>) -> Resp {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: serde_json::Value, token: Option<&str>) -> Resp {
        self.call(reqwest::Method::PUT, path, token, Some(body))
            .await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(reqwest::Method::DELETE, path, token, None).await
    }

    /// `POST path` with a JSON body and extra headers, answering raw bytes (downloads).
    pub async fn post_raw(
        &self,
        path: &str,
        body: serde_json::Value,
        headers: &[(&str, &str)],
    ) -> Raw {
        let mut req = self.server.client.post(self.server.url(path)).json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("request");
        let (status, headers) = (res.status(), res.headers().clone());
        Raw {
            status,
            headers,
            bytes: res.bytes().await.expect("body").to_vec(),
        }
    }

    /// `POST path` with a multipart form: one file part named `file` and text fields.
    pub async fn post_multipart(
        &self,
        path: &str,
        file: (Vec<u8>, &str),
        fields: &[(&str, &str)],
    ) -> Resp {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(file.0).file_name(file.1.to_string()),
        );
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let res = self
            .server
            .client
            .post(self.server.url(path))
            .multipart(form)
            .send()
            .await
            .expect("request");
        let (status, headers) = (res.status(), res.headers().clone());
        let text = res.text().await.expect("body");
        Resp {
            status,
            headers,
            body: serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("not JSON ({status}): {text}")),
        }
    }

    /// Mails delivered to `email` so far (the outbox), oldest first.
    pub fn mails(&self, email: &str) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.t.dir.join("outbox"))
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        let tag = format!("-{}-", email.to_lowercase());
        files
            .into_iter()
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().to_string());
                // Mails being written are hidden files until renamed.
                name.is_some_and(|n| !n.starts_with('.') && n.contains(&tag))
            })
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// Waits (up to 5 s) for mail number `n` (1-based) to `email` and returns the 6-digit code
    /// in it.
    pub async fn code_in_mail(&self, email: &str, n: usize) -> String {
        for _ in 0..100 {
            let mails = self.mails(email);
            if mails.len() >= n {
                let text = &mails[n - 1];
                let at = text.find("code is ").expect("code in mail") + 8;
                return text[at..at + 6].to_string();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no mail #{n} for {email}");
    }

    /// Files stored under the blob store's `prefix` (`microdock/plugins`), relative to it,
    /// sorted; hidden temporary files included, so a test sees anything left behind.
    pub fn stored_files(&self, prefix: &str) -> Vec<String> {
        let root = self.t.dir.join("blobs").join(prefix);
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if let Ok(rel) = p.strip_prefix(&root) {
                        out.push(rel.display().to_string());
                    }
                }
            }
        }
        out.sort();
        out
    }
}

/// Asserts that the OpenAPI description of an app's envelope (`doc`) has exactly the fields
/// its profile writes, for a success and for an error body (issue 7, item 13: the document is
/// what the server serves).
pub fn assert_envelope_documented<P: crate::envelope::Profile>(
    profile: &P,
    doc: &crate::docs::EnvelopeDoc,
) {
    fn keys(v: &serde_json::Value) -> Vec<String> {
        let mut k: Vec<String> = v
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    }
    fn schema_keys(s: &utoipa::openapi::RefOr<utoipa::openapi::Schema>) -> Vec<String> {
        let v = serde_json::to_value(s).expect("schema serializes");
        keys(&v["properties"])
    }
    let body = P::success_body(&crate::envelope::Success {
        status: axum::http::StatusCode::OK,
        data: &1,
        message: "ok",
        request_id: "r",
    })
    .expect("success body");
    let body: serde_json::Value = serde_json::from_slice(&body).expect("success body is JSON");
    assert_eq!(keys(&body), schema_keys(&(doc.success)(None).into()));
    let err = profile.error_body(
        &crate::ApiError::from_status(axum::http::StatusCode::NOT_FOUND),
        "r",
    );
    let err: serde_json::Value = serde_json::from_slice(&err).expect("error body is JSON");
    assert_eq!(keys(&err), schema_keys(&doc.error_schema));
}
