//! Proxy pools through HTTP on SQLite and PostgreSQL (issue 11 "Proxy pools"), with real
//! local proxies (an HTTP forward/CONNECT proxy and a SOCKS5 proxy started by the test) and a
//! local judge that echoes the headers it receives.

use std::time::Duration;

use serde_json::{Value, json};
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;
use trellis_workflow::collectors::fixtures::proxies::{
    BlockPage, HttpProxy, Judge, ProxyBehaviour, ProxyMode, Socks5Proxy,
};
use trellis_workflow::proxy::probe::Anonymity;

use crate::harness::{TestApp, Tokens};

backend_tests!(
    pools_are_private_limited_and_never_show_credentials,
    blocks_cool_a_proxy_for_one_target_only,
    sticky_sessions_keep_their_proxy_until_it_fails,
    tests_measure_anonymity_latency_and_dead_proxies,
    a_burst_of_leases_and_reports_loses_no_count,
    the_http_step_goes_through_the_pool_and_reports_blocks,
    periodic_validation_tests_the_pool_on_its_schedule,
);

const ENV: &[(&str, &str)] = &[("TRELLIS_ALLOW_PRIVATE_TARGETS", "true")];

async fn app(b: Backend) -> TestApp {
    TestApp::with(b, ENV).await
}

impl TestApp {
    async fn pool(&self, t: &Tokens, body: Value) -> Value {
        self.0
            .post("/api/v1/proxy/pools", body, Some(&t.access))
            .await
            .ok()
    }

    async fn add(&self, t: &Tokens, pool: &Value, proxies: &[String]) -> Value {
        self.0
            .post(
                &format!(
                    "/api/v1/proxy/pools/{}/proxies",
                    pool["id"].as_str().unwrap()
                ),
                json!({"proxies": proxies}),
                Some(&t.access),
            )
            .await
            .ok()
    }

    async fn lease(
        &self,
        t: &Tokens,
        pool: &Value,
        target: &str,
        session: Option<&str>,
    ) -> trellis_kernel::testing::Resp {
        let mut body = json!({"target": target});
        if let Some(s) = session {
            body["session_key"] = json!(s);
        }
        self.0
            .post(
                &format!("/api/v1/proxy/pools/{}/lease", pool["id"].as_str().unwrap()),
                body,
                Some(&t.access),
            )
            .await
    }

    async fn report(
        &self,
        t: &Tokens,
        lease: &Value,
        outcome: &str,
    ) -> trellis_kernel::testing::Resp {
        self.0
            .post(
                &format!(
                    "/api/v1/proxy/leases/{}/report",
                    lease["lease_id"].as_str().unwrap()
                ),
                json!({"outcome": outcome, "latency_ms": 120}),
                Some(&t.access),
            )
            .await
    }

    async fn status(&self, t: &Tokens, pool: &Value) -> Value {
        self.0
            .get(
                &format!(
                    "/api/v1/proxy/pools/{}/status",
                    pool["id"].as_str().unwrap()
                ),
                Some(&t.access),
            )
            .await
            .ok()
    }
}

fn lines(n: u16) -> Vec<String> {
    (0..n)
        .map(|i| format!("http://10.0.0.{}:{}", i + 1, 3128 + i))
        .collect()
}

