//! Admin login (token top-level and in `data`), status with and without a token, logout.

use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use trellis_kernel::Platform;
use trellis_kernel::kv::Kv;
use trellis_kernel::testing::{self, Resp, TestServer};

use crate::harness::{ADMIN_PASSWORD, TestApp};

backend_tests!(
    login_me_logout,
    login_failures,
    admin_endpoints_need_an_admin,
    system_endpoints,
    a_banned_or_demoted_admin_token_loses_authority_even_after_a_restart,
    tokens_are_for_one_api,
    a_refused_non_admin_login_opens_no_session,
    me_reports_a_signed_in_non_admin,
    strangers_cannot_lock_the_admin_out
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

/// Another server process on the same database with an empty in-process key-value store: a
/// plain restart without Redis, or a Redis flush.
async fn restarted(app: &TestApp) -> TestServer {
    let p = &app.t.platform;
    let platform = Platform::with_parts((*p.config).clone(), p.db.clone(), Kv::memory()).unwrap();
    let l = trellis::testing::launch(platform, vec![]).await;
    TestServer::at(l.addr, Some(l.stop))
}

/// A MicroDock admin token of the account `username` (an admin made at start-up).
async fn md_login(app: &TestApp, username: &str, password: &str) -> Resp {
    app.post(
        "/api/auth/login",
        json!({"username": username, "password": password}),
        None,
    )
    .await
}

async fn user_id(app: &TestApp, root: &str, username: &str) -> String {
    let d = app
        .get(
            &format!("/api/v1/users/admin/users?search={username}"),
            Some(root),
        )
        .await
        .ok();
    d["items"][0]["id"].as_str().unwrap().to_string()
}

/// The `/api/v1` token of the super admin.
async fn root_token(app: &TestApp) -> String {
    app.post(
        "/api/v1/users/auth/login",
        json!({"username_or_email": "admin", "password": ADMIN_PASSWORD}),
        None,
    )
    .await
    .ok()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

const OPS_PASSWORD: &str = "Ops-Admin-Pass-1";

async fn with_ops_admins(b: Backend) -> TestApp {
    TestApp(
        testing::TestApp::new(b)
            .with_user("ops1", OPS_PASSWORD, "admin")
            .with_user("ops2", OPS_PASSWORD, "admin")
            .with_user("plainuser", "Plain-User-Pass-1", "user")
            .start(trellis::testing::launch)
            .await,
    )
}

/// Issue 7 item 1: a demoted or banned admin's 24-hour MicroDock token still disabled a
/// plugin and listed every backup, because the role was read from the token and the
/// revocation lived in memory. Authority now comes from the current user and session rows.
async fn a_banned_or_demoted_admin_token_loses_authority_even_after_a_restart(b: Backend) {
    let app = with_ops_admins(b).await;
    let ops1 = md_login(&app, "ops1", OPS_PASSWORD).await.body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let ops2 = md_login(&app, "ops2", OPS_PASSWORD).await.body["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.get("/api/backups/list-all", Some(&ops1)).await.ok();
    let root = root_token(&app).await;
    let (id1, id2) = (
        user_id(&app, &root, "ops1").await,
        user_id(&app, &root, "ops2").await,
    );
    app.put(
        &format!("/api/v1/users/admin/users/{id1}/status"),
        json!({"status": "banned"}),
        Some(&root),
    )
    .await
    .ok();
    app.put(
        &format!("/api/v1/users/admin/users/{id2}/role"),
        json!({"role": "user"}),
        Some(&root),
    )
    .await
    .ok();
    let after = restarted(&app).await;
    for token in [&ops1, &ops2] {
        app.post("/api/plugins/disable", json!({"name": "a.b"}), Some(token))
            .await
            .err(401, "not_authenticated");
        let (status, _, body) = after
            .json(
                reqwest::Method::POST,
                "/api/plugins/disable",
                Some(token),
                Some(&json!({"name": "a.b"})),
            )
            .await;
        assert_eq!(status, 401, "{body}");
        let (status, _, body) = after
            .json(
                reqwest::Method::GET,
                "/api/backups/list-all",
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 401, "{body}");
    }
    // The MicroDock logout also holds across the restart.
    let admin = app.admin().await;
    app.post("/api/auth/logout", json!({}), Some(&admin))
        .await
        .ok();
    let (status, _, _) = after
        .json(
            reqwest::Method::GET,
            "/api/backups/list-all",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 401);
}

/// Issue 7 item 1: tokens carry an audience per app. A MicroDock admin token (24 h) is refused
/// by the `/api/v1` user API (whose tokens live 30 minutes), and an admin's `/api/v1` token
/// does not administer MicroDock.
async fn tokens_are_for_one_api(b: Backend) {
    let app = TestApp::spawn(b).await;
    let md = app.admin().await;
    app.get("/api/v1/users/me", Some(&md))
        .await
        .err(401, "invalid_token");
    app.get("/api/v1/users/admin/users", Some(&md))
        .await
        .err(401, "invalid_token");
    let api = root_token(&app).await;
    app.get("/api/v1/users/admin/users", Some(&api)).await.ok();
    app.post("/api/plugins/disable", json!({"name": "a.b"}), Some(&api))
        .await
        .err(401, "not_authenticated");
    app.get("/api/backups/list-all", Some(&api))
        .await
        .err(401, "not_authenticated");
}

/// Issue 7 item 14: a refused MicroDock login of a non-admin opened a session and wrote a
/// `login` audit row before answering 403.
async fn a_refused_non_admin_login_opens_no_session(b: Backend) {
    let app = TestApp::spawn(b).await;
    for _ in 0..3 {
        md_login(&app, "plainuser", "Plain-User-Pass-1")
            .await
            .err(403, "admin_required");
    }
    let user = app.user_token().await;
    let sessions = app.get("/api/v1/users/me/sessions", Some(&user)).await.ok();
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    let root = root_token(&app).await;
    let id = user_id(&app, &root, "plainuser").await;
    let audit = app
        .get(
            &format!("/api/v1/users/admin/users/{id}/audit"),
            Some(&root),
        )
        .await
        .ok();
    let logins = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "login")
        .count();
    assert_eq!(logins, 1, "{audit}");
}

/// Issue 7 item 14: `/api/auth/me` with a valid non-admin token said `is_logged_in: false`.
async fn me_reports_a_signed_in_non_admin(b: Backend) {
    let app = TestApp::spawn(b).await;
    let user = app.user_token().await;
    let me = app.get("/api/auth/me", Some(&user)).await.ok();
    assert_eq!(
        me,
        json!({"is_logged_in": true, "username": "plainuser", "is_admin": false})
    );
    // An admin's `/api/v1` token is signed in, but not a MicroDock admin token.
    let api = root_token(&app).await;
    let me = app.get("/api/auth/me", Some(&api)).await.ok();
    assert_eq!(
        me,
        json!({"is_logged_in": true, "username": "admin", "is_admin": false})
    );
}

/// Issue 7 item 12: ten wrong passwords from anyone locked `admin` on both login endpoints.
/// The lock is per account and source: the admin signs in from elsewhere on both.
async fn strangers_cannot_lock_the_admin_out(b: Backend) {
    let app = TestApp::spawn(b).await;
    for _ in 0..10 {
        md_login(&app, "admin", "wrong-password").await;
    }
    md_login(&app, "admin", ADMIN_PASSWORD)
        .await
        .err(429, "account_locked");
    let elsewhere = reqwest::Client::builder()
        .no_proxy()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let r = elsewhere
        .post(app.server.url("/api/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = elsewhere
        .post(app.server.url("/api/v1/users/auth/login"))
        .json(&json!({"username_or_email": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
