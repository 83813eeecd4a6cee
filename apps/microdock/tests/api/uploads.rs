//! Upload validation: file type, archive guards, manifest rules, size limit while streaming,
//! upload secret. Every refusal leaves nothing on disk.

use std::io::{Cursor, Write};

use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;
use zip::write::SimpleFileOptions;

use crate::harness::{TestApp, manifest, plugin_zip, zip_with};

backend_tests!(
    rejects_bad_files_with_precise_messages,
    rejects_bad_manifests,
    archive_guards,
    size_limit_while_streaming,
    upload_secret_when_configured,
    single_top_level_folder_is_accepted,
    form_errors
);

#[track_caller]
fn expect_400(r: &crate::harness::Resp, needle: &str) {
    let m = r.err(400, "invalid_plugin_file");
    assert!(m.starts_with("文件验证失败："), "{m}");
    assert!(m.contains(needle), "{needle:?} not in {m:?}");
}

async fn rejects_bad_files_with_precise_messages(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = app
        .upload_form(
            "/api/plugins/upload",
            (plugin_zip("com.x.y", "1.0.0"), "plugin.tar"),
            &[("plugin_key", "k")],
        )
        .await;
    expect_400(&r, ".zip");
    let r = app
        .upload_form(
            "/api/plugins/upload",
            (b"hello, not a zip".to_vec(), "p.zip"),
            &[("plugin_key", "k")],
        )
        .await;
    expect_400(&r, "文件头");
    let mut truncated = plugin_zip("com.x.y", "1.0.0");
    truncated.truncate(40);
    expect_400(&app.upload(truncated, "k").await, "ZIP");
    expect_400(
        &app.upload(zip_with(&manifest("com.x.y", "1.0.0"), &[]), "k")
            .await,
        "Main.dll",
    );
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("Main.dll", SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"MZ").unwrap();
    expect_400(
        &app.upload(w.finish().unwrap().into_inner(), "k").await,
        "plugin.json 缺失",
    );
    assert!(app.stored_files("tmp").is_empty());
    assert!(app.stored_files("plugins").is_empty());
}

async fn rejects_bad_manifests(b: Backend) {
    let app = TestApp::spawn(b).await;
    let cases = [
        (
            json!({"version": "1.0.0", "main": "Main.dll", "entryClass": "E"}),
            "name",
        ),
        (
            json!({"name": "myplugin", "version": "1.0.0", "main": "Main.dll", "entryClass": "E"}),
            "反向域名",
        ),
        (
            json!({"name": "com.x.y", "version": "v1", "main": "Main.dll", "entryClass": "E"}),
            "语义化版本",
        ),
        (
            json!({"name": "com.x.y", "version": "1.0.0", "entryClass": "E"}),
            "main",
        ),
        (
            json!({"name": "com.x.y", "version": "1.0.0", "main": "Main.dll"}),
            "entryClass",
        ),
        (
            json!({"name": "com.x.y", "version": "1.0.0", "main": "Main.dll", "entryClass": "E", "dependencies": {"a.b": "newest"}}),
            "newest",
        ),
        (
            json!({"name": "com.x.y", "version": "1.0.0", "main": "Main.dll", "entryClass": "E", "engines": 3}),
            "engines",
        ),
        (
            json!({"name": "com.x.y", "version": "1.0.0", "main": "Main.dll", "entryClass": "E", "displayName": 7}),
            "displayName",
        ),
    ];
    for (m, needle) in cases {
        expect_400(
            &app.upload(zip_with(&m, &[("Main.dll", b"MZ")]), "k").await,
            needle,
        );
    }
    // The seed's own example: an empty string for engines means none.
    let ok = json!({"name": "com.x.y", "version": "1.0.0", "main": "Main.dll", "entryClass": "E", "dependencies": {}, "engines": ""});
    app.upload(zip_with(&ok, &[("Main.dll", b"MZ")]), "k")
        .await
        .ok();
}