async fn pools_are_private_limited_and_never_show_credentials(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("pia").await;
    let (_, other) = app.user("oscar").await;
    let pool = app
        .pool(&t, json!({"name": "main", "strategy": "round_robin"}))
        .await;
    assert_eq!(pool["strategy"], "round_robin");
    assert_eq!(pool["settings"]["health"]["retire_after_blocks"], 5);
    // The Free plan's proxy_pools limit (1) answers 402.
    let over = app
        .0
        .post(
            "/api/v1/proxy/pools",
            json!({"name": "second"}),
            Some(&t.access),
        )
        .await;
    assert_eq!(over.status.as_u16(), 402, "{:?}", over.body);
    app.raise_limits(&t).await;
    let dup = app
        .0
        .post(
            "/api/v1/proxy/pools",
            json!({"name": "main"}),
            Some(&t.access),
        )
        .await;
    assert_eq!(
        (dup.status.as_u16(), dup.code()),
        (409, "pool_exists".to_string()),
        "{:?}",
        dup.body
    );
    let bad = app
        .0
        .post(
            "/api/v1/proxy/pools",
            json!({"name": "x", "settings": {"test": {"concurrency": 0}}}),
            Some(&other.access),
        )
        .await;
    assert_eq!(bad.status.as_u16(), 422);

    let id = pool["id"].as_str().unwrap();
    let added = app
        .add(
            &t,
            &pool,
            &[
                "socks5://alice:s3cret-pass@proxy.example.net:1080".into(),
                "10.1.2.3:8080".into(),
            ],
        )
        .await;
    assert_eq!(added["added"], 2);
    // Text lines, with a comment and a duplicate.
    let text = app
        .0
        .server
        .client
        .post(
            app.0
                .server
                .url(&format!("/api/v1/proxy/pools/{id}/proxies")),
        )
        .bearer_auth(&t.access)
        .header("content-type", "text/plain")
        .body("# list\nhttp://10.1.2.3:8080\nhttps://u:p@10.9.9.9:443\n")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status().as_u16(), 201);
    let body: Value = text.json().await.unwrap();
    assert_eq!(
        (
            body["data"]["added"].clone(),
            body["data"]["duplicates"].clone()
        ),
        (json!(1), json!(1))
    );
    // A bad line refuses the whole request and is never echoed.
    let refused = app
        .0
        .post(
            &format!("/api/v1/proxy/pools/{id}/proxies"),
            json!({"proxies": ["http://10.2.2.2:1", "ftp://bob:hunter2@10.3.3.3:21"]}),
            Some(&t.access),
        )
        .await;
    assert_eq!(refused.status.as_u16(), 422);
    assert_eq!(refused.body["details"][0]["field"], "proxies[1]");
    assert!(!refused.body.to_string().contains("hunter2"));

    let list = app
        .0
        .get(
            &format!("/api/v1/proxy/pools/{id}/proxies"),
            Some(&t.access),
        )
        .await
        .ok();
    assert_eq!(list["total"], 3);
    let text = list.to_string();
    assert!(
        !text.contains("s3cret") && !text.contains("alice"),
        "credentials leaked: {text}"
    );
    assert_eq!(list["items"][0]["has_credentials"], true);
    for path in [
        format!("/api/v1/proxy/pools/{id}"),
        format!("/api/v1/proxy/pools/{id}/status"),
    ] {
        let r = app.0.get(&path, Some(&t.access)).await;
        assert!(!r.body.to_string().contains("s3cret"));
        assert_eq!(
            app.0.get(&path, Some(&other.access)).await.status.as_u16(),
            404,
            "{path}"
        );
    }
    let lease = app.lease(&other, &pool, "example.com", None).await;
    assert_eq!(lease.status.as_u16(), 404);
    let proxy_id = list["items"][1]["id"].as_str().unwrap();
    let del = app
        .0
        .delete(
            &format!("/api/v1/proxy/pools/{id}/proxies/{proxy_id}"),
            Some(&t.access),
        )
        .await;
    assert_eq!(del.status.as_u16(), 200);
    let again = app
        .0
        .delete(
            &format!("/api/v1/proxy/pools/{id}/proxies/{proxy_id}"),
            Some(&t.access),
        )
        .await;
    assert_eq!(again.status.as_u16(), 404);
    let listed = app.0.get("/api/v1/proxy/pools", Some(&t.access)).await.ok();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["proxy_count"], 2);
    let usage = app
        .0
        .get("/api/v1/subscription/usage", Some(&t.access))
        .await
        .ok();
    assert!(usage.to_string().contains("proxy_pools"));
    assert_eq!(
        app.0
            .delete(&format!("/api/v1/proxy/pools/{id}"), Some(&t.access))
            .await
            .status
            .as_u16(),
        200
    );
    assert_eq!(
        app.0
            .get(&format!("/api/v1/proxy/pools/{id}"), Some(&t.access))
            .await
            .status
            .as_u16(),
        404
    );
}

