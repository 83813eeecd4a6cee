//! Administration: listing with filters and pages, status, roles, deletion, permissions.

use reqwest::Method;
use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::{PASSWORD, TestApp};

backend_tests!(
    list_filter_and_paginate,
    only_admins_administer,
    delete_user_removes_account_and_sessions,
    roles_are_for_super_admins
);

async fn list_filter_and_paginate(b: Backend) {
    let app = TestApp::spawn(b).await;
    for i in 0..5 {
        app.register(&format!("user_{i}"), &format!("user{i}@example.com"))
            .await;
    }
    let admin = app.admin().await;
    let d = app
        .get(
            "/api/v1/users/admin/users?page=1&page_size=2",
            Some(&admin.access),
        )
        .await
        .ok();
    assert_eq!(d["total"], 6);
    assert_eq!(d["pages"], 3);
    assert_eq!(d["items"].as_array().unwrap().len(), 2);
    assert_eq!(d["items"][0]["username"], "user_4", "newest first");
    let d = app
        .get(
            "/api/v1/users/admin/users?page=3&page_size=2",
            Some(&admin.access),
        )
        .await
        .ok();
    assert_eq!(d["items"][1]["username"], "admin");
    let d = app
        .get(
            "/api/v1/users/admin/users?role=super_admin",
            Some(&admin.access),
        )
        .await
        .ok();
    assert_eq!(d["total"], 1);
    let id = app
        .get(
            "/api/v1/users/admin/users?search=user_3",
            Some(&admin.access),
        )
        .await
        .ok()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.call(
        Method::PUT,
        &format!("/api/v1/users/admin/users/{id}/status"),
        Some(&admin.access),
        Some(json!({"status": "inactive"})),
    )
    .await
    .ok();
    let d = app
        .get(
            "/api/v1/users/admin/users?status=inactive",
            Some(&admin.access),
        )
        .await
        .ok();
    assert_eq!(d["total"], 1);
    assert_eq!(d["items"][0]["username"], "user_3");
    // Search treats LIKE wildcards literally.
    let d = app
        .get("/api/v1/users/admin/users?search=%25", Some(&admin.access))
        .await
        .ok();
    assert_eq!(d["total"], 0);
    app.get(
        "/api/v1/users/admin/users?status=sleeping",
        Some(&admin.access),
    )
    .await
    .err(422, "VALIDATION_ERROR");
    app.get("/api/v1/users/admin/users?page=abc", Some(&admin.access))
        .await
        .err(422, "VALIDATION_ERROR");
    let d = app
        .get(
            "/api/v1/users/admin/users?page_size=100000",
            Some(&admin.access),
        )
        .await
        .ok();
    assert_eq!(d["page_size"], 100);
}

async fn only_admins_administer(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (victim, t) = app.user("ursula").await;
    let id = victim["id"].as_str().unwrap();
    app.get("/api/v1/users/admin/users", Some(&t.access))
        .await
        .err(403, "INSUFFICIENT_PERMISSIONS");
    app.get("/api/v1/users/admin/users", None)
        .await
        .err(401, "NOT_AUTHENTICATED");
    app.call(
        Method::DELETE,
        &format!("/api/v1/users/admin/users/{id}"),
        Some(&t.access),
        None,
    )
    .await
    .err(403, "INSUFFICIENT_PERMISSIONS");
    let admin = app.admin().await;
    app.call(
        Method::PUT,
        "/api/v1/users/admin/users/00000000-0000-0000-0000-000000000000/status",
        Some(&admin.access),
        Some(json!({"status": "banned"})),
    )
    .await
    .err(404, "USER_NOT_FOUND");
    app.call(
        Method::PUT,
        &format!("/api/v1/users/admin/users/{id}/status"),
        Some(&admin.access),
        Some(json!({"status": "nope"})),
    )
    .await
    .err(422, "VALIDATION_ERROR");
    // An admin cannot change their own status.
    let me = app.get("/api/v1/users/me", Some(&admin.access)).await.ok();
    app.call(
        Method::PUT,
        &format!(
            "/api/v1/users/admin/users/{}/status",
            me["id"].as_str().unwrap()
        ),
        Some(&admin.access),
        Some(json!({"status": "banned"})),
    )
    .await
    .err(422, "VALIDATION_ERROR");
}

async fn delete_user_removes_account_and_sessions(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (victim, t) = app.user("victor").await;
    let admin = app.admin().await;
    let path = format!(
        "/api/v1/users/admin/users/{}",
        victim["id"].as_str().unwrap()
    );
    app.call(Method::DELETE, &path, Some(&admin.access), None)
        .await
        .ok();
    app.get("/api/v1/users/me", Some(&t.access))
        .await
        .err(401, "TOKEN_REVOKED");
    app.try_login("victor", PASSWORD)
        .await
        .err(401, "INVALID_CREDENTIALS");
    app.call(Method::DELETE, &path, Some(&admin.access), None)
        .await
        .err(404, "USER_NOT_FOUND");
    // The name is free again.
    app.register("victor", "victor2@example.com").await;
}

async fn roles_are_for_super_admins(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (walt, walt_t) = app.user("walt").await;
    let (xena, _) = app.user("xena").await;
    let root = app.admin().await;
    let role =
        |id: &serde_json::Value| format!("/api/v1/users/admin/users/{}/role", id.as_str().unwrap());
    let status = |id: &serde_json::Value| {
        format!("/api/v1/users/admin/users/{}/status", id.as_str().unwrap())
    };
    let d = app
        .call(
            Method::PUT,
            &role(&walt["id"]),
            Some(&root.access),
            Some(json!({"role": "admin"})),
        )
        .await
        .ok();
    assert_eq!(d["role"], "admin");
    // Authority comes from the current role, not from the token's claim (issue 7 item 1):
    // walt's token from before the promotion administers at once.
    app.get("/api/v1/users/admin/users", Some(&walt_t.access))
        .await
        .ok();
    // An admin may manage users but not roles, and not other admins or the super admin.
    app.call(
        Method::PUT,
        &status(&xena["id"]),
        Some(&walt_t.access),
        Some(json!({"status": "inactive"})),
    )
    .await
    .ok();
    app.call(
        Method::PUT,
        &role(&xena["id"]),
        Some(&walt_t.access),
        Some(json!({"role": "admin"})),
    )
    .await
    .err(403, "INSUFFICIENT_PERMISSIONS");
    let root_me = app.get("/api/v1/users/me", Some(&root.access)).await.ok();
    app.call(
        Method::PUT,
        &status(&root_me["id"]),
        Some(&walt_t.access),
        Some(json!({"status": "banned"})),
    )
    .await
    .err(403, "INSUFFICIENT_PERMISSIONS");
    app.call(
        Method::PUT,
        &role(&xena["id"]),
        Some(&root.access),
        Some(json!({"role": "emperor"})),
    )
    .await
    .err(422, "VALIDATION_ERROR");
    // A demotion removes access at once: every session of walt is signed out.
    app.call(
        Method::PUT,
        &role(&walt["id"]),
        Some(&root.access),
        Some(json!({"role": "user"})),
    )
    .await
    .ok();
    app.get("/api/v1/users/admin/users", Some(&walt_t.access))
        .await
        .err(401, "TOKEN_REVOKED");
}
