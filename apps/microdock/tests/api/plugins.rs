//! The registry: key binding, versions, current version, display fields, enable/disable,
//! deprecation, deletion, key rotation, list search/paging/ETag.

use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::{TestApp, manifest, plugin_zip, zip_with};

backend_tests!(
    first_upload_binds_the_key,
    current_version_follows_semver_rules,
    plugin_fields_follow_the_current_version,
    enable_disable,
    deprecate_and_undeprecate,
    delete_removes_everything,
    rotate_key,
    list_search_paging_and_etag,
    unknown_plugins_and_bad_bodies,
    changes_are_audited
);

async fn first_upload_binds_the_key(b: Backend) {
    let app = TestApp::spawn(b).await;
    let p = app.publish("com.example.alpha", "1.0.0", "key-1").await;
    assert_eq!(p["name"], "com.example.alpha");
    assert_eq!(p["current_version"], "1.0.0");
    assert_eq!(p["is_enabled"], true);
    assert!(p.get("upload_key").is_none() && p.get("upload_key_hash").is_none());
    app.upload(plugin_zip("com.example.alpha", "1.1.0"), "wrong")
        .await
        .err(403, "invalid_plugin_key");
    app.publish("com.example.alpha", "1.1.0", "key-1").await;
    let m = app
        .upload(plugin_zip("com.example.alpha", "1.1.0"), "key-1")
        .await
        .err(409, "version_exists")
        .to_string();
    assert_eq!(m, "插件版本 1.1.0 已存在");
    let v = app
        .post(
            "/api/plugins/version/detail",
            json!({"name": "com.example.alpha", "version": "1.1.0"}),
            None,
        )
        .await
        .ok();
    // Issue 7 item 8: every upload's storage key has its own id.
    let path = v["file_path"].as_str().unwrap();
    assert!(
        path.starts_with("com.example.alpha/")
            && path.ends_with("/com.example.alpha@1.1.0.zip")
            && path.split('/').nth(1).is_some_and(|id| id.len() == 32),
        "{path}"
    );
    assert_eq!(v["file_name"], "com.example.alpha@1.1.0.zip");
    assert_eq!(v["dependencies"], json!({"com.other.plugin": ">=1.0.0"}));
    assert_eq!(v["engines"], json!({"MicroDock": ">=2.0.0"}));
    assert_eq!(v["changelog"], "changes in 1.1.0");
    assert_eq!(v["file_hash"].as_str().unwrap().len(), 64);
    assert_eq!(
        app.plugin_files(),
        vec![
            "com.example.alpha/com.example.alpha@1.0.0.zip",
            "com.example.alpha/com.example.alpha@1.1.0.zip"
        ]
    );
    assert!(app.stored_files("tmp").is_empty());
}

async fn current_version_follows_semver_rules(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin().await;
    app.publish("com.example.beta", "1.9.0", "k").await;
    app.publish("com.example.beta", "1.10.0", "k").await;
    assert_eq!(
        current(&app, "com.example.beta").await,
        "1.10.0",
        "semver order, not string order"
    );
    app.publish("com.example.beta", "2.0.0-beta.1", "k").await;
    assert_eq!(
        current(&app, "com.example.beta").await,
        "1.10.0",
        "prereleases are not current"
    );
    app.publish("com.example.beta", "1.2.0", "k").await;
    assert_eq!(
        current(&app, "com.example.beta").await,
        "1.10.0",
        "an older upload does not become current"
    );
    let v = app
        .post(
            "/api/plugins/version/deprecate",
            json!({"name": "com.example.beta", "version": "1.10.0", "message": "broken"}),
            Some(&admin),
        )
        .await
        .ok();
    assert_eq!(v["is_deprecated"], true);
    assert_eq!(v["deprecation_message"], "broken");
    assert_eq!(current(&app, "com.example.beta").await, "1.9.0");
    app.post(
        "/api/plugins/undeprecate",
        json!({"name": "com.example.beta", "version": "1.10.0"}),
        Some(&admin),
    )
    .await
    .ok();
    assert_eq!(current(&app, "com.example.beta").await, "1.10.0");
    let versions = app
        .post(
            "/api/plugins/versions",
            json!({"name": "com.example.beta"}),
            None,
        )
        .await
        .ok();
    let order: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(order, vec!["2.0.0-beta.1", "1.10.0", "1.9.0", "1.2.0"]);
    // Only prereleases: the highest one is current.
    app.publish("com.example.gamma", "0.1.0-alpha", "k").await;
    let d = app
        .post(
            "/api/plugins/detail",
            json!({"name": "com.example.gamma"}),
            None,
        )
        .await
        .ok();
    assert_eq!(d["plugin"]["current_version"], "0.1.0-alpha");
}

