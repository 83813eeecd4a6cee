//! Admin access for MicroDock: a Bearer token issued by MicroDock's login (audience
//! [`AUDIENCE`]) whose account is *currently* `admin`/`super_admin`, with the seed's messages.
//! The role is read from the users row on each request (issue 7 item 1), never from the token.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use trellis_identity::{Principal, auth::bearer};
use trellis_kernel::ApiError;

use crate::error::MicroDockError;
use crate::state::MicroDockState;

/// The `aud` of MicroDock's access tokens: the `/api/v1` user API refuses them, and
/// MicroDock refuses tokens of any other audience.
pub const AUDIENCE: &str = "microdock";

/// An authenticated administrator: a valid token of an account that is an administrator now
/// (401 `not_authenticated` without one, 403 `admin_required` for any other account, 401 for
/// an administrator's token of another API such as `/api/v1`).
pub struct Admin(pub Principal);

impl FromRequestParts<MicroDockState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &MicroDockState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(MicroDockError::NotLoggedIn)?;
        // Any valid Trellis token identifies the caller, so an ordinary account is told it
        // needs an administrator; but only a token from MicroDock's own login admits one.
        let (p, aud) = st
            .identity
            .authenticate_any(token)
            .await
            .map_err(|_| MicroDockError::NotLoggedIn)?;
        if !p.role.is_admin() {
            return Err(MicroDockError::NotAdmin.into());
        }
        if aud != AUDIENCE {
            return Err(MicroDockError::NotLoggedIn.into());
        }
        Ok(Admin(p))
    }
}

/// Who is signed in, for the status endpoint: the principal of any valid Trellis token
/// (MicroDock's or the `/api/v1` user API's), and whether it is a MicroDock administrator
/// token of an account that is an administrator now.
pub struct MaybeSignedIn(pub Option<(Principal, bool)>);

impl FromRequestParts<MicroDockState> for MaybeSignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &MicroDockState) -> Result<Self, ApiError> {
        let Some(token) = bearer(parts) else {
            return Ok(MaybeSignedIn(None));
        };
        Ok(MaybeSignedIn(
            st.identity
                .authenticate_any(token)
                .await
                .ok()
                .map(|(p, aud)| {
                    let admin = aud == AUDIENCE && p.role.is_admin();
                    (p, admin)
                }),
        ))
    }
}

/// An administrator if the request carries a valid MicroDock admin token; anyone otherwise.
pub struct MaybeAdmin(pub Option<Principal>);

impl FromRequestParts<MicroDockState> for MaybeAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &MicroDockState) -> Result<Self, ApiError> {
        let Some(token) = bearer(parts) else {
            return Ok(MaybeAdmin(None));
        };
        Ok(MaybeAdmin(
            st.identity
                .authenticate(token, AUDIENCE)
                .await
                .ok()
                .filter(|p| p.role.is_admin()),
        ))
    }
}
