//! Issue 7 (hardening), MicroDock: faults found by replaying public bug reports and attacking
//! the running server, each pinned here through HTTP on both backends:
//! - item 2: simultaneous first uploads of one name with different keys; backup quotas;
//! - item 3: semver build metadata made two versions of one;
//! - item 4: duplicate archive entries read differently by two readers;
//! - item 5: a stale `If-Range` answered 206;
//! - item 7: .NET's `filename*` / RFC 2047 file names;
//! - item 8: backups sharing a storage key;
//! - item 14: homepage and HTML in display fields, backup keys stored unkeyed, disabled
//!   plugins shown to anonymous callers.

use std::io::{Cursor, Write};

use futures::future::join_all;
use serde_json::json;
use sha2::{Digest, Sha256};
use trellis_kernel::testing::Backend;
use trellis_kernel::{backend_tests, on_db};
use zip::write::SimpleFileOptions;

use crate::harness::{TestApp, manifest, plugin_zip, zip_with};

backend_tests!(
    simultaneous_first_uploads_have_one_owner,
    simultaneous_first_uploads_with_one_key_all_publish,
    backup_quota_holds_under_a_burst,
    backup_count_limit_holds_under_a_burst,
    build_metadata_does_not_make_a_new_version,
    plugin_keys_match_in_any_unicode_normalization,
    plugin_names_are_unique_and_found_in_any_case,
    duplicate_archive_entries_are_refused,
    stale_if_range_sends_the_whole_file,
    list_if_none_match_compares_weakly,
    dotnet_file_names_are_read,
    simultaneous_backups_never_share_a_storage_key,
    display_fields_refuse_html_and_homepage_is_http,
    backup_keys_are_stored_keyed_and_old_rows_still_match,
    disabled_plugins_are_hidden_the_same_way_everywhere
);

/// Item 2 sample: two simultaneous first uploads of one new name with different keys both
/// succeeded, and the loser's version landed under the winner's key.
async fn simultaneous_first_uploads_have_one_owner(b: Backend) {
    let app = TestApp::spawn(b).await;
    let n = 8;
    let keys: Vec<String> = (0..n).map(|i| format!("key-{i}")).collect();
    let answers = join_all(
        (0..n).map(|i| app.upload(plugin_zip("com.race.owner", &format!("1.0.{i}")), &keys[i])),
    )
    .await;
    let mut winners = Vec::new();
    for (i, r) in answers.iter().enumerate() {
        if r.status == 200 {
            winners.push(i);
        } else {
            r.err(403, "invalid_plugin_key");
        }
    }
    assert_eq!(winners.len(), 1, "exactly one key owns the name");
    let winner = winners[0];
    let versions = app
        .post(
            "/api/plugins/versions",
            json!({"name": "com.race.owner"}),
            None,
        )
        .await
        .ok();
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");
    assert_eq!(versions[0]["version"], format!("1.0.{winner}"));
    assert_eq!(
        app.stored_files("plugins").len(),
        1,
        "losers' files removed"
    );
    let other = (winner + 1) % n;
    app.upload(plugin_zip("com.race.owner", "9.0.0"), &keys[other])
        .await
        .err(403, "invalid_plugin_key");
    app.upload(plugin_zip("com.race.owner", "9.0.0"), &keys[winner])
        .await
        .ok();
}

