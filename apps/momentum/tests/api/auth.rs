//! `/auth/*`: registration provisions a usable workspace, login by e-mail or username,
//! refresh rotation, logout, profile, token renewal, the envelope, the per-user rate limit.

use serde_json::json;

use crate::harness::{PASSWORD, TestApp};
use trellis_kernel::testing::Backend;

trellis_kernel::backend_tests!(
    registration_signs_in_with_a_provisioned_workspace,
    registration_errors_list_fields_and_conflicts,
    login_refresh_logout,
    profile_update_and_alias,
    token_renewal_header,
    writes_are_rate_limited_per_user,
    envelope_for_framework_errors,
    concurrent_registrations_of_one_slug_all_succeed,
);

/// Names that slug alike (`sam`) race for one workspace URL key: every registration succeeds,
/// each with its own key (the registration transaction picks again after a lost race).
async fn concurrent_registrations_of_one_slug_all_succeed(b: Backend) {
    let app = TestApp::spawn(b).await;
    let names = ["sam", "Sam_", "sam__", "SAM___", "sAm____", "saM_____"];
    let answers = futures::future::join_all(names.iter().map(|n| {
        app.post(
            "/auth/register",
            json!({"email": format!("{}@example.com", n.to_lowercase().trim_end_matches('_').to_string() + &n.len().to_string()),
                   "username": n, "name": "Sam", "password": PASSWORD}),
            None,
        )
    }))
    .await;
    let mut keys: Vec<String> = answers
        .into_iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["data"]["current_workspace_url_key"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), names.len(), "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("sam")), "{keys:?}");
}

