//! `GET /api/health` (checks the database for real) and `GET /` (server info).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::envelope::{Reply, done};
use crate::state::MicroDockState;

pub fn router() -> OpenApiRouter<MicroDockState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(root))
}

/// MicroDock's own health document (seed 004 `GET /api/health`), distinct from the
/// platform's `/health`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MicroDockHealth)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    /// `connected` or `disconnected`.
    pub database: &'static str,
}

/// Health: 200 when the database answers, 503 otherwise.
#[utoipa::path(get, path = "/api/health", tag = "microdock", responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn health(State(st): State<MicroDockState>) -> Response {
    let ok = matches!(
        tokio::time::timeout(Duration::from_secs(2), st.platform.db.ping()).await,
        Ok(Ok(()))
    );
    let body = Health {
        status: if ok { "healthy" } else { "unhealthy" },
        version: env!("CARGO_PKG_VERSION"),
        database: if ok { "connected" } else { "disconnected" },
    };
    let mut res = done(
        if ok {
            "服务器运行正常"
        } else {
            "数据库连接失败"
        },
        body,
    )
    .into_response();
    if !ok {
        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    res
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Info {
    pub message: &'static str,
    pub version: &'static str,
    pub docs: &'static str,
    pub health: &'static str,
}

/// Server information.
#[utoipa::path(get, path = "/", tag = "microdock", responses((status = 200, body = Info)))]
async fn root() -> Reply<Info> {
    Ok(done(
        "API服务运行中",
        Info {
            message: "MicroDock PluginServer API",
            version: env!("CARGO_PKG_VERSION"),
            docs: "/docs",
            health: "/api/health",
        },
    ))
}
