//! The HTTP client the scenarios drive the workflow API with: a Bearer token of the
//! administrator, JSON in and out.

use serde_json::{Value, json};

use crate::server::ADMIN_PASSWORD;

/// A signed-in client of one server.
pub struct Api {
    /// The client (no system proxy, a large idle pool).
    pub http: reqwest::Client,
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// The administrator's access token.
    pub token: String,
}

impl Api {
    /// Signs in as the administrator at `/api/v1/users/auth/login`.
    pub async fn admin(base: &str) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(512)
            .build()?;
        let login: Value = http
            .post(format!("{base}/api/v1/users/auth/login"))
            .json(&json!({"username_or_email": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await?
            .json()
            .await?;
        let token = login["data"]["access_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("login failed: {login}"))?
            .to_string();
        Ok(Api {
            http,
            base: base.to_string(),
            token,
        })
    }

    /// Overrides the administrator's plan limits (`{"proxy_pools": 1000}`, …) so a
    /// scenario's load is not cut by the Free plan.
    pub async fn raise_limits(&self, limits: Value) -> anyhow::Result<()> {
        let (_, me) = self
            .call(reqwest::Method::GET, "/api/v1/users/me", None)
            .await?;
        let uid = me["data"]["id"].as_str().unwrap_or_default().to_string();
        let (st, body) = self
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/subscription/admin/users/{uid}"),
                Some(json!({ "limits": limits })),
            )
            .await?;
        anyhow::ensure!(st == 200, "limits: {st} {body}");
        Ok(())
    }

    /// Sends a request; answers the status and the JSON body (null when not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }
}
