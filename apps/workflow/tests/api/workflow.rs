//! Workflow definitions, executions, their event stream and schedules through HTTP, on
//! SQLite and on PostgreSQL (issue 10 §2–3). Outbound steps call a local server that counts
//! calls (`TRELLIS_ALLOW_PRIVATE_TARGETS=true`); backoff delays are crossed by moving the
//! server's clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use serde_json::{Value, json};
use trellis_kernel::backend_tests;
use trellis_kernel::testing::{Backend, TestServer, serve};

use crate::harness::{TestApp, Tokens};

backend_tests!(
    definitions_are_versioned_and_private,
    validation_lists_every_problem,
    step_types_carry_their_schemas,
    transform_condition_transform_completes,
    a_false_condition_skips_dependents,
    idempotency_keys_return_the_same_execution,
    cancel_during_a_long_step_ends_cancelled,
    restart_from_the_failed_step_reuses_recorded_outputs,
    retries_back_off_on_the_server_clock,
    concurrent_starts_at_the_quota_edge_admit_exactly_the_remainder,
    over_concurrent_executions_starts_wait_queued,
    the_event_stream_resumes_after_last_event_id,
    other_users_get_404_everywhere,
    schedules_validate_fire_and_pause,
    private_targets_are_refused_without_the_setting,
    for_each_fans_out_with_templates_per_item,
    cancel_new_refuses_a_start_beyond_the_definition_limit,
    a_failed_execution_sends_its_on_failure_webhook,
    a_keyed_limit_queues_per_key,
);

const PRIVATE_OK: &[(&str, &str)] = &[("TRELLIS_ALLOW_PRIVATE_TARGETS", "true")];

async fn app(b: Backend) -> TestApp {
    TestApp::with(b, PRIVATE_OK).await
}

/// A target server: `/ok/<name>` answers `{"name": …}` and counts; `/flaky/<name>` fails
/// with 500 until its count passes `fail` (from the query string).
struct Target {
    server: TestServer,
    calls: Arc<Mutex<HashMap<String, usize>>>,
    hooks: Hooks,
}

/// Webhook deliveries received: the signature header and the JSON body.
type Hooks = Arc<Mutex<Vec<(Option<String>, Value)>>>;

