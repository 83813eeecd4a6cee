//! The engine's Prometheus families (issue 10 §5): `trellis_engine_queue_depth`,
//! `trellis_engine_runs{state}`, `trellis_engine_step_duration_seconds` (histogram),
//! `trellis_engine_retries_total`, `trellis_engine_lease_takeovers_total`, each labelled with
//! the queue. Counts by state are sampled from the database every 5 s (every instance sees
//! the same numbers); the rest are this instance's.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Engine;
use crate::model::{RunStatus, ms};

/// Upper bounds of the step duration buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0, 300.0,
];

#[derive(Default)]
struct Inner {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
    retries: AtomicU64,
    takeovers: AtomicU64,
    sampled: Mutex<(Vec<(String, i64)>, i64)>,
}

/// This instance's engine counters.
pub(crate) struct EngineMetrics {
    queue: String,
    inner: Arc<Inner>,
}

impl EngineMetrics {
    pub(crate) fn new(queue: &str) -> Self {
        EngineMetrics {
            queue: queue.to_string(),
            inner: Arc::default(),
        }
    }

    pub(crate) fn step_took(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.inner.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.inner.count.fetch_add(1, Ordering::Relaxed);
        self.inner
            .sum_us
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    pub(crate) fn retry(&self) {
        self.inner.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn takeover(&self) {
        self.inner.takeovers.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds the engine's families to the platform's `/metrics`.
    pub(crate) fn register(&self, engine: &Engine) {
        let inner = self.inner.clone();
        let q = self.queue.clone();
        engine
            .inner
            .platform
            .metrics
            .collector(Arc::new(move |out: &mut String| render(&inner, &q, out)));
    }
}

fn render(m: &Inner, q: &str, out: &mut String) {
    let (states, ready) = m.sampled.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let _ = writeln!(
        out,
        "# HELP trellis_engine_queue_depth Runs queued and ready to start.\n# TYPE trellis_engine_queue_depth gauge\ntrellis_engine_queue_depth{{queue=\"{q}\"}} {ready}"
    );
    out.push_str("# HELP trellis_engine_runs Runs by state.\n# TYPE trellis_engine_runs gauge\n");
    for s in RunStatus::ALL {
        let n = states
            .iter()
            .find(|(name, _)| name == s.as_str())
            .map_or(0, |(_, n)| *n);
        let _ = writeln!(
            out,
            "trellis_engine_runs{{queue=\"{q}\",state=\"{}\"}} {n}",
            s.as_str()
        );
    }
    out.push_str("# HELP trellis_engine_step_duration_seconds Duration of step tries.\n# TYPE trellis_engine_step_duration_seconds histogram\n");
    for (i, le) in BUCKETS.iter().enumerate() {
        let _ = writeln!(
            out,
            "trellis_engine_step_duration_seconds_bucket{{queue=\"{q}\",le=\"{le}\"}} {}",
            m.buckets[i].load(Ordering::Relaxed)
        );
    }
    let count = m.count.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "trellis_engine_step_duration_seconds_bucket{{queue=\"{q}\",le=\"+Inf\"}} {count}\ntrellis_engine_step_duration_seconds_sum{{queue=\"{q}\"}} {}\ntrellis_engine_step_duration_seconds_count{{queue=\"{q}\"}} {count}",
        m.sum_us.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(
        out,
        "# HELP trellis_engine_retries_total Step retries scheduled.\n# TYPE trellis_engine_retries_total counter\ntrellis_engine_retries_total{{queue=\"{q}\"}} {}",
        m.retries.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP trellis_engine_lease_takeovers_total Runs taken over after their worker's lease expired.\n# TYPE trellis_engine_lease_takeovers_total counter\ntrellis_engine_lease_takeovers_total{{queue=\"{q}\"}} {}",
        m.takeovers.load(Ordering::Relaxed)
    );
}

/// Samples run counts by state every 5 s.
pub(crate) async fn sample_loop(engine: Engine) {
    let token = engine.inner.platform.tasks.token();
    loop {
        let now = ms(engine.inner.platform.clock.now());
        match crate::store::state_counts(&engine.inner.platform.db, &engine.inner.cfg.queue, now)
            .await
        {
            Ok(v) => {
                *engine
                    .inner
                    .metrics
                    .inner
                    .sampled
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = v
            }
            Err(e) => tracing::debug!(error = %e, "engine: metrics sample failed"),
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}
