//! The assembled server: common endpoints, headers, and a fuzz pass over every documented
//! route that must never produce a 500 or a body outside the envelope.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

use reqwest::{Method, StatusCode};
use serde_json::Value;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::{Backend, TestApp};

/// The real server (`trellis::build_on` + `trellis::run`) with rate limits off.
async fn spawn(b: Backend, vars: &[(&str, &str)]) -> TestApp {
    TestApp::new(b)
        .with_vars(&[("RATE_LIMIT_ENABLED", "false")])
        .with_vars(vars)
        .start(trellis::testing::launch)
        .await
}

backend_tests!(
    health_reports_components,
    metrics_count_requests_by_route,
    openapi_documents_every_route_and_docs_render_offline,
    security_headers_cors_and_gzip,
    malformed_input_never_yields_500_or_a_bare_body
);

async fn health_reports_components(b: Backend) {
    let app = spawn(b, &[]).await;
    let (s, t) = (&app.server, &app.t);
    let r = s.client.get(s.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h: Value = r.json().await.unwrap();
    assert_eq!(h["status"], "healthy");
    assert_eq!(h["database"], "healthy");
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    assert!(h["timestamp"].is_string());
    let expected_redis = if b == Backend::Services {
        "healthy"
    } else {
        "in-process"
    };
    assert_eq!(h["redis"], expected_redis);
    // With the database gone, health says so with a 503.
    t.platform.db.close().await;
    let r = s.client.get(s.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let h: Value = r.json().await.unwrap();
    assert_eq!(h["database"], "unhealthy");
    assert_eq!(h["status"], "unhealthy");
}

async fn metrics_count_requests_by_route(b: Backend) {
    let app = spawn(b, &[]).await;
    let s = &app.server;
    for _ in 0..3 {
        s.client
            .get(s.url("/api/v1/users/me"))
            .send()
            .await
            .unwrap();
    }
    let text = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/api/v1/users/me",status="401"} 3"#
        ),
        "{text}"
    );
    assert!(text.contains("http_request_duration_seconds_bucket{"));
    assert!(text.contains("http_requests_in_flight"));
}

