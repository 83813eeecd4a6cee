//! N instances behind a load balancer share plugin files through S3-compatible storage
//! (`TRELLIS_BLOB_URL=s3://…`): a plugin uploaded through instance A downloads, byte for byte,
//! through instance B, and no instance keeps the file on its local disk.

use serde_json::json;
use sha2::{Digest, Sha256};
use trellis_kernel::Platform;
use trellis_kernel::testing::{Backend, TEST_DEFAULTS, TestServer, platform, services};

use crate::harness::plugin_zip;

/// `TEST_S3_URL`, required under `CI=true` (a missing S3 server fails, never skips).
fn s3_url() -> Option<String> {
    match std::env::var("TEST_S3_URL").ok().filter(|s| !s.is_empty()) {
        Some(u) => Some(u),
        None if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("CI=true but TEST_S3_URL is not set")
        }
        None => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_through_one_instance_download_through_another() {
    let Some(s3) = s3_url() else {
        eprintln!("TEST_S3_URL unset: two-instance S3 test not run");
        return;
    };
    let backend = if services().is_some() {
        Backend::Services
    } else {
        Backend::Embedded
    };
    let blob_url = format!(
        "{}/instances-{}",
        s3.trim_end_matches('/'),
        uuid::Uuid::new_v4().simple()
    );
    let mut vars: Vec<(&str, &str)> = TEST_DEFAULTS.to_vec();
    vars.push(("TRELLIS_BLOB_URL", &blob_url));
    let t = platform(backend, &vars).await;
    // Instance B shares the database and key-value store, and opens its own S3 client, as a
    // second process would.
    let b_platform = Platform::with_parts(
        (*t.platform.config).clone(),
        t.platform.db.clone(),
        t.platform.kv.clone(),
    )
    .unwrap();
    let a = trellis::testing::launch(t.platform.clone(), vec![]).await;
    let b = trellis::testing::launch(b_platform, vec![]).await;
    let (sa, sb) = (TestServer::at(a.addr, None), TestServer::at(b.addr, None));

    let zip = plugin_zip("com.multi.instance", "1.0.0");
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(zip.clone()).file_name("plugin.zip"),
        )
        .text("plugin_key", "key-1");
    let up: serde_json::Value = sa
        .client
        .post(sa.url("/api/plugins/upload"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(up["success"], true, "{up}");

    let res = sb
        .client
        .post(sb.url("/api/plugins/download"))
        .json(&json!({"name": "com.multi.instance"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let sha = res.headers()["x-checksum-sha256"]
        .to_str()
        .unwrap()
        .to_string();
    let body = res.bytes().await.unwrap();
    assert_eq!(body.as_ref(), zip.as_slice());
    assert_eq!(sha, hex::encode(Sha256::digest(&zip)));
    // A range through B too (resumed downloads).
    let part = sb
        .client
        .post(sb.url("/api/plugins/download"))
        .header("Range", "bytes=10-19")
        .json(&json!({"name": "com.multi.instance"}))
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &zip[10..20]);
    assert!(
        !t.dir.join("blobs").exists(),
        "plugin files were written to the local disk"
    );
    // Clean the bucket prefix up.
    for key in t.platform.blobs.list("").await.unwrap() {
        t.platform.blobs.delete(&key).await.unwrap();
    }
    drop((a.stop, b.stop));
}
