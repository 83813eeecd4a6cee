//! Latency sampling and percentiles.

use std::time::{Duration, Instant};

/// The `p`-th percentile (0..=100) of `samples`, which it sorts.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let idx = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[idx.min(samples.len() - 1)]
}

/// Median of plain numbers.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

/// GETs `url` every `every` until `stop`, returning the latencies.
async fn sample(
    client: &reqwest::Client,
    url: &str,
    every: Duration,
    stop: Instant,
) -> Vec<Duration> {
    let mut out = Vec::new();
    while Instant::now() < stop {
        let t = Instant::now();
        if let Ok(r) = client.get(url).send().await {
            let _ = r.bytes().await;
            out.push(t.elapsed());
        }
        tokio::time::sleep(every.saturating_sub(t.elapsed())).await;
    }
    out
}

/// Like [`sample`], but on its own OS thread and runtime, so the latencies are not inflated by
/// whatever load the bench's main runtime is generating at the same time.
pub fn sample_isolated(
    url: String,
    every: Duration,
    start_after: Duration,
    stop: Instant,
) -> std::thread::JoinHandle<Vec<Duration>> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("probe runtime");
        rt.block_on(async move {
            let client = reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client");
            tokio::time::sleep(start_after).await;
            sample(&client, &url, every, stop).await
        })
    })
}
