//! `/api/v1/users`: public code sending and logout, auth, the caller's own account, admin.

mod admin;
mod auth;
mod me;
mod public;

use trellis_identity::Identity;
use utoipa_axum::router::OpenApiRouter;

pub fn router() -> OpenApiRouter<Identity> {
    OpenApiRouter::new()
        .merge(public::router())
        .merge(auth::router())
        .merge(me::router())
        .merge(admin::router())
}