async fn blocks_cool_a_proxy_for_one_target_only(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("bea").await;
    let pool = app
        .pool(&t, json!({"name": "p", "strategy": "round_robin", "settings": {"health": {"retire_after_blocks": 2}}}))
        .await;
    app.add(&t, &pool, &lines(3)).await;
    // Round robin visits every proxy in turn.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let l = app.lease(&t, &pool, "www.qidian.com", None).await.ok();
        assert_eq!(l["proxy"]["has_credentials"], false);
        seen.push(l["proxy"]["id"].as_str().unwrap().to_string());
        assert_eq!(app.report(&t, &l, "ok").await.status.as_u16(), 200);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3);
    // One block cools one proxy down at qidian (for 300 s).
    let victim = {
        let l = app.lease(&t, &pool, "www.qidian.com", None).await.ok();
        let r = app.report(&t, &l, "blocked").await.ok();
        assert_eq!(r["outcome"], "blocked");
        l["proxy"]["id"].as_str().unwrap().to_string()
    };
    for _ in 0..20 {
        let l = app.lease(&t, &pool, "www.qidian.com", None).await.ok();
        assert_ne!(
            l["proxy"]["id"],
            json!(victim),
            "a cooling proxy is not leased for that host"
        );
        app.report(&t, &l, "ok").await.ok();
    }
    // The same proxy still serves other hosts.
    let mut other_host = false;
    for _ in 0..6 {
        let l = app
            .lease(&t, &pool, "edith.xiaohongshu.com", None)
            .await
            .ok();
        other_host |= l["proxy"]["id"] == json!(victim);
        app.report(&t, &l, "ok").await.ok();
    }
    assert!(other_host, "a block by one site does not kill the proxy");
    // A status code turns an `ok` report into a block.
    let l = app.lease(&t, &pool, "m.qidian.com", None).await.ok();
    let r = app
        .0
        .post(
            &format!(
                "/api/v1/proxy/leases/{}/report",
                l["lease_id"].as_str().unwrap()
            ),
            json!({"outcome": "ok", "status": 429}),
            Some(&t.access),
        )
        .await
        .ok();
    assert_eq!(r["outcome"], "blocked");
    let twice = app.report(&t, &l, "ok").await;
    assert_eq!(twice.status.as_u16(), 404, "a lease is reported once");
    let status = app.status(&t, &pool).await;
    assert_eq!(status["total"], 3);
    let qidian = status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["target"] == "www.qidian.com")
        .unwrap();
    assert_eq!(qidian["cooling"], 1, "{status}");
    assert_eq!(qidian["blocks"], 1);
    assert_eq!(
        status["by_state"]["active"], 3,
        "blocks never cool a proxy globally: {status}"
    );
    // After its cool-down (300 s), the proxy serves qidian again.
    app.advance(Duration::from_secs(301));
    let t = app.login("bea", crate::harness::PASSWORD).await;
    let mut back = false;
    for _ in 0..6 {
        let l = app.lease(&t, &pool, "www.qidian.com", None).await.ok();
        back |= l["proxy"]["id"] == json!(victim);
        app.report(&t, &l, "ok").await.ok();
    }
    assert!(back);
}

async fn sticky_sessions_keep_their_proxy_until_it_fails(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("sam").await;
    let pool = app
        .pool(
            &t,
            json!({"name": "s", "strategy": "sticky", "settings": {"sticky": {"max_uses": 4}}}),
        )
        .await;
    app.add(&t, &pool, &lines(4)).await;
    let first = app
        .lease(&t, &pool, "example.com", Some("user-1"))
        .await
        .ok();
    let id = first["proxy"]["id"].clone();
    app.report(&t, &first, "ok").await.ok();
    for _ in 0..3 {
        let l = app
            .lease(&t, &pool, "example.com", Some("user-1"))
            .await
            .ok();
        assert_eq!(l["proxy"]["id"], id, "the session keeps its proxy");
        app.report(&t, &l, "ok").await.ok();
    }
    // The fifth use passes max_uses: the session moves (and may land anywhere, but the
    // binding is fresh: the next four stay on the new proxy).
    let moved = app
        .lease(&t, &pool, "example.com", Some("user-1"))
        .await
        .ok();
    app.report(&t, &moved, "ok").await.ok();
    let again = app
        .lease(&t, &pool, "example.com", Some("user-1"))
        .await
        .ok();
    assert_eq!(again["proxy"]["id"], moved["proxy"]["id"]);
    // An error report moves the session to another proxy.
    app.report(&t, &again, "error").await.ok();
    let after = app
        .lease(&t, &pool, "example.com", Some("user-1"))
        .await
        .ok();
    let other_session = app.lease(&t, &pool, "example.com", Some("user-2")).await;
    assert_eq!(other_session.status.as_u16(), 200);
    let _ = after;
}

