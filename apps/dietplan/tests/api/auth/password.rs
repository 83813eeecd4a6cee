//! Forgotten and changed passwords: `/api/v1/auth/password/send-code`, `/password/reset`
//! and `PUT /password`, with the sessions they sign out.

use std::time::Duration;

use serde_json::{Value, json};
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use super::{fields, login, send_code, wrong};
use crate::harness::{PASSWORD, TestApp};

backend_tests!(
    password_reset_end_to_end,
    reset_code_answers_alike_for_unknown_emails,
    change_password_signs_out_other_sessions,
);

async fn password_reset_end_to_end(b: Backend) {
    let app = TestApp::spawn(b).await;
    let old_access = app.user("quinn").await;
    let email = "quinn@example.com";
    let d = app
        .post(
            "/api/v1/auth/password/send-code",
            json!({"email": email}),
            None,
        )
        .await
        .ok();
    assert_eq!(d["code_type"], "password_reset");
    // Mail 1 was the registration code.
    let code = app.code_in_mail(email, 2).await;
    let reset = |code: &str, new_password: &str| json!({"email": email, "code": code, "new_password": new_password});
    let r = app
        .post("/api/v1/auth/password/reset", reset(&code, "short"), None)
        .await;
    r.err(422, "validation_error");
    assert_eq!(fields(&r), ["new_password"]);
    app.post(
        "/api/v1/auth/password/reset",
        reset(wrong(&code), "Brand-New-Pass-7"),
        None,
    )
    .await
    .err(422, "invalid_verification_code");
    let d = app
        .post(
            "/api/v1/auth/password/reset",
            reset(&code, "Brand-New-Pass-7"),
            None,
        )
        .await
        .ok();
    assert!(d["message"].is_string());
    login(&app, "quinn", PASSWORD)
        .await
        .err(401, "invalid_credentials");
    login(&app, email, "Brand-New-Pass-7").await.ok();
    // Every earlier session was signed out.
    app.get("/api/v1/auth/me", Some(&old_access))
        .await
        .err(401, "token_revoked");
    // The code was single use.
    app.post(
        "/api/v1/auth/password/reset",
        reset(&code, "Another-Pass-8"),
        None,
    )
    .await
    .err(422, "verification_code_expired");
}

async fn reset_code_answers_alike_for_unknown_emails(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.user("rosa").await;
    let send = |email: &'static str| {
        app.post(
            "/api/v1/auth/password/send-code",
            json!({"email": email}),
            None,
        )
    };
    // Give the unknown address the same history (rosa was sent a registration code): the
    // daily count is of requests, whoever they were for.
    send_code(&app, "ghost@example.com", "register").await.ok();
    let known = send("rosa@example.com").await;
    let unknown = send("ghost@example.com").await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.body["message"], unknown.body["message"]);
    let mut k = known.ok();
    let mut u = unknown.ok();
    assert_eq!(k["email"], "rosa@example.com");
    assert_eq!(k["remaining_daily_sends"], 8);
    k["email"] = Value::Null;
    u["email"] = Value::Null;
    assert_eq!(k, u);
    // Only the account is mailed (its first mail was the registration code).
    app.code_in_mail("rosa@example.com", 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ghost = app.mails("ghost@example.com");
    assert_eq!(ghost.len(), 1, "only the registration code: {ghost:?}");
    assert!(ghost[0].contains("(register)"), "{ghost:?}");
    // Resetting an unknown account answers like a wrong code.
    app.post(
        "/api/v1/auth/password/reset",
        json!({"email": "ghost@example.com", "code": "123456", "new_password": "Another-Pass-9"}),
        None,
    )
    .await
    .err(422, "invalid_verification_code");
    send("not-an-email").await.err(422, "validation_error");
}

async fn change_password_signs_out_other_sessions(b: Backend) {
    let app = TestApp::spawn(b).await;
    let other = app.user("sam").await;
    let this = login(&app, "sam", PASSWORD).await.ok()["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let change = |old: &str, new: &str| json!({"old_password": old, "new_password": new});
    let r = app
        .put(
            "/api/v1/auth/password",
            change("Wrong-Password-1", "Brand-New-Pass-7"),
            Some(&this),
        )
        .await;
    r.err(422, "wrong_password");
    assert_eq!(fields(&r), ["old_password"]);
    let r = app
        .put(
            "/api/v1/auth/password",
            change(PASSWORD, "short"),
            Some(&this),
        )
        .await;
    r.err(422, "weak_password");
    assert_eq!(fields(&r), ["new_password"]);
    app.put(
        "/api/v1/auth/password",
        change(PASSWORD, PASSWORD),
        Some(&this),
    )
    .await
    .err(422, "weak_password");
    let d = app
        .put(
            "/api/v1/auth/password",
            change(PASSWORD, "Brand-New-Pass-7"),
            Some(&this),
        )
        .await
        .ok();
    assert!(d["message"].is_string());
    app.get("/api/v1/auth/me", Some(&this)).await.ok();
    app.get("/api/v1/auth/me", Some(&other))
        .await
        .err(401, "token_revoked");
    login(&app, "sam", PASSWORD)
        .await
        .err(401, "invalid_credentials");
    login(&app, "sam", "Brand-New-Pass-7").await.ok();
}
