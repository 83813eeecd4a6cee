//! A workflow server on an ephemeral port, with helpers named after user actions.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use trellis_identity::Identity;
use trellis_kernel::envelope::Profiles;
use trellis_kernel::testing::{Backend, TestPlatform, TestServer, platform, serve};

pub const ADMIN_PASSWORD: &str = "Adm1n-Test-Password";
pub const PASSWORD: &str = "Garden-Trellis-42";

pub struct TestApp {
    pub server: TestServer,
    pub t: TestPlatform,
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Resp {
    /// The workflow error code (`error`), or "" on success.
    pub fn code(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(
            self.status.is_success() && self.body["success"] == json!(true),
            "expected success, got {} {}",
            self.status,
            self.body
        );
        self.body["data"].clone()
    }

    #[track_caller]
    pub fn err(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.code(), code, "body: {}", self.body);
        assert_eq!(self.body["success"], json!(false));
        assert!(
            self.body["request_id"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        assert!(self.body["timestamp"].is_string());
    }
}

pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub async fn spawn(b: Backend) -> TestApp {
        Self::with(b, &[]).await
    }

    /// A server whose config is the test defaults overridden by `vars`.
    pub async fn with(b: Backend, vars: &[(&str, &str)]) -> TestApp {
        let mut all = vec![
            ("RATE_LIMIT_TIMES", "100000"),
            ("TRELLIS_LOGIN_IP_PER_MINUTE", "100000"),
            ("TRELLIS_CODE_IP_PER_HOUR", "100000"),
            ("TRELLIS_CODE_COOLDOWN_SECONDS", "0"),
        ];
        all.extend_from_slice(vars);
        let t = platform(b, &all).await;
        t.platform
            .db
            .migrate(&trellis_identity::migrations())
            .await
            .expect("migrate");
        let identity = Identity::start(t.platform.clone()).await.expect("identity");
        let (router, api) = trellis_workflow::router(identity);
        let mut profiles = Profiles::default();
        trellis_workflow::register_envelope(&mut profiles);
        let router = trellis_kernel::http::assemble(router, &t.platform, profiles, api);
        TestApp {
            server: serve(router).await,
            t,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let (status, headers, body) = self.server.json(method, path, token, body.as_ref()).await;
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, None, Some(body)).await
    }

    pub async fn post_auth(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn send_code(&self, email: &str, purpose: &str) -> Resp {
        self.post(
            "/api/v1/users/public/send-verification-code",
            json!({"email": email, "purpose": purpose}),
        )
        .await
    }

    fn outbox(&self) -> PathBuf {
        self.t.dir.join("outbox")
    }

    /// Mails delivered to `email` so far, oldest first.
    pub fn mails(&self, email: &str) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.outbox())
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                // Mails being written are hidden `.part` files until renamed.
                !name.starts_with('.') && name.contains(&format!("-{}-", email.to_lowercase()))
            })
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// Waits for mail number `n` (1-based) to `email` and returns the code in it.
    pub async fn code_in_mail(&self, email: &str, n: usize) -> String {
        for _ in 0..100 {
            let mails = self.mails(email);
            if mails.len() >= n {
                let text = &mails[n - 1];
                let at = text.find("code is ").expect("code in mail") + 8;
                return text[at..at + 6].to_string();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail #{n} for {email}");
    }

    /// Requests a code and returns it as mailed.
    pub async fn fresh_code(&self, email: &str, purpose: &str) -> String {
        let before = self.mails(email).len();
        self.send_code(email, purpose).await.ok();
        self.code_in_mail(email, before + 1).await
    }

    pub async fn register(&self, username: &str, email: &str) -> Value {
        let code = self.fresh_code(email, "register").await;
        self.post(
            "/api/v1/users/auth/register",
            json!({"username": username, "email": email, "password": PASSWORD, "code": code}),
        )
        .await
        .ok()
    }

    pub async fn try_login(&self, who: &str, password: &str) -> Resp {
        self.post(
            "/api/v1/users/auth/login",
            json!({"username_or_email": who, "password": password}),
        )
        .await
    }

    pub async fn login(&self, who: &str, password: &str) -> Tokens {
        let d = self.try_login(who, password).await.ok();
        Tokens {
            access: d["access_token"].as_str().unwrap().to_string(),
            refresh: d["refresh_token"].as_str().unwrap().to_string(),
        }
    }

    /// Registers `username` and logs in.
    pub async fn user(&self, username: &str) -> (Value, Tokens) {
        let email = format!("{username}@example.com");
        let user = self.register(username, &email).await;
        (user, self.login(username, PASSWORD).await)
    }

    pub async fn admin(&self) -> Tokens {
        self.login("admin", ADMIN_PASSWORD).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Resp {
        self.post(
            "/api/v1/users/auth/refresh",
            json!({"refresh_token": refresh_token}),
        )
        .await
    }

    pub fn advance(&self, by: Duration) {
        self.t.platform.clock.advance(by);
    }
}