impl Target {
    async fn start() -> Target {
        let calls: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let hooks: Hooks = Arc::default();
        let c1 = calls.clone();
        let c2 = calls.clone();
        let h = hooks.clone();
        let router = axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(
                    move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
                        let h = h.clone();
                        async move {
                            let sig = headers
                                .get("x-trellis-signature")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string);
                            h.lock().unwrap().push((sig, body.0));
                            "ok"
                        }
                    },
                ),
            )
            .route(
                "/ok/{name}",
                get(
                    move |axum::extract::Path(name): axum::extract::Path<String>| {
                        let c = c1.clone();
                        async move {
                            *c.lock().unwrap().entry(name.clone()).or_default() += 1;
                            axum::Json(json!({"name": name}))
                        }
                    },
                ),
            )
            .route(
                "/flaky/{name}/{fail}",
                get(
                    move |axum::extract::Path((name, fail)): axum::extract::Path<(
                        String,
                        usize,
                    )>| {
                        let c = c2.clone();
                        async move {
                            let n = {
                                let mut m = c.lock().unwrap();
                                let n = m.entry(name.clone()).or_default();
                                *n += 1;
                                *n
                            };
                            if n <= fail {
                                (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down")
                                    .into_response_parts()
                            } else {
                                (axum::http::StatusCode::OK, "up").into_response_parts()
                            }
                        }
                    },
                ),
            );
        Target {
            server: serve(router).await,
            calls,
            hooks,
        }
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    fn calls(&self, name: &str) -> usize {
        self.calls.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

trait Parts {
    fn into_response_parts(self) -> axum::response::Response;
}
impl<T: axum::response::IntoResponse> Parts for T {
    fn into_response_parts(self) -> axum::response::Response {
        self.into_response()
    }
}

fn chain() -> Value {
    json!({
        "name": "chain",
        "steps": [
            {"id": "double", "type": "transform", "params": {"program": "{n: (.input.n * 2)}"}},
            {"id": "big", "type": "condition", "depends_on": ["double"], "params": {"predicate": ".steps.double.n > 5"}},
            {"id": "label", "type": "transform", "depends_on": ["big"], "params": {"program": "{label: \"n=\\(.steps.double.n)\"}"}}
        ]
    })
}

impl TestApp {
    async fn define(&self, t: &Tokens, body: Value) -> Value {
        self.0
            .post("/api/v1/workflow/definitions", body, Some(&t.access))
            .await
            .ok()
    }

    async fn start(&self, t: &Tokens, def: &Value, input: Value) -> Value {
        self.0
            .post(
                "/api/v1/workflow/executions",
                json!({"definition_id": def["id"], "input": input}),
                Some(&t.access),
            )
            .await
            .ok()
    }

    async fn execution(&self, t: &Tokens, id: &Value) -> Value {
        let id = id.as_str().unwrap();
        self.0
            .get(
                &format!("/api/v1/workflow/executions/{id}"),
                Some(&t.access),
            )
            .await
            .ok()
    }

    /// Polls until the execution's status satisfies `pred` (at most ~30 s).
    async fn wait_until(&self, t: &Tokens, id: &Value, pred: impl Fn(&str) -> bool) -> Value {
        for _ in 0..600 {
            let e = self.execution(t, id).await;
            if pred(e["status"].as_str().unwrap()) {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("execution {id} never reached the expected state");
    }

    async fn wait_final(&self, t: &Tokens, id: &Value) -> Value {
        self.wait_until(t, id, |s| {
            matches!(
                s,
                "completed" | "failed" | "timed_out" | "crashed" | "cancelled"
            )
        })
        .await
    }

    /// The execution's SSE stream read to its end: `(id, event, data)` triples.
    async fn sse(&self, t: &Tokens, id: &Value, last: Option<i64>) -> Vec<(i64, String, Value)> {
        let url = self.0.server.url(&format!(
            "/api/v1/workflow/executions/{}/events",
            id.as_str().unwrap()
        ));
        let mut req = self.0.server.client.get(url).bearer_auth(&t.access);
        if let Some(l) = last {
            req = req.header("Last-Event-ID", l.to_string());
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        let text = tokio::time::timeout(Duration::from_secs(30), r.text())
            .await
            .unwrap()
            .unwrap();
        let mut out = Vec::new();
        for block in text.split("\n\n") {
            let (mut id, mut ev, mut data) = (None, String::new(), Value::Null);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("event:") {
                    ev = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = serde_json::from_str(v.trim()).unwrap();
                }
            }
            if let Some(id) = id {
                out.push((id, ev, data));
            }
        }
        out
    }

    /// `POST path` with a raw body and extra headers: `(status, body)`.
    async fn raw_post(
        &self,
        path: &str,
        t: &Tokens,
        body: String,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .0
            .server
            .client
            .post(self.0.server.url(path))
            .bearer_auth(&t.access)
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn set_limits(&self, user_id: &Value, limits: Value) {
        let admin = self.admin().await;
        self.0
            .put(
                &format!(
                    "/api/v1/subscription/admin/users/{}",
                    user_id.as_str().unwrap()
                ),
                json!({"limits": limits}),
                Some(&admin.access),
            )
            .await
            .ok();
    }
}

async fn definitions_are_versioned_and_private(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("dora").await;
    let (_, other) = app.user("eve").await;
    let d = app.define(&t, chain()).await;
    assert_eq!(d["version"], 1);
    assert_eq!(d["name"], "chain");
    let id = d["id"].as_str().unwrap();
    let path = format!("/api/v1/workflow/definitions/{id}");
    let mut body = chain();
    body["description"] = json!("second");
    let v2 = app.0.put(&path, body, Some(&t.access)).await.ok();
    assert_eq!(v2["version"], 2);
    let versions = app
        .0
        .get(&format!("{path}/versions"), Some(&t.access))
        .await
        .ok();
    let nums: Vec<i64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(nums, vec![2, 1]);
    let list = app
        .0
        .get("/api/v1/workflow/definitions", Some(&t.access))
        .await
        .ok();
    assert_eq!(list["total"], 1);
    let theirs = app
        .0
        .get("/api/v1/workflow/definitions", Some(&other.access))
        .await
        .ok();
    assert_eq!(theirs["total"], 0);
    app.0
        .get(&path, Some(&other.access))
        .await
        .err(404, "NOT_FOUND");
    app.0
        .put(&path, chain(), Some(&other.access))
        .await
        .err(404, "NOT_FOUND");
    app.0
        .delete(&path, Some(&other.access))
        .await
        .err(404, "NOT_FOUND");
    app.0
        .post("/api/v1/workflow/definitions", chain(), Some(&t.access))
        .await
        .err(409, "DEFINITION_EXISTS");
    app.0.delete(&path, Some(&t.access)).await.ok();
    app.0
        .get(&path, Some(&t.access))
        .await
        .err(404, "NOT_FOUND");
    app.0
        .get("/api/v1/workflow/definitions", None)
        .await
        .err(401, "NOT_AUTHENTICATED");
}

async fn validation_lists_every_problem(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("fay").await;
    let bad = json!({
        "name": "bad",
        "steps": [
            {"id": "a", "type": "transform", "depends_on": ["c"], "params": {"program": "."}},
            {"id": "b", "type": "teleport"},
            {"id": "c", "type": "transform", "depends_on": ["a"], "params": {"program": "."}},
            {"id": "d", "type": "http_request", "depends_on": ["ghost"], "params": {"method": "FETCH", "url": "http://x"}},
            {"id": "e", "type": "delay", "depends_on": ["d"], "params": {"seconds": -1}},
            {"id": "f", "type": "transform", "params": {"program": "{{{"}}
        ]
    });
    let r = app
        .0
        .post("/api/v1/workflow/definitions", bad, Some(&t.access))
        .await;
    r.err(422, "VALIDATION_ERROR");
    let details = r.body["details"].as_array().unwrap();
    let has = |field: &str, code: &str| {
        details
            .iter()
            .any(|d| d["field"] == field && d["code"] == code)
    };
    assert!(has("steps[0].depends_on", "cycle"), "{details:?}");
    assert!(has("steps[1].type", "unknown_step_type"), "{details:?}");
    assert!(
        has("steps[3].depends_on", "missing_dependency"),
        "{details:?}"
    );
    assert!(has("steps[3].params", "invalid_params"), "{details:?}");
    assert!(has("steps[4]", "unreachable"), "{details:?}");
    assert!(has("steps[4].params", "invalid_params"), "{details:?}");
    assert!(has("steps[5].params", "invalid_params"), "{details:?}");
    // Malformed JSON and wrong types are 4xx in the envelope too.
    let raw = app
        .raw_post("/api/v1/workflow/definitions", &t, "{not json".into(), &[])
        .await;
    assert!((400..500).contains(&raw.0), "{raw:?}");
    assert_eq!(raw.1["success"], false);
    let wrong_type = app
        .0
        .post(
            "/api/v1/workflow/definitions",
            json!({"name": "x", "steps": "nope"}),
            Some(&t.access),
        )
        .await;
    assert!(wrong_type.status.is_client_error(), "{}", wrong_type.body);
    assert_eq!(wrong_type.body["success"], false);
}

async fn step_types_carry_their_schemas(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("gus").await;
    let types = app
        .0
        .get("/api/v1/workflow/step-types", Some(&t.access))
        .await
        .ok();
    let names: Vec<&str> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for n in [
        "http_request",
        "transform",
        "condition",
        "for_each",
        "delay",
        "notify",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }
    assert!(types[0]["params_schema"].is_object());
}

async fn transform_condition_transform_completes(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("hal").await;
    let d = app.define(&t, chain()).await;
    let e = app.start(&t, &d, json!({"n": 4})).await;
    assert_eq!(e["definition_version"], 1);
    let done = app.wait_final(&t, &e["id"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    let steps = done["steps"].as_array().unwrap();
    let out = |id: &str| steps.iter().find(|s| s["step_id"] == id).unwrap().clone();
    assert_eq!(out("double")["output"]["n"], 8);
    assert_eq!(out("big")["output"]["result"], true);
    assert_eq!(out("label")["output"]["label"], "n=8");
    assert_eq!(out("label")["tries"], 1);
    let events: Vec<&str> = done["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, vec!["run.queued", "run.started", "run.completed"]);
    let list = app
        .0
        .get(
            &format!(
                "/api/v1/workflow/executions?status=completed&definition_id={}",
                d["id"].as_str().unwrap()
            ),
            Some(&t.access),
        )
        .await
        .ok();
    assert_eq!(list["total"], 1);
    let bogus = app
        .0
        .get("/api/v1/workflow/executions?status=bogus", Some(&t.access))
        .await;
    assert!(bogus.status.is_client_error(), "{}", bogus.body);
    assert_eq!(bogus.body["success"], false);
    let metrics = app
        .0
        .server
        .client
        .get(app.0.server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for family in [
        "trellis_engine_queue_depth{queue=\"workflow\"}",
        "trellis_engine_runs{queue=\"workflow\",state=\"completed\"}",
        "trellis_engine_step_duration_seconds_bucket",
        "trellis_engine_retries_total",
        "trellis_engine_lease_takeovers_total",
    ] {
        assert!(metrics.contains(family), "{family} missing");
    }
}

async fn a_false_condition_skips_dependents(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("ivy").await;
    let d = app.define(&t, chain()).await;
    let e = app.start(&t, &d, json!({"n": 1})).await;
    let done = app.wait_final(&t, &e["id"]).await;
    assert_eq!(done["status"], "completed");
    let label = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step_id"] == "label")
        .unwrap()
        .clone();
    assert_eq!(label["status"], "skipped");
}

async fn idempotency_keys_return_the_same_execution(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("jon").await;
    let d = app.define(&t, chain()).await;
    let first = app
        .raw_post(
            "/api/v1/workflow/executions",
            &t,
            json!({"definition_id": d["id"], "input": {"n": 1}}).to_string(),
            &[("Idempotency-Key", "order-1")],
        )
        .await;
    assert_eq!(first.0, 201);
    let first_id = first.1["data"]["id"].clone();
    let again = app
        .0
        .post(
            "/api/v1/workflow/executions",
            json!({"definition_id": d["id"], "input": {"n": 1}, "idempotency_key": "order-1"}),
            Some(&t.access),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["data"]["id"], first_id);
    let list = app
        .0
        .get("/api/v1/workflow/executions", Some(&t.access))
        .await
        .ok();
    assert_eq!(list["total"], 1);
}

async fn cancel_during_a_long_step_ends_cancelled(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("kim").await;
    let d = app
        .define(
            &t,
            json!({"name": "slow", "steps": [
                {"id": "wait", "type": "delay", "params": {"seconds": 3600}},
                {"id": "after", "type": "transform", "depends_on": ["wait"], "params": {"program": "."}}
            ]}),
        )
        .await;
    let e = app.start(&t, &d, json!({})).await;
    app.wait_until(&t, &e["id"], |s| s == "running").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let id = e["id"].as_str().unwrap();
    let c = app
        .0
        .post(
            &format!("/api/v1/workflow/executions/{id}/cancel"),
            json!({}),
            Some(&t.access),
        )
        .await
        .ok();
    assert!(matches!(
        c["status"].as_str().unwrap(),
        "cancelling" | "cancelled"
    ));
    let done = app.wait_final(&t, &e["id"]).await;
    assert_eq!(done["status"], "cancelled");
    assert_eq!(done["interrupted_steps"], json!(["wait"]));
    app.0
        .post(
            &format!("/api/v1/workflow/executions/{id}/cancel"),
            json!({}),
            Some(&t.access),
        )
        .await
        .err(409, "EXECUTION_STATE");
}

async fn restart_from_the_failed_step_reuses_recorded_outputs(b: Backend) {
    let app = app(b).await;
    let target = Target::start().await;
    let (_, t) = app.user("lee").await;
    let d = app
        .define(
            &t,
            json!({"name": "fetch-then-post", "steps": [
                {"id": "fetch", "type": "http_request", "params": {"method": "GET", "url": target.url("/ok/fetch")}},
                {"id": "post", "type": "http_request", "depends_on": ["fetch"],
                 "params": {"method": "GET", "url": target.url("/flaky/post/1")}}
            ]}),
        )
        .await;
    let e = app.start(&t, &d, json!({})).await;
    let failed = app.wait_final(&t, &e["id"]).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(target.calls("fetch"), 1);
    let id = e["id"].as_str().unwrap();
    let r = app
        .0
        .post(
            &format!("/api/v1/workflow/executions/{id}/retry"),
            json!({}),
            Some(&t.access),
        )
        .await
        .ok();
    assert_eq!(r["attempt"], 2);
    let done = app.wait_final(&t, &e["id"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(target.calls("fetch"), 1, "fetch was not called again");
    assert_eq!(target.calls("post"), 2);
    let fetch2 = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step_id"] == "fetch" && s["attempt"] == 2)
        .unwrap()
        .clone();
    assert_eq!(fetch2["status"], "reused");
    assert_eq!(fetch2["output"]["body"]["name"], "fetch");
    app.0
        .post(
            &format!("/api/v1/workflow/executions/{id}/retry"),
            json!({"from_step": "nope"}),
            Some(&t.access),
        )
        .await
        .err(409, "EXECUTION_STATE");
}

async fn retries_back_off_on_the_server_clock(b: Backend) {
    let app = app(b).await;
    let target = Target::start().await;
    let (_, t) = app.user("max").await;
    let d = app
        .define(
            &t,
            json!({"name": "flaky", "steps": [
                {"id": "call", "type": "http_request",
                 "params": {"method": "GET", "url": target.url("/flaky/call/2")},
                 "retry": {"max_attempts": 3, "backoff": "exponential", "delay_ms": 30000}}
            ]}),
        )
        .await;
    let e = app.start(&t, &d, json!({})).await;
    for expected in [1, 2] {
        for _ in 0..200 {
            if target.calls("call") == expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(target.calls("call"), expected, "waiting for the backoff");
        app.advance(Duration::from_secs(30 * expected as u64 + 1));
    }
    let done = app.wait_final(&t, &e["id"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["steps"][0]["tries"], 3);
}

async fn concurrent_starts_at_the_quota_edge_admit_exactly_the_remainder(b: Backend) {
    let app = app(b).await;
    let (user, t) = app.user("nia").await;
    app.set_limits(&user["id"], json!({"executions_per_month": 5}))
        .await;
    let d = app.define(&t, chain()).await;
    // One used before the burst: 4 remain.
    app.start(&t, &d, json!({"n": 1})).await;
    let starts = (0..12).map(|i| {
        app.0.post(
            "/api/v1/workflow/executions",
            json!({"definition_id": d["id"], "input": {"n": i}}),
            Some(&t.access),
        )
    });
    let results = futures::future::join_all(starts).await;
    let ok = results.iter().filter(|r| r.status == 201).count();
    let refused: Vec<_> = results.iter().filter(|r| r.status == 402).collect();
    assert_eq!(ok, 4, "exactly the remaining quota is admitted");
    assert_eq!(refused.len(), 8);
    refused[0].err(402, "QUOTA_EXCEEDED");
    assert!(
        refused[0].body["message"]
            .as_str()
            .unwrap()
            .contains("executions_per_month")
    );
    let usage = app
        .0
        .get("/api/v1/subscription/usage", Some(&t.access))
        .await
        .ok();
    let meter = usage
        .as_array()
        .or_else(|| usage["meters"].as_array())
        .unwrap()
        .iter()
        .find(|m| m["meter"] == "executions_per_month")
        .unwrap()
        .clone();
    assert_eq!(
        meter["used"].as_i64().unwrap() + meter["reserved"].as_i64().unwrap(),
        5
    );
}

async fn over_concurrent_executions_starts_wait_queued(b: Backend) {
    let app = app(b).await;
    let (user, t) = app.user("oli").await;
    app.set_limits(&user["id"], json!({"concurrent_executions": 1}))
        .await;
    let d = app
        .define(
            &t,
            json!({"name": "slow", "steps": [{"id": "w", "type": "delay", "params": {"seconds": 3600}}]}),
        )
        .await;
    let first = app.start(&t, &d, json!({})).await;
    app.wait_until(&t, &first["id"], |s| s == "running").await;
    let second = app.start(&t, &d, json!({})).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.execution(&t, &second["id"]).await["status"], "queued");
    let id = first["id"].as_str().unwrap();
    app.0
        .post(
            &format!("/api/v1/workflow/executions/{id}/cancel"),
            json!({}),
            Some(&t.access),
        )
        .await
        .ok();
    app.wait_until(&t, &second["id"], |s| s == "running").await;
    let id2 = second["id"].as_str().unwrap();
    app.0
        .post(
            &format!("/api/v1/workflow/executions/{id2}/cancel"),
            json!({}),
            Some(&t.access),
        )
        .await
        .ok();
}

async fn the_event_stream_resumes_after_last_event_id(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("pam").await;
    let d = app.define(&t, chain()).await;
    let e = app.start(&t, &d, json!({"n": 3})).await;
    let all = app.sse(&t, &e["id"], None).await;
    let ids: Vec<i64> = all.iter().map(|x| x.0).collect();
    assert_eq!(ids, (1..=all.len() as i64).collect::<Vec<_>>(), "gap-free");
    assert_eq!(all.last().unwrap().1, "run.completed");
    let rest = app.sse(&t, &e["id"], Some(3)).await;
    assert_eq!(
        rest.iter().map(|x| x.0).collect::<Vec<_>>(),
        ids[3..].to_vec(),
        "resumes after 3 with no loss and no duplicate"
    );
    assert_eq!(rest[0].2["seq"], 4);
}

async fn other_users_get_404_everywhere(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("quin").await;
    let (_, other) = app.user("rex").await;
    let d = app.define(&t, chain()).await;
    let e = app.start(&t, &d, json!({"n": 1})).await;
    let id = e["id"].as_str().unwrap();
    for path in [
        format!("/api/v1/workflow/executions/{id}"),
        format!("/api/v1/workflow/executions/{id}/events"),
    ] {
        app.0
            .get(&path, Some(&other.access))
            .await
            .err(404, "NOT_FOUND");
    }
    app.0
        .post(
            &format!("/api/v1/workflow/executions/{id}/cancel"),
            json!({}),
            Some(&other.access),
        )
        .await
        .err(404, "NOT_FOUND");
    app.0
        .post(
            "/api/v1/workflow/executions",
            json!({"definition_id": d["id"]}),
            Some(&other.access),
        )
        .await
        .err(422, "VALIDATION_ERROR");
    let admin = app.admin().await;
    app.0
        .get(
            &format!("/api/v1/workflow/executions/{id}"),
            Some(&admin.access),
        )
        .await
        .ok();
}

async fn schedules_validate_fire_and_pause(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("sam").await;
    let d = app.define(&t, chain()).await;
    for (body, field) in [
        (json!({"definition_id": d["id"]}), "cron"),
        (
            json!({"definition_id": d["id"], "cron": "0 * * * *", "interval_seconds": 5}),
            "cron",
        ),
        (
            json!({"definition_id": d["id"], "cron": "61 * * * *"}),
            "cron",
        ),
        (
            json!({"definition_id": d["id"], "cron": "0 * * * *", "timezone": "Mars/Base"}),
            "timezone",
        ),
        (
            json!({"definition_id": d["id"], "interval_seconds": 0}),
            "interval_seconds",
        ),
    ] {
        let r = app
            .0
            .post("/api/v1/workflow/schedules", body, Some(&t.access))
            .await;
        r.err(422, "VALIDATION_ERROR");
        assert_eq!(r.body["details"][0]["field"], field, "{}", r.body);
    }
    let s = app
        .0
        .post(
            "/api/v1/workflow/schedules",
            json!({"definition_id": d["id"], "interval_seconds": 600, "input": {"n": 9}}),
            Some(&t.access),
        )
        .await
        .ok();
    assert_eq!(s["overlap"], "skip");
    app.advance(Duration::from_secs(601));
    let mut fired = Value::Null;
    for _ in 0..200 {
        let list = app
            .0
            .get("/api/v1/workflow/executions", Some(&t.access))
            .await
            .ok();
        if list["total"] == 1 {
            fired = list["items"][0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fired["schedule_id"], s["id"]);
    assert_eq!(fired["input"]["n"], 9);
    let sid = s["id"].as_str().unwrap();
    let paused = app
        .0
        .post(
            &format!("/api/v1/workflow/schedules/{sid}/pause"),
            json!({}),
            Some(&t.access),
        )
        .await
        .ok();
    assert_eq!(paused["paused"], true);
    let resumed = app
        .0
        .post(
            &format!("/api/v1/workflow/schedules/{sid}/resume"),
            json!({}),
            Some(&t.access),
        )
        .await
        .ok();
    assert_eq!(resumed["paused"], false);
    // Free allows 2 schedules.
    for _ in 0..1 {
        app.0
            .post(
                "/api/v1/workflow/schedules",
                json!({"definition_id": d["id"], "cron": "*/5 * * * *"}),
                Some(&t.access),
            )
            .await
            .ok();
    }
    app.0
        .post(
            "/api/v1/workflow/schedules",
            json!({"definition_id": d["id"], "cron": "*/5 * * * *"}),
            Some(&t.access),
        )
        .await
        .err(402, "QUOTA_EXCEEDED");
    let (_, other) = app.user("tia").await;
    app.0
        .delete(
            &format!("/api/v1/workflow/schedules/{sid}"),
            Some(&other.access),
        )
        .await
        .err(404, "NOT_FOUND");
    app.0
        .delete(
            &format!("/api/v1/workflow/schedules/{sid}"),
            Some(&t.access),
        )
        .await
        .ok();
}

async fn private_targets_are_refused_without_the_setting(b: Backend) {
    let app = TestApp::spawn(b).await;
    let target = Target::start().await;
    let (_, t) = app.user("uma").await;
    let d = app
        .define(
            &t,
            json!({"name": "ssrf", "steps": [
                {"id": "meta", "type": "http_request", "params": {"method": "GET", "url": target.url("/ok/meta")}}
            ]}),
        )
        .await;
    let e = app.start(&t, &d, json!({})).await;
    let done = app.wait_final(&t, &e["id"]).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(target.calls("meta"), 0, "the request never left");
    let err = done["steps"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        err.contains("refused") || err.contains("private") || err.contains("loopback"),
        "{err}"
    );
}

async fn for_each_fans_out_with_templates_per_item(b: Backend) {
    let app = app(b).await;
    let target = Target::start().await;
    let (_, t) = app.user("vic").await;
    let d = app
        .define(
            &t,
            json!({"name": "fan-out", "steps": [
                {"id": "each", "type": "for_each", "params": {
                    "items": ".input.names",
                    "concurrency": 2,
                    "step": {"type": "http_request", "params": {
                        "method": "GET", "url": format!("{}/ok/{{{{ item }}}}", target.url(""))
                    }}
                }},
                {"id": "names", "type": "transform", "depends_on": ["each"],
                 "params": {"program": "[.steps.each[].body.name]"}}
            ]}),
        )
        .await;
    let e = app
        .start(&t, &d, json!({"names": ["ann", "bo", "cy"]}))
        .await;
    let done = app.wait_final(&t, &e["id"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    let names = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step_id"] == "names")
        .unwrap()["output"]
        .clone();
    assert_eq!(names, json!(["ann", "bo", "cy"]), "outputs in item order");
    for n in ["ann", "bo", "cy"] {
        assert_eq!(target.calls(n), 1);
    }
}

async fn cancel_new_refuses_a_start_beyond_the_definition_limit(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("wes").await;
    let d = app
        .define(
            &t,
            json!({"name": "single", "concurrency": {"limit": 1, "policy": "cancel_new"},
                   "steps": [{"id": "w", "type": "delay", "params": {"seconds": 3600}}]}),
        )
        .await;
    let first = app.start(&t, &d, json!({})).await;
    app.wait_until(&t, &first["id"], |s| s == "running").await;
    let second = app.start(&t, &d, json!({})).await;
    assert_eq!(second["status"], "cancelled");
    assert!(second["reason"].as_str().unwrap().contains("cancel_new"));
    let id = first["id"].as_str().unwrap();
    app.0
        .post(
            &format!("/api/v1/workflow/executions/{id}/cancel"),
            json!({}),
            Some(&t.access),
        )
        .await
        .ok();
    app.wait_final(&t, &first["id"]).await;
    // The refused start's quota unit was given back.
    let usage = app
        .0
        .get("/api/v1/subscription/usage", Some(&t.access))
        .await
        .ok();
    let meter = usage
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["meter"] == "executions_per_month")
        .unwrap()
        .clone();
    assert_eq!(
        meter["used"].as_i64().unwrap() + meter["reserved"].as_i64().unwrap(),
        1
    );
}

async fn a_failed_execution_sends_its_on_failure_webhook(b: Backend) {
    let app = app(b).await;
    let target = Target::start().await;
    let (_, t) = app.user("xia").await;
    let d = app
        .define(
            &t,
            json!({"name": "fails", "on_failure": {
                    "channel": "webhook", "url": target.url("/hook"), "secret": "s3cret",
                    "payload": {"execution": "{{ execution.id }}", "status": "{{ execution.status }}", "order": "{{ input.order }}"}
                   },
                   "steps": [{"id": "boom", "type": "transform", "params": {"program": "error(\"boom\")"}}]}),
        )
        .await;
    let e = app.start(&t, &d, json!({"order": 7})).await;
    assert_eq!(app.wait_final(&t, &e["id"]).await["status"], "failed");
    for _ in 0..200 {
        if !target.hooks.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hooks = target.hooks.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let (sig, body) = &hooks[0];
    assert!(sig.as_deref().unwrap_or_default().starts_with("sha256="));
    assert_eq!(body["execution"], e["id"]);
    assert_eq!(body["status"], "failed");
    assert_eq!(body["order"], 7);
    // A bad on_failure is refused on save.
    let r = app
        .0
        .post(
            "/api/v1/workflow/definitions",
            json!({"name": "bad-hook", "on_failure": {"channel": "pigeon"},
                   "steps": [{"id": "a", "type": "transform", "params": {"program": "."}}]}),
            Some(&t.access),
        )
        .await;
    r.err(422, "VALIDATION_ERROR");
    assert_eq!(r.body["details"][0]["field"], "on_failure");
}

async fn a_keyed_limit_queues_per_key(b: Backend) {
    let app = app(b).await;
    let (user, t) = app.user("yan").await;
    app.set_limits(&user["id"], json!({"concurrent_executions": 10}))
        .await;
    let d = app
        .define(
            &t,
            json!({"name": "per-host", "concurrency": {"limit": 1, "policy": "enqueue", "key": "{{ input.host }}"},
                   "steps": [{"id": "w", "type": "delay", "params": {"seconds": 3600}}]}),
        )
        .await;
    let a1 = app.start(&t, &d, json!({"host": "a.example"})).await;
    app.wait_until(&t, &a1["id"], |s| s == "running").await;
    let a2 = app.start(&t, &d, json!({"host": "a.example"})).await;
    let b1 = app.start(&t, &d, json!({"host": "b.example"})).await;
    app.wait_until(&t, &b1["id"], |s| s == "running").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        app.execution(&t, &a2["id"]).await["status"],
        "queued",
        "same key waits"
    );
    let cancel = |id: &Value| {
        let path = format!(
            "/api/v1/workflow/executions/{}/cancel",
            id.as_str().unwrap()
        );
        let token = t.access.clone();
        let app = &app;
        async move {
            app.0.post(&path, json!({}), Some(&token)).await.ok();
        }
    };
    cancel(&a1["id"]).await;
    app.wait_until(&t, &a2["id"], |s| s == "running").await;
    cancel(&a2["id"]).await;
    cancel(&b1["id"]).await;
}
