//! Regression (API gate, schemathesis against a started server): Momentum's part of
//! `/openapi.json` did not state what the server enforces, and the server took what the
//! document refuses. Text fields had no pattern for blank or control-character values, URLs
//! and e-mail addresses no shape, enums no values, required body fields were optional;
//! a nullable id or date with only a `format` was drawn as `""` by the fuzzer as a valid
//! value; `3.0` for an integer `position` was refused; `GET /sync/delta?limit=0`,
//! `GET /projects?status_id=` and blank-but-controlled text were accepted; login with a
//! blank `email` and a good `username` was refused; an admin answering an invitation got 404
//! right after creating it.

use serde_json::{Value, json};

use crate::harness::{PASSWORD, Resp, TestApp};
use trellis_kernel::testing::Backend;

trellis_kernel::backend_tests!(
    request_text_fields_state_their_rules,
    nullable_formats_carry_a_pattern,
    integral_numbers_are_integers,
    login_takes_the_first_name_given,
    the_server_refuses_what_the_document_refuses,
    every_answer_without_a_workspace_is_documented,
);

/// A 422 (the kernel's `validation_error` envelope; `errors[0].code` names the rule).
trait Refused {
    fn refused(&self);
}

impl Refused for Resp {
    fn refused(&self) {
        assert_eq!(self.status, 422, "{}", self.body);
        assert_eq!(self.body["success"], false);
    }
}

async fn document(app: &TestApp) -> Value {
    let r = app.get("/openapi.json", None).await;
    assert_eq!(r.status, 200);
    r.body
}

/// Follows a `$ref` into `components.schemas`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    }
}

/// Every string schema a Momentum request may carry, named `where`: query parameters, and
/// the properties of the request bodies (through `$ref`, `allOf`/`anyOf`, `items`).
fn request_strings(doc: &Value) -> Vec<(String, Value)> {
    fn walk(doc: &Value, at: &str, s: &Value, out: &mut Vec<(String, Value)>, depth: u8) {
        if depth > 6 {
            return;
        }
        let s = resolve(doc, s);
        let is_string = match &s["type"] {
            Value::String(t) => t == "string",
            Value::Array(ts) => ts.iter().any(|t| t == "string"),
            _ => false,
        };
        if is_string {
            out.push((at.to_string(), s.clone()));
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            for part in s[key].as_array().into_iter().flatten() {
                walk(doc, at, part, out, depth + 1);
            }
        }
        if let Some(props) = s["properties"].as_object() {
            for (name, p) in props {
                walk(doc, &format!("{at}.{name}"), p, out, depth + 1);
            }
        }
        if s.get("items").is_some() {
            walk(doc, &format!("{at}[]"), &s["items"], out, depth + 1);
        }
    }
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["tags"][0] != "momentum" {
                continue;
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "query" {
                    let at = format!("{method} {path} ?{}", p["name"].as_str().unwrap());
                    walk(doc, &at, &p["schema"], &mut out, 0);
                }
            }
            let body = &op["requestBody"]["content"]["application/json"]["schema"];
            if !body.is_null() {
                walk(doc, &format!("{method} {path} body"), body, &mut out, 0);
            }
        }
    }
    out
}

/// A text field with a length limit also says which characters it takes (the server refuses
/// control characters, and blank values where a value is required).
async fn request_text_fields_state_their_rules(b: Backend) {
    let app = TestApp::spawn(b).await;
    let doc = document(&app).await;
    let strings = request_strings(&doc);
    assert!(strings.len() > 50, "{}", strings.len());
    for (at, s) in &strings {
        // Passwords are any characters (identity's policy judges them).
        if s.get("maxLength").is_some() && !at.ends_with(".password") {
            assert!(
                s["pattern"].is_string(),
                "{at}: maxLength without pattern: {s}"
            );
        }
    }
    // Required body fields are required in the document.
    let team = resolve(
        &doc,
        &doc["paths"]["/issues"]["post"]["requestBody"]["content"]["application/json"]["schema"],
    );
    assert_eq!(team["required"], json!(["title", "team_id"]));
}

/// A nullable id, date or address is drawn as `""` by a fuzzer that reads only its `format`
/// as valid (schemathesis' coverage phase): a pattern says what the server takes.
async fn nullable_formats_carry_a_pattern(b: Backend) {
    let app = TestApp::spawn(b).await;
    let doc = document(&app).await;
    for (at, s) in request_strings(&doc) {
        let nullable = s["type"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("null")));
        if nullable && s.get("format").is_some() {
            assert!(s["pattern"].is_string(), "{at}: {s}");
        }
    }
}

