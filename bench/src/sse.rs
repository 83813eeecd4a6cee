//! Scenario `sse` (issue 12): diet-plan tasks streamed to many followers.
//!
//! 1. A release `trellis` (diet planner only) whose LLM provider is a local fake
//!    OpenAI-compatible server streaming each narrative slowly, so the tasks stay running.
//! 2. `--tasks` (100) plan tasks; `--followers` (10,000) SSE followers spread evenly over
//!    them, from the start of each log. Server RSS is sampled throughout (peak reported).
//! 3. A reconnect storm: every follower drops its connection at once and reconnects with
//!    `Last-Event-ID`; the time until all have their stream back (status 200) is reported.
//! 4. When every task is done, each follower's frames (before and after the storm) are
//!    compared with the task's log read afresh: events lost and duplicated are counted.
//! 5. The no-key planner in-process: median time of one whole plan (assess, 4 weeks,
//!    assemble) over `--plans` runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;
use trellis_llm::fixtures::{FakeOpenAi, Scripted};

use crate::server::{ADMIN_PASSWORD, Server};

/// Options of the `sse` scenario.
#[derive(clap::Args)]
pub struct Args {
    /// The server binary.
    #[arg(long, default_value = "target/release/trellis")]
    bin: String,
    /// CPUs to pin the server to (`taskset -c`).
    #[arg(long)]
    cpus: Option<String>,
    /// Running tasks.
    #[arg(long, default_value_t = 100)]
    tasks: usize,
    /// SSE followers in all.
    #[arg(long, default_value_t = 10_000)]
    followers: usize,
    /// Milliseconds between the fake LLM's chunks (longer: tasks run longer).
    #[arg(long, default_value_t = 40)]
    chunk_ms: u64,
    /// Runs of the in-process no-key plan timing.
    #[arg(long, default_value_t = 200)]
    plans: usize,
}

/// One received frame: id, event, data.
type Frame = (String, String, String);

fn narrative() -> String {
    let week = json!({"diet_adjustment_principle": "循序渐进，逐步过渡到新食谱",
                      "weekly_special_adjustment_note": "注意饮水与排便情况",
                      "suggestions": ["每周称重一次", "保持每日散步", "记录食欲变化"]});
    json!({"ai_suggestions": "整体营养均衡，请按计划定时定量喂食，并在两到四周后复查体重。",
           "weeks": [week, week, week, week]})
    .to_string()
}

fn chunks(s: &str, n: usize) -> Vec<String> {
    let c: Vec<char> = s.chars().collect();
    c.chunks(n).map(|x| x.iter().collect()).collect()
}

/// Follows `task` until `done`; on a storm signal drops the connection and resumes with
/// `Last-Event-ID`, reporting how long the reconnection took.
async fn follow(
    http: reqwest::Client,
    url: String,
    token: Arc<String>,
    mut storm: watch::Receiver<bool>,
    connected: Arc<AtomicUsize>,
    resumed: Arc<AtomicUsize>,
) -> anyhow::Result<(Vec<Frame>, Option<Duration>)> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut reconnect: Option<Duration> = None;
    let mut stormed = false;
    loop {
        let mut req = http.get(&url).bearer_auth(token.as_str());
        if let Some((id, _, _)) = frames.last() {
            req = req.header("last-event-id", id.as_str());
        }
        let t0 = Instant::now();
        let r = req.send().await?;
        anyhow::ensure!(r.status() == 200, "follow: {}", r.status());
        if stormed && reconnect.is_none() {
            reconnect = Some(t0.elapsed());
            resumed.fetch_add(1, Ordering::Relaxed);
        } else if !stormed {
            connected.fetch_add(1, Ordering::Relaxed);
        }
        let mut s = eventsource_stream::Eventsource::eventsource(r.bytes_stream());
        loop {
            tokio::select! {
                e = s.next() => match e {
                    Some(Ok(e)) => {
                        let done = e.event == "done";
                        frames.push((e.id, e.event, e.data));
                        if done {
                            return Ok((frames, reconnect));
                        }
                    }
                    Some(Err(e)) => anyhow::bail!("stream: {e}"),
                    None => break,
                },
                _ = storm.changed(), if !stormed => {
                    stormed = true;
                    break;
                }
            }
        }
    }
}

