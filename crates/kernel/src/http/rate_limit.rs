//! The global per-IP rate limit (`RATE_LIMIT_*`): GCRA in the key-value store, so it is shared
//! by every instance when Redis is configured. Every limited response carries
//! `X-RateLimit-Limit/Remaining/Reset`; a refusal is 429 with `Retry-After`.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Platform;
use crate::error::ApiError;
use crate::extract::ClientIp;
use crate::kv::RateDecision;

/// Paths that monitoring hits and that must never be throttled.
fn exempt(path: &str) -> bool {
    matches!(
        path,
        "/health" | "/metrics" | "/api/health" | "/openapi.json"
    ) || path.starts_with("/docs")
}

/// Writes the `X-RateLimit-*` headers for `d`.
pub fn set_headers(headers: &mut HeaderMap, d: &RateDecision) {
    let reset = d.reset_after.as_secs_f64().ceil() as u64;
    for (name, value) in [
        ("x-ratelimit-limit", d.limit as u64),
        ("x-ratelimit-remaining", d.remaining as u64),
        ("x-ratelimit-reset", reset),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
            headers.insert(name, v);
        }
    }
}

/// The 429 for a refused decision, with its headers.
pub fn refusal(d: &RateDecision, code: &'static str, message: &'static str) -> Response {
    let secs = d.retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let mut res = ApiError::new(axum::http::StatusCode::TOO_MANY_REQUESTS, code, message)
        .with_retry_after(secs)
        .into_response();
    set_headers(res.headers_mut(), d);
    res
}

/// Middleware.
pub async fn layer(State(p): State<Platform>, req: Request, next: Next) -> Response {
    let rl = p.config.rate_limit;
    if !rl.enabled || exempt(req.uri().path()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let ip = ClientIp::from_parts(&parts).0;
    let req = Request::from_parts(parts, body);
    let decision = match p
        .kv
        .throttle(
            &format!("rl:ip:{ip}"),
            rl.times,
            Duration::from_secs(rl.seconds),
        )
        .await
    {
        Ok(d) => d,
        // Fail open: a key-value outage must not take the whole API down. While Redis's
        // circuit is open (reported once when it opened) this is not logged per request.
        Err(e) => {
            if e.is_circuit_open() {
                tracing::debug!(error = %e, "rate limiter unavailable; request allowed");
            } else {
                tracing::warn!(error = %e, "rate limiter unavailable; request allowed");
            }
            return next.run(req).await;
        }
    };
    if !decision.allowed {
        return refusal(&decision, "rate_limited", "too many requests, slow down");
    }
    let mut res = next.run(req).await;
    // An app that limits the request more specifically (Momentum's per-user bucket) has
    // already reported its own figures: those are the ones the client is closest to.
    if !res.headers().contains_key("x-ratelimit-limit") {
        set_headers(res.headers_mut(), &decision);
    }
    res
}
