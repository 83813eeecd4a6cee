//! Momentum's test harness: the kernel's `TestApp` (the real server through
//! `trellis::testing::launch`, Momentum mounted) and helpers named after Momentum users'
//! actions.

use serde_json::{Value, json};

pub use trellis_kernel::testing::{Backend, Resp};

trellis_kernel::test_harness!(TestApp, trellis::testing::launch, |b| b
    .with_apps(&["momentum"]));

/// A registered, signed-in user.
#[derive(Clone, Debug)]
pub struct User {
    /// Access token.
    pub token: String,
    /// Refresh token.
    pub refresh: String,
    /// Account id.
    pub id: String,
    /// Username.
    pub username: String,
    /// E-mail.
    pub email: String,
    /// Password.
    pub password: String,
}

impl User {
    /// The bearer token, for the request helpers.
    pub fn t(&self) -> Option<&str> {
        Some(&self.token)
    }
}

/// A password the identity policy accepts.
pub const PASSWORD: &str = "Momentum-Pass-1";

impl TestApp {
    /// Registers `username` (e-mail `<username>@example.com`, name capitalised) and returns
    /// the signed-in user.
    pub async fn register(&self, username: &str) -> User {
        let email = format!("{username}@example.com");
        let r = self
            .post(
                "/auth/register",
                json!({"email": email, "username": username, "name": username.to_uppercase(), "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let d = r.ok();
        User {
            token: d["access_token"].as_str().unwrap().to_string(),
            refresh: d["refresh_token"].as_str().unwrap().to_string(),
            id: d["user"]["id"].as_str().unwrap().to_string(),
            username: username.to_string(),
            email,
            password: PASSWORD.to_string(),
        }
    }

    /// Signs `u` in again and returns a fresh session.
    pub async fn login(&self, u: &User) -> User {
        let d = self
            .post(
                "/auth/login",
                json!({"email": u.email, "password": u.password}),
                None,
            )
            .await
            .ok();
        User {
            token: d["access_token"].as_str().unwrap().to_string(),
            refresh: d["refresh_token"].as_str().unwrap().to_string(),
            ..u.clone()
        }
    }

    /// The `data` of a `GET` that must succeed.
    pub async fn get_ok(&self, path: &str, u: &User) -> Value {
        self.get(path, u.t()).await.ok()
    }

    /// The `data` of a `POST` that must succeed.
    pub async fn post_ok(&self, path: &str, body: Value, u: &User) -> Value {
        self.post(path, body, u.t()).await.ok()
    }

    /// The first team of the caller's current workspace.
    pub async fn first_team(&self, u: &User) -> Value {
        self.get_ok("/teams", u).await[0].clone()
    }
}

/// The ids in a list of objects.
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}
