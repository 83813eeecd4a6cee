//! The workflow app's test harness: the kernel's `TestApp` (the real server through
//! `trellis::testing::launch`) with helpers named after user actions.

use std::time::Duration;

use serde_json::{Value, json};
use trellis_kernel::testing;

pub use trellis_kernel::testing::{Resp, TEST_ADMIN_PASSWORD as ADMIN_PASSWORD};

pub const PASSWORD: &str = "Garden-Trellis-42";

trellis_kernel::test_harness!(TestApp, trellis::testing::launch, |b| b
    .with_apps(&["workflow"]));

pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    /// `POST path` without a token.
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.0.post(path, body, None).await
    }

    /// `POST path` with a Bearer token.
    pub async fn post_auth(&self, path: &str, token: &str, body: Value) -> Resp {
        self.0.post(path, body, Some(token)).await
    }

    pub async fn send_code(&self, email: &str, purpose: &str) -> Resp {
        self.post(
            "/api/v1/users/public/send-verification-code",
            json!({"email": email, "purpose": purpose}),
        )
        .await
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

    /// The same deployment after a restart with the key-value store lost (a plain restart
    /// without Redis, or a Redis flush): a new server process on the same database with an
    /// empty in-process key-value store.
    pub async fn restarted(&self) -> Instance {
        let p = &self.t.platform;
        // One test clock for both, so `advance` moves the new process's time too.
        let platform = trellis_kernel::Platform::with_parts(
            (*p.config).clone(),
            p.db.clone(),
            trellis_kernel::kv::Kv::memory(),
        )
        .unwrap()
        .with_clock(p.clock.clone());
        let launched = trellis::testing::launch(platform, vec![]).await;
        Instance(testing::TestServer::at(launched.addr, Some(launched.stop)))
    }

    /// `POST path` sent from another client address (`ip`, a loopback address such as
    /// 127.0.0.2), as a user elsewhere would.
    pub async fn post_from(&self, ip: [u8; 4], path: &str, body: Value) -> Resp {
        let client = reqwest::Client::builder()
            .no_proxy()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap();
        let r = client
            .post(self.server.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        let body = r.json().await.unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
        }
    }
}

/// Another server process of the same deployment (see [`TestApp::restarted`]).
pub struct Instance(pub testing::TestServer);

impl Instance {
    pub async fn get(&self, path: &str, token: &str) -> Resp {
        let (status, headers, body) = self
            .0
            .json(reqwest::Method::GET, path, Some(token), None)
            .await;
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        let (status, headers, body) = self
            .0
            .json(reqwest::Method::POST, path, None, Some(&body))
            .await;
        Resp {
            status,
            headers,
            body,
        }
    }
}