/// JSON Schema's integers include `3.0`.
async fn integral_numbers_are_integers(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let status = app
        .post_ok(
            "/project-statuses",
            json!({"name": "Ideas", "color": "#000000", "category": "backlog", "position": 0.0}),
            &alice,
        )
        .await;
    assert_eq!(status["position"], 0);
    let team = app.first_team_id(&alice).await;
    let state = app
        .post_ok(
            &format!("/teams/{team}/workflows/default/states"),
            json!({"name": "Review", "category": "started", "color": "#123abc", "position": 2.0}),
            &alice,
        )
        .await;
    assert_eq!(state["position"], 2);
    app.post(
        &format!("/teams/{team}/workflows/default/states"),
        json!({"name": "Far", "category": "started", "color": "#123abc", "position": 10_001}),
        alice.t(),
    )
    .await
    .refused();
}

/// The first of `username_or_email`, `email`, `username` that is not blank names the account.
async fn login_takes_the_first_name_given(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let r = app
        .post(
            "/auth/login",
            json!({"email": "  ", "username": "alice", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.ok()["user"]["id"], alice.id.as_str());
    let r = app
        .post(
            "/auth/login",
            json!({"email": null, "password": PASSWORD}),
            None,
        )
        .await;
    r.refused();
    let r = app
        .post(
            "/auth/login",
            json!({"username": "alice", "password": "Wrong-Pass-1"}),
            None,
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
}

/// What the document refuses, the server refuses.
async fn the_server_refuses_what_the_document_refuses(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    for path in [
        "/sync/delta?limit=0",
        "/sync/delta?limit=1001",
        "/sync/delta?after=-1",
        "/projects?status_id=",
        "/projects?priority=",
        "/projects?page=",
        "/projects?search=%0B",
        "/cycles?status=",
        "/labels?search=%0B",
        "/workflows?team_id=",
    ] {
        app.get(path, alice.t()).await.refused();
    }
    // Control characters anywhere, and length as sent (not once trimmed).
    let long = format!("{} ", "x".repeat(50));
    for name in ["a\u{b}", "\u{c}a", long.as_str()] {
        app.post(
            "/labels",
            json!({"name": name, "color": "#000000"}),
            alice.t(),
        )
        .await
        .refused();
    }
    // URLs without surrounding white space, at most 2048 characters (not bytes).
    let url = format!("https://example.com/{}", "é".repeat(2000));
    let w = app
        .post_ok(
            "/workspaces",
            json!({"name": "Logo", "logo_url": url}),
            &alice,
        )
        .await;
    assert_eq!(w["logo_url"], url.as_str());
    app.post(
        "/workspaces",
        json!({"name": "Logo", "logo_url": " https://example.com"}),
        alice.t(),
    )
    .await
    .refused();
    // An e-mail address is ASCII.
    app.put(
        "/auth/profile",
        json!({"email": "é@example.com"}),
        alice.t(),
    )
    .await
    .refused();
}

/// Someone who belongs to no workspace (they deleted their only one) gets 409 `NO_WORKSPACE`
/// from every operation that works in a workspace: every secured operation documents what it
/// answers then (the fuzzer deleted its own workspace and found `GET /teams`' 409 missing).
async fn every_answer_without_a_workspace_is_documented(b: Backend) {
    let app = TestApp::spawn(b).await;
    let doc = document(&app).await;
    let alice = app.register("alice").await;
    let ws = app.get_ok("/workspaces/current", &alice).await;
    let r = app
        .delete(
            &format!("/workspaces/{}", ws["id"].as_str().unwrap()),
            alice.t(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let some_id = uuid::Uuid::now_v7().to_string();
    let mut no_workspace = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["tags"][0] != "momentum" || op.get("security").is_none() || path == "/auth/logout"
            {
                continue;
            }
            let mut url = path.clone();
            for name in ["{id}", "{user_id}", "{state_id}", "{relation_id}"] {
                url = url.replace(name, &some_id);
            }
            let r = match method.as_str() {
                "get" => app.get(&url, alice.t()).await,
                "post" => app.post(&url, json!({}), alice.t()).await,
                "put" => app.put(&url, json!({}), alice.t()).await,
                "delete" => app.delete(&url, alice.t()).await,
                other => panic!("{other} {path}"),
            };
            let status = r.status.as_u16().to_string();
            assert!(
                op["responses"].get(&status).is_some(),
                "{method} {path}: {status} not documented: {}",
                r.body
            );
            if r.status == 409 && r.body["errors"][0]["code"] == "NO_WORKSPACE" {
                no_workspace += 1;
            }
        }
    }
    assert!(no_workspace > 50, "{no_workspace}");
}
