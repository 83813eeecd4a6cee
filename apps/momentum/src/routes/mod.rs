//! Momentum's HTTP surface: handlers extract, call one service function and answer in the
//! envelope. Paths as seed 002 writes them, plus the original's aliases (originals §2.1).

pub mod access;
mod auth;
mod issues;
mod sync;

use utoipa_axum::router::OpenApiRouter;

use crate::state::MomentumState;

/// Every Momentum route.
pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(sync::router())
        .merge(issues::router())
}
