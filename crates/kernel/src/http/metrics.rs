//! Prometheus metrics: request count and latency histogram by route and status, in-flight
//! requests. Hand-rolled (a few atomics) so that every server in a test process has its own
//! registry instead of one global recorder.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
struct Series {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum of durations in microseconds.
    sum_us: AtomicU64,
}

/// The registry of one server.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<HashMap<(String, String, u16), Arc<Series>>>,
    in_flight: AtomicI64,
    counters: Mutex<Vec<Counter>>,
    collectors: Mutex<Vec<Collector>>,
}

/// Writes whole metric families (HELP, TYPE and samples) in the text format at scrape time:
/// for gauges sampled elsewhere and histograms kept by a subsystem (the engine's).
pub type Collector = Arc<dyn Fn(&mut String) + Send + Sync>;

/// A monotonically increasing value registered by some part of the platform.
struct Counter {
    name: &'static str,
    help: &'static str,
    /// Rendered value = raw / scale (e.g. microseconds exposed as seconds).
    scale: f64,
    raw: Arc<AtomicU64>,
}

impl Metrics {
    /// Registers a counter `name` and returns the handle to add to. The exposed value is the
    /// raw count divided by `scale`, so durations can be accumulated as integer microseconds.
    pub fn counter(&self, name: &'static str, help: &'static str, scale: f64) -> Arc<AtomicU64> {
        let raw = Arc::new(AtomicU64::new(0));
        self.counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Counter {
                name,
                help,
                scale,
                raw: raw.clone(),
            });
        raw
    }

    /// Registers a collector, called on every scrape after the built-in families.
    pub fn collector(&self, c: Collector) {
        self.collectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(c);
    }

    fn record(&self, method: &str, route: &str, status: u16, secs: f64) {
        let series = {
            let mut map = self.series.lock().unwrap_or_else(|p| p.into_inner());
            map.entry((method.to_string(), route.to_string(), status))
                .or_default()
                .clone()
        };
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                series.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        series.count.fetch_add(1, Ordering::Relaxed);
        series
            .sum_us
            .fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<_> = map.keys().cloned().collect();
        keys.sort();
        out.push_str("# HELP http_requests_total HTTP requests served.\n# TYPE http_requests_total counter\n");
        for k in &keys {
            let s = &map[k];
            let _ = writeln!(
                out,
                "http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}",
                k.0,
                k.1,
                k.2,
                s.count.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP http_request_duration_seconds Request latency.\n# TYPE http_request_duration_seconds histogram\n");
        for k in &keys {
            let s = &map[k];
            let labels = format!("method=\"{}\",route=\"{}\",status=\"{}\"", k.0, k.1, k.2);
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    s.buckets[i].load(Ordering::Relaxed)
                );
            }
            let count = s.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_us.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{{labels}}} {count}"
            );
        }
        for c in self
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}",
                c.name,
                c.help,
                c.raw.load(Ordering::Relaxed) as f64 / c.scale
            );
        }
        let _ = writeln!(
            out,
            "# HELP http_requests_in_flight Requests being served.\n# TYPE http_requests_in_flight gauge\nhttp_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        let collectors = self
            .collectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for c in collectors {
            c(&mut out);
        }
        out
    }
}

/// Middleware: counts and times every request by its route template (never the raw path,
/// whose ids would explode the label set).
pub async fn layer(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().to_string();
    m.in_flight.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let res = next.run(req).await;
    m.in_flight.fetch_sub(1, Ordering::Relaxed);
    m.record(
        &method,
        &route,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}

/// Prometheus metrics of this instance.
#[utoipa::path(get, path = "/metrics", tag = "platform", operation_id = "platform_metrics",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn handler(State(m): State<Arc<Metrics>>) -> Response {
    ([("content-type", "text/plain; version=0.0.4")], m.render()).into_response()
}
