//! Momentum scenario (issue 8): one workspace with 6 labels and 100 issues (two labels, an
//! assignee and a project each); `GET /labels`, `GET /issues?limit=50`, `GET /issues/{key}`
//! and `POST /issues` at 64 connections, the server pinned to CPU 0 and this load generator
//! meant to run on CPU 1 (`taskset -c 1 trellis-bench momentum`). PostgreSQL by default
//! (`--database-url`), SQLite with `--sqlite`; optionally the original project side by side
//! (`--original-base` of a running original seeded by `bench/reference/momentum_original.sh`,
//! `--original-token`).
//!
//! Queries per request: the server is started a second time with `LOG_LEVEL=sqlx::query=debug`
//! and one request of each kind is made with 10 and with 100 issues present; the statement log
//! lines are counted, so a list that grows with its rows shows.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::probe::{median, percentile};
use crate::server::Server;
use crate::wire;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "target/release/trellis")]
    server: String,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long, default_value_t = 8)]
    seconds: u64,
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// A PostgreSQL server URL; the scenario creates and drops its own database there.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    database_url: String,
    /// Run on SQLite instead of PostgreSQL.
    #[arg(long)]
    sqlite: bool,
    /// Base URL (`http://127.0.0.1:8001`) of the original project, already seeded.
    #[arg(long)]
    original_base: Option<String>,
    /// An access token of the original's seeded user.
    #[arg(long)]
    original_token: Option<String>,
    /// An issue id of the original's seed (for `GET /issues/{id}`).
    #[arg(long)]
    original_issue: Option<String>,
    /// The original's team id (for `POST /issues`).
    #[arg(long)]
    original_team: Option<String>,
}

/// Builds the `i`-th request of a load (the same bytes, or a fresh body each time).
type Req = Arc<dyn Fn(usize) -> Vec<u8> + Send + Sync>;

const DB_NAME: &str = "trellis_bench_momentum";

