//! Regression (issue 7, item 13): the server refused requests `/openapi.json` allows and
//! accepted one it forbids. A backup id of `3.0` is an integer in JSON Schema but was refused
//! (422); a search ending in U+0085 (a control character that is also white space) was trimmed
//! and accepted although the documented pattern forbids control characters.

use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::TestApp;

backend_tests!(
    integral_numbers_are_ids,
    control_characters_in_search_are_refused
);

async fn integral_numbers_are_ids(b: Backend) {
    let app = TestApp::spawn(b).await;
    let backup = app
        .upload_form(
            "/api/backups/upload",
            (b"data".to_vec(), "a.zip"),
            &[("user_key", "k1"), ("backup_type", "program")],
        )
        .await
        .ok();
    let id = backup["id"].as_i64().unwrap();
    let r = app
        .fetch(
            "/api/backups/download",
            json!({"user_key": "k1", "id": id as f64}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.bytes, b"data");
    // Not an integer, or no key: still a validation error in the envelope.
    for body in [
        json!({"user_key": "k1", "id": id as f64 + 0.5}),
        json!({"user_key": "k1", "id": "1"}),
        json!({"id": id}),
    ] {
        app.post("/api/backups/download", body, None)
            .await
            .err(422, "validation_error");
    }
    let admin = app.admin().await;
    app.post(
        "/api/backups/delete",
        json!({"id": id as f64}),
        Some(&admin),
    )
    .await
    .ok();
}

async fn control_characters_in_search_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.publish("com.a.two", "1.0.0", "k").await;
    for search in ["V%C2%85", "two%0A", "%09two"] {
        app.get(&format!("/api/plugins/list?search={search}"), None)
            .await
            .err(422, "validation_error");
    }
    // White space around a search is still trimmed.
    let found = app
        .get("/api/plugins/list?search=%20two%20", None)
        .await
        .ok();
    assert_eq!(found.as_array().unwrap().len(), 1);
}
