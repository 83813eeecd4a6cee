//! MicroDock's test harness: the kernel's `TestApp` (the real server through
//! `trellis::testing::launch`), zip builders, and helpers named after MicroDock actions.

use std::io::{Cursor, Write};

use serde_json::{Value, json};

pub use trellis_kernel::testing::{Raw, Resp, TEST_ADMIN_PASSWORD as ADMIN_PASSWORD};
use zip::write::SimpleFileOptions;

// Every app mounted: the user API logs the plain user in.
trellis_kernel::test_harness!(TestApp, trellis::testing::launch, |b| b.with_user(
    PLAIN_USER,
    PLAIN_PASSWORD,
    "user"
));

/// A zip with `plugin.json` and the given extra entries.
pub fn zip_with(manifest: &Value, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("plugin.json", SimpleFileOptions::default())
        .unwrap();
    w.write_all(manifest.to_string().as_bytes()).unwrap();
    for (name, data) in extra {
        w.start_file(*name, SimpleFileOptions::default()).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

pub fn manifest(name: &str, version: &str) -> Value {
    json!({"name": name, "version": version, "main": "Main.dll", "entryClass": "Main.Entry",
           "displayName": format!("{name} {version}"), "description": "一个插件", "author": "dev", "license": "MIT",
           "homepage": "https://example.com", "changelog": format!("changes in {version}"),
           "dependencies": {"com.other.plugin": ">=1.0.0"}, "engines": {"MicroDock": ">=2.0.0"}})
}

/// A valid plugin archive.
pub fn plugin_zip(name: &str, version: &str) -> Vec<u8> {
    zip_with(
        &manifest(name, version),
        &[("Main.dll", b"MZ\x90\x00 pretend dll")],
    )
}

const PLAIN_USER: &str = "plainuser";
const PLAIN_PASSWORD: &str = "Plain-User-Pass-1";

impl TestApp {
    /// POST returning raw bytes (downloads), with extra request headers.
    pub async fn fetch(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> Raw {
        self.post_raw(path, body, headers).await
    }

    pub async fn admin(&self) -> String {
        let r = self
            .post(
                "/api/auth/login",
                json!({"username": "admin", "password": ADMIN_PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["token"].as_str().unwrap().to_string()
    }

    /// An ordinary (non-admin) account's valid token (logged in through the user API).
    pub async fn user_token(&self) -> String {
        self.post(
            "/api/v1/users/auth/login",
            json!({"username_or_email": PLAIN_USER, "password": PLAIN_PASSWORD}),
            None,
        )
        .await
        .ok()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn upload_form(
        &self,
        path: &str,
        file: (Vec<u8>, &str),
        fields: &[(&str, &str)],
    ) -> Resp {
        self.post_multipart(path, file, fields).await
    }

    pub async fn upload(&self, zip: Vec<u8>, key: &str) -> Resp {
        self.upload_form(
            "/api/plugins/upload",
            (zip, "plugin.zip"),
            &[("plugin_key", key)],
        )
        .await
    }

    pub async fn publish(&self, name: &str, version: &str, key: &str) -> Value {
        self.upload(plugin_zip(name, version), key).await.ok()
    }

    /// Stored plugin files with the per-upload id segment left out
    /// (`{name}/{uuid}/{file}` -> `{name}/{file}`), sorted.
    pub fn plugin_files(&self) -> Vec<String> {
        let mut files: Vec<String> = self
            .stored_files("plugins")
            .iter()
            .map(|f| {
                let parts: Vec<&str> = f.split('/').collect();
                match parts.as_slice() {
                    [name, id, file] if id.len() == 32 => format!("{name}/{file}"),
                    _ => f.clone(),
                }
            })
            .collect();
        files.sort();
        files
    }

    /// Files under MicroDock's blob area (`plugins`, `backups`), or left in the upload
    /// spool (`tmp`: the local store's `.tmp`).
    pub fn stored_files(&self, area: &str) -> Vec<String> {
        match area {
            "tmp" => self.0.stored_files(".tmp"),
            _ => self.0.stored_files(&format!("microdock/{area}")),
        }
    }
}
