//! Verification code limits through `/api/v1/auth/send-code` and registration: the send
//! answer, the 60 s cooldown, 10 codes per e-mail per day, 3 wrong attempts, 10-minute expiry,
//! and `/verify-code`, which checks a code without spending it.

use std::time::Duration;

use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use super::{fields, register, send_code, wrong};
use crate::harness::TestApp;

backend_tests!(
    send_code_reports_limits,
    cooldown_is_429_with_retry_after,
    ten_codes_per_email_per_day,
    three_wrong_codes_burn_the_code,
    codes_expire_after_ten_minutes,
    verify_code_checks_without_spending,
);

async fn send_code_reports_limits(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = send_code(&app, "Jay@Example.com", "register").await;
    assert_eq!(r.body["code"], 0);
    let d = r.ok();
    assert_eq!(
        d,
        json!({"email": "jay@example.com", "code_type": "register", "cooldown_seconds": 0,
               "remaining_daily_sends": 9, "expire_minutes": 10})
    );
    // The daily count is per e-mail, all types together.
    let d = send_code(&app, "jay@example.com", "password_reset")
        .await
        .ok();
    assert_eq!(d["code_type"], "password_reset");
    assert_eq!(d["remaining_daily_sends"], 8);
}

async fn cooldown_is_429_with_retry_after(b: Backend) {
    let app = TestApp::with(b, &[("TRELLIS_CODE_COOLDOWN_SECONDS", "60")]).await;
    let d = send_code(&app, "kim@example.com", "register").await.ok();
    assert_eq!(d["cooldown_seconds"], 60);
    let r = send_code(&app, "kim@example.com", "register").await;
    r.err(429, "verification_code_cooldown");
    assert_eq!(r.body["code"], 429);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another type or e-mail is not affected.
    send_code(&app, "kim@example.com", "password_reset")
        .await
        .ok();
    send_code(&app, "lee@example.com", "register").await.ok();
    // The reset endpoint shares the reset cooldown.
    app.post(
        "/api/v1/auth/password/send-code",
        json!({"email": "kim@example.com"}),
        None,
    )
    .await
    .err(429, "verification_code_cooldown");
}

async fn ten_codes_per_email_per_day(b: Backend) {
    let app = TestApp::spawn(b).await;
    for left in (0..10).rev() {
        let d = send_code(&app, "max@example.com", "register").await.ok();
        assert_eq!(d["remaining_daily_sends"], left);
    }
    let r = send_code(&app, "max@example.com", "register").await;
    r.err(429, "verification_code_daily_limit");
    assert!(r.headers.contains_key("retry-after"));
    send_code(&app, "max@example.com", "password_reset")
        .await
        .err(429, "verification_code_daily_limit");
    send_code(&app, "other@example.com", "register").await.ok();
}

async fn three_wrong_codes_burn_the_code(b: Backend) {
    let app = TestApp::spawn(b).await;
    let code = app.fresh_code("nina@example.com", "register").await;
    for _ in 0..2 {
        let r = register(&app, "nina", "nina@example.com", wrong(&code)).await;
        r.err(422, "invalid_verification_code");
        assert_eq!(fields(&r), ["code"]);
    }
    let r = register(&app, "nina", "nina@example.com", wrong(&code)).await;
    r.err(429, "verification_code_attempts_exceeded");
    assert_eq!(r.body["code"], 429);
    // Burned: even the right code fails now.
    register(&app, "nina", "nina@example.com", &code)
        .await
        .err(422, "verification_code_expired");
    // A new code works.
    let code = app.fresh_code("nina@example.com", "register").await;
    register(&app, "nina", "nina@example.com", &code).await.ok();
}

async fn codes_expire_after_ten_minutes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let code = app.fresh_code("olga@example.com", "register").await;
    app.t.platform.clock.advance(Duration::from_secs(599));
    let code2 = app.fresh_code("olga@example.com", "register").await;
    assert!(code2.len() == 6);
    // The second code replaced the first; it expires 10 minutes after it was sent.
    register(&app, "olga", "olga@example.com", &code)
        .await
        .err(422, "invalid_verification_code");
    app.t.platform.clock.advance(Duration::from_secs(601));
    let r = register(&app, "olga", "olga@example.com", &code2).await;
    r.err(422, "verification_code_expired");
    assert_eq!(fields(&r), ["code"]);
    // Never requested at all: the same answer.
    register(&app, "pam", "pam@example.com", "123456")
        .await
        .err(422, "verification_code_expired");
}

async fn verify_code_checks_without_spending(b: Backend) {
    let app = TestApp::spawn(b).await;
    let email = "vera@example.com";
    let code = app.fresh_code(email, "register").await;
    let verify = |code: &str, code_type: &str| {
        app.post(
            "/api/v1/auth/verify-code",
            json!({"email": email, "code": code, "code_type": code_type}),
            None,
        )
    };
    let d = verify(&code, "register").await.ok();
    assert_eq!(d["is_valid"], true);
    // Checking again, then registering with the same code, works: nothing was spent.
    verify(&code, "register").await.ok();
    // The code is bound to its type.
    verify(&code, "password_reset")
        .await
        .err(422, "verification_code_expired");
    let r = verify("12a456", "register").await;
    r.err(422, "validation_error");
    assert_eq!(fields(&r), ["code"]);
    let r = verify(wrong(&code), "register").await;
    r.err(422, "invalid_verification_code");
    assert_eq!(fields(&r), ["code"]);
    register(&app, "vera", email, &code).await.ok();
    // Now it is spent.
    verify(&code, "register")
        .await
        .err(422, "verification_code_expired");
    // Wrong checks count toward the same 3 attempts as registration.
    let email = "walt@example.com";
    let code = app.fresh_code(email, "register").await;
    let check = |code: &str| {
        app.post(
            "/api/v1/auth/verify-code",
            json!({"email": email, "code": code, "code_type": "register"}),
            None,
        )
    };
    check(wrong(&code))
        .await
        .err(422, "invalid_verification_code");
    register(&app, "walt", email, wrong(&code))
        .await
        .err(422, "invalid_verification_code");
    check(wrong(&code))
        .await
        .err(429, "verification_code_attempts_exceeded");
    check(&code).await.err(422, "verification_code_expired");
}
