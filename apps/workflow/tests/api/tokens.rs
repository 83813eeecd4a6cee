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
    access_tokens_expire,
    revocations_survive_a_restart_and_a_kv_flush,
    another_instance_sees_a_ban_within_the_cache_time
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
    let next = app.refresh(a["refresh_token"].as_str().unwrap()).await.ok();
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

/// Issue 7 item 1: without Redis, revoked sessions lived only in memory, so after a plain
/// restart (or a Redis flush) logged-out tokens worked again. Revocation is read from the
/// session and user rows: every way of removing access holds on a restarted server.
async fn revocations_survive_a_restart_and_a_kv_flush(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, logged_out) = app.user("ruth").await;
    let kept = app.login("ruth", crate::harness::PASSWORD).await;
    let revoked_one = app.login("ruth", crate::harness::PASSWORD).await;
    let (sam, sam_t) = app.user("sam").await;
    let (tess, tess_t) = app.user("tess").await;
    let (_, uma_t) = app.user("uma").await;
    let admin = app.admin().await;
    // Logout, one session revoked by its owner, ban, deletion, password change.
    app.post_auth("/api/v1/users/auth/logout", &logged_out.access, json!({}))
        .await
        .ok();
    let sessions = app
        .get("/api/v1/users/me/sessions", Some(&kept.access))
        .await
        .ok();
    let victim = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/users/me/sessions/{victim}"),
        Some(&kept.access),
        None,
    )
    .await
    .ok();
    app.call(
        reqwest::Method::PUT,
        &format!(
            "/api/v1/users/admin/users/{}/status",
            sam["id"].as_str().unwrap()
        ),
        Some(&admin.access),
        Some(json!({"status": "banned"})),
    )
    .await
    .ok();
    app.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/users/admin/users/{}", tess["id"].as_str().unwrap()),
        Some(&admin.access),
        None,
    )
    .await
    .ok();
    let uma_new = app.login("uma", crate::harness::PASSWORD).await;
    app.post_auth(
        "/api/v1/users/me/change-password",
        &uma_new.access,
        json!({"old_password": crate::harness::PASSWORD, "new_password": "Other-Trellis-77"}),
    )
    .await
    .ok();

    let after = app.restarted().await;
    let me = "/api/v1/users/me";
    after
        .get(me, &logged_out.access)
        .await
        .err(401, "TOKEN_REVOKED");
    after
        .get(me, &revoked_one.access)
        .await
        .err(401, "TOKEN_REVOKED");
    after.get(me, &sam_t.access).await.err(401, "TOKEN_REVOKED");
    after
        .get(me, &tess_t.access)
        .await
        .err(401, "TOKEN_REVOKED");
    after.get(me, &uma_t.access).await.err(401, "TOKEN_REVOKED");
    after
        .post(
            "/api/v1/users/auth/refresh",
            json!({"refresh_token": logged_out.refresh}),
        )
        .await
        .err(401, "INVALID_REFRESH_TOKEN");
    // What was not revoked still works there.
    after.get(me, &kept.access).await.ok();
    after.get(me, &uma_new.access).await.ok();
}

/// Issue 7 item 1: authority read on another instance is cached for at most a few seconds
/// (`AUTHORITY_TTL_SECONDS`); past that, a ban made through one instance is refused by the
/// other, which has no shared key-value store.
async fn another_instance_sees_a_ban_within_the_cache_time(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (vera, vera_t) = app.user("vera").await;
    let other = app.restarted().await;
    other.get("/api/v1/users/me", &vera_t.access).await.ok();
    let admin = app.admin().await;
    app.call(
        reqwest::Method::PUT,
        &format!(
            "/api/v1/users/admin/users/{}/status",
            vera["id"].as_str().unwrap()
        ),
        Some(&admin.access),
        Some(json!({"status": "banned"})),
    )
    .await
    .ok();
    app.get("/api/v1/users/me", Some(&vera_t.access))
        .await
        .err(401, "TOKEN_REVOKED");
    app.advance(Duration::from_secs(
        trellis_identity::auth::AUTHORITY_TTL_SECONDS as u64 + 1,
    ));
    other
        .get("/api/v1/users/me", &vera_t.access)
        .await
        .err(401, "TOKEN_REVOKED");
}
