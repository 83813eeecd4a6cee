//! Admin login (token top-level and in `data`), status with and without a token, logout.

use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::{ADMIN_PASSWORD, TestApp};

backend_tests!(
    login_me_logout,
    login_failures,
    admin_endpoints_need_an_admin,
    system_endpoints
);

async fn login_me_logout(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = app
        .post(
            "/api/auth/login",
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["message"], "登录成功");
    assert_eq!(r.body["token_type"], "bearer");
    assert_eq!(r.body["expires_in"], 86400);
    assert_eq!(r.body["data"]["token"], r.body["token"]);
    assert_eq!(r.body["data"]["expires_in"], 86400);
    let token = r.body["token"].as_str().unwrap().to_string();
    let me = app.get("/api/auth/me", Some(&token)).await.ok();
    assert_eq!(
        me,
        json!({"is_logged_in": true, "username": "admin", "is_admin": true})
    );
    let anon = app.get("/api/auth/me", None).await.ok();
    assert_eq!(
        anon,
        json!({"is_logged_in": false, "username": null, "is_admin": false})
    );
    let junk = app.get("/api/auth/me", Some("garbage")).await.ok();
    assert_eq!(junk["is_logged_in"], false);
    let r = app.post("/api/auth/logout", json!({}), Some(&token)).await;
    assert_eq!(r.body["message"], "登出成功");
    assert_eq!(
        app.get("/api/auth/me", Some(&token)).await.ok()["is_logged_in"],
        false
    );
    app.post("/api/plugins/enable", json!({"name": "a.b"}), Some(&token))
        .await
        .err(401, "not_authenticated");
}

async fn login_failures(b: Backend) {
    let app = TestApp::spawn(b).await;
    let m = app
        .post(
            "/api/auth/login",
            json!({"username": "admin", "password": "wrong"}),
            None,
        )
        .await
        .err(401, "invalid_credentials")
        .to_string();
    assert_eq!(m, "用户名或密码错误");
    app.post("/api/auth/login", json!({"username": "admin"}), None)
        .await
        .err(422, "validation_error");
    app.user_token().await;
    let m = app
        .post(
            "/api/auth/login",
            json!({"username": "plainuser", "password": "Plain-User-Pass-1"}),
            None,
        )
        .await
        .err(403, "admin_required")
        .to_string();
    assert_eq!(m, "需要管理员权限");
}

async fn admin_endpoints_need_an_admin(b: Backend) {
    let app = TestApp::spawn(b).await;
    let user = app.user_token().await;
    for path in [
        "/api/plugins/enable",
        "/api/plugins/disable",
        "/api/plugins/deprecate",
        "/api/plugins/undeprecate",
        "/api/plugins/delete",
        "/api/plugins/version/deprecate",
        "/api/plugins/rotate-key",
        "/api/backups/delete",
        "/api/auth/logout",
    ] {
        app.post(
            path,
            json!({"name": "a.b", "version": "1.0.0", "new_key": "k", "id": 1}),
            None,
        )
        .await
        .err(401, "not_authenticated");
        app.post(
            path,
            json!({"name": "a.b", "version": "1.0.0", "new_key": "k", "id": 1}),
            Some(&user),
        )
        .await
        .err(403, "admin_required");
    }
    app.get("/api/backups/list-all", None)
        .await
        .err(401, "not_authenticated");
    app.get("/api/backups/list-all", Some(&user))
        .await
        .err(403, "admin_required");
    // Only GET and POST, and unknown paths in the envelope.
    app.call(reqwest::Method::DELETE, "/api/plugins/list", None, None)
        .await
        .err(405, "method_not_allowed");
    app.get("/api/plugins/nothing", None)
        .await
        .err(404, "not_found");
}

async fn system_endpoints(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = app.get("/", None).await;
    assert_eq!(r.body["message"], "API服务运行中");
    assert_eq!(r.body["data"]["message"], "MicroDock PluginServer API");
    assert_eq!(r.body["data"]["health"], "/api/health");
    let r = app.get("/api/health", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"]["database"], "connected");
    assert_eq!(r.body["message"], "服务器运行正常");
    app.t.platform.db.close().await;
    let r = app.get("/api/health", None).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body["data"]["database"], "disconnected");
}
