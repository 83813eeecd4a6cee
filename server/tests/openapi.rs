//! Regression (issue 7, item 13): `/openapi.json` did not say what the server sends — success
//! bodies without the envelope, error statuses missing or without a schema, the MicroDock
//! login documented with the user API's body, `/health` pointing at MicroDock's schema, eight
//! duplicated operation ids, no security scheme, an empty title and version. These tests read
//! the served document and hold every operation of every app to it; `.ci/run` also runs
//! schemathesis against a started server.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

use std::collections::HashSet;

use serde_json::Value;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::{Backend, TestApp};

backend_tests!(
    document_has_title_version_and_bearer_scheme,
    operation_ids_are_unique,
    every_reference_resolves,
    every_operation_lists_its_errors_in_its_apps_envelope,
    success_bodies_are_documented_inside_the_envelope,
    microdock_login_and_health_have_their_own_schemas
);

async fn document(b: Backend) -> (TestApp, Value) {
    let app = TestApp::new(b)
        .with_vars(&[("RATE_LIMIT_ENABLED", "false")])
        .start(trellis::testing::launch)
        .await;
    let s = &app.server;
    let doc = s
        .client
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (app, doc)
}

/// Every `(path, method, operation)` of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((path.clone(), method.clone(), op.clone()));
        }
    }
    out
}

/// Follows a `$ref` into `components.schemas`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    }
}

fn json_schema(response: &Value) -> Option<&Value> {
    response["content"]["application/json"].get("schema")
}

async fn document_has_title_version_and_bearer_scheme(b: Backend) {
    let (_app, doc) = document(b).await;
    assert_eq!(doc["info"]["title"], "Trellis");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    // Operations that require a token point at that scheme.
    let secured: Vec<_> = operations(&doc)
        .into_iter()
        .filter(|(_, _, op)| op.get("security").is_some())
        .collect();
    assert!(!secured.is_empty());
    for (path, method, op) in secured {
        assert!(
            op["security"].as_array().unwrap().iter().all(|r| r
                .as_object()
                .unwrap()
                .keys()
                .all(|k| k == "bearer")),
            "{method} {path}: unknown security scheme"
        );
        assert!(
            op["responses"].get("401").is_some(),
            "{method} {path}: no 401"
        );
    }
}

async fn operation_ids_are_unique(b: Backend) {
    let (_app, doc) = document(b).await;
    let mut seen = HashSet::new();
    for (path, method, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_default().to_owned();
        assert!(!id.is_empty(), "{method} {path}: no operation id");
        assert!(
            seen.insert(id.clone()),
            "{method} {path}: operation id {id} twice"
        );
    }
}

async fn every_reference_resolves(b: Backend) {
    let (_app, doc) = document(b).await;
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for part in text.split("\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "$ref to missing schema {name}");
    }
}

async fn every_operation_lists_its_errors_in_its_apps_envelope(b: Backend) {
    let (_app, doc) = document(b).await;
    for (path, method, op) in operations(&doc) {
        let tag = op["tags"][0].as_str().unwrap_or_default();
        let error = match tag {
            "workflow" => "WorkflowError",
            "microdock" => "MicroDockError",
            _ => continue, // the platform's /health and /metrics have no error envelope
        };
        let responses = op["responses"].as_object().unwrap();
        let mut statuses = vec!["400", "422", "429", "500", "503"];
        if op.get("requestBody").is_some() {
            statuses.extend(["413", "415"]);
        }
        for status in statuses {
            assert!(
                responses.contains_key(status),
                "{method} {path}: {status} not documented"
            );
        }
        for (status, response) in responses {
            if status.parse::<u16>().unwrap_or(0) < 400 {
                continue;
            }
            let schema = json_schema(response)
                .unwrap_or_else(|| panic!("{method} {path}: {status} has no JSON body"));
            assert_eq!(
                schema["$ref"],
                format!("#/components/schemas/{error}"),
                "{method} {path}: {status}"
            );
        }
    }
    let workflow = &doc["components"]["schemas"]["WorkflowError"]["properties"];
    for field in [
        "success",
        "error",
        "message",
        "details",
        "request_id",
        "timestamp",
    ] {
        assert!(workflow.get(field).is_some(), "WorkflowError lacks {field}");
    }
    let microdock = &doc["components"]["schemas"]["MicroDockError"]["properties"];
    for field in ["success", "message", "data", "error"] {
        assert!(
            microdock.get(field).is_some(),
            "MicroDockError lacks {field}"
        );
    }
}

async fn success_bodies_are_documented_inside_the_envelope(b: Backend) {
    let (_app, doc) = document(b).await;
    for (path, method, op) in operations(&doc) {
        let tag = op["tags"][0].as_str().unwrap_or_default();
        if tag != "workflow" && tag != "microdock" {
            continue;
        }
        for (status, response) in op["responses"].as_object().unwrap() {
            if status != "200" && status != "201" {
                continue;
            }
            let Some(schema) = json_schema(response) else {
                continue; // files (application/zip, application/octet-stream)
            };
            let body = resolve(&doc, schema);
            for field in ["success", "message", "data"] {
                assert!(
                    body["properties"].get(field).is_some(),
                    "{method} {path}: {status} body lacks `{field}`: {body}"
                );
            }
            if tag == "workflow" {
                assert!(body["properties"].get("request_id").is_some());
                assert!(body["properties"].get("timestamp").is_some());
            }
        }
    }
    // The data inside is the handler's type: /api/auth/me answers an AuthStatus.
    let me = &doc["paths"]["/api/auth/me"]["get"]["responses"]["200"];
    assert_eq!(
        json_schema(me).unwrap()["properties"]["data"]["$ref"],
        "#/components/schemas/AuthStatus"
    );
}

async fn microdock_login_and_health_have_their_own_schemas(b: Backend) {
    let (_app, doc) = document(b).await;
    let login = &doc["paths"]["/api/auth/login"]["post"];
    let body = resolve(
        &doc,
        &login["requestBody"]["content"]["application/json"]["schema"],
    );
    let fields: HashSet<&str> = body["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, HashSet::from(["username", "password"]));
    // The answer carries the token top-level and in `data` (seed 004, both forms).
    let ok = resolve(&doc, json_schema(&login["responses"]["200"]).unwrap());
    assert!(ok["properties"].get("token").is_some());
    assert!(ok["properties"].get("data").is_some());
    // The workflow login keeps its own body.
    let user_login = resolve(
        &doc,
        &doc["paths"]["/api/v1/users/auth/login"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"],
    );
    assert!(user_login["properties"].get("username_or_email").is_some());
    // /health is the platform's document (with `redis`), /api/health MicroDock's.
    let health = resolve(
        &doc,
        json_schema(&doc["paths"]["/health"]["get"]["responses"]["200"]).unwrap(),
    );
    assert!(health["properties"].get("redis").is_some(), "{health}");
    let md = json_schema(&doc["paths"]["/api/health"]["get"]["responses"]["200"]).unwrap();
    assert_eq!(
        md["properties"]["data"]["$ref"],
        "#/components/schemas/MicroDockHealth"
    );
}