async fn tests_measure_anonymity_latency_and_dead_proxies(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("tess").await;
    let judge = Judge::start().await.unwrap();
    let elite = HttpProxy::start(ProxyBehaviour::mode(ProxyMode::Pass))
        .await
        .unwrap();
    let transparent = HttpProxy::start(ProxyBehaviour::mode(ProxyMode::AddHeaders(
        Anonymity::Transparent,
    )))
    .await
    .unwrap();
    let anonymous = HttpProxy::start(ProxyBehaviour::mode(ProxyMode::AddHeaders(
        Anonymity::Anonymous,
    )))
    .await
    .unwrap();
    let socks = Socks5Proxy::start(ProxyBehaviour::with_credentials("sock", "pw-9"))
        .await
        .unwrap();
    let broken = HttpProxy::start(ProxyBehaviour::mode(ProxyMode::Fail))
        .await
        .unwrap();
    let blocker = HttpProxy::start(ProxyBehaviour::mode(ProxyMode::InjectBlock(
        BlockPage::Captcha200,
    )))
    .await
    .unwrap();
    let pool = app
        .pool(
            &t,
            json!({"name": "t", "settings": {"test": {"url": judge.url(), "timeout_seconds": 3}}}),
        )
        .await;
    let urls = [
        &elite.url(),
        &transparent.url(),
        &anonymous.url(),
        &socks.url(),
        &broken.url(),
        &blocker.url(),
    ];
    let added = app
        .add(
            &t,
            &pool,
            &urls.iter().map(|u| u.to_string()).collect::<Vec<_>>(),
        )
        .await;
    let ids: Vec<Value> = added["ids"].as_array().unwrap().clone();
    let report = app
        .0
        .post(
            &format!("/api/v1/proxy/pools/{}/test", pool["id"].as_str().unwrap()),
            json!({}),
            Some(&t.access),
        )
        .await
        .ok();
    assert_eq!(report["tested"], 6, "{report}");
    let by_id = |i: usize| {
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["proxy_id"] == ids[i])
            .unwrap()
            .clone()
    };
    assert_eq!(
        (by_id(0)["outcome"].clone(), by_id(0)["anonymity"].clone()),
        (json!("ok"), json!("elite"))
    );
    assert_eq!(by_id(1)["anonymity"], "transparent");
    assert_eq!(by_id(2)["anonymity"], "anonymous");
    assert_eq!(
        by_id(3)["outcome"],
        "ok",
        "SOCKS5 with credentials: {report}"
    );
    assert_eq!(by_id(4)["outcome"], "error");
    assert_eq!(by_id(5)["outcome"], "blocked");
    assert!(by_id(0)["latency_ms"].as_u64().is_some());
    assert!(!report.to_string().contains("pw-9"));
    assert!(socks.requests() >= 1 && elite.requests() >= 1);
    let list = app
        .0
        .get(
            &format!(
                "/api/v1/proxy/pools/{}/proxies",
                pool["id"].as_str().unwrap()
            ),
            Some(&t.access),
        )
        .await
        .ok();
    let first = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == ids[0])
        .unwrap();
    assert_eq!(first["anonymity"], "elite");
    assert!(first["last_checked_at"].is_string());
    // A judge URL on a private address is refused without the setting — here it is allowed,
    // but a malformed one is a 422.
    let bad = app
        .0
        .post(
            &format!("/api/v1/proxy/pools/{}/test", pool["id"].as_str().unwrap()),
            json!({"url": "ftp://x"}),
            Some(&t.access),
        )
        .await;
    assert_eq!(bad.status.as_u16(), 422);
}