async fn archive_guards(b: Backend) {
    let app = TestApp::with(
        b,
        &[
            ("MICRODOCK_ZIP_MAX_ENTRIES", "5"),
            ("MICRODOCK_ZIP_MAX_UNCOMPRESSED", "3000000"),
        ],
    )
    .await;
    let m = manifest("com.x.y", "1.0.0");
    expect_400(
        &app.upload(
            zip_with(&m, &[("Main.dll", b"MZ"), ("../../evil.dll", b"x")]),
            "k",
        )
        .await,
        "..",
    );
    expect_400(
        &app.upload(
            zip_with(&m, &[("Main.dll", b"MZ"), ("/abs/evil", b"x")]),
            "k",
        )
        .await,
        "绝对路径",
    );
    let many: Vec<(String, Vec<u8>)> = (0..6).map(|i| (format!("f{i}.txt"), vec![b'x'])).collect();
    let refs: Vec<(&str, &[u8])> = std::iter::once(("Main.dll", &b"MZ"[..]))
        .chain(many.iter().map(|(n, d)| (n.as_str(), d.as_slice())))
        .collect();
    expect_400(&app.upload(zip_with(&m, &refs), "k").await, "文件数");
    let bomb = vec![0u8; 2 * 1024 * 1024];
    expect_400(
        &app.upload(
            zip_with(&m, &[("Main.dll", b"MZ"), ("zeros.bin", &bomb)]),
            "k",
        )
        .await,
        "压缩比",
    );
    let random = noise(3_100_000);
    expect_400(
        &app.upload(
            zip_with(&m, &[("Main.dll", b"MZ"), ("big.bin", &random)]),
            "k",
        )
        .await,
        "总大小",
    );
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("plugin.json", SimpleFileOptions::default())
        .unwrap();
    w.write_all(m.to_string().as_bytes()).unwrap();
    w.add_symlink("Main.dll", "/etc/passwd", SimpleFileOptions::default())
        .unwrap();
    expect_400(
        &app.upload(w.finish().unwrap().into_inner(), "k").await,
        "符号链接",
    );
    assert!(app.stored_files("tmp").is_empty());
}

async fn size_limit_while_streaming(b: Backend) {
    let app = TestApp::with(b, &[("MAX_UPLOAD_SIZE", "20000")]).await;
    let big = noise(60_000);
    let r = app
        .upload(
            zip_with(&manifest("com.x.y", "1.0.0"), &[("Main.dll", &big)]),
            "k",
        )
        .await;
    let m = r.err(413, "file_too_large");
    assert!(m.contains("文件大小超过"), "{m}");
    assert!(
        app.stored_files("tmp").is_empty(),
        "partial upload left on disk"
    );
    app.upload(plugin_zip("com.x.y", "1.0.0"), "k").await.ok();
}

async fn upload_secret_when_configured(b: Backend) {
    let app = TestApp::with(b, &[("UPLOAD_SECRET_KEY", "s3cret")]).await;
    app.upload(plugin_zip("com.x.y", "1.0.0"), "k")
        .await
        .err(403, "invalid_upload_secret");
    let form = |secret: &'static str| vec![("plugin_key", "k"), ("upload_secret", secret)];
    app.upload_form(
        "/api/plugins/upload",
        (plugin_zip("com.x.y", "1.0.0"), "p.zip"),
        &form("nope"),
    )
    .await
    .err(403, "invalid_upload_secret");
    app.upload_form(
        "/api/plugins/upload",
        (plugin_zip("com.x.y", "1.0.0"), "p.zip"),
        &form("s3cret"),
    )
    .await
    .ok();
    // Without the setting, a stray upload_secret is accepted and ignored.
    let open = TestApp::spawn(b).await;
    open.upload_form(
        "/api/plugins/upload",
        (plugin_zip("com.x.y", "1.0.0"), "p.zip"),
        &[("plugin_key", "k"), ("upload_secret", "x")],
    )
    .await
    .ok();
}

async fn single_top_level_folder_is_accepted(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("myplugin/plugin.json", SimpleFileOptions::default())
        .unwrap();
    w.write_all(manifest("com.x.folder", "1.0.0").to_string().as_bytes())
        .unwrap();
    w.start_file("myplugin/Main.dll", SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"MZ").unwrap();
    app.upload(w.finish().unwrap().into_inner(), "k").await.ok();
}

async fn form_errors(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.upload_form(
        "/api/plugins/upload",
        (plugin_zip("com.x.y", "1.0.0"), "p.zip"),
        &[],
    )
    .await
    .err(422, "validation_error");
    let form = reqwest::multipart::Form::new().text("plugin_key", "k");
    let r = app
        .server
        .client
        .post(app.server.url("/api/plugins/upload"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = app
        .server
        .client
        .post(app.server.url("/api/plugins/upload"))
        .json(&json!({"plugin_key": "k"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["success"],
        false
    );
}

/// Incompressible bytes (xorshift), so archive sizes are what the test intends.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
