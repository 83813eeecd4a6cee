//! Account scenarios (foundation issue):
//! 1. login throughput against the hash ceiling (cores / argon2 time) measured in this run;
//! 2. /health p99 and server RSS during a 200-client login storm, against idle p99 and the
//!    RSS budget (hash concurrency x 20 MiB + 32 MiB);
//! 3. idle RSS with every app mounted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde_json::json;

use crate::probe::{median, percentile, sample_isolated};
use crate::server::{ADMIN_PASSWORD, Server};
use crate::wire;

#[derive(clap::Args)]
pub struct Args {
    /// The server binary (build it with `cargo build --release`).
    #[arg(long, default_value = "target/release/trellis")]
    server: String,
    /// Repetitions of each measurement; medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Seconds per throughput / storm run.
    #[arg(long, default_value_t = 8)]
    seconds: u64,
    /// Storm clients.
    #[arg(long, default_value_t = 200)]
    storm_clients: usize,
}

/// Median time of one Argon2id hash with the server's parameters, on this machine, now.
fn hash_time() -> Duration {
    let params = Params::new(19_456, 2, 1, None).expect("valid params");
    let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut times = Vec::new();
    for _ in 0..15 {
        let salt = SaltString::encode_b64(b"bench-salt-16byt").expect("salt");
        let t = Instant::now();
        let _ = a.hash_password(b"Bench-Password-1", &salt).expect("hash");
        times.push(t.elapsed());
    }
    percentile(&mut times, 50.0)
}

/// Hashes per second with `threads` threads hashing at once and nothing else running: what
/// the hardware gives when every core hashes (memory bandwidth is shared).
fn parallel_hash_rate(threads: usize, secs: f64) -> f64 {
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let params = Params::new(19_456, 2, 1, Some(32)).expect("valid params");
                let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
                let mut mem = vec![argon2::Block::default(); params.block_count()];
                let mut out = [0u8; 32];
                let mut n = 0u64;
                while Instant::now() < stop {
                    a.hash_password_into_with_memory(
                        b"Bench-Password-1",
                        b"bench-salt-16byt",
                        &mut out,
                        &mut mem,
                    )
                    .expect("hash");
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    total as f64 / secs
}

/// The server's own hashing counters: (hashes, seconds spent hashing).
async fn hash_counters(client: &reqwest::Client, base: &str) -> anyhow::Result<(f64, f64)> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let value = |name: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
            .unwrap_or(0.0)
    };
    Ok((
        value("trellis_password_hashes_total "),
        value("trellis_password_hash_seconds_total "),
    ))
}