/// Runs the scenario and prints its figures.
pub async fn run(a: Args) -> anyhow::Result<()> {
    crate::ws::stress::raise_nofile(a.followers as u64 * 2 + 4096);
    let fake = FakeOpenAi::start(vec![Scripted::Stream {
        content: chunks(&narrative(), 2),
        reasoning: vec![],
        keepalive: true,
        delay_ms: a.chunk_ms,
        usage: true,
    }])
    .await;
    let base_url = fake.base_url();
    let server = Server::start(
        &a.bin,
        a.cpus.as_deref(),
        &[
            ("TRELLIS_APPS", "dietplan"),
            ("DEEPSEEK_API_KEY", "bench"),
            ("DEEPSEEK_API_BASE", &base_url),
            ("TRELLIS_LLM_PROVIDERS", "deepseek"),
            ("TRELLIS_DIET_MAX_ACTIVE_TASKS", "1000"),
            ("TRELLIS_DIET_DAILY_TOKEN_BUDGET", "1000000000"),
            ("RATE_LIMIT_ENABLED", "false"),
        ],
    )?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()?;
    let base = server.base.clone();
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    let token = Arc::new(
        login["data"]["tokens"]["access_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("login: {login}"))?
            .to_string(),
    );
    let pet: Value = http
        .post(format!("{base}/api/v1/pets"))
        .bearer_auth(token.as_str())
        .json(&json!({"name": "bench", "type": "dog", "age_months": 36, "weight_kg": 12, "neutered": true}))
        .send()
        .await?
        .json()
        .await?;
    let pet_id = pet["data"]["id"].clone();
    let rss_idle = server.rss_kib();
    let mut tasks = Vec::with_capacity(a.tasks);
    for _ in 0..a.tasks {
        let r: Value = http
            .post(format!("{base}/api/v1/plans"))
            .bearer_auth(token.as_str())
            .json(&json!({"pet_id": pet_id}))
            .send()
            .await?
            .json()
            .await?;
        let id = r["data"]["task_id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("plan: {r}"))?
            .to_string();
        tasks.push(id);
    }
    let (storm_tx, storm_rx) = watch::channel(false);
    let connected = Arc::new(AtomicUsize::new(0));
    let resumed = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(a.followers);
    for i in 0..a.followers {
        let task = &tasks[i % tasks.len()];
        let url = format!("{base}/api/v1/plans/stream?task_id={task}&last_event_id=0");
        handles.push(tokio::spawn(follow(
            http.clone(),
            url,
            token.clone(),
            storm_rx.clone(),
            connected.clone(),
            resumed.clone(),
        )));
    }
    // Peak RSS while the followers connect and the tasks stream.
    let t0 = Instant::now();
    let mut peak = 0;
    while connected.load(Ordering::Relaxed) < a.followers && t0.elapsed() < Duration::from_secs(120)
    {
        peak = peak.max(server.rss_kib());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connect_s = t0.elapsed().as_secs_f64();
    // Steady state: every follower connected and streaming, before the storm.
    let mut steady = 0;
    for _ in 0..20 {
        steady = steady.max(server.rss_kib());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    peak = peak.max(steady);
    // The storm.
    let storm_at = Instant::now();
    storm_tx.send(true)?;
    while resumed.load(Ordering::Relaxed) < a.followers
        && storm_at.elapsed() < Duration::from_secs(60)
    {
        peak = peak.max(server.rss_kib());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let storm_s = storm_at.elapsed().as_secs_f64();
    let mut results = Vec::with_capacity(a.followers);
    for h in handles {
        results.push(h.await?);
    }
    peak = peak.max(server.rss_kib());
    // Compare with each task's log read afresh.
    let mut logs = std::collections::HashMap::new();
    for task in &tasks {
        let r = http
            .get(format!("{base}/api/v1/plans/stream?task_id={task}"))
            .bearer_auth(token.as_str())
            .send()
            .await?;
        let frames: Vec<Frame> = eventsource_stream::Eventsource::eventsource(r.bytes_stream())
            .filter_map(|e| async move { e.ok().map(|e| (e.id, e.event, e.data)) })
            .collect()
            .await;
        logs.insert(task.clone(), frames[1..].to_vec());
    }
    let (mut lost, mut dup, mut failed, mut differ) = (0usize, 0usize, 0usize, 0usize);
    let mut worst_reconnect = Duration::ZERO;
    let mut frames_seen = 0usize;
    for (i, r) in results.into_iter().enumerate() {
        let (frames, reconnect) = match r {
            Ok(x) => x,
            Err(e) => {
                failed += 1;
                if failed < 5 {
                    eprintln!("follower {i}: {e}");
                }
                continue;
            }
        };
        worst_reconnect = worst_reconnect.max(reconnect.unwrap_or_default());
        frames_seen += frames.len();
        let log = &logs[&tasks[i % tasks.len()]];
        let mut ids = std::collections::HashSet::new();
        dup += frames.iter().filter(|f| !ids.insert(f.0.clone())).count();
        let got: std::collections::HashMap<&str, &Frame> =
            frames.iter().map(|f| (f.0.as_str(), f)).collect();
        for f in log {
            match got.get(f.0.as_str()) {
                None => lost += 1,
                Some(g) if g.1 != f.1 || g.2 != f.2 => differ += 1,
                Some(_) => {}
            }
        }
    }
    let mut plan_ms = Vec::with_capacity(a.plans);
    let pet = trellis_dietplan::nutrition::Pet {
        species: trellis_dietplan::nutrition::Species::Dog,
        breed: None,
        age_months: 36,
        weight_kg: 12.0,
        neutered: true,
        activity: trellis_dietplan::nutrition::Activity::Moderate,
        body_condition_score: 5,
        allergies: vec![],
        food_preferences: vec![],
        health_notes: None,
        vet_confirmed: false,
    };
    for _ in 0..a.plans {
        let t = Instant::now();
        let assessed = trellis_dietplan::nutrition::assess(&pet)
            .map_err(|e| anyhow::anyhow!("assess: {e}"))?;
        let weeks: Vec<_> = (1..=4)
            .map(|n| trellis_dietplan::nutrition::plan_week(&pet, &assessed, n))
            .collect();
        let doc = trellis_dietplan::nutrition::assemble(&pet, &assessed, &weeks, None);
        std::hint::black_box(doc);
        plan_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    plan_ms.sort_by(f64::total_cmp);
    println!(
        "sse: {} tasks, {} followers (fake LLM chunk every {} ms)",
        a.tasks, a.followers, a.chunk_ms
    );
    println!("  followers connected in {connect_s:.2} s; frames received {frames_seen}");
    println!(
        "  server RSS idle {:.1} MiB, steady (all followers streaming) {:.1} MiB, peak {:.1} MiB",
        rss_idle as f64 / 1024.0,
        steady as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    println!(
        "  reconnect storm: {} of {} resumed in {storm_s:.2} s (slowest single reconnect {:.0} ms)",
        resumed.load(Ordering::Relaxed),
        a.followers,
        worst_reconnect.as_secs_f64() * 1000.0
    );
    println!(
        "  events lost {lost}, duplicated {dup}, differing from the log {differ}, followers failed {failed}"
    );
    println!(
        "  no-key plan in-process: median {:.2} ms, max {:.2} ms over {} runs",
        plan_ms[plan_ms.len() / 2],
        plan_ms[plan_ms.len() - 1],
        plan_ms.len()
    );
    println!("  fake LLM requests {}", fake.requests());
    Ok(())
}
