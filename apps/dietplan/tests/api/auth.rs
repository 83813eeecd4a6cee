//! `/api/v1/auth` (seed 003, originals.md §3.1 and §3.7): registration with an e-mail code,
//! login, token rotation and profile here; code limits in `auth/codes.rs`, forgotten and
//! changed passwords in `auth/password.rs`; all in the seed's envelope and statuses.

mod codes;
mod password;

use std::time::Duration;

use serde_json::{Value, json};
use trellis_kernel::backend_tests;
use trellis_kernel::testing::{Backend, Resp};

use crate::harness::{PASSWORD, TestApp};

backend_tests!(
    register_with_a_code_signs_in,
    duplicate_username_or_email_is_409,
    bad_input_is_422_naming_each_field,
    login_by_username_or_email,
    me_needs_a_token,
    refresh_rotates_and_a_spent_token_revokes,
    profile_update_and_validation,
);

/// `POST /api/v1/auth/send-code`.
pub(super) async fn send_code(app: &TestApp, email: &str, code_type: &str) -> Resp {
    app.post(
        "/api/v1/auth/send-code",
        json!({"email": email, "code_type": code_type}),
        None,
    )
    .await
}

/// `POST path` with a registration body.
pub(super) async fn register_at(
    app: &TestApp,
    path: &str,
    username: &str,
    email: &str,
    code: &str,
) -> Resp {
    app.post(
        path,
        json!({"username": username, "email": email, "password": PASSWORD, "code": code}),
        None,
    )
    .await
}

/// `POST /api/v1/auth/register` with `code`.
pub(super) async fn register(app: &TestApp, username: &str, email: &str, code: &str) -> Resp {
    register_at(app, "/api/v1/auth/register", username, email, code).await
}

/// `POST /api/v1/auth/login`.
pub(super) async fn login(app: &TestApp, who: &str, password: &str) -> Resp {
    app.post(
        "/api/v1/auth/login",
        json!({"username": who, "password": password}),
        None,
    )
    .await
}

