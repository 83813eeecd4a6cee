//! The polite fetcher every collector request goes through (collectors.md §3, "what
//! responsible tools do"):
//!
//! - robots.txt is fetched once per host and cached for an hour (RFC 9309: an unreachable
//!   or 4xx robots.txt allows all, a 5xx disallows all), and obeyed: a refused URL ends
//!   the run saying it was robots.txt. robots.txt fetches are not paced or counted;
//! - requests to one host are spaced by at least the minimum interval
//!   (`TRELLIS_COLLECTOR_MIN_INTERVAL_MS`, default 3000), or the host's `Crawl-delay` when
//!   longer, across every run of this instance;
//! - each run has a budget (`max_requests`, `max_seconds`);
//! - with a proxy pool, each request leases a proxy for the host and reports the outcome
//!   through the same path as `POST /proxy/leases/{id}/report`, on the proxy's own
//!   reused client;
//! - blocks (a WAF or captcha page, 403, 429 with `Retry-After`) end the run as `blocked`:
//!   never solved, never retried in place.
//!
//! Logged URLs carry the host and path only (queries may hold tokens).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use uuid::Uuid;

use super::qidian::Robots;
use crate::proxy::health::Outcome;
use crate::proxy::live::Live;

/// Identifies our collectors to sites (an honest user agent).
pub const USER_AGENT: &str = concat!(
    "trellis-workflow/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/trellis; metadata collector)"
);

/// The largest page read (bytes).
pub const MAX_PAGE: usize = 8 * 1024 * 1024;

/// Why a fetch did not give a page.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// robots.txt disallows the URL.
    #[error("refused by robots.txt of {host}: {path}")]
    Robots {
        /// The host.
        host: String,
        /// The refused path.
        path: String,
    },
    /// The run's budget is spent.
    #[error("budget exhausted: {0}")]
    Budget(String),
    /// The site blocked us (captcha, WAF, 403, 429).
    #[error("blocked by {host}: {reason}")]
    Blocked {
        /// The host.
        host: String,
        /// What was seen.
        reason: String,
        /// `Retry-After`, seconds.
        retry_after_seconds: Option<u64>,
    },
    /// A transport failure or a 5xx (retryable).
    #[error("{0}")]
    Transient(String),
    /// Anything else that retrying cannot fix (404, bad URL).
    #[error("{0}")]
    Permanent(String),
}

/// A fetched page.
pub struct Page {
    /// HTTP status (2xx).
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub body: String,
}

/// One run's limits and counters.
pub struct Budget {
    /// Requests allowed.
    pub max_requests: i64,
    /// Requests sent so far (robots.txt not counted).
    pub requests: i64,
    /// When the run stops.
    pub deadline: Instant,
}

impl Budget {
    /// A budget from the step's parameters (`max_requests` default 100, `max_seconds`
    /// default 600).
    pub fn new(max_requests: i64, max_seconds: u64) -> Budget {
        Budget {
            max_requests,
            requests: 0,
            deadline: Instant::now() + Duration::from_secs(max_seconds),
        }
    }
}

/// The fetcher (cheap to clone; pacing is shared by every run of this instance).
#[derive(Clone)]
pub struct Polite {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    min_interval: Duration,
    robots: moka::sync::Cache<String, Arc<Robots>>,
    next_slot: Mutex<HashMap<String, Instant>>,
    live: Live,
}

fn host_of(url: &url::Url) -> String {
    match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    }
}

impl Polite {
    /// A fetcher with its own client (`allow_private` follows
    /// `TRELLIS_ALLOW_PRIVATE_TARGETS`: the sites are settings, so tests point them at
    /// local fixtures).
    pub fn new(min_interval: Duration, allow_private: bool, live: Live) -> Result<Polite, String> {
        let client = crate::steps::net::client(allow_private, Duration::from_secs(30))?
            .http()
            .clone();
        Ok(Polite {
            inner: Arc::new(Inner {
                client,
                min_interval,
                robots: moka::sync::Cache::builder()
                    .max_capacity(1000)
                    .time_to_live(Duration::from_secs(3600))
                    .build(),
                next_slot: Mutex::default(),
                live,
            }),
        })
    }

    /// The live proxy pools.
    pub fn live(&self) -> &Live {
        &self.inner.live
    }

    /// The minimum interval between requests to one host.
    pub fn min_interval(&self) -> Duration {
        self.inner.min_interval
    }

