//! `GET /health`: liveness plus the state of the database, Redis and blob storage. 503 when
//! the database, Redis when `REDIS_URL` configures it, or S3 when `TRELLIS_BLOB_URL`
//! configures it, is unreachable, so load balancers take the instance out.

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
    /// Blob storage: `local` (a directory), or `healthy` / `unhealthy` for S3-compatible
    /// storage (`TRELLIS_BLOB_URL=s3://…`), which is then required.
    pub blobs: &'static str,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Liveness with the database and Redis status.
#[utoipa::path(get, path = "/health", tag = "platform", operation_id = "platform_health",
    responses((status = 200, body = Health), (status = 503, body = Health, description = "Database, configured Redis or configured S3 unreachable")))]
pub async fn handler(State(p): State<Platform>) -> Response {
    let db_ok = matches!(
        tokio::time::timeout(PROBE_TIMEOUT, p.db.ping()).await,
        Ok(Ok(()))
    );
    let redis = match &p.kv {
        Kv::Memory(_) => "in-process",
        // While the circuit is open Redis is down: say so without waiting on it.
        Kv::Redis(r) if r.circuit_open() => "unhealthy",
        Kv::Redis(_) => match tokio::time::timeout(PROBE_TIMEOUT, p.kv.ping()).await {
            Ok(Ok(())) => "healthy",
            _ => "unhealthy",
        },
    };
    let blobs = match p.blobs.kind() {
        "local" => "local",
        _ if p.blobs.ping(PROBE_TIMEOUT).await => "healthy",
        _ => "unhealthy",
    };
    // Redis and S3 are required when configured (codes, revocations, shared limits, files).
    let ok = db_ok && redis != "unhealthy" && blobs != "unhealthy";
    let body = Health {
        status: if ok { "healthy" } else { "unhealthy" },
        timestamp: p
            .clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        version: env!("CARGO_PKG_VERSION"),
        database: if db_ok { "healthy" } else { "unhealthy" },
        redis,
        blobs,
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
