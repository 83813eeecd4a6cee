//! Issue 11: a collector run killed mid-way (SIGKILL of its `trellis` process) is taken over
//! by another process of the deployment, which continues after the last stored page: the
//! finished collection has every rank once — no duplicates, no gaps — and the pages stored
//! before the kill are not fetched again. Against a local Qidian-like fixture whose pages
//! answer slowly, so the kill lands while a page is in flight.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

mod procs;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;
use trellis_workflow::collectors::fixtures::qidian::{self as fixture, Mode, QidianFixtureConfig};

use procs::{Deployment, admin_token, call, wait_ended};

backend_tests!(a_killed_collector_resumes_without_duplicates_or_gaps);

async fn a_killed_collector_resumes_without_duplicates_or_gaps(b: Backend) {
    let site = fixture::start(QidianFixtureConfig {
        mode: Mode::Slow { ms: 300 },
        ..QidianFixtureConfig::default()
    })
    .await;
    let base = site.base_url();
    let env = [
        ("TRELLIS_QIDIAN_BASE_URL", base.as_str()),
        ("TRELLIS_QIDIAN_BOOK_BASE_URL", base.as_str()),
        ("TRELLIS_COLLECTOR_MIN_INTERVAL_MS", "50"),
    ];
    let dep = Deployment::new(b).await;
    let a = dep.start_with(&env);
    let token = admin_token(&a.base).await;
    let me = call(
        &a.base,
        Some(&token),
        reqwest::Method::GET,
        "/api/v1/users/me",
        None,
    )
    .await;
    call(
        &a.base,
        Some(&token),
        reqwest::Method::PUT,
        &format!(
            "/api/v1/subscription/admin/users/{}",
            me["id"].as_str().unwrap()
        ),
        Some(json!({"limits": {"collected_items_per_day": 100000}})),
    )
    .await;
    let def = call(
        &a.base,
        Some(&token),
        reqwest::Method::POST,
        "/api/v1/workflow/definitions",
        Some(json!({"name": "ranks", "steps": [
            {"id": "r", "type": "qidian.rankings", "params": {"rank_type": "yuepiao", "max_pages": 5},
             "retry": {"max_attempts": 3, "delay_ms": 10}}
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
    let collection = |base: String, token: String, id: String| async move {
        let list = call(
            &base,
            Some(&token),
            reqwest::Method::GET,
            &format!("/api/v1/collections?execution_id={id}"),
            None,
        )
        .await;
        list["items"][0].clone()
    };
    // Kill the process once two pages are stored (the third is then on its way).
    let t0 = Instant::now();
    loop {
        let c = collection(a.base.clone(), token.clone(), id.clone()).await;
        if c["items_new"].as_i64().unwrap_or(0) >= 40 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no progress: {c}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(a);
    let b_proc = dep.start_with(&env);
    let done = wait_ended(&b_proc.base, &token, &id, Duration::from_secs(90)).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["takeovers"], 1);
    let c = collection(b_proc.base.clone(), token.clone(), id.clone()).await;
    assert_eq!(c["status"], "completed", "{c}");
    assert_eq!(c["items_new"], 100, "{c}");
    let mut ranks = Vec::new();
    for page in 1..=2 {
        let items: Value = call(
            &b_proc.base,
            Some(&token),
            reqwest::Method::GET,
            &format!(
                "/api/v1/collections/{}/items?page={page}&page_size=100",
                c["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
        ranks.extend(
            items["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["data"]["rank"].as_i64().unwrap()),
        );
    }
    ranks.sort();
    assert_eq!(ranks, (1..=100).collect::<Vec<i64>>(), "every rank once");
    assert_eq!(
        site.hits("/rank/yuepiao/page2/"),
        1,
        "a stored page is not fetched again"
    );
    assert!(
        site.hits("/rank/yuepiao/page3/") <= 2,
        "at most the in-flight page again"
    );
    assert_eq!(site.hits("/rank/yuepiao/page5/"), 1);
}