    async fn robots(&self, url: &url::Url) -> Arc<Robots> {
        let origin = format!("{}://{}", url.scheme(), host_of(url));
        if let Some(r) = self.inner.robots.get(&origin) {
            return r;
        }
        let robots_url = format!("{origin}/robots.txt");
        let r = match self.inner.client.get(&robots_url).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                Robots::from_response(&robots_url, status, &body)
            }
            // Unreachable: RFC 9309 §2.3.1.3 treats it as unavailable, i.e. allow.
            Err(_) => Robots::allow_all(&robots_url),
        };
        let r = Arc::new(r);
        self.inner.robots.insert(origin, r.clone());
        r
    }

    /// Waits for this host's next slot (min interval or Crawl-delay) and takes it.
    async fn pace(&self, host: &str, crawl_delay: Option<f64>) {
        let gap = crawl_delay
            .map(|d| Duration::from_secs_f64(d.clamp(0.0, 60.0)))
            .unwrap_or_default()
            .max(self.inner.min_interval);
        let wait = {
            let mut slots = self
                .inner
                .next_slot
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let at = slots.get(host).copied().unwrap_or(now).max(now);
            slots.insert(host.to_string(), at + gap);
            at - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Waits for this host's next request slot (the minimum interval), for clients that
    /// send their own requests (the Xiaohongshu API).
    pub async fn pace_host(&self, host: &str) {
        self.pace(host, None).await;
    }

    /// GETs `url` politely (module docs). `proxy` = (pool, owner) leases a proxy per
    /// request; `cookie` is sent as the `Cookie` header.
    pub async fn get(
        &self,
        url: &str,
        budget: &mut Budget,
        proxy: Option<(Uuid, Uuid)>,
        cookie: Option<&str>,
    ) -> Result<Page, FetchError> {
        let parsed =
            url::Url::parse(url).map_err(|e| FetchError::Permanent(format!("bad URL: {e}")))?;
        let host = host_of(&parsed);
        let robots = self.robots(&parsed).await;
        if !robots.allowed(url) {
            return Err(FetchError::Robots {
                host,
                path: parsed.path().to_string(),
            });
        }
        if budget.requests >= budget.max_requests {
            return Err(FetchError::Budget(format!(
                "{} requests",
                budget.max_requests
            )));
        }
        if Instant::now() >= budget.deadline {
            return Err(FetchError::Budget("time limit".into()));
        }
        self.pace(&host, robots.crawl_delay()).await;
        budget.requests += 1;
        let bare_host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        let (client, lease) = match proxy {
            None => (self.inner.client.clone(), None),
            Some((pool, owner)) => {
                let (lease, endpoint, version) = self
                    .inner
                    .live
                    .lease(pool, owner, &bare_host, None)
                    .await
                    .map_err(|e| FetchError::Transient(format!("proxy pool: {e}")))?;
                let client = self
                    .inner
                    .live
                    .clients()
                    .get(lease.proxy.id, version, &endpoint)
                    .map_err(FetchError::Transient)?;
                (client, Some(lease.lease_id))
            }
        };
        let started = Instant::now();
        let mut req = client
            .get(url)
            .header(reqwest::header::USER_AGENT, USER_AGENT);
        if let Some(c) = cookie {
            req = req.header(reqwest::header::COOKIE, c);
        }
        let result = self.read(req).await;
        let latency = started.elapsed().as_millis() as u64;
        let outcome = match &result {
            Ok(p) => match super::qidian::detect_block(p.status, &p.headers, &p.body) {
                Some(b) => Err(FetchError::Blocked {
                    host: host.clone(),
                    reason: b.reason,
                    retry_after_seconds: b.retry_after_seconds,
                }),
                None if p.status >= 500 => Err(FetchError::Transient(format!(
                    "HTTP {} from {host}",
                    p.status
                ))),
                None if p.status >= 400 => Err(FetchError::Permanent(format!(
                    "HTTP {} from {host}{}",
                    p.status,
                    parsed.path()
                ))),
                None => Ok(()),
            },
            Err(e) => Err(e.clone()),
        };
        if let Some(lease) = lease {
            let o = match &outcome {
                Ok(()) | Err(FetchError::Permanent(_)) => Outcome::Ok,
                Err(FetchError::Blocked { .. }) => Outcome::Blocked,
                Err(_) => Outcome::Error,
            };
            if let Err(e) = self
                .inner
                .live
                .report(lease, None, o, Some(latency), None)
                .await
            {
                tracing::debug!(error = %e, "collector: proxy report failed");
            }
        }
        tracing::debug!(host = %host, path = parsed.path(), duration_ms = latency, "collector: fetched");
        outcome?;
        result
    }

    async fn read(&self, req: reqwest::RequestBuilder) -> Result<Page, FetchError> {
        let resp = req
            .send()
            .await
            .map_err(|e| FetchError::Transient(format!("request failed: {e}")))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        use futures::StreamExt;
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| FetchError::Transient(format!("reading the page: {e}")))?;
            if body.len() + chunk.len() > MAX_PAGE {
                return Err(FetchError::Permanent(format!(
                    "page larger than {MAX_PAGE} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Page {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}
