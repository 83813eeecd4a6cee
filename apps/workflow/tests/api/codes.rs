//! Verification code limits: cooldown, daily cap, per-IP cap, attempts, expiry, replacement,
//! and identical answers for unknown accounts.

use std::time::Duration;

use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::{PASSWORD, TestApp};

backend_tests!(
    cooldown_answers_429_with_retry_after,
    ten_codes_per_email_per_day,
    per_ip_send_limit,
    three_wrong_attempts_burn_the_code,
    codes_expire_after_ten_minutes,
    a_new_code_replaces_the_old_one,
    unknown_accounts_get_the_same_answer,
    bad_send_requests
);

async fn cooldown_answers_429_with_retry_after(b: Backend) {
    let app = TestApp::with(b, &[("TRELLIS_CODE_COOLDOWN_SECONDS", "60")]).await;
    app.send_code("x@example.com", "register").await.ok();
    let r = app.send_code("x@example.com", "register").await;
    r.err(429, "VERIFICATION_CODE_COOLDOWN");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    // Another purpose or email is not affected.
    app.send_code("x@example.com", "reset_password").await.ok();
    app.send_code("y@example.com", "register").await.ok();
}

async fn ten_codes_per_email_per_day(b: Backend) {
    let app = TestApp::spawn(b).await;
    for _ in 0..10 {
        app.send_code("z@example.com", "register").await.ok();
    }
    let r = app.send_code("z@example.com", "register").await;
    r.err(429, "VERIFICATION_CODE_DAILY_LIMIT");
    assert!(r.headers.contains_key("retry-after"));
    app.send_code("other@example.com", "register").await.ok();
}

async fn per_ip_send_limit(b: Backend) {
    let app = TestApp::with(b, &[("TRELLIS_CODE_IP_PER_HOUR", "3")]).await;
    for i in 0..3 {
        app.send_code(&format!("u{i}@example.com"), "register")
            .await
            .ok();
    }
    let r = app.send_code("u9@example.com", "register").await;
    r.err(429, "VERIFICATION_CODE_IP_LIMIT");
    assert!(r.headers.contains_key("retry-after"));
}

async fn three_wrong_attempts_burn_the_code(b: Backend) {
    let app = TestApp::spawn(b).await;
    let code = app.fresh_code("w@example.com", "register").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let reg = |c: &str| json!({"username": "wendy", "email": "w@example.com", "password": PASSWORD, "code": c});
    app.post("/api/v1/users/auth/register", reg(wrong))
        .await
        .err(400, "INVALID_VERIFICATION_CODE");
    app.post("/api/v1/users/auth/register", reg(wrong))
        .await
        .err(400, "INVALID_VERIFICATION_CODE");
    app.post("/api/v1/users/auth/register", reg(wrong))
        .await
        .err(400, "VERIFICATION_CODE_ATTEMPTS_EXCEEDED");
    // Burned: even the right code no longer works.
    app.post("/api/v1/users/auth/register", reg(&code))
        .await
        .err(400, "VERIFICATION_CODE_EXPIRED");
}

async fn codes_expire_after_ten_minutes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let code = app.fresh_code("e@example.com", "register").await;
    app.advance(Duration::from_secs(601));
    app.post(
        "/api/v1/users/auth/register",
        json!({"username": "eve", "email": "e@example.com", "password": PASSWORD, "code": code}),
    )
    .await
    .err(400, "VERIFICATION_CODE_EXPIRED");
}

async fn a_new_code_replaces_the_old_one(b: Backend) {
    let app = TestApp::spawn(b).await;
    let first = app.fresh_code("r@example.com", "register").await;
    let mut second = app.fresh_code("r@example.com", "register").await;
    while second == first {
        second = app.fresh_code("r@example.com", "register").await;
    }
    let reg = |c: &str| json!({"username": "rita", "email": "r@example.com", "password": PASSWORD, "code": c});
    app.post("/api/v1/users/auth/register", reg(&first))
        .await
        .err(400, "INVALID_VERIFICATION_CODE");
    app.post("/api/v1/users/auth/register", reg(&second))
        .await
        .ok();
}

async fn unknown_accounts_get_the_same_answer(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.register("known", "known@example.com").await;
    let known = app.send_code("known@example.com", "reset_password").await;
    let unknown = app.send_code("ghost@example.com", "reset_password").await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.body["message"], unknown.body["message"]);
    assert_eq!(known.body["data"], unknown.body["data"]);
    // Only the real account gets mail (the first mail was its registration code).
    app.code_in_mail("known@example.com", 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.mails("ghost@example.com").is_empty());
    // Resetting an unknown account answers like a wrong code.
    app.post(
        "/api/v1/users/auth/reset-password",
        json!({"email": "ghost@example.com", "code": "123456", "new_password": "Another-Pass-9"}),
    )
    .await
    .err(400, "INVALID_VERIFICATION_CODE");
    // Registering an existing email: the code is not mailed either.
    app.send_code("known@example.com", "register").await.ok();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.mails("known@example.com").len(), 2);
}

async fn bad_send_requests(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.send_code("nope", "register")
        .await
        .err(422, "VALIDATION_ERROR");
    app.send_code("a@example.com", "launch_missiles")
        .await
        .err(422, "VALIDATION_ERROR");
    app.post(
        "/api/v1/users/auth/send-verification-code",
        json!({"email": "a@example.com", "purpose": "register"}),
    )
    .await
    .ok();
}
