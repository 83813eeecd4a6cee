//! Regression (issue 7, item 13): requests `/openapi.json` allows must not be refused. The
//! logout bodies are optional and nullable in the document, but a JSON `null` body was
//! answered 422.

use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::TestApp;

backend_tests!(logout_accepts_a_null_body);

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
