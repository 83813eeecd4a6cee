//! Backups: upload, list, download by key and id (wrong key = missing id), admin list-all and
//! delete, sanitized names, per-user count and byte limits.

use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::TestApp;

backend_tests!(
    upload_list_download,
    keys_are_secrets,
    admin_list_and_delete,
    names_and_bad_input,
    per_user_limits,
    total_backup_bytes_are_capped
);

async fn up(
    app: &TestApp,
    key: &str,
    kind: &str,
    name: &str,
    data: &[u8],
    extra: &[(&str, &str)],
) -> crate::harness::Resp {
    let mut fields = vec![("user_key", key), ("backup_type", kind)];
    fields.extend_from_slice(extra);
    app.upload_form("/api/backups/upload", (data.to_vec(), name), &fields)
        .await
}

async fn upload_list_download(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = up(
        &app,
        "user123abc",
        "program",
        "backup.zip",
        b"program data",
        &[("description", "程序配置备份")],
    )
    .await;
    assert_eq!(r.body["message"], "备份文件上传成功");
    let first = r.ok();
    assert_eq!(first["user_key"], "user123abc");
    assert_eq!(first["backup_type"], "program");
    assert_eq!(first["file_name"], "backup.zip");
    assert_eq!(first["file_size"], 12);
    assert_eq!(first["description"], "程序配置备份");
    assert!(
        !first["file_path"].as_str().unwrap().contains("user123abc"),
        "the key is not in paths"
    );
    let second = up(
        &app,
        "user123abc",
        "plugin",
        "plugins_backup.zip",
        b"plugin data",
        &[("plugin_name", "com.example.p")],
    )
    .await
    .ok();
    assert_eq!(second["plugin_name"], "com.example.p");
    let list = app
        .post("/api/backups/list", json!({"user_key": "user123abc"}), None)
        .await;
    assert_eq!(list.body["message"], "备份列表获取成功");
    let list = list.ok();
    assert_eq!(list["total"], 2);
    assert_eq!(list["backups"][0]["id"], second["id"], "newest first");
    let r = app
        .fetch(
            "/api/backups/download",
            json!({"user_key": "user123abc", "id": first["id"]}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.bytes, b"program data");
    assert_eq!(r.headers["content-type"], "application/octet-stream");
    assert_eq!(
        r.headers["content-disposition"],
        "attachment; filename=\"backup.zip\""
    );
    assert_eq!(
        r.headers["x-checksum-sha256"],
        first["file_hash"].as_str().unwrap()
    );
}

async fn keys_are_secrets(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mine = up(&app, "alice-key", "program", "a.zip", b"alice", &[])
        .await
        .ok();
    assert_eq!(
        app.post("/api/backups/list", json!({"user_key": "mallory"}), None)
            .await
            .ok()["total"],
        0
    );
    let wrong = app
        .fetch(
            "/api/backups/download",
            json!({"user_key": "mallory", "id": mine["id"]}),
            &[],
        )
        .await;
    let missing = app
        .fetch(
            "/api/backups/download",
            json!({"user_key": "alice-key", "id": 999_999}),
            &[],
        )
        .await;
    assert_eq!(wrong.status, 404);
    assert_eq!(
        wrong.bytes, missing.bytes,
        "a wrong key looks exactly like a missing id"
    );
}

async fn admin_list_and_delete(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin().await;
    let a = up(&app, "user123abc", "program", "a.zip", b"a", &[])
        .await
        .ok();
    up(&app, "user456def", "plugin", "b.zip", b"b", &[])
        .await
        .ok();
    let all = app.get("/api/backups/list-all", Some(&admin)).await.ok();
    assert_eq!(all["total"], 2);
    // Issue 7 item 14: admins saw the key's first three characters; they see nothing of it.
    assert_eq!(
        all["backups"][1]["user_key"], "***",
        "admins see nothing of the key"
    );
    let r = app
        .post(
            "/api/backups/delete",
            json!({"user_key": "someone-else", "id": a["id"]}),
            Some(&admin),
        )
        .await;
    r.err(404, "backup_not_found");
    let r = app
        .post(
            "/api/backups/delete",
            json!({"user_key": "user123abc", "id": a["id"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.body["message"], "备份文件删除成功");
    assert_eq!(
        app.get("/api/backups/list-all", Some(&admin)).await.ok()["total"],
        1
    );
    let b_id =
        app.get("/api/backups/list-all", Some(&admin)).await.ok()["backups"][0]["id"].clone();
    app.post("/api/backups/delete", json!({"id": b_id}), Some(&admin))
        .await
        .ok();
    assert!(app.stored_files("backups").is_empty());
    app.post("/api/backups/delete", json!({"id": b_id}), Some(&admin))
        .await
        .err(404, "backup_not_found");
}

async fn names_and_bad_input(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = up(&app, "k1", "program", "../../etc/备份 1.zip", b"x", &[])
        .await
        .ok();
    assert_eq!(r["file_name"], "备份 1.zip");
    let d = app
        .fetch(
            "/api/backups/download",
            json!({"user_key": "k1", "id": r["id"]}),
            &[],
        )
        .await;
    assert_eq!(
        d.headers["content-disposition"],
        "attachment; filename=\"__ 1.zip\"; filename*=UTF-8''%E5%A4%87%E4%BB%BD%201.zip"
    );
    up(&app, "bad key!", "program", "a.zip", b"x", &[])
        .await
        .err(422, "validation_error");
    up(&app, &"k".repeat(129), "program", "a.zip", b"x", &[])
        .await
        .err(422, "validation_error");
    let m = up(&app, "k1", "system", "a.zip", b"x", &[])
        .await
        .err(422, "validation_error")
        .to_string();
    assert_eq!(m, "备份类型必须是 program 或 plugin");
    app.post("/api/backups/list", json!({"user_key": ""}), None)
        .await
        .err(422, "validation_error");
    app.post("/api/backups/list", json!({}), None)
        .await
        .err(422, "validation_error");
    assert!(app.stored_files("tmp").is_empty());
}

async fn per_user_limits(b: Backend) {
    let app = TestApp::with(
        b,
        &[("BACKUP_MAX_PER_USER", "2"), ("BACKUP_QUOTA_BYTES", "100")],
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            up(
                &app,
                "u1",
                "program",
                &format!("{i}.zip"),
                b"0123456789",
                &[],
            )
            .await
            .ok()["id"]
                .clone(),
        );
    }
    up(&app, "u1", "plugin", "p.zip", b"0123456789", &[])
        .await
        .ok();
    let list = app
        .post("/api/backups/list", json!({"user_key": "u1"}), None)
        .await
        .ok();
    let program: Vec<_> = list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["backup_type"] == "program")
        .map(|b| b["id"].clone())
        .collect();
    assert_eq!(
        program,
        vec![ids[2].clone(), ids[1].clone()],
        "only the newest two program backups stay"
    );
    assert_eq!(app.stored_files("backups").len(), 3);
    let big = vec![7u8; 90];
    let m = up(&app, "u1", "plugin", "big.zip", &big, &[])
        .await
        .err(507, "backup_quota_exceeded")
        .to_string();
    assert!(m.contains("备份空间不足"), "{m}");
    assert!(app.stored_files("tmp").is_empty());
    up(&app, "u2", "plugin", "big.zip", &big, &[]).await.ok();
}

/// Issue 7, item 9: with the default settings anonymous backups could fill the disk (no
/// per-key count or byte limit, no total). The defaults now limit each key (20 per type,
/// 1 GiB) and all backups together (`BACKUP_TOTAL_BYTES`, 20 GiB): past the total, 507
/// `backup_storage_full` whatever the key.
async fn total_backup_bytes_are_capped(b: Backend) {
    let defaults = trellis_microdock::settings::Settings::from_vars(&Default::default()).unwrap();
    assert_eq!(defaults.backup_max_per_user, Some(20));
    assert_eq!(defaults.backup_quota_bytes, Some(1024 * 1024 * 1024));
    assert_eq!(defaults.backup_total_bytes, Some(20 * 1024 * 1024 * 1024));

    let app = TestApp::with(b, &[("BACKUP_TOTAL_BYTES", "25")]).await;
    up(&app, "k1", "program", "a.zip", b"0123456789", &[])
        .await
        .ok();
    up(&app, "k2", "program", "b.zip", b"0123456789", &[])
        .await
        .ok();
    up(&app, "k3", "program", "c.zip", b"0123456789", &[])
        .await
        .err(507, "backup_storage_full");
    assert_eq!(app.stored_files("backups").len(), 2);
    assert!(app.stored_files("tmp").is_empty());
}
