//! Proxy pools and collectors scenario (issue 11 "Performance"):
//!
//! 1. **Lease + report**: a pool of `--proxies` (1,000) proxies; an open-loop generator
//!    starts `--rate` (2,000) lease-then-report round trips per second over HTTP for
//!    `--seconds`; figures: achieved rate, p50/p99 of the round trip (lease sent → report
//!    answered). The server is pinned to CPU 0; run this generator on CPU 1.
//! 2. **Pool test**: `--test-proxies` (1,000) real local HTTP proxies (95% answering, 2.5%
//!    slow by `--slow-ms`, 2.5% closing at once) tested through `POST /test` at concurrency
//!    100 with a `--timeout` second timeout; figure: wall time vs 2 × timeout.
//! 3. **Catalog parsing**: the Qidian catalog fixture page of 1,418 chapters parsed on one
//!    core for 3 s; figure: pages per second.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trellis_workflow::collectors::fixtures::proxies::{
    HttpProxy, Judge, ProxyBehaviour, ProxyMode,
};
use trellis_workflow::collectors::qidian;

use crate::api::Api;
use crate::probe::{median, percentile};
use crate::server::Server;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "target/release/trellis")]
    server: String,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Lease + report round trips started per second.
    #[arg(long, default_value_t = 2000)]
    rate: u64,
    /// Proxies in the leased pool.
    #[arg(long, default_value_t = 1000)]
    proxies: u32,
    /// Real local proxies in the tested pool.
    #[arg(long, default_value_t = 1000)]
    test_proxies: usize,
    /// Per-proxy test timeout, seconds.
    #[arg(long, default_value_t = 3)]
    timeout: u64,
    /// Delay of the slow proxies, ms.
    #[arg(long, default_value_t = 2000)]
    slow_ms: u64,
}

async fn login(base: &str) -> anyhow::Result<Api> {
    let api = Api::admin(base).await?;
    api.raise_limits(json!({"proxy_pools": 1000})).await?;
    Ok(api)
}

async fn pool(
    api: &Api,
    name: &str,
    strategy: &str,
    settings: Value,
    proxies: Vec<String>,
) -> anyhow::Result<String> {
    let (st, p) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/proxy/pools",
            Some(json!({"name": name, "strategy": strategy, "settings": settings})),
        )
        .await?;
    anyhow::ensure!(st == 201, "pool: {st} {p}");
    let id = p["data"]["id"].as_str().unwrap_or_default().to_string();
    let (st, b) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/proxy/pools/{id}/proxies"),
            Some(json!({"proxies": proxies})),
        )
        .await?;
    anyhow::ensure!(st == 201, "proxies: {st} {b}");
    Ok(id)
}

async fn lease_report(api: Arc<Api>, pool: String, i: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let target = format!("site{}.example", i % 8);
    let (st, l) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/proxy/pools/{pool}/lease"),
            Some(json!({"target": target})),
        )
        .await?;
    anyhow::ensure!(st == 200, "lease: {st} {l}");
    let lease = l["data"]["lease_id"].as_str().unwrap_or_default();
    let outcome = if i.is_multiple_of(50) {
        "blocked"
    } else {
        "ok"
    };
    let (st, r) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/proxy/leases/{lease}/report"),
            Some(json!({"outcome": outcome, "latency_ms": 80 + i % 40})),
        )
        .await?;
    anyhow::ensure!(st == 200, "report: {st} {r}");
    Ok(started.elapsed())
}

