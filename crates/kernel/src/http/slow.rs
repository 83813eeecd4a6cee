//! Defences against slow and hostile clients (issue 7, item 9) that live in the router: a
//! minimum transfer rate for request bodies, and the resolution of the client IP behind
//! trusted proxies. The connection-level limits (request-head deadline, idle keep-alive) are
//! set where the server accepts connections (`trellis::run`).

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::{Instant, Sleep};

use crate::Platform;
use crate::config::SlowClientConfig;
use crate::extract::ClientIp;

/// The error a request body yields when its client sends too slowly; extractors that find it
/// in an error's source chain answer 408 `request_timeout` ([`is_too_slow`]).
#[derive(Debug, thiserror::Error)]
#[error("request body arrived slower than {min_rate} bytes/s")]
pub struct BodyTooSlow {
    /// The configured minimum rate, bytes per second.
    pub min_rate: u64,
}

/// Whether `err` (or one of its sources) is a [`BodyTooSlow`].
pub fn is_too_slow(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<BodyTooSlow>() {
            return true;
        }
        cur = e.source();
    }
    false
}

/// A request body that must keep an average of `min_rate` bytes per second after `grace`:
/// the body fails once `now > start + grace + received / min_rate`. A client trickling one
/// byte every few seconds, or sending nothing at all, is cut off a little after `grace`,
/// while a client that is merely slow but steady (above `min_rate`) is never interrupted,
/// however large its upload.
pub struct MinRateBody {
    inner: Body,
    start: Instant,
    grace: Duration,
    min_rate: u64,
    received: u64,
    sleep: Pin<Box<Sleep>>,
    failed: bool,
}

impl MinRateBody {
    /// Wraps `inner`; the clock starts now.
    pub fn new(inner: Body, grace: Duration, min_rate: u64) -> Self {
        let start = Instant::now();
        MinRateBody {
            inner,
            start,
            grace,
            min_rate: min_rate.max(1),
            received: 0,
            sleep: Box::pin(tokio::time::sleep_until(start + grace)),
            failed: false,
        }
    }

    fn deadline(&self) -> Instant {
        let earned = Duration::from_secs_f64(self.received as f64 / self.min_rate as f64);
        self.start + self.grace + earned
    }
}

impl HttpBody for MinRateBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let deadline = this.deadline();
                    this.sleep.as_mut().reset(deadline);
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(other) => return Poll::Ready(other),
            Poll::Pending => {}
        }
        ready!(this.sleep.as_mut().poll(cx));
        this.failed = true;
        tracing::info!(
            received = this.received,
            seconds = this.start.elapsed().as_secs(),
            "request body too slow; closing"
        );
        Poll::Ready(Some(Err(axum::Error::new(BodyTooSlow {
            min_rate: this.min_rate,
        }))))
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: wraps every request body in a [`MinRateBody`] per
/// `TRELLIS_BODY_GRACE_SECONDS` / `TRELLIS_BODY_MIN_BYTES_PER_SECOND` (rate 0: no check).
pub async fn min_rate_layer(
    State(cfg): State<SlowClientConfig>,
    req: Request,
    next: Next,
) -> Response {
    if cfg.body_min_bytes_per_second == 0 || req.body().is_end_stream() {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let body = Body::new(MinRateBody::new(
        body,
        Duration::from_secs(cfg.body_grace_seconds),
        cfg.body_min_bytes_per_second,
    ));
    next.run(Request::from_parts(parts, body)).await
}

/// Middleware: resolves the [`ClientIp`] once (socket peer, or the forwarding chain when the
/// peer is in `TRELLIS_TRUSTED_PROXIES`) and stores it in the request's extensions, where
/// [`ClientIp::from_parts`] and every extractor find it.
pub async fn client_ip_layer(State(p): State<Platform>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        let ip = ClientIp::resolve(peer, req.headers(), &p.config.trusted_proxies);
        req.extensions_mut().insert(ip);
    }
    next.run(req).await
}

/// Caps concurrent work of one kind (uploads): a permit per request, refused at once with
/// 503 `too_many_uploads` when all are taken, so trickling clients cannot queue up behind
/// each other and hold the blocking pool or the disk.
#[derive(Clone, Debug)]
pub struct ConcurrencyCap {
    permits: Arc<tokio::sync::Semaphore>,
    limit: usize,
}

impl ConcurrencyCap {
    /// A cap of `limit` concurrent holders (0 means no cap).
    pub fn new(limit: usize) -> Self {
        ConcurrencyCap {
            permits: Arc::new(tokio::sync::Semaphore::new(if limit == 0 {
                tokio::sync::Semaphore::MAX_PERMITS
            } else {
                limit
            })),
            limit,
        }
    }

    /// The configured limit (0: none).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A permit, or `None` when the cap is reached.
    pub fn try_acquire(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }
}

/// Middleware for upload routes (`route_layer(from_fn_with_state(platform, upload_layer))`):
///
/// 1. per client IP, at most `TRELLIS_UPLOADS_PER_IP_PER_HOUR` uploads (GCRA in the key-value
///    store, shared by instances with Redis): past it 429 `upload_rate_limited` with
///    `Retry-After`; a key-value outage lets the upload through (logged);
/// 2. a permit of the platform's [`ConcurrencyCap`] (`TRELLIS_MAX_CONCURRENT_UPLOADS`) for
///    the whole request, or 503 `too_many_uploads` with `Retry-After: 5` at once.
pub async fn upload_layer(State(p): State<Platform>, req: Request, next: Next) -> Response {
    let per_hour = p.config.uploads_per_ip_per_hour;
    if per_hour > 0 {
        let (parts, body) = req.into_parts();
        let ip = ClientIp::from_parts(&parts).0;
        let req = Request::from_parts(parts, body);
        match p
            .kv
            .throttle(
                &format!("upload_ip:{ip}"),
                per_hour,
                Duration::from_secs(3600),
            )
            .await
        {
            Ok(d) if !d.allowed => {
                return crate::http::rate_limit::refusal(
                    &d,
                    "upload_rate_limited",
                    "too many uploads from this address, try again later",
                );
            }
            Ok(_) => {}
            Err(e) if e.is_circuit_open() => {
                tracing::debug!(error = %e, "upload limiter unavailable; upload allowed");
            }
            Err(e) => tracing::warn!(error = %e, "upload limiter unavailable; upload allowed"),
        }
        return capped(&p.uploads, req, next).await;
    }
    capped(&p.uploads, req, next).await
}

async fn capped(cap: &ConcurrencyCap, req: Request, next: Next) -> Response {
    let Some(_permit) = cap.try_acquire() else {
        tracing::warn!(
            limit = cap.limit(),
            "upload refused: concurrent uploads at the cap"
        );
        return axum::response::IntoResponse::into_response(
            crate::ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "too_many_uploads",
                "too many uploads in progress, try again shortly",
            )
            .with_retry_after(5),
        );
    };
    next.run(req).await
}
