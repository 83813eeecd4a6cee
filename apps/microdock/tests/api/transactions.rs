//! A change and its audit row commit together, and a shutdown drains what is in flight:
//! - an upload whose audit row cannot be written leaves no plugin, no version and no file;
//! - SIGTERM (the server's shutdown signal) during an upload and a code send lets both finish.

use std::time::Duration;

use futures::StreamExt as _;
use serde_json::json;
use trellis_kernel::testing::Backend;
use trellis_kernel::{backend_tests, on_db};

use crate::harness::{TestApp, plugin_zip};

backend_tests!(
    audit_failure_rolls_back_the_upload,
    shutdown_during_upload_and_code_send_lets_both_finish
);

async fn rename_audit_table(app: &TestApp, from: &str, to: &str) {
    let sql = match (from, to) {
        ("audit_log", "audit_log_off") => "ALTER TABLE audit_log RENAME TO audit_log_off",
        _ => "ALTER TABLE audit_log_off RENAME TO audit_log",
    };
    on_db!(&app.t.platform.db, pool => sqlx::query(sql).execute(pool).await.map(|_| ())).unwrap();
}

async fn audit_failure_rolls_back_the_upload(b: Backend) {
    let app = TestApp::spawn(b).await;
    rename_audit_table(&app, "audit_log", "audit_log_off").await;
    let r = app
        .upload(plugin_zip("com.tx.rollback", "1.0.0"), "key-1")
        .await;
    r.err(500, "internal_error");
    let list = app.get("/api/plugins/list", None).await.ok();
    assert_eq!(
        list,
        json!([]),
        "a plugin was published without its audit row"
    );
    assert!(app.stored_files("plugins").is_empty());
    assert!(app.stored_files("tmp").is_empty());

    // With the audit log back, the same upload goes through, audited.
    rename_audit_table(&app, "audit_log_off", "audit_log").await;
    app.publish("com.tx.rollback", "1.0.0", "key-1").await;
    let n: i64 = on_db!(&app.t.platform.db, pool => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'plugin_uploaded'").fetch_one(pool).await)
    .unwrap();
    assert_eq!(n, 1);
}

async fn shutdown_during_upload_and_code_send_lets_both_finish(b: Backend) {
    let mut app = TestApp::with(b, &[("TRELLIS_SHUTDOWN_GRACE_SECONDS", "20")]).await;
    let zip = plugin_zip("com.tx.shutdown", "1.0.0");
    let (head, tail) = zip.split_at(zip.len() / 2);
    let (head, tail) = (head.to_vec(), tail.to_vec());
    // The body trickles: half now, half after the shutdown signal.
    let body = futures::stream::iter([head, tail])
        .enumerate()
        .then(|(i, part)| async move {
            if i == 1 {
                tokio::time::sleep(Duration::from_millis(600)).await;
            }
            Ok::<_, std::io::Error>(part)
        });
    let part =
        reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(body)).file_name("plugin.zip");
    let form = reqwest::multipart::Form::new()
        .part("file", part)
        .text("plugin_key", "key-1");
    let upload = app
        .server
        .client
        .post(app.server.url("/api/plugins/upload"))
        .multipart(form)
        .send();
    let code = app
        .server
        .client
        .post(
            app.server
                .url("/api/v1/users/public/send-verification-code"),
        )
        .json(&json!({"email": "drain@example.com", "purpose": "register"}))
        .send();
    let upload = tokio::spawn(async move {
        upload
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    });
    let code = tokio::spawn(async move { code.await.unwrap().status() });
    // Half the upload is in; the signal comes now, and the drain must let both finish.
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.shut_down().await;
    let upload = upload.await.unwrap();
    assert_eq!(upload["success"], true, "{upload}");
    assert_eq!(upload["data"]["current_version"], "1.0.0");
    assert_eq!(code.await.unwrap(), 200);
    assert_eq!(
        app.plugin_files(),
        vec!["com.tx.shutdown/com.tx.shutdown@1.0.0.zip"]
    );
    assert!(app.stored_files("tmp").is_empty());
    assert_eq!(
        app.mails("drain@example.com").len(),
        1,
        "the code mail was dropped"
    );
}