async fn leases(a: &Args, api: Arc<Api>, run: usize) -> anyhow::Result<(f64, Duration, Duration)> {
    let lines: Vec<String> = (0..a.proxies)
        .map(|i| format!("http://10.{}.{}.1:{}", i / 250, i % 250, 3128))
        .collect();
    let pool = pool(&api, &format!("lease-{run}"), "weighted", json!({}), lines).await?;
    // Warm-up: the pool is loaded into memory by its first lease.
    lease_report(api.clone(), pool.clone(), 1).await?;
    let total = a.rate * a.seconds;
    let gap = Duration::from_secs_f64(1.0 / a.rate as f64);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let at = start + gap * i as u32;
        tokio::time::sleep_until(at.into()).await;
        tasks.push(tokio::spawn(lease_report(api.clone(), pool.clone(), i)));
    }
    let mut samples = Vec::with_capacity(tasks.len());
    for t in tasks {
        samples.push(t.await??);
    }
    let rate = samples.len() as f64 / start.elapsed().as_secs_f64();
    Ok((
        rate,
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
    ))
}

async fn pool_test(a: &Args, api: &Api, run: usize) -> anyhow::Result<(Duration, Value)> {
    let judge = Judge::start().await?;
    let mut proxies = Vec::with_capacity(a.test_proxies);
    for i in 0..a.test_proxies {
        let mode = match i % 40 {
            0 => ProxyMode::Delay(Duration::from_millis(a.slow_ms)),
            1 => ProxyMode::Fail,
            _ => ProxyMode::Pass,
        };
        proxies.push(HttpProxy::start(ProxyBehaviour::mode(mode)).await?);
    }
    let lines = proxies.iter().map(HttpProxy::url).collect();
    let settings =
        json!({"test": {"url": judge.url(), "concurrency": 100, "timeout_seconds": a.timeout}});
    let pool = pool(api, &format!("test-{run}"), "weighted", settings, lines).await?;
    let started = Instant::now();
    let (st, report) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/proxy/pools/{pool}/test"),
            Some(json!({})),
        )
        .await?;
    let took = started.elapsed();
    anyhow::ensure!(st == 200, "test: {st}");
    let d = &report["data"];
    Ok((
        took,
        json!({"tested": d["tested"], "ok": d["ok"], "failed": d["failed"], "blocked": d["blocked"]}),
    ))
}

fn parse_catalog() -> f64 {
    let Some(book) = qidian::pages::data::book(qidian::pages::data::BIG_BOOK_ID) else {
        return 0.0;
    };
    let html = qidian::pages::catalog_page(&book);
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(3) {
        let cat = qidian::parse_catalog_html(&html).expect("the fixture catalog parses");
        assert!(cat.chapter_count() > 1000);
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let env = [
        ("TRELLIS_APPS", "workflow"),
        ("TRELLIS_ALLOW_PRIVATE_TARGETS", "true"),
        ("RATE_LIMIT_ENABLED", "false"),
        ("TRELLIS_LOGIN_IP_PER_MINUTE", "0"),
    ];
    let mut rates = Vec::new();
    let (mut p50s, mut p99s, mut tests) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..a.runs {
        let server = Server::start(&a.server, Some("0"), &env)?;
        let api = Arc::new(login(&server.base).await?);
        let (rate, p50, p99) = leases(&a, api.clone(), run).await?;
        println!(
            "run {run}: lease+report {rate:.0}/s p50 {:.2} ms p99 {:.2} ms",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
        let (took, summary) = pool_test(&a, &api, run).await?;
        println!(
            "run {run}: test of {} proxies: {:.2} s (2 × timeout = {} s) {summary}",
            a.test_proxies,
            took.as_secs_f64(),
            2 * a.timeout
        );
        rates.push(rate);
        p50s.push(p50.as_secs_f64() * 1e3);
        p99s.push(p99.as_secs_f64() * 1e3);
        tests.push(took.as_secs_f64());
        drop(server);
    }
    let parse = tokio::task::spawn_blocking(parse_catalog).await?;
    println!(
        "median of {} runs: lease+report {:.0}/s, p50 {:.2} ms, p99 {:.2} ms; pool test {:.2} s; catalog parsing {parse:.0} pages/s (one core)",
        a.runs,
        median(rates),
        median(p50s),
        median(p99s),
        median(tests)
    );
    Ok(())
}
