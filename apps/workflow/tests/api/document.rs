//! Regression (issue 7, item 13): requests `/openapi.json` allows must not be refused. The
//! logout bodies are optional and nullable in the document, but a JSON `null` body was
//! answered 422. And one the other way: an admin search of only control characters (`\t`)
//! was dropped as blank and accepted, although the document forbids control characters.

use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::TestApp;

backend_tests!(
    logout_accepts_a_null_body,
    control_characters_in_search_are_refused
);

async fn logout_accepts_a_null_body(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, t) = app.user("nola").await;
    app.post("/api/v1/users/public/logout", json!(null))
        .await
        .ok();
    app.post_auth("/api/v1/users/auth/logout", &t.access, json!(null))
        .await
        .ok();
    // The session is gone, as with any other logout.
    app.get("/api/v1/users/me", Some(&t.access))
        .await
        .err(401, "TOKEN_REVOKED");
    // A body of the wrong shape is still refused.
    app.post("/api/v1/users/public/logout", json!({"refresh_token": 5}))
        .await
        .err(422, "VALIDATION_ERROR");
}

async fn control_characters_in_search_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.user("olga").await;
    let admin = app.admin().await;
    for search in ["%09", "ol%0Aga", "%C2%85"] {
        app.get(
            &format!("/api/v1/users/admin/users?search={search}"),
            Some(&admin.access),
        )
        .await
        .err(422, "VALIDATION_ERROR");
    }
    // Blank is still "no filter", and a plain search still finds.
    let all = app
        .get(
            "/api/v1/users/admin/users?search=%20%20",
            Some(&admin.access),
        )
        .await
        .ok();
    assert!(all["total"].as_i64().unwrap() >= 2);
    let found = app
        .get("/api/v1/users/admin/users?search=olg", Some(&admin.access))
        .await
        .ok();
    assert_eq!(found["total"], 1);
}
