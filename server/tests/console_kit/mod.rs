//! What the console tests share: the server, a cookie-keeping HTTP "browser" without a
//! browser (it follows no redirects, so each step's status and `Location` are checked), and
//! a plugin archive builder.

#![allow(
    dead_code,
    unused_imports,
    reason = "each test binary that includes this kit uses a different part of it"
)]

pub mod browser;

use std::collections::BTreeMap;
use std::io::{Cursor, Write};

use reqwest::header::HeaderMap;
use trellis_kernel::testing::{Backend, TestApp};

pub use trellis_kernel::testing::TEST_ADMIN_PASSWORD as ADMIN_PASSWORD;

/// An ordinary account the tests sign in as.
pub const USER: &str = "plainuser";
/// Its password.
pub const USER_PASSWORD: &str = "Plain-User-Pass-1";

/// The real server with every app, rate limits off, and [`USER`].
pub async fn spawn(b: Backend) -> TestApp {
    TestApp::new(b)
        .with_vars(&[("RATE_LIMIT_ENABLED", "false")])
        .with_user(USER, USER_PASSWORD, "user")
        .start(trellis::testing::launch)
        .await
}

/// A plugin archive MicroDock accepts.
pub fn plugin_zip(name: &str, version: &str) -> Vec<u8> {
    let manifest = serde_json::json!({"name": name, "version": version, "main": "Main.dll",
        "entryClass": "Main.Entry", "displayName": format!("{name} {version}"),
        "description": "控制台测试插件", "author": "dev", "license": "MIT",
        "changelog": format!("changes in {version}")});
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    w.start_file("plugin.json", opts).unwrap();
    w.write_all(manifest.to_string().as_bytes()).unwrap();
    w.start_file("Main.dll", opts).unwrap();
    w.write_all(b"MZ\x90\x00 pretend dll").unwrap();
    w.finish().unwrap().into_inner()
}

/// The text between `start` and the next `end` in `s` (panics when absent).
pub fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let i = s
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in page"))
        + start.len();
    let j = s[i..].find(end).unwrap() + i;
    &s[i..j]
}

/// One response.
pub struct Page {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body as text (lossy).
    pub body: String,
    /// Body length as sent (before any decompression; reqwest here does not decompress).
    pub raw_len: usize,
    /// `Set-Cookie` values.
    pub set_cookies: Vec<String>,
}

impl Page {
    /// A header's value ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The `Location` header.
    pub fn location(&self) -> &str {
        self.header("location")
    }
}

/// A cookie-keeping client for the console.
pub struct Browserless {
    base: String,
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
    /// The CSRF token of the last HTML page seen.
    pub csrf: Option<String>,
    /// `Accept-Language` to send.
    pub accept_language: Option<String>,
}

impl Browserless {
    /// A fresh browser (no cookies).
    pub fn new(app: &TestApp) -> Browserless {
        Browserless {
            base: app.server.base_url.clone(),
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            csrf: None,
            accept_language: None,
        }
    }

    /// A cookie's current value.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.get(name).cloned()
    }

    /// Sets a cookie by hand.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.into(), value.into());
    }

    fn prepare(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let mut req = req;
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header("cookie", c.join("; "));
        }
        if let Some(l) = &self.accept_language {
            req = req.header("accept-language", l);
        }
        req
    }

    async fn finish(&mut self, r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let set_cookies: Vec<String> = headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        let bytes = r.bytes().await.unwrap();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(i) = body.find(r#"name="csrf_token" value=""#) {
            let rest = &body[i + r#"name="csrf_token" value=""#.len()..];
            self.csrf = rest.split('"').next().map(str::to_owned);
        }
        Page {
            status,
            headers,
            raw_len: bytes.len(),
            body,
            set_cookies,
        }
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Page {
        self.get_with(path, &[]).await
    }

    /// `GET path` with extra headers.
    pub async fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut req = self.prepare(self.client.get(format!("{}{path}", self.base)));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        self.finish(r).await
    }

    /// Posts a urlencoded form with this browser's CSRF token added.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(t) = &self.csrf {
            all.push(("csrf_token".into(), t.clone()));
        }
        let body: String = form_body(&all);
        self.post_raw(path, &body, "application/x-www-form-urlencoded", None)
            .await
    }

    /// Posts `body` as is, with an optional `X-CSRF-Token` header.
    pub async fn post_raw(
        &mut self,
        path: &str,
        body: &str,
        content_type: &str,
        token: Option<&str>,
    ) -> Page {
        let mut req = self
            .prepare(self.client.post(format!("{}{path}", self.base)))
            .header("content-type", content_type)
            .body(body.to_string());
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        let r = req.send().await.unwrap();
        self.finish(r).await
    }

    async fn multipart(
        &mut self,
        path: &str,
        file_name: &str,
        bytes: &[u8],
        fields: &[(&str, &str)],
        scripted: bool,
    ) -> Page {
        let token = self.csrf.clone().unwrap_or_default();
        let mut form = reqwest::multipart::Form::new().text("csrf_token", token.clone());
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(file_name.to_string()),
        );
        let mut req = self.prepare(if scripted {
            self.client
                .post(format!("{}{path}", self.base))
                .header("x-csrf-token", &token)
                .header("x-console-upload", "1")
        } else {
            self.client
                .post(format!("{}{path}?csrf_token={token}", self.base))
        });
        req = req.multipart(form);
        let r = req.send().await.unwrap();
        self.finish(r).await
    }

    /// Uploads like the plain form (token in the action's query).
    pub async fn upload(
        &mut self,
        path: &str,
        file_name: &str,
        bytes: &[u8],
        fields: &[(&str, &str)],
    ) -> Page {
        self.multipart(path, file_name, bytes, fields, false).await
    }

    /// Uploads like `console.js` (token in a header, JSON answer).
    pub async fn upload_scripted(
        &mut self,
        path: &str,
        file_name: &str,
        bytes: &[u8],
        fields: &[(&str, &str)],
    ) -> Page {
        self.multipart(path, file_name, bytes, fields, true).await
    }

    /// Signs in through the login form.
    pub async fn sign_in(&mut self, username: &str, password: &str) {
        self.get("/console/login").await;
        let r = self
            .post_form(
                "/console/login",
                &[("username", username), ("password", password)],
            )
            .await;
        assert_eq!(r.status, 303, "sign in {username}: {}", r.body);
        // A page of the signed-in session, for its CSRF token.
        let home = self.get("/console/").await;
        assert_eq!(home.status, 200);
    }
}

fn form_body(fields: &[(String, String)]) -> String {
    let mut s = String::new();
    for (k, v) in fields {
        if !s.is_empty() {
            s.push('&');
        }
        s.push_str(&enc(k));
        s.push('=');
        s.push_str(&enc(v));
    }
    s
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