async fn openapi_documents_every_route_and_docs_render_offline(b: Backend) {
    let app = spawn(b, &[]).await;
    let s = &app.server;
    let doc: Value = s
        .client
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("get", "/health"),
        ("get", "/metrics"),
        ("post", "/api/v1/users/public/send-verification-code"),
        ("post", "/api/v1/users/public/logout"),
        ("post", "/api/v1/users/auth/register"),
        ("post", "/api/v1/users/auth/login"),
        ("post", "/api/v1/users/auth/refresh"),
        ("post", "/api/v1/users/auth/logout"),
        ("post", "/api/v1/users/auth/reset-password"),
        ("post", "/api/v1/users/auth/send-verification-code"),
        ("get", "/api/v1/users/auth/check-username"),
        ("get", "/api/v1/users/auth/check-email"),
        ("get", "/api/v1/users/me"),
        ("put", "/api/v1/users/me/profile"),
        ("post", "/api/v1/users/me/change-password"),
        ("get", "/api/v1/users/me/sessions"),
        ("delete", "/api/v1/users/me/sessions/{id}"),
        ("post", "/api/v1/users/me/sessions/revoke-others"),
        ("get", "/api/v1/users/admin/users"),
        ("put", "/api/v1/users/admin/users/{user_id}/status"),
        ("put", "/api/v1/users/admin/users/{user_id}/role"),
        ("post", "/api/v1/users/admin/users/{user_id}/unlock"),
        ("delete", "/api/v1/users/admin/users/{user_id}"),
        ("get", "/api/v1/users/admin/users/{user_id}/audit"),
    ];
    for (m, p) in expected {
        assert!(
            paths.get(p).and_then(|o| o.get(m)).is_some(),
            "{m} {p} not documented"
        );
    }
    let r = s.client.get(s.url("/docs/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("swagger-ui"));
    assert!(
        !html.contains("https://"),
        "docs page must not load anything from the network"
    );
    let r = s
        .client
        .get(s.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn security_headers_cors_and_gzip(b: Backend) {
    let app = spawn(b, &[("CORS_ORIGINS", "http://localhost:5174")]).await;
    let s = &app.server;
    let r = s.client.get(s.url("/health")).send().await.unwrap();
    for (h, v) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("x-xss-protection", "1; mode=block"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("content-security-policy", "default-src 'self'"),
    ] {
        assert_eq!(r.headers()[h], v, "{h}");
    }
    let r = s
        .client
        .request(Method::OPTIONS, s.url("/api/v1/users/auth/login"))
        .header("origin", "http://localhost:5174")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:5174"
    );
    let r = s
        .client
        .request(Method::OPTIONS, s.url("/api/v1/users/auth/login"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    let r = s
        .client
        .get(s.url("/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
}

/// Bodies a careless or hostile client might send.
fn bad_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    vec![
        ("application/json", b"".to_vec()),
        ("application/json", b"{".to_vec()),
        ("application/json", b"null".to_vec()),
        ("application/json", b"[]".to_vec()),
        (
            "application/json",
            b"{\"email\": 5, \"username\": [], \"password\": {}}".to_vec(),
        ),
        (
            "application/json",
            b"{\"username_or_email\": \"\\u0000\", \"password\": \"\"}".to_vec(),
        ),
        ("application/json", deep.into_bytes()),
        ("application/json", vec![0xff, 0xfe, 0x00, 0x7b]),
        ("text/plain", b"hello".to_vec()),
        ("application/x-www-form-urlencoded", b"a=b".to_vec()),
    ]
}

async fn malformed_input_never_yields_500_or_a_bare_body(b: Backend) {
    let app = spawn(b, &[("MAX_REQUEST_SIZE", "65536")]).await;
    let s = &app.server;
    let doc: Value = s
        .client
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        // /health and /metrics take no input and answer in their own documented formats.
        if !path.starts_with("/api/") {
            continue;
        }
        for variant in [
            "00000000-0000-0000-0000-000000000000",
            "not-a-uuid",
            "%2e%2e%2f%2e%2e",
            "9999999999999999999999",
        ] {
            let concrete = path.replace("{id}", variant).replace("{user_id}", variant);
            for method in ops.as_object().unwrap().keys() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                for auth in [None, Some("Bearer garbage"), Some("Basic Zm9vOmJhcg==")] {
                    for (ct, body) in bad_bodies() {
                        let mut req = s
                            .client
                            .request(
                                method.clone(),
                                s.url(&format!("{concrete}?page=-1&page_size=x&email=%00")),
                            )
                            .header("content-type", ct)
                            .body(body);
                        if let Some(a) = auth {
                            req = req.header("authorization", a);
                        }
                        let r = req.send().await.unwrap();
                        let status = r.status();
                        let ct = r
                            .headers()
                            .get("content-type")
                            .map(|v| v.to_str().unwrap().to_string());
                        let text = r.text().await.unwrap();
                        assert!(
                            status < StatusCode::INTERNAL_SERVER_ERROR,
                            "{method} {concrete} ({auth:?}): {status} {text}"
                        );
                        assert_eq!(
                            ct.as_deref(),
                            Some("application/json"),
                            "{method} {concrete}: {text}"
                        );
                        let v: Value = serde_json::from_str(&text)
                            .unwrap_or_else(|_| panic!("{method} {concrete}: not JSON: {text}"));
                        // `success` (workflow, Momentum, MicroDock) or `code` (the diet
                        // planner's `{code, message, detail}`).
                        assert!(
                            v.get("success").is_some() || v.get("code").is_some(),
                            "{method} {concrete}: not an envelope: {text}"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 500, "only {checked} requests checked");
}
