//! Framework rejections and limits come out in the workflow envelope with the right status.

use reqwest::Method;
use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::TestApp;

backend_tests!(
    framework_rejections_use_the_envelope,
    global_rate_limit,
    request_ids
);

async fn framework_rejections_use_the_envelope(b: Backend) {
    let app = TestApp::with(b, &[("MAX_REQUEST_SIZE", "4096")]).await;
    let url = app.server.url("/api/v1/users/auth/login");
    let c = &app.server.client;
    let parse = |t: String| serde_json::from_str::<serde_json::Value>(&t).unwrap();
    let r = c
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(parse(r.text().await.unwrap())["error"], "INVALID_JSON");
    let r = c
        .post(&url)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(
        parse(r.text().await.unwrap())["error"],
        "UNSUPPORTED_MEDIA_TYPE"
    );
    let r = c
        .post(&url)
        .json(&json!({"username_or_email": 5, "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let big = json!({"username_or_email": "a".repeat(10_000), "password": "x"});
    let r = c.post(&url).json(&big).send().await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(parse(r.text().await.unwrap())["error"], "PAYLOAD_TOO_LARGE");
    app.call(Method::GET, "/api/v1/users/auth/login", None, None)
        .await
        .err(405, "METHOD_NOT_ALLOWED");
    app.call(Method::GET, "/api/v1/users/nothing-here", None, None)
        .await
        .err(404, "NOT_FOUND");
}

async fn global_rate_limit(b: Backend) {
    let app = TestApp::with(
        b,
        &[("RATE_LIMIT_TIMES", "5"), ("RATE_LIMIT_SECONDS", "60")],
    )
    .await;
    for i in 0..5 {
        let r = app
            .get("/api/v1/users/auth/check-username?username=abc", None)
            .await;
        assert_eq!(r.headers["x-ratelimit-limit"], "5");
        assert_eq!(
            r.headers["x-ratelimit-remaining"],
            (4 - i).to_string().as_str()
        );
        assert!(r.headers.contains_key("x-ratelimit-reset"));
    }
    let r = app
        .get("/api/v1/users/auth/check-username?username=abc", None)
        .await;
    r.err(429, "RATE_LIMITED");
    assert!(
        r.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(r.headers["x-ratelimit-remaining"], "0");
    // Health checks are never throttled.
    let h = app
        .server
        .client
        .get(app.server.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200);
}

async fn request_ids(b: Backend) {
    let app = TestApp::spawn(b).await;
    let r = app.get("/api/v1/users/me", None).await;
    let rid = r.headers["x-request-id"].to_str().unwrap();
    assert_eq!(r.body["request_id"], rid);
    let r = app
        .server
        .client
        .get(
            app.server
                .url("/api/v1/users/auth/check-email?email=a@example.com"),
        )
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "client-chosen-42");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["request_id"], "client-chosen-42");
    assert_eq!(body["success"], true);
}
