//! `/api/v1/auth`: seed 003's account API (originals.md §3.1, §3.7) over the shared identity.
//! One file per group: `codes` (send-code, verify-code), `account` (register, login, refresh,
//! me, profile), `password` (forgotten and changed passwords). The logic is in
//! [`crate::service::auth`].
//!
//! `POST /auth/verify-code` checks a code without spending it, so `verify-code` followed by
//! `verify-register` with the same code works (the original spent it, and the registration
//! then failed).

mod account;
mod codes;
mod password;

use utoipa_axum::router::OpenApiRouter;

use crate::state::DietState;

/// Every `/api/v1/auth` route with its OpenAPI entry.
pub fn router() -> OpenApiRouter<DietState> {
    OpenApiRouter::new()
        .merge(codes::router())
        .merge(account::router())
        .merge(password::router())
}
