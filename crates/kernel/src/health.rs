//! `GET /health`: liveness plus the state of the database and Redis. 503 when the database
//! is unreachable, so load balancers take the instance out.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::Platform;
use crate::kv::Kv;

/// The health document of seed 000.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `healthy` or `unhealthy`.
    pub status: &'static str,
    /// Server time of the check, RFC 3339 in UTC with milliseconds.
    pub timestamp: String,
    /// Version of the running `trellis` build.
    pub version: &'static str,
    /// `healthy` or `unhealthy`.
    pub database: &'static str,
    /// `healthy`, `unhealthy`, or `in-process` when `REDIS_URL` is unset.
    pub redis: &'static str,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness with the database and Redis status.
#[utoipa::path(get, path = "/health", tag = "platform", operation_id = "platform_health",
    responses((status = 200, body = Health), (status = 503, body = Health, description = "Database unreachable")))]
pub async fn handler(State(p): State<Platform>) -> Response {
    let db_ok = matches!(
        tokio::time::timeout(PROBE_TIMEOUT, p.db.ping()).await,
        Ok(Ok(()))
    );
    let redis = match &p.kv {
        Kv::Memory(_) => "in-process",
        Kv::Redis(_) => match tokio::time::timeout(PROBE_TIMEOUT, p.kv.ping()).await {
            Ok(Ok(())) => "healthy",
            _ => "unhealthy",
        },
    };
    let body = Health {
        status: if db_ok { "healthy" } else { "unhealthy" },
        timestamp: p
            .clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        version: env!("CARGO_PKG_VERSION"),
        database: if db_ok { "healthy" } else { "unhealthy" },
        redis,
    };
    let status = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
