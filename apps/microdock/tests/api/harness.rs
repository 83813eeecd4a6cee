//! A MicroDock server on an ephemeral port, zip builders, and helpers named after actions.

use std::io::{Cursor, Write};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use trellis_identity::Identity;
use trellis_identity::domain::Role;
use trellis_kernel::envelope::Profiles;
use trellis_kernel::testing::{Backend, TestPlatform, TestServer, platform, serve};
use zip::write::SimpleFileOptions;

pub const ADMIN_PASSWORD: &str = "Adm1n-Test-Password";

pub struct TestApp {
    pub server: TestServer,
    pub t: TestPlatform,
    pub identity: Identity,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(
            self.status.is_success() && self.body["success"] == json!(true),
            "{} {}",
            self.status,
            self.body
        );
        self.body["data"].clone()
    }

    #[track_caller]
    pub fn err(&self, status: u16, code: &str) -> &str {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.body["success"], json!(false), "{}", self.body);
        assert_eq!(self.body["error"], json!(code), "{}", self.body);
        assert!(self.body["data"].is_null());
        self.body["message"].as_str().unwrap_or("")
    }
}

pub struct Raw {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

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

impl TestApp {
    pub async fn spawn(b: Backend) -> TestApp {
        Self::with(b, &[]).await
    }

    pub async fn with(b: Backend, vars: &[(&str, &str)]) -> TestApp {
        let mut all = vec![
            ("RATE_LIMIT_TIMES", "100000"),
            ("TRELLIS_LOGIN_IP_PER_MINUTE", "100000"),
        ];
        all.extend_from_slice(vars);
        let t = platform(b, &all).await;
        t.platform
            .db
            .migrate(&trellis_identity::migrations())
            .await
            .unwrap();
        t.platform
            .db
            .migrate(&trellis_microdock::migrations())
            .await
            .unwrap();
        let identity = Identity::start(t.platform.clone()).await.unwrap();
        let settings =
            trellis_microdock::settings::Settings::from_vars(&t.platform.config.vars).unwrap();
        let (router, api) = trellis_microdock::router(identity.clone(), settings);
        let mut profiles = Profiles::default();
        trellis_microdock::register_envelope(&mut profiles);
        let router = trellis_kernel::http::assemble(router, &t.platform, profiles, api);
        TestApp {
            server: serve(router).await,
            t,
            identity,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let (status, headers, body) = self.server.json(method, path, token, body.as_ref()).await;
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, path, token, None).await
    }

    /// POST returning raw bytes (downloads), with extra request headers.
    pub async fn fetch(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> Raw {
        let mut req = self.server.client.post(self.server.url(path)).json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        Raw {
            status,
            headers,
            bytes: res.bytes().await.unwrap().to_vec(),
        }
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

    /// An ordinary (non-admin) account with a valid token.
    pub async fn user_token(&self) -> String {
        self.identity
            .create_admin(
                "plainuser",
                "plain@example.com",
                "Plain-User-Pass-1",
                Role::User,
            )
            .await
            .unwrap();
        let ctx = trellis_identity::ClientCtx {
            ip: [127, 0, 0, 1].into(),
            user_agent: None,
        };
        self.identity
            .login("plainuser", "Plain-User-Pass-1", &ctx)
            .await
            .unwrap()
            .tokens
            .access_token
    }

    pub async fn upload_form(
        &self,
        path: &str,
        file: (Vec<u8>, &str),
        fields: &[(&str, &str)],
    ) -> Resp {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(file.0).file_name(file.1.to_string()),
        );
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let res = self
            .server
            .client
            .post(self.server.url(path))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let text = res.text().await.unwrap();
        Resp {
            status,
            headers,
            body: serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("not JSON ({status}): {text}")),
        }
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

    /// Files under the data directory's blob store for MicroDock (`plugins`, `backups`, `tmp`).
    pub fn stored_files(&self, area: &str) -> Vec<String> {
        let root = self.t.dir.join("blobs/microdock").join(area);
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else {
                        out.push(p.strip_prefix(&root).unwrap().display().to_string());
                    }
                }
            }
        }
        out.sort();
        out
    }
}
