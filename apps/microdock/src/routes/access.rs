//! Admin access for MicroDock: a Bearer token of an `admin`/`super_admin` account, with the
//! seed's messages.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use trellis_identity::{Principal, auth::bearer};
use trellis_kernel::ApiError;

use crate::error::{not_admin, not_logged_in};
use crate::state::MdState;

/// An authenticated administrator.
pub struct Admin(pub Principal);

impl FromRequestParts<MdState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &MdState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(not_logged_in)?;
        let p = st
            .identity
            .authenticate(token)
            .await
            .map_err(|_| not_logged_in())?;
        if !p.role.is_admin() {
            return Err(not_admin());
        }
        Ok(Admin(p))
    }
}

/// An administrator if the request carries a valid admin token; anyone otherwise.
pub struct MaybeAdmin(pub Option<Principal>);

impl FromRequestParts<MdState> for MaybeAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &MdState) -> Result<Self, ApiError> {
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