async fn login_loop(addr: String, stop: Instant, ok: Arc<AtomicU64>, busy: Arc<AtomicU64>) {
    let body = json!({"username_or_email": "admin", "password": ADMIN_PASSWORD}).to_string();
    let request = wire::post_json(&addr, "/api/v1/users/auth/login", &body);
    let mut conn = None;
    while Instant::now() < stop {
        if conn.is_none() {
            conn = wire::Conn::open(&addr).await.ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        match c.send(&request).await {
            Ok(200) => {
                ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok(503) => {
                busy.fetch_add(1, Ordering::Relaxed);
            }
            Ok(status) => eprintln!("unexpected login status {status}"),
            Err(_) => conn = None,
        }
    }
}

/// Runs `clients` login loops for `secs`; returns (logins/s, 503 count).
async fn storm(base: &str, clients: usize, secs: u64) -> (f64, u64) {
    let ok = Arc::new(AtomicU64::new(0));
    let busy = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(secs);
    let addr = base.trim_start_matches("http://").to_string();
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(login_loop(addr.clone(), stop, ok.clone(), busy.clone())))
        .collect();
    for h in handles {
        let _ = h.await;
    }
    let rate = ok.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    (rate, busy.load(Ordering::Relaxed))
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let env = [
        ("RATE_LIMIT_ENABLED", "false"),
        ("TRELLIS_LOGIN_IP_PER_MINUTE", "0"),
        ("TRELLIS_HASH_QUEUE_TIMEOUT_MS", "60000"),
    ];
    let client = reqwest::Client::builder().no_proxy().build()?;

    // 3. Idle RSS of a restarted server (existing database and admin), after one health check.
    let mut idle_rss = Vec::new();
    for _ in 0..a.runs {
        let s = Server::start(&a.server, None, &env)?.restart(&a.server, &env)?;
        client
            .get(format!("{}/health", s.base))
            .send()
            .await?
            .bytes()
            .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        idle_rss.push(s.rss_kib() as f64 / 1024.0);
    }

    let s = Server::start(&a.server, None, &env)?;
    // Warm up: first logins create the session tables' pages, the connection pool, etc.
    storm(&s.base, 4, 2).await;

    // 1. Throughput vs ceiling, both measured in this run, interleaved.
    let mut parallel = Vec::new();
    let mut ratios = Vec::new();
    let mut in_server_ms = Vec::new();
    let mut in_server_ratios = Vec::new();
    let mut rates = Vec::new();
    let mut ceilings = Vec::new();
    for _ in 0..a.runs {
        let t_hash = hash_time();
        let ceiling = cores as f64 / t_hash.as_secs_f64();
        parallel.push(parallel_hash_rate(cores, 3.0));
        let before = hash_counters(&client, &s.base).await?;
        let (rate, _) = storm(&s.base, cores * 4, a.seconds).await;
        let after = hash_counters(&client, &s.base).await?;
        // The server's own mean hash time during this run (it includes contention between
        // concurrent hashes, which the isolated measurement above does not).
        let t_server = (after.1 - before.1) / (after.0 - before.0).max(1.0);
        in_server_ms.push(t_server * 1000.0);
        in_server_ratios.push(rate / (cores as f64 / t_server));
        rates.push(rate);
        ceilings.push(ceiling);
        ratios.push(rate / ceiling);
    }

    // 2. Health latency idle vs during a storm, and peak RSS during the storm.
    let health = format!("{}/health", s.base);
    let mut idle_p99 = Vec::new();
    let mut storm_p99 = Vec::new();
    let mut storm_rss = Vec::new();
    let mut storm_rate = Vec::new();
    let mut storm_busy = Vec::new();
    for _ in 0..a.runs {
        let stop = Instant::now() + Duration::from_secs(3);
        let mut idle = sample_isolated(
            health.clone(),
            Duration::from_millis(5),
            Duration::ZERO,
            stop,
        )
        .join()
        .map_err(|_| anyhow::anyhow!("probe thread panicked"))?;
        idle_p99.push(percentile(&mut idle, 99.0).as_secs_f64() * 1000.0);

        let peak = Arc::new(AtomicU64::new(0));
        let sampler = {
            let peak = peak.clone();
            let pid = s.pid();
            let stop = Instant::now() + Duration::from_secs(a.seconds);
            tokio::spawn(async move {
                while Instant::now() < stop {
                    let rss = crate::server::status_field(pid, "VmRSS:");
                    peak.fetch_max(rss, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        // Let the storm build up for a second before measuring.
        let probe = sample_isolated(
            health.clone(),
            Duration::from_millis(5),
            Duration::from_secs(1),
            Instant::now() + Duration::from_secs(a.seconds),
        );
        let (rate, busy) = storm(&s.base, a.storm_clients, a.seconds).await;
        let mut lat = probe
            .join()
            .map_err(|_| anyhow::anyhow!("probe thread panicked"))?;
        sampler.await?;
        storm_p99.push(percentile(&mut lat, 99.0).as_secs_f64() * 1000.0);
        storm_rss.push(peak.load(Ordering::Relaxed) as f64 / 1024.0);
        storm_rate.push(rate);
        storm_busy.push(busy as f64);
    }

    if std::env::var("BENCH_DEBUG").is_ok() {
        let m = client
            .get(format!("{}/metrics", s.base))
            .send()
            .await?
            .text()
            .await?;
        for l in m.lines().filter(|l| l.contains("route=\"/health\"")) {
            eprintln!("{l}");
        }
    }
    let budget = cores as f64 * 20.0 + 32.0;
    println!(
        "machine: {} cores; runs: {}; medians reported\n",
        cores, a.runs
    );
    println!("| scenario | figure | target | result |");
    println!("|---|---|---|---|");
    let ceilings_ms: Vec<f64> = ceilings.iter().map(|c| cores as f64 / c * 1000.0).collect();
    println!(
        "| login throughput | {:.1} logins/s vs ceiling {:.1}/s (argon2id {:.1} ms x {} cores) | >= 90% | {:.0}% |",
        median(rates),
        median(ceilings.clone()),
        median(ceilings_ms.clone()),
        cores,
        median(ratios) * 100.0
    );
    println!(
        "| login throughput vs the server's own hash time | argon2id {:.1} ms per hash inside the server under load | | {:.0}% |",
        median(in_server_ms),
        median(in_server_ratios) * 100.0
    );
    println!(
        "| argon2id alone on {} threads (no server) | {:.1} hashes/s | | {:.0}% of ceiling |",
        cores,
        median(parallel.clone()),
        median(parallel) / (cores as f64 / median(ceilings_ms.clone()) * 1000.0) * 100.0
    );
    let (ip, sp) = (median(idle_p99), median(storm_p99));
    println!(
        "| /health p99 during {}-client storm | {:.2} ms vs idle {:.2} ms | <= 5x | {:.1}x |",
        a.storm_clients,
        sp,
        ip,
        sp / ip
    );
    println!(
        "| storm: logins/s, 503s | {:.1}/s, {:.0} busy | | |",
        median(storm_rate),
        median(storm_busy)
    );
    println!(
        "| server RSS peak during storm | {:.1} MiB | <= {:.0} MiB | {} |",
        median(storm_rss.clone()),
        budget,
        if median(storm_rss) <= budget {
            "met"
        } else {
            "missed"
        }
    );
    println!(
        "| idle RSS, all apps mounted | {:.1} MiB | | |",
        median(idle_rss)
    );
    Ok(())
}
