//! Registration with an email code, availability checks, and bad input.

use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::{PASSWORD, TestApp};

backend_tests!(
    register_with_code_then_login_at_once,
    register_rejects_bad_codes_and_input,
    register_conflicts_do_not_burn_the_code,
    availability_checks
);

async fn register_with_code_then_login_at_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let user = app.register("alice_01", "Alice@Example.com").await;
    assert_eq!(user["username"], "alice_01");
    assert_eq!(user["email"], "alice@example.com", "email is normalized");
    assert_eq!(user["status"], "active");
    assert_eq!(user["role"], "user");
    assert!(user.get("password_hash").is_none());
    // By username and by email, any case.
    let t = app.login("ALICE_01", PASSWORD).await;
    app.login("alice@example.COM", PASSWORD).await;
    let me = app.get("/api/v1/users/me", Some(&t.access)).await.ok();
    assert_eq!(me["id"], user["id"]);
    let d = app.try_login("alice_01", PASSWORD).await.ok();
    assert_eq!(d["token_type"], "Bearer");
    assert_eq!(d["expires_in"], 1800);
    assert_eq!(d["user"]["username"], "alice_01");
    assert!(d["user"]["last_login_at"].is_string());
}

async fn register_rejects_bad_codes_and_input(b: Backend) {
    let app = TestApp::spawn(b).await;
    let reg = |code: &str, username: &str, password: &str| json!({"username": username, "email": "bob@example.com", "password": password, "code": code});
    // No code requested at all.
    app.post(
        "/api/v1/users/auth/register",
        reg("123456", "bob", PASSWORD),
    )
    .await
    .err(400, "VERIFICATION_CODE_EXPIRED");
    let code = app.fresh_code("bob@example.com", "register").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    app.post("/api/v1/users/auth/register", reg(wrong, "bob", PASSWORD))
        .await
        .err(400, "INVALID_VERIFICATION_CODE");
    // A code requested for another purpose does not disturb the register code.
    app.send_code("bob@example.com", "reset_password")
        .await
        .ok();
    for (username, password, code_) in [
        ("b", PASSWORD, "validation_error"),
        ("bob smith", PASSWORD, "validation_error"),
        ("bob", "short", "weak_password"),
        ("bob", "alllowercase", "weak_password"),
        ("bob", "password123", "weak_password"),
        ("bobbybob1", "bobbybob1", "weak_password"),
    ] {
        app.post(
            "/api/v1/users/auth/register",
            reg(&code, username, password),
        )
        .await
        .err(422, &code_.to_ascii_uppercase());
    }
    app.post(
        "/api/v1/users/auth/register",
        json!({"username": "bob", "email": "not-an-email", "password": PASSWORD, "code": code}),
    )
    .await
    .err(422, "VALIDATION_ERROR");
    // Missing field.
    app.post(
        "/api/v1/users/auth/register",
        json!({"username": "bob", "email": "bob@example.com"}),
    )
    .await
    .err(422, "VALIDATION_ERROR");
    // The right code still works after all that (one wrong attempt so far).
    app.post("/api/v1/users/auth/register", reg(&code, "bob", PASSWORD))
        .await
        .ok();
    // Codes are single use.
    app.post(
        "/api/v1/users/auth/register",
        json!({"username": "bob2", "email": "bob@example.com", "password": PASSWORD, "code": code}),
    )
    .await
    .err(409, "EMAIL_TAKEN");
}

async fn register_conflicts_do_not_burn_the_code(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("carol", "carol@example.com").await;
    let code = app.fresh_code("carol2@example.com", "register").await;
    app.post(
        "/api/v1/users/auth/register",
        json!({"username": "CAROL", "email": "carol2@example.com", "password": PASSWORD, "code": code}),
    )
    .await
    .err(409, "USERNAME_TAKEN");
    app.post(
        "/api/v1/users/auth/register",
        json!({"username": "carol2", "email": "carol2@example.com", "password": PASSWORD, "code": code}),
    )
    .await
    .ok();
}

async fn availability_checks(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("dave", "dave@example.com").await;
    let d = app
        .get("/api/v1/users/auth/check-username?username=Dave", None)
        .await
        .ok();
    assert_eq!(d["available"], false);
    let d = app
        .get("/api/v1/users/auth/check-username?username=erin", None)
        .await
        .ok();
    assert_eq!(d["available"], true);
    let d = app
        .get(
            "/api/v1/users/auth/check-email?email=DAVE@example.com",
            None,
        )
        .await
        .ok();
    assert_eq!(d["available"], false);
    let d = app
        .get(
            "/api/v1/users/auth/check-email?email=erin@example.com",
            None,
        )
        .await
        .ok();
    assert_eq!(d["available"], true);
    app.get("/api/v1/users/auth/check-username?username=a!", None)
        .await
        .err(422, "VALIDATION_ERROR");
    app.get("/api/v1/users/auth/check-email", None)
        .await
        .err(422, "VALIDATION_ERROR");
}
