//! Admin access for MicroDock: a Bearer token of an `admin`/`super_admin` account, with the
//! seed's messages.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use trellis_identity::{Principal, auth::bearer};
use trellis_kernel::ApiError;

use crate::error::MicroDockError;
use crate::state::MicroDockState;

/// An authenticated administrator.
pub struct Admin(pub Principal);

impl FromRequestParts<MicroDockState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &MicroDockState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(MicroDockError::NotLoggedIn)?;
        let p = st
            .identity
            .authenticate(token)
            .await
            .map_err(|_| MicroDockError::NotLoggedIn)?;
        if !p.role.is_admin() {
            return Err(MicroDockError::NotAdmin.into());
        }
        Ok(Admin(p))
    }
}

/// An administrator if the request carries a valid admin token; anyone otherwise.
pub struct MaybeAdmin(pub Option<Principal>);

impl FromRequestParts<MicroDockState> for MaybeAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &MicroDockState) -> Result<Self, ApiError> {
        let Some(token) = bearer(parts) else {
            return Ok(MaybeAdmin(None));
        };
        Ok(MaybeAdmin(
            st.identity
                .authenticate(token)
                .await
                .ok()
                .filter(|p| p.role.is_admin()),
        ))
    }
}