/// Item 2: the owner check inside the transaction must not refuse a concurrent first upload
/// that carries the same key (its own hash differs from the winner's, the key does not).
async fn simultaneous_first_uploads_with_one_key_all_publish(b: Backend) {
    let app = TestApp::spawn(b).await;
    let answers = join_all(
        (0..5).map(|i| app.upload(plugin_zip("com.race.same", &format!("1.{i}.0")), "shared")),
    )
    .await;
    for r in answers {
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let versions = app
        .post(
            "/api/plugins/versions",
            json!({"name": "com.race.same"}),
            None,
        )
        .await
        .ok();
    assert_eq!(versions.as_array().unwrap().len(), 5);
}

async fn backup(app: &TestApp, key: &str, name: String, data: Vec<u8>) -> crate::harness::Resp {
    app.upload_form(
        "/api/backups/upload",
        (data, &name),
        &[("user_key", key), ("backup_type", "program")],
    )
    .await
}

/// Item 2: the per-user byte quota was read before the insert, so a burst of uploads each saw
/// the room only one of them had.
async fn backup_quota_holds_under_a_burst(b: Backend) {
    let app = TestApp::with(b, &[("BACKUP_QUOTA_BYTES", "3000")]).await;
    let answers = join_all(
        (0..8).map(|i| backup(&app, "burst-user", format!("b{i}.zip"), vec![i as u8; 1000])),
    )
    .await;
    let ok = answers.iter().filter(|r| r.status == 200).count();
    for r in answers.iter().filter(|r| r.status != 200) {
        r.err(507, "backup_quota_exceeded");
    }
    assert_eq!(ok, 3, "exactly the quota's worth is accepted");
    let list = app
        .post("/api/backups/list", json!({"user_key": "burst-user"}), None)
        .await
        .ok();
    assert_eq!(list["total"], 3);
    assert_eq!(
        app.stored_files("backups").len(),
        3,
        "refused files removed"
    );
}

/// Item 2: `BACKUP_MAX_PER_USER` under a burst keeps exactly the newest N rows and files.
async fn backup_count_limit_holds_under_a_burst(b: Backend) {
    let app = TestApp::with(b, &[("BACKUP_MAX_PER_USER", "3")]).await;
    let answers = join_all(
        (0..10).map(|i| backup(&app, "many-user", format!("m{i}.zip"), vec![i as u8; 10])),
    )
    .await;
    for r in answers {
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let list = app
        .post("/api/backups/list", json!({"user_key": "many-user"}), None)
        .await
        .ok();
    assert_eq!(list["total"], 3);
    assert_eq!(app.stored_files("backups").len(), 3);
}

/// Item 3 sample: `1.0.0+a` and `1.0.0+b` were stored as two versions and `version/download`
/// of `1.0.0` answered 404.
async fn build_metadata_does_not_make_a_new_version(b: Backend) {
    let app = TestApp::spawn(b).await;
    let zip = plugin_zip("com.semver.build", "1.0.0+a");
    let p = app.upload(zip.clone(), "k").await.ok();
    assert_eq!(p["current_version"], "1.0.0");
    app.upload(plugin_zip("com.semver.build", "1.0.0+b"), "k")
        .await
        .err(409, "version_exists");
    let r = app
        .fetch(
            "/api/plugins/version/download",
            json!({"name": "com.semver.build", "version": "1.0.0"}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.bytes, zip);
    let v = app
        .post(
            "/api/plugins/version/detail",
            json!({"name": "com.semver.build", "version": "1.0.0+anything"}),
            None,
        )
        .await
        .ok();
    assert_eq!(v["version"], "1.0.0");
    app.post(
        "/api/plugins/version/detail",
        json!({"name": "com.semver.build", "version": "v1"}),
        None,
    )
    .await
    .err(404, "version_not_found");
    let versions = app
        .post(
            "/api/plugins/versions",
            json!({"name": "com.semver.build"}),
            None,
        )
        .await
        .ok();
    assert_eq!(versions.as_array().unwrap().len(), 1);
}

/// Item 3: a key registered in NFC (`Schlüssel-Grün`) was refused typed in NFD (what macOS
/// input sends); keys compare in NFC, on upload and after rotation.
async fn plugin_keys_match_in_any_unicode_normalization(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin().await;
    let nfc = "Schl\u{fc}ssel-Gr\u{fc}n-9";
    let nfd = "Schlu\u{308}ssel-Gru\u{308}n-9";
    app.publish("com.nfc.p", "1.0.0", nfc).await;
    app.upload(plugin_zip("com.nfc.p", "1.1.0"), nfd).await.ok();
    app.post(
        "/api/plugins/rotate-key",
        json!({"name": "com.nfc.p", "new_key": "Pa\u{308}sse"}),
        Some(&admin),
    )
    .await
    .ok();
    app.upload(plugin_zip("com.nfc.p", "1.2.0"), "P\u{e4}sse")
        .await
        .ok();
    app.upload(plugin_zip("com.nfc.p", "1.3.0"), nfc)
        .await
        .err(403, "invalid_plugin_key");
}

/// Item 3: `Com.Case.P` could be published beside `com.case.p` (by another key) and
/// lookups depended on the case typed; names are unique and found in ASCII lower case.
async fn plugin_names_are_unique_and_found_in_any_case(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.publish("com.case.p", "1.0.0", "k").await;
    for key in ["k", "attacker"] {
        app.upload(plugin_zip("Com.Case.P", "2.0.0"), key)
            .await
            .err(409, "plugin_name_taken");
    }
    let d = app
        .post("/api/plugins/detail", json!({"name": "COM.CASE.P"}), None)
        .await
        .ok();
    assert_eq!(d["plugin"]["name"], "com.case.p");
    let r = app
        .fetch(
            "/api/plugins/version/download",
            json!({"name": "Com.Case.p", "version": "1.0.0"}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    // Simultaneous first uploads of one name in different cases: one owner.
    let answers = join_all(
        ["org.Race.X", "org.race.x", "ORG.RACE.X"]
            .iter()
            .enumerate()
            .map(|(i, n)| app.upload(plugin_zip(n, "1.0.0"), if i == 0 { "a" } else { "b" })),
    )
    .await;
    let ok = answers.iter().filter(|r| r.status == 200).count();
    assert!(ok >= 1, "one of them publishes");
    let list = app.get("/api/plugins/list", None).await.ok();
    let races = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["name"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("org.race.x")
        })
        .count();
    assert_eq!(races, 1, "{list}");
}

fn rename_everywhere(mut zip: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    for i in 0..=zip.len() - from.len() {
        if &zip[i..i + from.len()] == from {
            zip[i..i + from.len()].copy_from_slice(to);
        }
    }
    zip
}

/// Item 4 sample: an archive with two `plugin.json` entries was accepted (the server read the
/// last, the .NET client the first); a bomb behind a same-named entry passed the guards.
async fn duplicate_archive_entries_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let first = manifest("com.dup.first", "1.0.0");
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("plugin.json", SimpleFileOptions::default())
        .unwrap();
    w.write_all(first.to_string().as_bytes()).unwrap();
    w.start_file("Main.dll", SimpleFileOptions::default())
        .unwrap();
    w.write_all(b"MZ").unwrap();
    w.start_file("plugim.json", SimpleFileOptions::default())
        .unwrap();
    w.write_all(manifest("com.dup.last", "1.0.0").to_string().as_bytes())
        .unwrap();
    let zip = rename_everywhere(
        w.finish().unwrap().into_inner(),
        b"plugim.json",
        b"plugin.json",
    );
    let r = app.upload(zip, "k").await;
    let m = r.err(400, "invalid_plugin_file");
    assert!(m.contains("重复"), "{m}");
    let cased = zip_with(
        &manifest("com.dup.case", "1.0.0"),
        &[("Main.dll", b"MZ"), ("main.DLL", b"other")],
    );
    let m = app
        .upload(cased, "k")
        .await
        .err(400, "invalid_plugin_file")
        .to_string();
    assert!(m.contains("重复"), "{m}");
    assert!(app.stored_files("plugins").is_empty());
    assert_eq!(app.get("/api/plugins/list", None).await.ok(), json!([]));
}

/// Item 5 sample: `Range: bytes=100-` with `If-Range: "stale"` answered 206 with a partial
/// body; it must be 200 with the whole file (and that counts as a download).
async fn stale_if_range_sends_the_whole_file(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut m = manifest("com.range.p", "1.0.0");
    m["description"] = json!("x".repeat(300));
    let zip = zip_with(&m, &[("Main.dll", b"MZ\x90\x00 pretend dll")]);
    app.upload(zip.clone(), "k").await.ok();
    let body = json!({"name": "com.range.p"});
    let r = app
        .fetch(
            "/api/plugins/download",
            body.clone(),
            &[("range", "bytes=100-"), ("if-range", "\"stale\"")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.bytes, zip);
    assert!(r.headers.get("content-range").is_none());
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    let r = app
        .fetch(
            "/api/plugins/download",
            body.clone(),
            &[("range", "bytes=100-"), ("if-range", &etag)],
        )
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(r.bytes, zip[100..]);
    let r = app
        .fetch(
            "/api/plugins/download",
            body.clone(),
            &[("if-match", "\"other\"")],
        )
        .await;
    assert_eq!(r.status, 412);
    let e: serde_json::Value = serde_json::from_slice(&r.bytes).unwrap();
    assert_eq!(e["error"], "precondition_failed");
    let r = app
        .fetch(
            "/api/plugins/download",
            body,
            &[("if-none-match", &format!("W/{etag}"))],
        )
        .await;
    assert_eq!(r.status, 304, "If-None-Match compares weakly");
}

/// Item 5: the list compared `If-None-Match` byte for byte, so `W/"…"` (what proxies that
/// compress turn the tag into) and `*` never matched.
async fn list_if_none_match_compares_weakly(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.publish("com.etag.p", "1.0.0", "k").await;
    let res = app
        .server
        .client
        .get(app.server.url("/api/plugins/list"))
        .send()
        .await
        .unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    for tag in [etag.clone(), format!("W/{etag}"), "*".to_string()] {
        let res = app
            .server
            .client
            .get(app.server.url("/api/plugins/list"))
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 304, "{tag}");
    }
}

/// A multipart body with one file part whose `Content-Disposition` is `disposition`.
async fn raw_multipart(
    app: &TestApp,
    path: &str,
    disposition: &str,
    file: &[u8],
    fields: &[(&str, &str)],
) -> crate::harness::Resp {
    let boundary = "----trellis-boundary-7";
    let mut body = Vec::new();
    for (k, v) in fields {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        )
        .unwrap();
    }
    write!(
        body,
        "--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .unwrap();
    body.extend_from_slice(file);
    write!(body, "\r\n--{boundary}--\r\n").unwrap();
    let res = app
        .server
        .client
        .post(app.server.url(path))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    crate::harness::Resp {
        status,
        headers,
        body,
    }
}

/// Item 7 sample: .NET's `MultipartFormDataContent` writes a non-ASCII name as
/// `filename="=?utf-8?B?…?="; filename*=utf-8''…`: the plugin upload answered "仅支持 .zip"
/// and a backup was stored as `__utf-8_B_…`.
async fn dotnet_file_names_are_read(b: Backend) {
    let app = TestApp::spawn(b).await;
    let dotnet = "form-data; name=file; filename=\"=?utf-8?B?5o+S5Lu2LnppcA==?=\"; filename*=utf-8''%E6%8F%92%E4%BB%B6.zip";
    let r = raw_multipart(
        &app,
        "/api/plugins/upload",
        dotnet,
        &plugin_zip("com.dotnet.p", "1.0.0"),
        &[("plugin_key", "k")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = raw_multipart(
        &app,
        "/api/backups/upload",
        dotnet,
        b"backup bytes",
        &[("user_key", "dotnet-user"), ("backup_type", "program")],
    )
    .await;
    assert_eq!(r.ok()["file_name"], "插件.zip");
    let only_2047 = "form-data; name=\"file\"; filename=\"=?utf-8?B?5aSH5Lu9LnppcA==?=\"";
    let r = raw_multipart(
        &app,
        "/api/backups/upload",
        only_2047,
        b"x",
        &[("user_key", "dotnet-user"), ("backup_type", "program")],
    )
    .await;
    assert_eq!(r.ok()["file_name"], "备份.zip");
}

/// Item 8 sample: 12 concurrent backups from one key with one file name: two pairs got the
/// same storage path, so one served another's bytes and deleting one made the other 404.
async fn simultaneous_backups_never_share_a_storage_key(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin().await;
    let answers = join_all((0..12).map(|i| {
        backup(
            &app,
            "same-user",
            "same.zip".into(),
            format!("content {i}").into_bytes(),
        )
    }))
    .await;
    let mut saved = Vec::new();
    for r in answers {
        saved.push(r.ok());
    }
    let mut paths: Vec<&str> = saved
        .iter()
        .map(|s| s["file_path"].as_str().unwrap())
        .collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(paths.len(), 12, "every backup has its own storage key");
    let first = saved[0]["id"].as_i64().unwrap();
    app.post("/api/backups/delete", json!({"id": first}), Some(&admin))
        .await
        .ok();
    for s in &saved[1..] {
        let r = app
            .fetch(
                "/api/backups/download",
                json!({"user_key": "same-user", "id": s["id"]}),
                &[],
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            hex::encode(Sha256::digest(&r.bytes)),
            s["file_hash"].as_str().unwrap(),
            "each backup serves its own bytes"
        );
    }
}

/// Item 14: the console renders display fields and links the homepage.
async fn display_fields_refuse_html_and_homepage_is_http(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin().await;
    for (field, value) in [
        ("homepage", "javascript:alert(1)"),
        ("homepage", "file:///etc/passwd"),
        ("displayName", "<script>alert(1)</script>"),
        ("description", "hi <img src=x onerror=alert(1)>"),
        ("author", "<b>me</b>"),
    ] {
        let mut m = manifest("com.html.p", "1.0.0");
        m[field] = json!(value);
        let r = app.upload(zip_with(&m, &[("Main.dll", b"MZ")]), "k").await;
        let msg = r.err(400, "invalid_plugin_file");
        assert!(msg.contains(field), "{field}: {msg}");
    }
    let mut m = manifest("com.html.p", "1.0.0");
    m["description"] = json!("a < b, 1 <= 2");
    app.upload(zip_with(&m, &[("Main.dll", b"MZ")]), "k")
        .await
        .ok();
    app.post(
        "/api/plugins/deprecate",
        json!({"name": "com.html.p", "message": "<a href=x>new</a>"}),
        Some(&admin),
    )
    .await
    .err(422, "validation_error");
    let r = app
        .upload_form(
            "/api/backups/upload",
            (b"x".to_vec(), "a.zip"),
            &[
                ("user_key", "u1"),
                ("backup_type", "program"),
                ("description", "<iframe src=x>"),
            ],
        )
        .await;
    r.err(422, "validation_error");
}

/// Item 14: backup keys were stored as unsalted SHA-256 (and admins saw their first three
/// characters); now a keyed hash, while rows written before still answer their key.
async fn backup_keys_are_stored_keyed_and_old_rows_still_match(b: Backend) {
    let app = TestApp::spawn(b).await;
    let saved = backup(&app, "keyed-user", "k.zip".into(), b"new".to_vec())
        .await
        .ok();
    let sha = hex::encode(Sha256::digest(b"keyed-user"));
    let db = &app.t.platform.db;
    let stored: String =
        on_db!(db, pool => sqlx::query_scalar("SELECT user_key_hash FROM backups WHERE id = $1")
        .bind(saved["id"].as_i64().unwrap()).fetch_one(pool).await)
        .unwrap();
    assert_ne!(stored, sha, "the key is not stored as its plain SHA-256");
    assert!(!saved["file_path"].as_str().unwrap().contains(&sha[..16]));
    // A row from before the change (plain SHA-256) is still found by its key.
    let old_path = saved["file_path"].as_str().unwrap().to_string();
    on_db!(db, pool => sqlx::query(
        "INSERT INTO backups (user_key_hash, user_key_hint, backup_type, plugin_name, file_name, file_path, file_size, \
         file_hash, description, created_at) SELECT $1, 'key***', backup_type, plugin_name, 'old.zip', file_path, file_size, \
         file_hash, description, created_at FROM backups WHERE id = $2")
        .bind(&sha).bind(saved["id"].as_i64().unwrap()).execute(pool).await.map(|_| ()))
    .unwrap();
    let list = app
        .post("/api/backups/list", json!({"user_key": "keyed-user"}), None)
        .await
        .ok();
    assert_eq!(list["total"], 2, "{list}");
    assert!(
        list["backups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["file_path"] == old_path)
    );
    let others = app
        .post("/api/backups/list", json!({"user_key": "other-user"}), None)
        .await
        .ok();
    assert_eq!(others["total"], 0);
}

/// Item 14: a disabled plugin was hidden from the list but its detail, versions and version
/// detail answered anyone; now all answer 403 `plugin_disabled` to anonymous callers (and
/// downloads to everyone), while administrators still see it.
async fn disabled_plugins_are_hidden_the_same_way_everywhere(b: Backend) {
    let app = TestApp::spawn(b).await;
    let admin = app.admin().await;
    app.publish("com.hidden.p", "1.0.0", "k").await;
    app.post(
        "/api/plugins/disable",
        json!({"name": "com.hidden.p"}),
        Some(&admin),
    )
    .await
    .ok();
    let name = json!({"name": "com.hidden.p"});
    let ver = json!({"name": "com.hidden.p", "version": "1.0.0"});
    for (path, body) in [
        ("/api/plugins/detail", &name),
        ("/api/plugins/versions", &name),
        ("/api/plugins/version/detail", &ver),
    ] {
        app.post(path, body.clone(), None)
            .await
            .err(403, "plugin_disabled");
        app.post(path, body.clone(), Some(&admin)).await.ok();
    }
    for (path, body) in [
        ("/api/plugins/download", &name),
        ("/api/plugins/version/download", &ver),
    ] {
        let r = app.fetch(path, body.clone(), &[]).await;
        assert_eq!(r.status, 403);
        let e: serde_json::Value = serde_json::from_slice(&r.bytes).unwrap();
        assert_eq!(e["error"], "plugin_disabled");
    }
}
