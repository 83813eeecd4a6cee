//! Downloads: headers, checksums, ranges, conditional requests, counting on completion.

use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::{TestApp, plugin_zip};

backend_tests!(
    full_download_headers_and_count,
    ranges_and_conditional_requests,
    version_downloads_and_errors
);

async fn count(app: &TestApp, version: &str) -> i64 {
    let v = app
        .post(
            "/api/plugins/version/detail",
            json!({"name": "com.dl.p", "version": version}),
            None,
        )
        .await
        .ok();
    v["download_count"].as_i64().unwrap()
}

async fn wait_count(app: &TestApp, version: &str, n: i64) {
    for _ in 0..100 {
        if count(app, version).await == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("download count of {version} never reached {n}");
}

async fn full_download_headers_and_count(b: Backend) {
    let app = TestApp::spawn(b).await;
    let zip = plugin_zip("com.dl.p", "1.0.0");
    app.upload(zip.clone(), "k").await.ok();
    let r = app
        .fetch(
            "/api/plugins/download",
            json!({"name": "com.dl.p"}),
            &[("accept-encoding", "gzip")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.bytes, zip);
    let sha = hex_sha(&zip);
    assert_eq!(r.headers["content-type"], "application/zip");
    assert_eq!(
        r.headers["content-disposition"],
        "attachment; filename=\"com.dl.p@1.0.0.zip\""
    );
    assert_eq!(r.headers["content-length"], zip.len().to_string().as_str());
    assert_eq!(r.headers["etag"], format!("\"{sha}\"").as_str());
    assert_eq!(r.headers["x-checksum-sha256"], sha.as_str());
    assert_eq!(r.headers["accept-ranges"], "bytes");
    assert!(
        !r.headers.contains_key("content-encoding"),
        "zip files are never re-compressed"
    );
    wait_count(&app, "1.0.0", 1).await;
    app.fetch("/api/plugins/download", json!({"name": "com.dl.p"}), &[])
        .await;
    wait_count(&app, "1.0.0", 2).await;
}

async fn ranges_and_conditional_requests(b: Backend) {
    let app = TestApp::spawn(b).await;
    let zip = plugin_zip("com.dl.p", "1.0.0");
    app.upload(zip.clone(), "k").await.ok();
    let body = json!({"name": "com.dl.p"});
    let r = app
        .fetch(
            "/api/plugins/download",
            body.clone(),
            &[("range", "bytes=0-9")],
        )
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(r.bytes, zip[..10]);
    assert_eq!(
        r.headers["content-range"],
        format!("bytes 0-9/{}", zip.len()).as_str()
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        count(&app, "1.0.0").await,
        0,
        "a partial transfer is not a download"
    );
    // Issue 7 item 5: only a response carrying the whole file counts; a range that reaches
    // the end is not one (`bytes=-1` repeated would count downloads that never happened).
    let r = app
        .fetch(
            "/api/plugins/download",
            body.clone(),
            &[("range", "bytes=10-")],
        )
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(r.bytes, zip[10..]);
    let r = app
        .fetch(
            "/api/plugins/download",
            body.clone(),
            &[("range", "bytes=0-")],
        )
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(r.bytes, zip);
    wait_count(&app, "1.0.0", 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        count(&app, "1.0.0").await,
        1,
        "the tail range was not counted"
    );
    let r = app
        .fetch(
            "/api/plugins/download",
            body.clone(),
            &[("range", "bytes=-5")],
        )
        .await;
    assert_eq!(r.bytes, zip[zip.len() - 5..]);
    let r = app
        .fetch(
            "/api/plugins/download",
            body.clone(),
            &[("range", &format!("bytes={}-", zip.len()))],
        )
        .await;
    assert_eq!(r.status, 416);
    assert_eq!(
        r.headers["content-range"],
        format!("bytes */{}", zip.len()).as_str()
    );
    // Issue 7 item 14: the 416 is an envelope with its own code, in Chinese.
    let e: serde_json::Value = serde_json::from_slice(&r.bytes).unwrap();
    assert_eq!(e["success"], false);
    assert_eq!(e["error"], "range_not_satisfiable");
    assert!(!e["message"].as_str().unwrap().is_ascii(), "{e}");
    let etag = format!("\"{}\"", hex_sha(&zip));
    let r = app
        .fetch("/api/plugins/download", body, &[("if-none-match", &etag)])
        .await;
    assert_eq!(r.status, 304);
    assert!(r.bytes.is_empty());
}

async fn version_downloads_and_errors(b: Backend) {
    let app = TestApp::spawn(b).await;
    let v1 = plugin_zip("com.dl.p", "1.0.0");
    let v2 = plugin_zip("com.dl.p", "2.0.0");
    app.upload(v1.clone(), "k").await.ok();
    app.upload(v2.clone(), "k").await.ok();
    let r = app
        .fetch("/api/plugins/download", json!({"name": "com.dl.p"}), &[])
        .await;
    assert_eq!(r.bytes, v2, "the current version");
    let r = app
        .fetch(
            "/api/plugins/version/download",
            json!({"name": "com.dl.p", "version": "1.0.0"}),
            &[],
        )
        .await;
    assert_eq!(r.bytes, v1);
    assert_eq!(
        r.headers["content-disposition"],
        "attachment; filename=\"com.dl.p@1.0.0.zip\""
    );
    wait_count(&app, "1.0.0", 1).await;
    for (path, body, status) in [
        ("/api/plugins/download", json!({"name": "com.dl.none"}), 404),
        (
            "/api/plugins/version/download",
            json!({"name": "com.dl.p", "version": "3.0.0"}),
            404,
        ),
        (
            "/api/plugins/version/download",
            json!({"name": "com.dl.p"}),
            422,
        ),
    ] {
        let r = app.fetch(path, body, &[]).await;
        assert_eq!(r.status.as_u16(), status);
        let v: serde_json::Value = serde_json::from_slice(&r.bytes).unwrap();
        assert_eq!(v["success"], false);
    }
}

fn hex_sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
