//! Regression (issue 7, item 11): a crash between committing a stored file and inserting its
//! row (or half-way through a delete) left files no row references, forever. A start-up
//! pass removes them, and leaves every referenced file alone.

use std::time::Duration;

use trellis_kernel::backend_tests;
use trellis_kernel::config::Config;
use trellis_kernel::testing::Backend;

use crate::harness::TestApp;

backend_tests!(restart_removes_files_no_row_references);

async fn put(app: &TestApp, key: &str) {
    let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(
        b"PK orphan",
    ))]);
    app.platform().blobs.put(key, body, 1024).await.unwrap();
}

async fn restart_removes_files_no_row_references(b: Backend) {
    let app = TestApp::spawn(b).await;
    let kept = app
        .post_multipart(
            "/api/backups/upload",
            (b"PK\x03\x04 kept backup".to_vec(), "kept.zip"),
            &[("user_key", "user123abc"), ("backup_type", "program")],
        )
        .await
        .ok();
    assert!(kept["id"].is_i64(), "{kept}");
    let before = app.stored_files("backups");
    assert_eq!(before.len(), 1, "{before:?}");
    // What a crash leaves: objects whose rows were never written, and a delete's trash.
    put(
        &app,
        "microdock/plugins/com.crash.left/com.crash.left@1.0.0.zip",
    )
    .await;
    put(&app, "microdock/backups/crashed-upload.zip").await;
    put(&app, "microdock/trash/0123abcd/com.gone/com.gone@1.0.0.zip").await;

    // A restart on the same database and store, with no grace period for young files.
    let old = app.platform();
    let mut vars: std::collections::HashMap<String, String> = (*old.config.vars).clone();
    vars.insert("MICRODOCK_ORPHAN_GRACE_SECONDS".into(), "0".into());
    let platform = trellis_kernel::Platform::with_parts(
        Config::from_vars(&vars).unwrap(),
        old.db.clone(),
        old.kv.clone(),
    )
    .unwrap();
    let restarted = trellis::build_on(platform).await.unwrap();

    let mut clean = false;
    for _ in 0..100 {
        if app.stored_files("plugins").is_empty()
            && app.stored_files("backups") == before
            && app.stored_files("trash").is_empty()
        {
            clean = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        clean,
        "left: plugins {:?}, backups {:?}, trash {:?}",
        app.stored_files("plugins"),
        app.stored_files("backups"),
        app.stored_files("trash")
    );
    // The referenced backup still downloads.
    let r = app
        .fetch(
            "/api/backups/download",
            serde_json::json!({"user_key": "user123abc", "id": kept["id"]}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.bytes, b"PK\x03\x04 kept backup");
    drop(restarted);
}