fn psql(base: &str, sql: &str) -> anyhow::Result<()> {
    let url = format!("{}/postgres", base.trim_end_matches('/'));
    let out = Command::new("psql")
        .args([&url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Fresh database (PostgreSQL) and the environment of the server under test.
fn server_env(a: &Args) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut env = vec![
        ("TRELLIS_APPS", "momentum".to_string()),
        ("RATE_LIMIT_ENABLED", "false".to_string()),
        ("RATE_LIMIT_PER_SECOND", "0".to_string()),
        ("TRELLIS_LOGIN_IP_PER_MINUTE", "0".to_string()),
    ];
    if !a.sqlite {
        psql(
            &a.database_url,
            &format!("DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"),
        )?;
        psql(&a.database_url, &format!("CREATE DATABASE {DB_NAME}"))?;
        env.push((
            "DATABASE_URL",
            format!("{}/{DB_NAME}", a.database_url.trim_end_matches('/')),
        ));
    }
    Ok(env)
}

pub(crate) struct Seed {
    token: String,
    team_id: String,
    key: String,
}

/// A REST call of Momentum's API (shared by the WebSocket tools); `Ok(data)` for a 2xx answer,
/// an error naming the URL, the status and the body otherwise (a body that is not JSON
/// included).
pub(crate) async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut req = client.request(method, &url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await?;
    let status = r.status();
    let text = r.text().await?;
    anyhow::ensure!(status.is_success(), "{url}: {status} {text}");
    let v: Value = serde_json::from_str(&text)?;
    Ok(v["data"].clone())
}

/// Registers a user and creates 3 more labels (6), 2 projects and `issues` issues with two
/// labels, the user as assignee and a project each.
pub(crate) async fn seed(base: &str, issues: usize) -> anyhow::Result<Seed> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let d = call(
        &client,
        reqwest::Method::POST,
        format!("{base}/auth/register"),
        None,
        Some(json!({"email": "bench@example.com", "username": "bench", "name": "Bench", "password": "Bench-Password-1"})),
    )
    .await?;
    let token = d["access_token"].as_str().unwrap_or_default().to_string();
    let user_id = d["user"]["id"].clone();
    let t = Some(token.as_str());
    for (name, color) in [
        ("Frontend", "#336699"),
        ("Backend", "#993366"),
        ("Infra", "#669933"),
    ] {
        call(
            &client,
            reqwest::Method::POST,
            format!("{base}/labels"),
            t,
            Some(json!({"name": name, "color": color, "level": "issue"})),
        )
        .await?;
    }
    let labels = call(
        &client,
        reqwest::Method::GET,
        format!("{base}/labels"),
        t,
        None,
    )
    .await?;
    let label_ids: Vec<Value> = labels
        .as_array()
        .map(|l| l.iter().map(|x| x["id"].clone()).collect())
        .unwrap_or_default();
    anyhow::ensure!(label_ids.len() == 6, "expected 6 labels, got {labels}");
    let mut projects = Vec::new();
    for (name, key) in [("Website", "WEB"), ("Platform", "PLT")] {
        let p = call(
            &client,
            reqwest::Method::POST,
            format!("{base}/projects"),
            t,
            Some(json!({"name": name, "project_key": key})),
        )
        .await?;
        projects.push(p["id"].clone());
    }
    let teams = call(
        &client,
        reqwest::Method::GET,
        format!("{base}/teams"),
        t,
        None,
    )
    .await?;
    let team_id = teams[0]["id"].as_str().unwrap_or_default().to_string();
    let mut key = String::new();
    for i in 0..issues {
        let priority = ["low", "medium", "high", "urgent"][i % 4];
        let d = call(
            &client,
            reqwest::Method::POST,
            format!("{base}/issues"),
            t,
            Some(json!({
                "title": format!("Issue number {i} with a realistic title"),
                "description": "Steps to reproduce: open the page, click the button, see the error.",
                "team_id": team_id,
                "priority": priority,
                "assignee_id": user_id,
                "project_id": projects[i % 2],
                "label_ids": [label_ids[i % 6], label_ids[(i + 1) % 6]],
            })),
        )
        .await?;
        key = d["key"].as_str().unwrap_or_default().to_string();
    }
    Ok(Seed {
        token,
        team_id,
        key,
    })
}

/// `connections` keep-alive clients sending `request(i)` for `secs`; returns (requests/s,
/// p99 ms). Any status other than `expect` stops that connection and is reported.
async fn load(addr: &str, request: Req, expect: u16, connections: usize, secs: u64) -> (f64, f64) {
    let stop = Instant::now() + Duration::from_secs(secs);
    let counter = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..connections)
        .map(|_| {
            let (addr, request, counter) = (addr.to_string(), request.clone(), counter.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let Ok(mut c) = wire::Conn::open(&addr).await else {
                    return lat;
                };
                while Instant::now() < stop {
                    let req = request(counter.fetch_add(1, Ordering::Relaxed));
                    let t = Instant::now();
                    match c.send(&req).await {
                        Ok(s) if s == expect => lat.push(t.elapsed()),
                        other => {
                            eprintln!("unexpected answer {other:?}");
                            break;
                        }
                    }
                }
                lat
            })
        })
        .collect();
    let started = Instant::now();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap_or_default());
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    (rate, percentile(&mut all, 99.0).as_secs_f64() * 1000.0)
}

struct Target {
    name: &'static str,
    addr: String,
    token: String,
    key: String,
    team_id: String,
}

fn scenarios(t: &Target) -> Vec<(&'static str, Req, u16)> {
    let auth = format!("Bearer {}", t.token);
    let get = |path: String| -> Req {
        let req = wire::request("GET", &t.addr, &path, &[("Authorization", &auth)], None);
        Arc::new(move |_| req.clone())
    };
    let (addr, auth2, team) = (t.addr.clone(), auth.clone(), t.team_id.clone());
    let post: Req = Arc::new(move |i| {
        let body = json!({"title": format!("Load issue {i}"), "team_id": team}).to_string();
        wire::request(
            "POST",
            &addr,
            "/issues",
            &[("Authorization", &auth2)],
            Some(&body),
        )
    });
    vec![
        ("GET /labels", get("/labels".into()), 200),
        ("GET /issues?limit=50", get("/issues?limit=50".into()), 200),
        ("GET /issues/{key}", get(format!("/issues/{}", t.key)), 200),
        ("POST /issues", post, 201),
    ]
}

