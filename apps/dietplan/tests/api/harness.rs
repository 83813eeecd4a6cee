//! The diet planner's test harness: the kernel's `TestApp` (the real server through
//! `trellis::testing::launch`) with helpers named after user actions.

use serde_json::{Value, json};

pub use trellis_kernel::testing::Resp;

pub const PASSWORD: &str = "Garden-Trellis-42";

trellis_kernel::test_harness!(TestApp, trellis::testing::launch, |b| b
    .with_apps(&["dietplan"]));

impl TestApp {
    /// Requests a registration code and returns it as mailed.
    pub async fn fresh_code(&self, email: &str, code_type: &str) -> String {
        let before = self.mails(email).len();
        self.0
            .post(
                "/api/v1/auth/send-code",
                json!({"email": email, "code_type": code_type}),
                None,
            )
            .await
            .ok();
        self.code_in_mail(email, before + 1).await
    }

    /// Registers `username` (with an e-mail code) and returns its access token.
    pub async fn user(&self, username: &str) -> String {
        let email = format!("{username}@example.com");
        let code = self.fresh_code(&email, "register").await;
        let d = self
            .0
            .post(
                "/api/v1/auth/register",
                json!({"username": username, "email": email, "password": PASSWORD, "code": code}),
                None,
            )
            .await
            .ok();
        d["tokens"]["access_token"].as_str().unwrap().to_string()
    }

    /// `POST path` with a Bearer token.
    pub async fn post_auth(&self, path: &str, token: &str, body: Value) -> Resp {
        self.0.post(path, body, Some(token)).await
    }
}
