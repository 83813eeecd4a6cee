//! Issue 10: the engine across real `trellis` processes sharing one database.
//!
//! - A worker process killed with SIGKILL in the middle of a step: another process takes the
//!   execution over once the lease expires, reuses the outputs recorded so far, counts the
//!   lost try, and completes it — no step lost, none run more often than its retry policy.
//! - A schedule served by two processes fires each due time once.
//!
//! On SQLite both processes open the same database file; on PostgreSQL (`TEST_DATABASE_URL`)
//! each test makes a fresh database.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

mod procs;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::get;
use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::{Backend, serve};

use procs::{Deployment, admin_token, call, wait_ended};

backend_tests!(
    a_killed_worker_process_is_taken_over,
    a_schedule_fires_once_across_two_processes,
    a_cancel_sent_to_another_process_ends_the_execution
);

/// A target whose `/hold/<name>` never answers the first call (the step is in flight when
/// its worker is killed) and answers later ones; `/ok/<name>` answers at once. Both count.
async fn target() -> (
    trellis_kernel::testing::TestServer,
    Arc<Mutex<HashMap<String, usize>>>,
) {
    let calls: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let (c1, c2) = (calls.clone(), calls.clone());
    let router = axum::Router::new()
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
            "/hold/{name}",
            get(
                move |axum::extract::Path(name): axum::extract::Path<String>| {
                    let c = c2.clone();
                    async move {
                        let n = {
                            let mut m = c.lock().unwrap();
                            let n = m.entry(name.clone()).or_default();
                            *n += 1;
                            *n
                        };
                        if n == 1 {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                        }
                        axum::Json(json!({"name": name, "call": n}))
                    }
                },
            ),
        );
    (serve(router).await, calls)
}

async fn a_killed_worker_process_is_taken_over(b: Backend) {
    let dep = Deployment::new(b).await;
    let (t, calls) = target().await;
    let count = |name: &str| calls.lock().unwrap().get(name).copied().unwrap_or(0);
    let a = dep.start_with(&[]);
    let token = admin_token(&a.base).await;
    let def = call(
        &a.base,
        Some(&token),
        reqwest::Method::POST,
        "/api/v1/workflow/definitions",
        Some(json!({"name": "crash", "steps": [
            {"id": "one", "type": "http_request", "params": {"method": "GET", "url": t.url("/ok/one")}},
            {"id": "two", "type": "http_request", "depends_on": ["one"],
             "params": {"method": "GET", "url": t.url("/hold/two")},
             "retry": {"max_attempts": 2, "delay_ms": 10}},
            {"id": "three", "type": "http_request", "depends_on": ["two"],
             "params": {"method": "GET", "url": t.url("/ok/three")}}
        ]})),
    )
    .await;
    let e = call(
        &a.base,
        Some(&token),
        reqwest::Method::POST,
        "/api/v1/workflow/executions",
        Some(json!({"definition_id": def["id"], "input": {}})),
    )
    .await;
    let id = e["id"].as_str().unwrap().to_string();
    let t0 = Instant::now();
    while count("two") < 1 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "step two never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SIGKILL: no shutdown, no lease release.
    drop(a);
    let b_proc = dep.start_with(&[]);
    let done = wait_ended(&b_proc.base, &token, &id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["takeovers"], 1);
    assert_eq!(count("one"), 1, "one's recorded output was reused");
    assert_eq!(
        count("two"),
        2,
        "the lost try plus one retry, as the policy allows"
    );
    assert_eq!(count("three"), 1);
    let two = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step_id"] == "two")
        .unwrap()
        .clone();
    assert_eq!(two["tries"], 2);
    assert_eq!(two["output"]["body"]["call"], 2);
}

async fn a_schedule_fires_once_across_two_processes(b: Backend) {
    let dep = Deployment::new(b).await;
    let a = dep.start_with(&[]);
    let b_proc = dep.start_with(&[]);
    let token = admin_token(&a.base).await;
    let def = call(
        &a.base,
        Some(&token),
        reqwest::Method::POST,
        "/api/v1/workflow/definitions",
        Some(json!({"name": "tick", "steps": [
            {"id": "t", "type": "transform", "params": {"program": "."}}
        ]})),
    )
    .await;
    let s = call(
        &b_proc.base,
        Some(&token),
        reqwest::Method::POST,
        "/api/v1/workflow/schedules",
        Some(json!({"definition_id": def["id"], "interval_seconds": 1, "overlap": "allow_all"})),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(5500)).await;
    call(
        &a.base,
        Some(&token),
        reqwest::Method::POST,
        &format!(
            "/api/v1/workflow/schedules/{}/pause",
            s["id"].as_str().unwrap()
        ),
        Some(json!({})),
    )
    .await;
    let list = call(
        &a.base,
        Some(&token),
        reqwest::Method::GET,
        "/api/v1/workflow/executions?page_size=100",
        None,
    )
    .await;
    let mut times: Vec<chrono::DateTime<chrono::Utc>> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["schedule_id"] == s["id"])
        .map(|e| e["created_at"].as_str().unwrap().parse().unwrap())
        .collect();
    times.sort();
    assert!(times.len() >= 3, "fired {} times in 5.5 s", times.len());
    assert!(times.len() <= 6, "fired {} times in 5.5 s", times.len());
    for w in times.windows(2) {
        let gap = (w[1] - w[0]).num_milliseconds();
        assert!(
            gap >= 500,
            "two fires {gap} ms apart: a due time fired twice"
        );
    }
}

async fn a_cancel_sent_to_another_process_ends_the_execution(b: Backend) {
    let dep = Deployment::new(b).await;
    let a = dep.start_with(&[]);
    let token = admin_token(&a.base).await;
    let def = call(
        &a.base,
        Some(&token),
        reqwest::Method::POST,
        "/api/v1/workflow/definitions",
        Some(json!({"name": "long", "steps": [
            {"id": "wait", "type": "delay", "params": {"seconds": 3600}}
        ]})),
    )
    .await;
    let e = call(
        &a.base,
        Some(&token),
        reqwest::Method::POST,
        "/api/v1/workflow/executions",
        Some(json!({"definition_id": def["id"]})),
    )
    .await;
    let path = format!("/api/v1/workflow/executions/{}", e["id"].as_str().unwrap());
    let t0 = Instant::now();
    while call(&a.base, Some(&token), reqwest::Method::GET, &path, None).await["status"]
        != "running"
    {
        assert!(t0.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // An API-only process takes the cancel; the worker on `a` sees it at its next heartbeat.
    let api_only = dep.start_with(&[("TRELLIS_ENGINE_WORKERS", "false")]);
    let c = call(
        &api_only.base,
        Some(&token),
        reqwest::Method::POST,
        &format!("{path}/cancel"),
        Some(json!({})),
    )
    .await;
    assert_eq!(c["status"], "cancelling");
    let t0 = Instant::now();
    let done = loop {
        let d = call(
            &api_only.base,
            Some(&token),
            reqwest::Method::GET,
            &path,
            None,
        )
        .await;
        if d["status"] == "cancelled" {
            break d;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "never cancelled: {d}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done["interrupted_steps"], json!(["wait"]));
}
