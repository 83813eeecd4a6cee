//! Engine scenario (issue 10): trivial 3-step executions (transform → condition → transform)
//! started over HTTP by `--clients` concurrent clients for `--seconds`, on SQLite or on
//! PostgreSQL (`--database-url`, a fresh database per run). The server is pinned to CPU 0;
//! run this load generator on CPU 1 (`taskset -c 1 trellis-bench engine`).
//!
//! Figures per run: executions completed per second (completed runs ÷ the span from the
//! first creation to the last finish, as the engine recorded them), p50/p99 start-to-finish
//! latency (`finished_at − created_at` of each execution), and the cancel latency of long
//! executions cancelled under that load (client-observed: cancel request sent → the API
//! reports `cancelled`). The Prefect 3 side of the comparison is `bench/reference/prefect/`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;

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
    /// Clients starting executions at once (each waits for its start's answer).
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Long executions cancelled during the load (cancel latency samples).
    #[arg(long, default_value_t = 20)]
    cancels: usize,
    /// A PostgreSQL server URL; the scenario creates and drops its own database there.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    database_url: String,
    /// Run on SQLite instead of PostgreSQL.
    #[arg(long)]
    sqlite: bool,
}

const DB_NAME: &str = "trellis_bench_engine";

fn psql(base: &str, sql: &str) -> anyhow::Result<()> {
    let url = format!("{}/postgres", base.trim_end_matches('/'));
    let out = std::process::Command::new("psql")
        .args([&url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

async fn setup(base: &str) -> anyhow::Result<(Api, String, String)> {
    let api = Api::admin(base).await?;
    api.raise_limits(
        json!({"executions_per_month": 100_000_000, "concurrent_executions": 100_000}),
    )
    .await?;
    let (st, def) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/workflow/definitions",
            Some(json!({"name": "bench-3-steps", "steps": [
                {"id": "double", "type": "transform", "params": {"program": "{n: (.input.n * 2)}"}},
                {"id": "check", "type": "condition", "depends_on": ["double"], "params": {"predicate": ".steps.double.n >= 0"}},
                {"id": "label", "type": "transform", "depends_on": ["check"], "params": {"program": "{label: \"n=\\(.steps.double.n)\"}"}}
            ]})),
        )
        .await?;
    anyhow::ensure!(st == 201, "definition: {st} {def}");
    let (st, slow) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/workflow/definitions",
            Some(json!({"name": "bench-long", "steps": [
                {"id": "wait", "type": "delay", "params": {"seconds": 3600}}
            ]})),
        )
        .await?;
    anyhow::ensure!(st == 201, "definition: {st} {slow}");
    let d = def["data"]["id"].as_str().unwrap_or_default().to_string();
    let s = slow["data"]["id"].as_str().unwrap_or_default().to_string();
    Ok((api, d, s))
}

struct RunFigures {
    started: usize,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    cancel_p50_ms: f64,
    cancel_p99_ms: f64,
    failed: usize,
}

async fn one_run(a: &Args, run: usize) -> anyhow::Result<RunFigures> {
    let mut env: Vec<(&str, String)> = vec![
        ("TRELLIS_APPS", "workflow".into()),
        ("RATE_LIMIT_ENABLED", "false".into()),
        ("TRELLIS_LOGIN_IP_PER_MINUTE", "0".into()),
    ];
    let db = format!("{DB_NAME}_{run}");
    if !a.sqlite {
        psql(&a.database_url, &format!("DROP DATABASE IF EXISTS {db}"))?;
        psql(&a.database_url, &format!("CREATE DATABASE {db}"))?;
        env.push((
            "DATABASE_URL",
            format!("{}/{db}", a.database_url.trim_end_matches('/')),
        ));
    }
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&a.server, Some("0"), &env_ref)?;
    let (api, def, slow) = setup(&server.base).await?;
    let api = Arc::new(api);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..a.clients {
        let (api, def, stop, started) = (api.clone(), def.clone(), stop.clone(), started.clone());
        clients.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let body = json!({"definition_id": def, "input": {"n": c as u64 * 1_000_000 + i}});
                if let Ok((201, _)) = api
                    .call(
                        reqwest::Method::POST,
                        "/api/v1/workflow/executions",
                        Some(body),
                    )
                    .await
                {
                    started.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    // Cancels under load: start a long execution, let it run, cancel, time to `cancelled`.
    let mut cancel_lat = Vec::new();
    let load_end = Instant::now() + Duration::from_secs(a.seconds);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..a.cancels {
        if Instant::now() >= load_end {
            break;
        }
        let (_, e) = api
            .call(
                reqwest::Method::POST,
                "/api/v1/workflow/executions",
                Some(json!({"definition_id": slow})),
            )
            .await?;
        let id = e["data"]["id"].as_str().unwrap_or_default().to_string();
        let path = format!("/api/v1/workflow/executions/{id}");
        loop {
            let (_, x) = api.call(reqwest::Method::GET, &path, None).await?;
            if x["data"]["status"] == "running" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let t0 = Instant::now();
        api.call(
            reqwest::Method::POST,
            &format!("{path}/cancel"),
            Some(json!({})),
        )
        .await?;
        loop {
            let (_, x) = api.call(reqwest::Method::GET, &path, None).await?;
            if x["data"]["status"] == "cancelled" {
                break;
            }
            anyhow::ensure!(t0.elapsed() < Duration::from_secs(60), "cancel never ended");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel_lat.push(t0.elapsed());
    }
    tokio::time::sleep(load_end.saturating_duration_since(Instant::now())).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    // Let the queue drain, then read every execution's recorded times.
    let total = started.load(Ordering::Relaxed);
    let drain_until = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, page) = api
            .call(
                reqwest::Method::GET,
                &format!(
                    "/api/v1/workflow/executions?definition_id={def}&status=completed&page_size=1"
                ),
                None,
            )
            .await?;
        let (_, failed) = api
            .call(
                reqwest::Method::GET,
                &format!(
                    "/api/v1/workflow/executions?definition_id={def}&status=failed&page_size=1"
                ),
                None,
            )
            .await?;
        let done = page["data"]["total"].as_u64().unwrap_or(0)
            + failed["data"]["total"].as_u64().unwrap_or(0);
        if done as usize >= total || Instant::now() > drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut lat = Vec::new();
    let (mut first, mut last): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
    let mut failed = 0;
    let mut page = 1;
    loop {
        let (_, p) = api
            .call(
                reqwest::Method::GET,
                &format!(
                    "/api/v1/workflow/executions?definition_id={def}&page={page}&page_size=100"
                ),
                None,
            )
            .await?;
        let items = p["data"]["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        for e in items {
            if e["status"] != "completed" {
                failed += 1;
                continue;
            }
            let c: DateTime<Utc> = e["created_at"].as_str().unwrap_or_default().parse()?;
            let f: DateTime<Utc> = e["finished_at"].as_str().unwrap_or_default().parse()?;
            first = Some(first.map_or(c, |x| x.min(c)));
            last = Some(last.map_or(f, |x| x.max(f)));
            lat.push((f - c).to_std().unwrap_or_default());
        }
        page += 1;
    }
    drop(server);
    if !a.sqlite {
        let _ = psql(&a.database_url, &format!("DROP DATABASE IF EXISTS {db}"));
    }
    let span = match (first, last) {
        (Some(f), Some(l)) => (l - f).to_std().unwrap_or_default().as_secs_f64(),
        _ => 0.0,
    };
    let completed = lat.len();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(RunFigures {
        started: total,
        per_sec: if span > 0.0 {
            completed as f64 / span
        } else {
            0.0
        },
        p50_ms: if lat.is_empty() {
            0.0
        } else {
            ms(percentile(&mut lat, 50.0))
        },
        p99_ms: if lat.is_empty() {
            0.0
        } else {
            ms(percentile(&mut lat, 99.0))
        },
        cancel_p50_ms: if cancel_lat.is_empty() {
            0.0
        } else {
            ms(percentile(&mut cancel_lat, 50.0))
        },
        cancel_p99_ms: if cancel_lat.is_empty() {
            0.0
        } else {
            ms(percentile(&mut cancel_lat, 99.0))
        },
        failed,
    })
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let backend = if a.sqlite { "SQLite" } else { "PostgreSQL" };
    println!(
        "engine: 3-step executions over HTTP, {} clients, {} s per run, {backend}",
        a.clients, a.seconds
    );
    let mut rates = Vec::new();
    let mut p99s = Vec::new();
    let mut cancels = Vec::new();
    for run in 0..a.runs {
        let f = one_run(&a, run).await?;
        println!(
            "run {}: started {} | completed/s {:.0} | start-to-finish p50 {:.1} ms p99 {:.1} ms | cancel p50 {:.0} ms p99 {:.0} ms | not completed {}",
            run + 1,
            f.started,
            f.per_sec,
            f.p50_ms,
            f.p99_ms,
            f.cancel_p50_ms,
            f.cancel_p99_ms,
            f.failed
        );
        rates.push(f.per_sec);
        p99s.push(f.p99_ms);
        cancels.push(f.cancel_p99_ms);
    }
    println!(
        "median of {} runs: completed/s {:.0}, start-to-finish p99 {:.1} ms, cancel p99 {:.0} ms",
        a.runs,
        median(rates),
        median(p99s),
        median(cancels)
    );
    Ok(())
}
