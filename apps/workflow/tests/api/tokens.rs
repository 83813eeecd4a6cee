//! Refresh rotation, reuse detection with a grace window, logout and revocation.

use std::time::Duration;

use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::TestApp;

backend_tests!(
    refresh_rotates_and_spent_tokens_revoke_the_session,
    concurrent_refresh_within_grace_is_allowed,
    logout_revokes_access_and_refresh,
    public_logout_with_refresh_token,
    bad_tokens_are_rejected,
    access_tokens_expire
);

async fn refresh_rotates_and_spent_tokens_revoke_the_session(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, t) = app.user("jane").await;
    let d = app.refresh(&t.refresh).await.ok();
    let (access2, refresh2) = (
        d["access_token"].as_str().unwrap(),
        d["refresh_token"].as_str().unwrap(),
    );
    assert_ne!(refresh2, t.refresh);
    assert_eq!(d["token_type"], "Bearer");
    app.get("/api/v1/users/me", Some(access2)).await.ok();
    // Replaying the spent token after the grace window: theft assumed, session revoked.
    app.advance(Duration::from_secs(11));
    app.refresh(&t.refresh)
        .await
        .err(401, "REFRESH_TOKEN_REUSED");
    app.get("/api/v1/users/me", Some(access2))
        .await
        .err(401, "TOKEN_REVOKED");
    app.refresh(refresh2)
        .await
        .err(401, "INVALID_REFRESH_TOKEN");
}

/// Issue 7 item 14: within the grace window each reuse of a spent refresh token minted a
/// new successor, so one token forked the session into parallel chains. Every reuse (concurrent
/// or later within the window) must answer with the SAME successor.
async fn concurrent_refresh_within_grace_is_allowed(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, t) = app.user("kate").await;
    let (a, b_) = tokio::join!(app.refresh(&t.refresh), app.refresh(&t.refresh));
    let (a, b_) = (a.ok(), b_.ok());
    for d in [&a, &b_] {
        app.get(
            "/api/v1/users/me",
            Some(d["access_token"].as_str().unwrap()),
        )
        .await
        .ok();
    }
    assert_eq!(a["refresh_token"], b_["refresh_token"]);
    // A retry a few seconds later, still within the window: the same successor again.
    app.advance(Duration::from_secs(5));
    let c = app.refresh(&t.refresh).await.ok();
    assert_eq!(c["refresh_token"], a["refresh_token"]);
    // The one successor carries the session on; the spent token past the window is theft.
    let next = app
        .refresh(a["refresh_token"].as_str().unwrap())
        .await
        .ok();
    assert_ne!(next["refresh_token"], a["refresh_token"]);
    app.advance(Duration::from_secs(11));
    app.refresh(&t.refresh)
        .await
        .err(401, "REFRESH_TOKEN_REUSED");
    app.get(
        "/api/v1/users/me",
        Some(next["access_token"].as_str().unwrap()),
    )
    .await
    .err(401, "TOKEN_REVOKED");
}

async fn logout_revokes_access_and_refresh(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, t) = app.user("liam").await;
    let other = app.login("liam", crate::harness::PASSWORD).await;
    app.post_auth("/api/v1/users/auth/logout", &t.access, json!({}))
        .await
        .ok();
    app.get("/api/v1/users/me", Some(&t.access))
        .await
        .err(401, "TOKEN_REVOKED");
    app.refresh(&t.refresh)
        .await
        .err(401, "INVALID_REFRESH_TOKEN");
    // Other sessions are untouched.
    app.get("/api/v1/users/me", Some(&other.access)).await.ok();
    // Without a token, logout is 401.
    app.post("/api/v1/users/auth/logout", json!({}))
        .await
        .err(401, "NOT_AUTHENTICATED");
}

async fn public_logout_with_refresh_token(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, t) = app.user("mona").await;
    app.post(
        "/api/v1/users/public/logout",
        json!({"refresh_token": t.refresh}),
    )
    .await
    .ok();
    app.get("/api/v1/users/me", Some(&t.access))
        .await
        .err(401, "TOKEN_REVOKED");
    // Idempotent, and fine with no body or an unknown token.
    app.post(
        "/api/v1/users/public/logout",
        json!({"refresh_token": "garbage"}),
    )
    .await
    .ok();
    app.call(
        reqwest::Method::POST,
        "/api/v1/users/public/logout",
        None,
        None,
    )
    .await
    .ok();
}

async fn bad_tokens_are_rejected(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.get("/api/v1/users/me", None)
        .await
        .err(401, "NOT_AUTHENTICATED");
    app.get("/api/v1/users/me", Some("not.a.jwt"))
        .await
        .err(401, "INVALID_TOKEN");
    // A token signed with another secret.
    let other = TestApp::with(
        b,
        &[("JWT_SECRET_KEY", "a-completely-different-secret-of-length")],
    )
    .await;
    let (_, t) = other.user("nina").await;
    app.get("/api/v1/users/me", Some(&t.access))
        .await
        .err(401, "INVALID_TOKEN");
    app.refresh("garbage")
        .await
        .err(401, "INVALID_REFRESH_TOKEN");
    app.post("/api/v1/users/auth/refresh", json!({}))
        .await
        .err(422, "VALIDATION_ERROR");
}

async fn access_tokens_expire(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, t) = app.user("otto").await;
    app.advance(Duration::from_secs(31 * 60));
    app.get("/api/v1/users/me", Some(&t.access))
        .await
        .err(401, "TOKEN_EXPIRED");
    // The refresh token still works and gives a fresh access token.
    let d = app.refresh(&t.refresh).await.ok();
    app.get(
        "/api/v1/users/me",
        Some(d["access_token"].as_str().unwrap()),
    )
    .await
    .ok();
    // After the refresh lifetime (7 days) the session is gone.
    app.advance(Duration::from_secs(8 * 86_400));
    app.refresh(d["refresh_token"].as_str().unwrap())
        .await
        .err(401, "INVALID_REFRESH_TOKEN");
}