async fn a_burst_of_leases_and_reports_loses_no_count(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("burst").await;
    let pool = app
        .pool(&t, json!({"name": "b", "strategy": "least_used"}))
        .await;
    app.add(&t, &pool, &lines(5)).await;
    let runs = (0..60).map(|i| {
        let (app, t, pool) = (&app, &t, &pool);
        async move {
            let l = app.lease(t, pool, "burst.example", None).await.ok();
            let outcome = if i % 3 == 0 { "error" } else { "ok" };
            let r = app.report(t, &l, outcome).await;
            assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
        }
    });
    futures::future::join_all(runs).await;
    let status = app.status(&t, &pool).await;
    let target = &status["targets"][0];
    assert_eq!(target["target"], "burst.example");
    // 40 ok of 60 reports, all counted once, whatever instance order.
    assert_eq!(
        target["success_rate"].as_f64().unwrap(),
        40.0 / 60.0,
        "{status}"
    );
    let list = app
        .0
        .get(
            &format!(
                "/api/v1/proxy/pools/{}/proxies",
                pool["id"].as_str().unwrap()
            ),
            Some(&t.access),
        )
        .await
        .ok();
    let total: i64 = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["successes"].as_i64().unwrap() + p["failures"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 60);
}

async fn the_http_step_goes_through_the_pool_and_reports_blocks(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("hank").await;
    let judge = Judge::start().await.unwrap();
    let good = HttpProxy::start(ProxyBehaviour::mode(ProxyMode::Pass))
        .await
        .unwrap();
    let pool = app.pool(&t, json!({"name": "h"})).await;
    app.add(&t, &pool, &[good.url()]).await;
    let steps = json!([{"id": "get", "type": "http_request",
        "params": {"method": "GET", "url": judge.url_for("/ok"), "proxy_pool_id": pool["id"]}}]);
    let done = app.collect(&t, "via-pool", steps.clone()).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(good.requests(), 1, "the request went through the proxy");
    // Now the proxy injects a captcha page: the step still gets a 200, the pool counts a block.
    good.set_mode(ProxyMode::InjectBlock(BlockPage::Captcha200))
        .await
        .unwrap();
    app.collect(&t, "via-pool", steps).await;
    let status = app.status(&t, &pool).await;
    let host = status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["target"] == "127.0.0.1")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(host["blocks"], 1, "{status}");
    assert_eq!(host["cooling"], 1);
}

async fn periodic_validation_tests_the_pool_on_its_schedule(b: Backend) {
    let app = app(b).await;
    let (_, t) = app.user("vera").await;
    let judge = Judge::start().await.unwrap();
    let proxy = HttpProxy::start(ProxyBehaviour::mode(ProxyMode::Pass))
        .await
        .unwrap();
    let pool = app
        .pool(&t, json!({"name": "v", "settings": {"test": {"url": judge.url(), "interval_seconds": 300}}}))
        .await;
    app.add(&t, &pool, &[proxy.url()]).await;
    let path = format!(
        "/api/v1/proxy/pools/{}/proxies",
        pool["id"].as_str().unwrap()
    );
    let checked = |v: &Value| v["items"][0]["last_checked_at"].is_string();
    assert!(!checked(&app.0.get(&path, Some(&t.access)).await.ok()));
    // The schedule fires after 300 s of server time; the run then waits its jitter (at
    // most 30 s, on the same clock) and tests the pool.
    app.advance(Duration::from_secs(301));
    let mut done = false;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        app.advance(Duration::from_secs(2));
        if checked(&app.0.get(&path, Some(&t.access)).await.ok()) {
            done = true;
            break;
        }
    }
    assert!(done, "the periodic validation never ran");
    assert!(proxy.requests() >= 1);
    let list = app.0.get(&path, Some(&t.access)).await.ok();
    assert_eq!(list["items"][0]["anonymity"], "elite");
}