/// A code that is not `code`.
pub(super) fn wrong(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

/// The `field`s of a 422's `detail`.
pub(super) fn fields(r: &Resp) -> Vec<String> {
    r.body["detail"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|f| f["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn register_with_a_code_signs_in(b: Backend) {
    let app = TestApp::spawn(b).await;
    let code = app.fresh_code("Alice@Example.com", "register").await;
    let r = register(&app, "alice_01", "Alice@Example.com", &code).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["code"], 0, "{}", r.body);
    let d = r.ok();
    let user = &d["user"];
    assert_eq!(user["username"], "alice_01");
    assert_eq!(user["email"], "alice@example.com", "e-mail is normalized");
    for (k, v) in [
        ("nickname", Value::Null),
        ("phone", Value::Null),
        ("avatar_url", Value::Null),
        ("is_active", json!(true)),
        ("is_superuser", json!(false)),
    ] {
        assert_eq!(user[k], v, "{k}: {user}");
    }
    assert!(user["id"].is_string() && user["created_at"].is_string());
    assert!(user.get("password_hash").is_none());
    let tokens = &d["tokens"];
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 1800);
    assert!(tokens["refresh_token"].is_string());
    let access = tokens["access_token"].as_str().unwrap();
    let me = app.get("/api/v1/auth/me", Some(access)).await.ok();
    assert_eq!(me["id"], user["id"]);
    // The e-mail is taken now.
    register(&app, "alice_02", "alice@example.com", &code)
        .await
        .err(409, "email_taken");
    // `verify-register` is the same operation under the seed's other name.
    let code = app.fresh_code("bob@example.com", "register").await;
    let d = register_at(
        &app,
        "/api/v1/auth/verify-register",
        "bob",
        "bob@example.com",
        &code,
    )
    .await
    .ok();
    assert_eq!(d["user"]["username"], "bob");
    assert_eq!(d["tokens"]["token_type"], "bearer");
    // The harness helper works too.
    let t = app.user("carol").await;
    app.get("/api/v1/auth/me", Some(&t)).await.ok();
}

async fn duplicate_username_or_email_is_409(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.user("dora").await;
    let code = app.fresh_code("other@example.com", "register").await;
    register(&app, "DORA", "other@example.com", &code)
        .await
        .err(409, "username_taken");
    // No code is ever mailed for a registered address; the e-mail check comes first.
    register(&app, "dora2", "dora@example.com", "123456")
        .await
        .err(409, "email_taken");
    // The conflict did not spend the code.
    register(&app, "dora2", "other@example.com", &code)
        .await
        .ok();
}

async fn bad_input_is_422_naming_each_field(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = app
        .post(
            "/api/v1/auth/register",
            json!({"username": "a b", "email": "nope", "password": "short", "code": "12"}),
            None,
        )
        .await;
    r.err(422, "validation_error");
    assert_eq!(r.body["code"], 422);
    assert_eq!(fields(&r), ["username", "email", "password", "code"]);
    for d in r.body["detail"].as_array().unwrap() {
        assert!(d["message"].is_string() && d["type"].is_string(), "{d}");
    }
    // Missing fields are each named, and identity's password policy is reported.
    let r = app
        .post(
            "/api/v1/auth/register",
            json!({"username": "eve", "password": "alllowercase"}),
            None,
        )
        .await;
    r.err(422, "validation_error");
    assert_eq!(fields(&r), ["email", "password", "code"]);
    assert_eq!(r.body["detail"][0]["type"], "required");
    assert_eq!(r.body["detail"][1]["type"], "weak_password");
    // A wrongly typed field and malformed JSON are still the seed's envelope.
    app.post("/api/v1/auth/register", json!({"username": 5}), None)
        .await
        .err(422, "validation_error");
    let r = send_code(&app, "x@example.com", "launch_missiles").await;
    r.err(422, "validation_error");
    assert_eq!(fields(&r), ["code_type"]);
    let r = send_code(&app, "", "register").await;
    assert_eq!(fields(&r), ["email"]);
    // Identity's username rule (letters, digits, `_`) applies in every app.
    let code = app.fresh_code("frank@example.com", "register").await;
    let r = register(&app, "fr", "frank@example.com", &code).await;
    r.err(422, "validation_error");
    assert_eq!(fields(&r), ["username"]);
    // None of that spent the code.
    register(&app, "frank", "frank@example.com", &code)
        .await
        .ok();
}

async fn login_by_username_or_email(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.user("gina").await;
    for who in ["gina", "GINA", "gina@example.com", "Gina@Example.COM"] {
        let d = login(&app, who, PASSWORD).await.ok();
        assert_eq!(d["user"]["username"], "gina");
        assert_eq!(d["tokens"]["token_type"], "bearer");
        let t = d["tokens"]["access_token"].as_str().unwrap();
        app.get("/api/v1/auth/me", Some(t)).await.ok();
    }
    let wrong_password = login(&app, "gina", "Not-The-Password-1").await;
    let msg = wrong_password.err(401, "invalid_credentials").to_string();
    assert_eq!(wrong_password.body["code"], 401);
    let unknown = login(&app, "nobody", PASSWORD).await;
    assert_eq!(unknown.err(401, "invalid_credentials"), msg);
    login(&app, "", "").await.err(401, "invalid_credentials");
    // Public routes ignore a bearer token, even a bad one (clients send it everywhere).
    app.post_auth(
        "/api/v1/auth/login",
        "stale-token",
        json!({"username": "gina", "password": PASSWORD}),
    )
    .await
    .ok();
}

async fn me_needs_a_token(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = app.get("/api/v1/auth/me", None).await;
    r.err(401, "not_authenticated");
    assert_eq!(r.body["code"], 401);
    app.get("/api/v1/auth/me", Some("not-a-jwt"))
        .await
        .err(401, "invalid_token");
    app.put("/api/v1/auth/profile", json!({"nickname": "x"}), None)
        .await
        .err(401, "not_authenticated");
    app.put(
        "/api/v1/auth/password",
        json!({"old_password": PASSWORD, "new_password": "Another-Pass-9"}),
        None,
    )
    .await
    .err(401, "not_authenticated");
}

async fn refresh_rotates_and_a_spent_token_revokes(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.user("hank").await;
    let first = login(&app, "hank", PASSWORD).await.ok()["tokens"].clone();
    let old = first["refresh_token"].as_str().unwrap();
    let second = app
        .post("/api/v1/auth/refresh", json!({"refresh_token": old}), None)
        .await
        .ok();
    assert_eq!(second["token_type"], "bearer");
    assert_eq!(second["expires_in"], 1800);
    let new = second["refresh_token"].as_str().unwrap();
    assert_ne!(new, old, "rotated");
    let access = second["access_token"].as_str().unwrap();
    app.get("/api/v1/auth/me", Some(access)).await.ok();
    // Past identity's 10 s grace for concurrent refreshes, the spent token is refused and
    // revokes the session: its successor stops working too.
    app.t.platform.clock.advance(Duration::from_secs(11));
    app.post("/api/v1/auth/refresh", json!({"refresh_token": old}), None)
        .await
        .err(401, "refresh_token_reused");
    app.post("/api/v1/auth/refresh", json!({"refresh_token": new}), None)
        .await
        .err(401, "invalid_refresh_token");
    app.get("/api/v1/auth/me", Some(access))
        .await
        .err(401, "token_revoked");
    app.post(
        "/api/v1/auth/refresh",
        json!({"refresh_token": "garbage"}),
        None,
    )
    .await
    .err(401, "invalid_refresh_token");
}

async fn profile_update_and_validation(b: Backend) {
    let app = TestApp::spawn(b).await;
    let t = app.user("iris").await;
    let u = app
        .put(
            "/api/v1/auth/profile",
            json!({"nickname": " Iris ", "phone": "13800138000"}),
            Some(&t),
        )
        .await
        .ok();
    assert_eq!(u["nickname"], "Iris");
    assert_eq!(u["phone"], "13800138000");
    assert_eq!(u["username"], "iris");
    // Absent and null fields are kept.
    let u = app
        .put(
            "/api/v1/auth/profile",
            json!({"nickname": "Iris W", "phone": null}),
            Some(&t),
        )
        .await
        .ok();
    assert_eq!(
        (&u["nickname"], &u["phone"]),
        (&json!("Iris W"), &json!("13800138000"))
    );
    let me = app.get("/api/v1/auth/me", Some(&t)).await.ok();
    assert_eq!(me["nickname"], "Iris W");
    let d = login(&app, "iris", PASSWORD).await.ok();
    assert_eq!(d["user"]["phone"], "13800138000");
    for (body, field) in [
        (json!({"phone": "1380013800"}), "phone"),
        (json!({"phone": "1380013800a"}), "phone"),
        (json!({"phone": "+8613800138"}), "phone"),
        (json!({"nickname": ""}), "nickname"),
        (json!({"nickname": "   "}), "nickname"),
        (json!({"nickname": "x".repeat(51)}), "nickname"),
        (json!({"nickname": "a\u{0}b"}), "nickname"),
    ] {
        let r = app
            .put("/api/v1/auth/profile", body.clone(), Some(&t))
            .await;
        r.err(422, "validation_error");
        assert_eq!(fields(&r), [field], "{body}");
    }
    let r = app
        .put(
            "/api/v1/auth/profile",
            json!({"nickname": "", "phone": "1"}),
            Some(&t),
        )
        .await;
    assert_eq!(fields(&r), ["nickname", "phone"]);
    // 50 characters (not bytes) are fine; nothing invalid was stored.
    let u = app
        .put(
            "/api/v1/auth/profile",
            json!({"nickname": "猫".repeat(50)}),
            Some(&t),
        )
        .await
        .ok();
    assert_eq!(u["phone"], "13800138000");
    app.put("/api/v1/auth/profile", json!({}), Some(&t))
        .await
        .ok();
}