async fn current(app: &TestApp, name: &str) -> String {
    let d = app
        .post("/api/plugins/detail", json!({"name": name}), None)
        .await
        .ok();
    d["plugin"]["current_version"].as_str().unwrap().to_string()
}

/// Issue 7 item 6: upload 2.0.0, then a backport 1.0.1: `current_version` stayed 2.0.0 but
/// `main_dll`, `entry_class` and the display name became 1.0.1's. Plugin-level fields are
/// those of the current version, recomputed on publish, deprecate and undeprecate.
async fn plugin_fields_follow_the_current_version(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin().await;
    let mut m2 = manifest("com.example.delta", "2.0.0");
    m2["displayName"] = json!("新名字");
    m2["main"] = json!("New.dll");
    m2["entryClass"] = json!("New.Entry");
    app.upload(zip_with(&m2, &[("New.dll", b"MZ")]), "k")
        .await
        .ok();
    let mut m1 = manifest("com.example.delta", "1.0.1");
    m1["displayName"] = json!("旧名字");
    let p = app
        .upload(zip_with(&m1, &[("Main.dll", b"MZ")]), "k")
        .await
        .ok();
    assert_eq!(p["current_version"], "2.0.0");
    assert_eq!(p["display_name"], "新名字");
    assert_eq!(p["main_dll"], "New.dll");
    assert_eq!(p["entry_class"], "New.Entry");
    // Deprecating 2.0.0 makes 1.0.1 current, with its fields; undeprecating restores them.
    let dep = json!({"name": "com.example.delta", "version": "2.0.0"});
    app.post("/api/plugins/version/deprecate", dep.clone(), Some(&admin))
        .await
        .ok();
    let d = app
        .post(
            "/api/plugins/detail",
            json!({"name": "com.example.delta"}),
            None,
        )
        .await
        .ok();
    assert_eq!(d["plugin"]["current_version"], "1.0.1");
    assert_eq!(d["plugin"]["display_name"], "旧名字");
    assert_eq!(d["plugin"]["main_dll"], "Main.dll");
    app.post("/api/plugins/undeprecate", dep, Some(&admin))
        .await
        .ok();
    let d = app
        .post(
            "/api/plugins/detail",
            json!({"name": "com.example.delta"}),
            None,
        )
        .await
        .ok();
    assert_eq!(d["plugin"]["current_version"], "2.0.0");
    assert_eq!(d["plugin"]["display_name"], "新名字");
    assert_eq!(d["plugin"]["entry_class"], "New.Entry");
}