async fn registration_signs_in_with_a_provisioned_workspace(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = app
        .post(
            "/auth/register",
            json!({"email": "Alice@Example.com", "username": "alice", "name": "Alice", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["code"], 201);
    assert!(r.body["meta"]["request_id"].is_string());
    assert!(r.body["timestamp"].is_string());
    let d = r.ok();
    assert_eq!(d["token_type"], "Bearer");
    assert_eq!(d["user"]["email"], "alice@example.com");
    assert_eq!(d["user"]["name"], "Alice");
    assert_eq!(d["current_workspace_url_key"], "alice");
    let token = d["access_token"].as_str().unwrap();
    let profile = app.get("/auth/profile", Some(token)).await.ok();
    assert_eq!(profile["username"], "alice");
    assert_eq!(profile["current_workspace_role"], "owner");
    // A second user whose username slugs the same gets another url key.
    let r = app
        .post(
            "/auth/register",
            json!({"email": "a2@example.com", "username": "Alice_", "name": "Alice Two", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["current_workspace_url_key"], "alice-2");
}

async fn registration_errors_list_fields_and_conflicts(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("bob").await;
    let r = app
        .post(
            "/auth/register",
            json!({"email": "bob@example.com", "username": "bob2", "name": "B", "password": PASSWORD}),
            None,
        )
        .await;
    r.err(409, "USER_EMAIL_EXISTS");
    let r = app
        .post(
            "/auth/register",
            json!({"email": "other@example.com", "username": "BOB", "name": "B", "password": PASSWORD}),
            None,
        )
        .await;
    r.err(409, "USER_USERNAME_EXISTS");
    let r = app
        .post(
            "/auth/register",
            json!({"email": "x@example.com", "username": "xuser", "name": "", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["code"], 422);
    assert_eq!(r.body["errors"][0]["field"], "name");
    let r = app
        .post(
            "/auth/register",
            json!({"email": "x@example.com", "username": "xuser", "name": "X", "password": "short"}),
            None,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "password");
    // Nothing half-written: the failed registrations left no account behind.
    let r = app
        .post(
            "/auth/login",
            json!({"email": "x@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    r.err(401, "INVALID_CREDENTIALS");
}

async fn login_refresh_logout(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("carol").await;
    for who in [
        json!({"email": "carol@example.com"}),
        json!({"username": "carol"}),
        json!({"username_or_email": "CAROL@example.com"}),
    ] {
        let mut body = who.clone();
        body["password"] = json!(PASSWORD);
        let d = app.post("/auth/login", body, None).await.ok();
        assert_eq!(d["user"]["username"], "carol", "{who}");
        assert_eq!(d["expires_in"], 3600);
        assert_eq!(d["current_workspace_url_key"], "carol");
    }
    let r = app
        .post(
            "/auth/login",
            json!({"email": "carol@example.com", "password": "Wrong-Pass-123"}),
            None,
        )
        .await;
    r.err(401, "INVALID_CREDENTIALS");
    // Refresh rotates; the old refresh token is spent.
    let d = app
        .post("/auth/refresh", json!({"refresh_token": u.refresh}), None)
        .await
        .ok();
    let new_access = d["access_token"].as_str().unwrap().to_string();
    assert_ne!(d["refresh_token"], json!(u.refresh));
    app.get("/auth/profile", Some(&new_access)).await.ok();
    // Logout revokes the session: both access tokens of it stop working.
    app.post("/auth/logout", json!({}), Some(&new_access))
        .await
        .ok();
    app.get("/auth/profile", Some(&new_access))
        .await
        .err(401, "TOKEN_REVOKED");
    app.get("/auth/profile", u.t())
        .await
        .err(401, "TOKEN_REVOKED");
    app.get("/auth/profile", None)
        .await
        .err(401, "NOT_AUTHENTICATED");
}

async fn profile_update_and_alias(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("dave").await;
    app.register("erin").await;
    let d = app
        .put(
            "/auth/profile",
            json!({"name": "David", "avatar_url": "https://img.example.com/d.png"}),
            u.t(),
        )
        .await
        .ok();
    assert_eq!(d["name"], "David");
    assert_eq!(d["avatar_url"], "https://img.example.com/d.png");
    let d = app
        .put(
            "/users/profile",
            json!({"username": "davey", "avatar_url": null}),
            u.t(),
        )
        .await
        .ok();
    assert_eq!(d["username"], "davey");
    assert!(d["avatar_url"].is_null());
    assert_eq!(d["name"], "David");
    app.put("/auth/profile", json!({"email": "erin@example.com"}), u.t())
        .await
        .err(409, "USER_EMAIL_EXISTS");
    let r = app
        .put(
            "/auth/profile",
            json!({"name": "", "avatar_url": "javascript:alert(1)"}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let fields: Vec<_> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "avatar_url"]);
}

async fn token_renewal_header(b: Backend) {
    // Tokens that live 10 minutes are always within the 15-minute renewal window.
    let app = TestApp::with(
        b,
        &[
            ("MOMENTUM_ACCESS_TOKEN_MINUTES", "10"),
            ("MOMENTUM_TOKEN_RENEW_MINUTES", "10"),
        ],
    )
    .await;
    let u = app.register("frank").await;
    let r = app.get("/auth/profile", u.t()).await;
    let fresh = r
        .headers
        .get("x-new-access-token")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(fresh, u.token);
    app.get("/auth/profile", Some(&fresh)).await.ok();
    // Same session: logging out with the new token revokes the old one too.
    app.post("/auth/logout", json!({}), Some(&fresh)).await.ok();
    app.get("/auth/profile", u.t())
        .await
        .err(401, "TOKEN_REVOKED");

    let app = TestApp::spawn(b).await;
    let u = app.register("gina").await;
    let r = app.get("/auth/profile", u.t()).await;
    assert!(r.headers.get("x-new-access-token").is_none());
}

async fn writes_are_rate_limited_per_user(b: Backend) {
    let app = TestApp::with(
        b,
        &[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "3")],
    )
    .await;
    let u = app.register("hank").await;
    let other = app.register("ivy").await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = app
            .put("/auth/profile", json!({"name": "Hank"}), u.t())
            .await;
        statuses.push(r.status.as_u16());
        if r.status == 429 {
            assert!(r.headers.get("retry-after").is_some());
            r.err(429, "RATE_LIMITED");
        } else {
            assert_eq!(r.headers["x-ratelimit-limit"], "60");
        }
    }
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    // Reads are not charged, and the bucket is the user's own.
    app.get("/auth/profile", u.t()).await.ok();
    app.put("/auth/profile", json!({"name": "Ivy"}), other.t())
        .await
        .ok();
}

async fn envelope_for_framework_errors(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("jack").await;
    let r = app
        .server
        .client
        .put(app.server.url("/auth/profile"))
        .bearer_auth(&u.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["code"], 400);
    assert_eq!(v["success"], false);
    let r = app.put("/auth/profile", json!({"name": 5}), u.t()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "name");
    let r = app.delete("/auth/profile", u.t()).await;
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(r.body["code"], 405);
    let r = app.get("/issues/unknown/route/here", u.t()).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.body["code"], 404);
}
