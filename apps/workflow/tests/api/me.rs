//! The caller's own account: profile, password change and reset, sessions.

use reqwest::Method;
use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::{PASSWORD, TestApp};

backend_tests!(
    profile_update,
    change_password_signs_out_other_sessions,
    reset_password_with_code,
    sessions_list_and_revoke
);

async fn profile_update(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, t) = app.user("paul").await;
    let d = app
        .call(Method::PUT, "/api/v1/users/me/profile", Some(&t.access),
            Some(json!({"display_name": "保罗", "bio": "gardener", "timezone": "Asia/Shanghai", "language": "zh-CN",
                        "avatar_url": "https://example.com/a.png"})))
        .await
        .ok();
    assert_eq!(d["display_name"], "保罗");
    assert_eq!(d["timezone"], "Asia/Shanghai");
    // Absent fields are unchanged.
    let d = app
        .call(
            Method::PUT,
            "/api/v1/users/me/profile",
            Some(&t.access),
            Some(json!({"bio": "grower"})),
        )
        .await
        .ok();
    assert_eq!(d["display_name"], "保罗");
    assert_eq!(d["bio"], "grower");
    for bad in [
        json!({"avatar_url": "javascript:alert(1)"}),
        json!({"display_name": "x".repeat(101)}),
        json!({"bio": 5}),
    ] {
        app.call(
            Method::PUT,
            "/api/v1/users/me/profile",
            Some(&t.access),
            Some(bad),
        )
        .await
        .err(422, "VALIDATION_ERROR");
    }
    app.call(
        Method::PUT,
        "/api/v1/users/me/profile",
        None,
        Some(json!({})),
    )
    .await
    .err(401, "NOT_AUTHENTICATED");
}

async fn change_password_signs_out_other_sessions(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, t) = app.user("quinn").await;
    let other = app.login("quinn", PASSWORD).await;
    app.post_auth(
        "/api/v1/users/me/change-password",
        &t.access,
        json!({"old_password": "Not-The-One-1", "new_password": "Brand-New-Pass-7"}),
    )
    .await
    .err(400, "WRONG_PASSWORD");
    app.post_auth(
        "/api/v1/users/me/change-password",
        &t.access,
        json!({"old_password": PASSWORD, "new_password": "short"}),
    )
    .await
    .err(422, "WEAK_PASSWORD");
    app.post_auth(
        "/api/v1/users/me/change-password",
        &t.access,
        json!({"old_password": PASSWORD, "new_password": "Brand-New-Pass-7"}),
    )
    .await
    .ok();
    app.get("/api/v1/users/me", Some(&t.access)).await.ok();
    app.get("/api/v1/users/me", Some(&other.access))
        .await
        .err(401, "TOKEN_REVOKED");
    app.try_login("quinn", PASSWORD)
        .await
        .err(401, "INVALID_CREDENTIALS");
    app.login("quinn", "Brand-New-Pass-7").await;
}

async fn reset_password_with_code(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, t) = app.user("rose").await;
    let code = app.fresh_code("rose@example.com", "reset_password").await;
    app.post(
        "/api/v1/users/auth/reset-password",
        json!({"email": "rose@example.com", "code": code, "new_password": "rose"}),
    )
    .await
    .err(422, "WEAK_PASSWORD");
    app.post(
        "/api/v1/users/auth/reset-password",
        json!({"email": "ROSE@example.com", "code": code, "new_password": "Fresh-Start-2026"}),
    )
    .await
    .ok();
    app.get("/api/v1/users/me", Some(&t.access))
        .await
        .err(401, "TOKEN_REVOKED");
    app.try_login("rose", PASSWORD)
        .await
        .err(401, "INVALID_CREDENTIALS");
    app.login("rose", "Fresh-Start-2026").await;
    // The code was single use.
    app.post(
        "/api/v1/users/auth/reset-password",
        json!({"email": "rose@example.com", "code": code, "new_password": "Again-New-2026"}),
    )
    .await
    .err(400, "VERIFICATION_CODE_EXPIRED");
}

async fn sessions_list_and_revoke(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, t1) = app.user("sam").await;
    let t2 = app.login("sam", PASSWORD).await;
    let t3 = app.login("sam", PASSWORD).await;
    let list = app
        .get("/api/v1/users/me/sessions", Some(&t1.access))
        .await
        .ok();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(list[0]["ip"].as_str().unwrap().starts_with("127.0.0.1"));
    // Revoke the newest (t3) from t1.
    let newest = list[0]["id"].as_str().unwrap();
    app.call(
        Method::DELETE,
        &format!("/api/v1/users/me/sessions/{newest}"),
        Some(&t1.access),
        None,
    )
    .await
    .ok();
    app.get("/api/v1/users/me", Some(&t3.access))
        .await
        .err(401, "TOKEN_REVOKED");
    app.call(
        Method::DELETE,
        &format!("/api/v1/users/me/sessions/{newest}"),
        Some(&t1.access),
        None,
    )
    .await
    .err(404, "SESSION_NOT_FOUND");
    app.call(
        Method::DELETE,
        "/api/v1/users/me/sessions/not-a-uuid",
        Some(&t1.access),
        None,
    )
    .await
    .err(404, "NOT_FOUND");
    // Someone else's session is not yours to revoke.
    let (_, stranger) = app.user("tina").await;
    let theirs = app
        .get("/api/v1/users/me/sessions", Some(&stranger.access))
        .await
        .ok();
    let theirs = theirs[0]["id"].as_str().unwrap().to_string();
    app.call(
        Method::DELETE,
        &format!("/api/v1/users/me/sessions/{theirs}"),
        Some(&t1.access),
        None,
    )
    .await
    .err(404, "SESSION_NOT_FOUND");
    app.get("/api/v1/users/me", Some(&stranger.access))
        .await
        .ok();
    // Revoke the others: t2 goes, t1 stays.
    let d = app
        .post_auth(
            "/api/v1/users/me/sessions/revoke-others",
            &t1.access,
            json!({}),
        )
        .await
        .ok();
    assert_eq!(d["revoked"], 1);
    app.get("/api/v1/users/me", Some(&t2.access))
        .await
        .err(401, "TOKEN_REVOKED");
    app.get("/api/v1/users/me", Some(&t1.access)).await.ok();
    let list = app
        .get("/api/v1/users/me/sessions", Some(&t1.access))
        .await
        .ok();
    assert_eq!(list.as_array().unwrap().len(), 1);
}