/// Counts the SQL statements one request of each kind runs, with `issues` issues seeded.
async fn count_queries(a: &Args, issues: usize) -> anyhow::Result<Vec<(&'static str, usize)>> {
    let mut env = server_env(a)?;
    env.push(("LOG_LEVEL", "warn,sqlx::query=debug".into()));
    env.push(("LOG_FORMAT", "json".into()));
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Server::start_logged(&a.server, &env_ref)?;
    let base = s.base.clone();
    let seed = seed(&base, issues).await?;
    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut out = Vec::new();
    for (name, path) in [
        ("GET /labels", "/labels".to_string()),
        ("GET /issues?limit=50", "/issues?limit=50".to_string()),
        ("GET /issues/{key}", format!("/issues/{}", seed.key)),
    ] {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = s.log_lines("rows_returned");
        call(
            &client,
            reqwest::Method::GET,
            format!("{base}{path}"),
            Some(&seed.token),
            None,
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        out.push((name, s.log_lines("rows_returned") - before));
    }
    Ok(out)
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let backend = if a.sqlite { "SQLite" } else { "PostgreSQL" };
    let q10 = count_queries(&a, 10).await?;
    let q100 = count_queries(&a, 100).await?;
    println!("queries per request ({backend}), with 10 / 100 issues:");
    for ((name, n10), (_, n100)) in q10.iter().zip(&q100) {
        println!("  {name:<24} {n10} / {n100}");
    }
    let env = server_env(&a)?;
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Server::start(&a.server, Some("0"), &env_ref)?;
    let seed = seed(&s.base, 100).await?;
    let mut targets = vec![Target {
        name: "trellis",
        addr: s.base.trim_start_matches("http://").to_string(),
        token: seed.token,
        key: seed.key,
        team_id: seed.team_id,
    }];
    if let (Some(base), Some(token), Some(issue), Some(team)) = (
        &a.original_base,
        &a.original_token,
        &a.original_issue,
        &a.original_team,
    ) {
        targets.push(Target {
            name: "original",
            addr: base.trim_start_matches("http://").to_string(),
            token: token.clone(),
            key: issue.clone(),
            team_id: team.clone(),
        });
    }
    println!(
        "{backend}, {} connections, {} s x {} runs (median):",
        a.connections, a.seconds, a.runs
    );
    let names: Vec<&str> = scenarios(&targets[0]).iter().map(|s| s.0).collect();
    for (i, name) in names.iter().enumerate() {
        let mut results: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); targets.len()];
        for _ in 0..a.runs {
            // Side by side: each run measures every target in turn.
            for (ti, t) in targets.iter().enumerate() {
                let (_, req, expect) = scenarios(t).swap_remove(i);
                let (rate, p99) = load(&t.addr, req, expect, a.connections, a.seconds).await;
                results[ti].0.push(rate);
                results[ti].1.push(p99);
            }
        }
        let mut line = format!("  {name:<24}");
        let ours = median(results[0].0.clone());
        for (ti, t) in targets.iter().enumerate() {
            let rate = median(results[ti].0.clone());
            let p99 = median(results[ti].1.clone());
            line.push_str(&format!(
                "  {}: {rate:>8.0} req/s p99 {p99:>6.1} ms",
                t.name
            ));
        }
        if targets.len() > 1 {
            let theirs = median(results[1].0.clone());
            line.push_str(&format!("  ratio {:.1}x", ours / theirs.max(1e-9)));
        }
        println!("{line}");
    }
    drop(s);
    if !a.sqlite {
        psql(
            &a.database_url,
            &format!("DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"),
        )?;
    }
    Ok(())
}
