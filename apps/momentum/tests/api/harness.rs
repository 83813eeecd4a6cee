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

    /// Creates an issue titled `title` in team `team_id` (`POST /issues`) and returns it
    /// (`id`, `key`, `team_id`, `workflow_state_id`, `cycle_id`, `estimate`, …).
    pub async fn create_issue(&self, u: &User, team_id: &str, title: &str) -> Value {
        self.post_ok("/issues", json!({"title": title, "team_id": team_id}), u)
            .await
    }

    /// Changes an issue (`PUT /issues/{id}`, e.g. `{workflow_state_id}` or `{estimate}`).
    pub async fn update_issue(&self, u: &User, issue_id: &str, body: Value) -> Value {
        self.put(&format!("/issues/{issue_id}"), body, u.t())
            .await
            .ok()
    }

    /// The issue `id_or_key` (`GET /issues/{id}`).
    pub async fn get_issue(&self, u: &User, id_or_key: &str) -> Value {
        self.get_ok(&format!("/issues/{id_or_key}"), u).await
    }

    /// Creates a team (`POST /teams {name, team_key}`) in the caller's workspace.
    pub async fn create_team(&self, u: &User, name: &str, team_key: &str) -> Value {
        self.post_ok("/teams", json!({"name": name, "team_key": team_key}), u)
            .await
    }

    /// The caller's workspace's changes so far (`GET /sync/delta`, first 1000).
    pub async fn changes(&self, u: &User) -> Vec<Value> {
        self.get_ok("/sync/delta?after=0&limit=1000", u)
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    /// The id of the first team created in the caller's current workspace (from the change
    /// log, so it needs no team route).
    pub async fn first_team_id(&self, u: &User) -> String {
        self.changes(u)
            .await
            .iter()
            .find(|c| c["entity"] == "team" && c["action"] == "create")
            .unwrap()["entity_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The states of the first team's default workflow, by category (`backlog` → id).
    pub async fn state_ids(&self, u: &User) -> std::collections::HashMap<String, String> {
        self.changes(u)
            .await
            .iter()
            .filter(|c| c["entity"] == "workflow_state" && c["action"] == "create")
            .take(6)
            .map(|c| {
                (
                    c["data"]["category"].as_str().unwrap().to_string(),
                    c["entity_id"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Registers `username` and makes them a member of `owner`'s current workspace with
    /// `role` (invitation and acceptance, which makes it their current workspace).
    pub async fn join_workspace(&self, owner: &User, username: &str, role: &str) -> User {
        let u = self.register(username).await;
        join(self, owner, &u, role).await;
        u
    }
}

/// `admin` invites `user` to the admin's current workspace with `role`; `user` accepts.
/// Returns the accepted invitation.
pub async fn join(app: &TestApp, admin: &User, user: &User, role: &str) -> Value {
    let inv = app
        .post_ok(
            "/invitations",
            json!({"emails": [user.email], "role": role}),
            admin,
        )
        .await;
    let id = inv[0]["id"].as_str().unwrap().to_string();
    app.post_ok(&format!("/invitations/{id}/accept"), json!({}), user)
        .await
}

/// The ids in a list of objects.
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}