async fn enable_disable(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin().await;
    app.publish("com.example.eps", "1.0.0", "k").await;
    let p = app
        .post(
            "/api/plugins/disable",
            json!({"name": "com.example.eps"}),
            Some(&admin),
        )
        .await;
    assert_eq!(p.body["message"], "插件禁用成功");
    assert_eq!(p.ok()["is_enabled"], false);
    assert_eq!(app.get("/api/plugins/list", None).await.ok(), json!([]));
    assert_eq!(
        app.get("/api/plugins/list", Some(&admin))
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = app
        .fetch(
            "/api/plugins/download",
            json!({"name": "com.example.eps"}),
            &[],
        )
        .await;
    assert_eq!(r.status, 403);
    let body: serde_json::Value = serde_json::from_slice(&r.bytes).unwrap();
    assert_eq!(body["error"], "plugin_disabled");
    let p = app
        .post(
            "/api/plugins/enable",
            json!({"name": "com.example.eps"}),
            Some(&admin),
        )
        .await
        .ok();
    assert_eq!(p["is_enabled"], true);
    assert_eq!(
        app.get("/api/plugins/list", None)
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.post(
        "/api/plugins/enable",
        json!({"name": "com.example.none"}),
        Some(&admin),
    )
    .await
    .err(404, "plugin_not_found");
}

async fn deprecate_and_undeprecate(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin().await;
    app.publish("com.example.zeta", "1.0.0", "k").await;
    let r = app.post("/api/plugins/deprecate", json!({"name": "com.example.zeta", "message": "用新的", "replacement": "com.example.eta"}), Some(&admin)).await;
    assert_eq!(r.body["message"], "插件标记过时成功");
    let p = r.ok();
    assert_eq!(p["is_deprecated"], true);
    assert_eq!(p["deprecation_message"], "用新的");
    assert_eq!(p["replacement"], "com.example.eta");
    // Deprecated plugins still download.
    assert_eq!(
        app.fetch(
            "/api/plugins/download",
            json!({"name": "com.example.zeta"}),
            &[]
        )
        .await
        .status,
        200
    );
    let p = app
        .post(
            "/api/plugins/undeprecate",
            json!({"name": "com.example.zeta"}),
            Some(&admin),
        )
        .await
        .ok();
    assert_eq!(p["is_deprecated"], false);
    assert!(p["replacement"].is_null());
    app.post(
        "/api/plugins/version/deprecate",
        json!({"name": "com.example.zeta", "version": "9.9.9"}),
        Some(&admin),
    )
    .await
    .err(404, "version_not_found");
    app.post(
        "/api/plugins/version/deprecate",
        json!({"name": "com.example.zeta"}),
        Some(&admin),
    )
    .await
    .err(422, "validation_error");
}

async fn delete_removes_everything(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin().await;
    app.publish("com.example.theta", "1.0.0", "k").await;
    app.publish("com.example.theta", "1.1.0", "k").await;
    app.publish("com.example.keep", "1.0.0", "k2").await;
    let r = app
        .post(
            "/api/plugins/delete",
            json!({"name": "com.example.theta"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.body["message"], "插件删除成功");
    app.post(
        "/api/plugins/detail",
        json!({"name": "com.example.theta"}),
        None,
    )
    .await
    .err(404, "plugin_not_found");
    app.post(
        "/api/plugins/versions",
        json!({"name": "com.example.theta"}),
        None,
    )
    .await
    .err(404, "plugin_not_found");
    app.post(
        "/api/plugins/version/detail",
        json!({"name": "com.example.theta", "version": "1.0.0"}),
        None,
    )
    .await
    .err(404, "version_not_found");
    assert_eq!(
        app.plugin_files(),
        vec!["com.example.keep/com.example.keep@1.0.0.zip"]
    );
    assert!(app.stored_files("trash").is_empty());
    app.post(
        "/api/plugins/delete",
        json!({"name": "com.example.theta"}),
        Some(&admin),
    )
    .await
    .err(404, "plugin_not_found");
    // The name is free again, with a new key.
    app.publish("com.example.theta", "1.0.0", "another-key")
        .await;
}

async fn rotate_key(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin().await;
    app.publish("com.example.iota", "1.0.0", "old").await;
    app.post(
        "/api/plugins/rotate-key",
        json!({"name": "com.example.iota", "new_key": "new"}),
        Some(&admin),
    )
    .await
    .ok();
    app.upload(plugin_zip("com.example.iota", "1.1.0"), "old")
        .await
        .err(403, "invalid_plugin_key");
    app.publish("com.example.iota", "1.1.0", "new").await;
    app.post(
        "/api/plugins/rotate-key",
        json!({"name": "com.example.none", "new_key": "x"}),
        Some(&admin),
    )
    .await
    .err(404, "plugin_not_found");
    app.post(
        "/api/plugins/rotate-key",
        json!({"name": "com.example.iota", "new_key": ""}),
        Some(&admin),
    )
    .await
    .err(422, "validation_error");
}

async fn list_search_paging_and_etag(b: Backend) {
    let app = TestApp::spawn(b).await;
    for n in ["com.a.one", "com.b.two", "com.c.three"] {
        app.publish(n, "1.0.0", "k").await;
    }
    let all = app.get("/api/plugins/list", None).await;
    assert_eq!(all.body["message"], "插件列表获取成功");
    let etag = all.headers["etag"].to_str().unwrap().to_string();
    assert_eq!(all.body["data"].as_array().unwrap().len(), 3);
    let r = app
        .server
        .client
        .get(app.server.url("/api/plugins/list"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    // A change makes the old ETag stale at once.
    app.publish("com.d.four", "1.0.0", "k").await;
    let r = app
        .server
        .client
        .get(app.server.url("/api/plugins/list"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let found = app.get("/api/plugins/list?search=TWO", None).await.ok();
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(
        app.get("/api/plugins/list?search=%25", None).await.ok(),
        json!([])
    );
    let page = app
        .get("/api/plugins/list?page=2&page_size=3", None)
        .await
        .ok();
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["name"], "com.d.four");
    app.get("/api/plugins/list?page=x", None)
        .await
        .err(422, "validation_error");
}

async fn unknown_plugins_and_bad_bodies(b: Backend) {
    let app = TestApp::spawn(b).await;
    let m = app
        .post(
            "/api/plugins/detail",
            json!({"name": "com.example.none"}),
            None,
        )
        .await
        .err(404, "plugin_not_found")
        .to_string();
    assert_eq!(m, "插件不存在");
    app.post("/api/plugins/detail", json!({"name": "../../etc"}), None)
        .await
        .err(404, "plugin_not_found");
    app.post("/api/plugins/detail", json!({}), None)
        .await
        .err(422, "validation_error");
    app.post("/api/plugins/detail", json!({"name": 5}), None)
        .await
        .err(422, "validation_error");
    let r = app
        .server
        .client
        .post(app.server.url("/api/plugins/detail"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["success"],
        false
    );
}

async fn changes_are_audited(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin().await;
    app.publish("com.example.audit", "1.0.0", "k").await;
    let name = json!({"name": "com.example.audit"});
    for path in [
        "/api/plugins/disable",
        "/api/plugins/enable",
        "/api/plugins/deprecate",
    ] {
        app.post(path, name.clone(), Some(&admin)).await.ok();
    }
    app.post(
        "/api/plugins/rotate-key",
        json!({"name": "com.example.audit", "new_key": "k2"}),
        Some(&admin),
    )
    .await
    .ok();
    app.post("/api/plugins/delete", name, Some(&admin))
        .await
        .ok();
    let backup = app
        .upload_form(
            "/api/backups/upload",
            (b"x".to_vec(), "b.zip"),
            &[("user_key", "u"), ("backup_type", "program")],
        )
        .await
        .ok();
    app.post(
        "/api/backups/delete",
        json!({"id": backup["id"]}),
        Some(&admin),
    )
    .await
    .ok();
    let actions: Vec<String> = trellis_kernel::on_db_read!(&app.t.platform.db, pool =>
        sqlx::query_scalar("SELECT action FROM audit_log WHERE actor_id IS NOT NULL OR action = 'plugin_uploaded'")
            .fetch_all(pool).await).unwrap();
    for a in [
        "plugin_uploaded",
        "plugin_disabled",
        "plugin_enabled",
        "plugin_deprecated",
        "plugin_key_rotated",
        "plugin_deleted",
        "backup_deleted",
    ] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} not audited: {actions:?}"
        );
    }
}
