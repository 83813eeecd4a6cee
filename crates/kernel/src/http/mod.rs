//! HTTP layers shared by every app and the assembly of the final router: request ids,
//! metrics, security headers, CORS, compression, rate limits, body limits, panics and error
//! envelopes, plus `/health`, `/metrics`, `/openapi.json` and `/docs`.

pub mod metrics;
pub mod rate_limit;
pub mod request_id;
pub mod security;
pub mod slow;
pub mod sse;

pub use slow::client_ip_layer;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::Platform;
use crate::envelope::{Profiles, render_errors};
use crate::error::ApiError;

/// Wraps the mounted apps with the platform's common endpoints and layers.
///
/// Layer order, outermost first: request id, metrics, security headers, CORS, compression,
/// client IP resolution, body minimum rate, envelope rendering, rate limit, body limit, panic guard, then the routes.
pub fn assemble(
    apps: Router,
    platform: &Platform,
    profiles: Profiles,
    mut openapi: utoipa::openapi::OpenApi,
) -> Router {
    openapi.merge(platform_doc());
    crate::docs::finish(&mut openapi);
    let limit = platform.config.max_request_size;
    let common = Router::new()
        .route("/health", get(crate::health::handler))
        .route(
            "/metrics",
            get(metrics::handler).with_state(platform.metrics.clone()),
        )
        .with_state(platform.clone())
        .merge(crate::docs::router(openapi));
    let mut router = apps
        .merge(common)
        .fallback(|| async { ApiError::from_status(axum::http::StatusCode::NOT_FOUND) })
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            axum::response::IntoResponse::into_response(ApiError::from_status(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            ))
        }))
        // The extractor-level limit, which upload routes raise with their own (inner) layer;
        // a global `RequestBodyLimitLayer` would cap them too.
        .layer(DefaultBodyLimit::max(limit))
        .layer(from_fn_with_state(platform.clone(), rate_limit::layer))
        .layer(from_fn_with_state(Arc::new(profiles), render_errors))
        .layer(from_fn_with_state(
            platform.config.slow_clients,
            slow::min_rate_layer,
        ))
        .layer(from_fn_with_state(platform.clone(), slow::client_ip_layer))
        // Files are served as they are stored: already compressed, checksummed, ranged.
        .layer(
            CompressionLayer::new().compress_when(
                DefaultPredicate::new()
                    .and(NotForContentType::const_new("application/zip"))
                    .and(NotForContentType::const_new("application/octet-stream")),
            ),
        );
    if let Some(cors) = cors(&platform.config.cors_origins) {
        router = router.layer(cors);
    }
    router
        .layer(from_fn(security::layer))
        .layer(from_fn_with_state(platform.metrics.clone(), metrics::layer))
        .layer(from_fn(request_id::layer))
}

/// The platform's own endpoints in the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(crate::health::handler, metrics::handler),
    tags((name = "platform", description = "Health and metrics of this instance"))
)]
struct PlatformDoc;

/// The OpenAPI document of the platform's own endpoints (`/health`, `/metrics`), which the
/// server merges with the apps' documents (checking that no schema name collides).
pub fn platform_doc() -> utoipa::openapi::OpenApi {
    <PlatformDoc as utoipa::OpenApi>::openapi()
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let base = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
            // Momentum's token renewal (seed 002 "令牌自动续期").
            HeaderName::from_static("x-new-access-token"),
            axum::http::header::RETRY_AFTER,
        ]);
    if origins.iter().any(|o| o == "*") {
        return Some(base.allow_origin(AllowOrigin::any()));
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(base.allow_origin(list).allow_credentials(true))
}
