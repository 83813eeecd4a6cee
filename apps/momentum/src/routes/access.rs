//! Who is calling: [`Account`] (a signed-in user) and [`Caller`] (a signed-in user working
//! in a workspace, with the role read from the database for this request). Both renew the
//! access token when it is about to expire (`X-New-Access-Token`, seed 002 "令牌自动续期")
//! and charge writes to the user's token bucket (seed 002 "速率限制": `RATE_LIMIT_PER_SECOND`
//! refill, `RATE_LIMIT_BURST` size, shared with WebSocket commands).

use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use trellis_identity::auth::bearer;
use trellis_identity::{IdentityError, Principal};
use trellis_kernel::ApiError;
use uuid::Uuid;

use crate::domain::WorkspaceRole;
use crate::error::MomentumError;
use crate::service::Scope;
use crate::service::auth::{AUDIENCE, current_workspace};
use crate::state::MomentumState;

/// Headers an extractor wants on the response (the renewed token, rate-limit figures),
/// added by [`response_headers`].
#[derive(Clone, Default)]
pub struct ExtraHeaders(Arc<Mutex<Vec<(HeaderName, HeaderValue)>>>);

impl ExtraHeaders {
    fn push(&self, name: &'static str, value: String) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((HeaderName::from_static(name), v));
        }
    }
}

/// Middleware: gives extractors an [`ExtraHeaders`] slot and copies what they put there
/// onto the response (errors included).
pub async fn response_headers(mut req: Request, next: Next) -> Response {
    let slot = ExtraHeaders::default();
    req.extensions_mut().insert(slot.clone());
    let mut res = next.run(req).await;
    let extra = std::mem::take(
        &mut *slot
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for (k, v) in extra {
        res.headers_mut().insert(k, v);
    }
    res
}

/// A signed-in user (any Momentum access token of a live session).
pub struct Account(pub Principal);

impl FromRequestParts<MomentumState> for Account {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &MomentumState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(IdentityError::Unauthenticated)?;
        let p = st.identity.authenticate(token, AUDIENCE).await?;
        let extra = parts.extensions.get::<ExtraHeaders>().cloned();
        if let Some(extra) = &extra {
            renew(st, &p, extra)?;
        }
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            charge(st, p.user_id, extra.as_ref()).await?;
        }
        Ok(Account(p))
    }
}

/// Adds `X-New-Access-Token` when the token has at most `MOMENTUM_TOKEN_RENEW_MINUTES` left.
fn renew(st: &MomentumState, p: &Principal, extra: &ExtraHeaders) -> Result<(), ApiError> {
    let left = p.expires_at - st.now().timestamp();
    if left <= st.settings.renew_minutes * 60 {
        let token = st.identity.reissue_access(
            p,
            chrono::Duration::minutes(st.settings.access_token_minutes),
        )?;
        extra.push("x-new-access-token", token);
    }
    Ok(())
}

/// Takes one token from the user's bucket (GCRA with burst `RATE_LIMIT_BURST`, one token per
/// `1/RATE_LIMIT_PER_SECOND` s); over the limit: 429 `RATE_LIMITED` with `Retry-After`.
pub async fn charge(
    st: &MomentumState,
    user_id: Uuid,
    extra: Option<&ExtraHeaders>,
) -> Result<(), MomentumError> {
    let s = &st.settings;
    let Some(d) = bucket(st, user_id).await else {
        return Ok(());
    };
    if let Some(extra) = extra {
        extra.push(
            "x-ratelimit-limit",
            (u64::from(s.rate_per_second) * u64::from(s.rate_window)).to_string(),
        );
        extra.push("x-ratelimit-remaining", d.remaining.to_string());
        extra.push(
            "x-ratelimit-reset",
            (d.reset_after.as_secs_f64().ceil() as u64).to_string(),
        );
    }
    if d.allowed {
        Ok(())
    } else {
        Err(MomentumError::RateLimited {
            retry_after: d.retry_after.as_secs_f64().ceil().max(1.0) as u64,
        })
    }
}

/// Takes one token from `user_id`'s bucket (shared by REST writes and WebSocket commands,
/// and with Redis by every instance); `None` when the limit is off (`RATE_LIMIT_PER_SECOND=0`)
/// or the key-value store is down (fails open, like the kernel's per-IP limit: an outage
/// must not stop every write; the database, not the limiter, holds the data).
pub async fn bucket(st: &MomentumState, user_id: Uuid) -> Option<trellis_kernel::kv::RateDecision> {
    let s = &st.settings;
    if s.rate_per_second == 0 {
        return None;
    }
    let period =
        std::time::Duration::from_secs_f64(f64::from(s.rate_burst) / f64::from(s.rate_per_second));
    match st
        .platform
        .kv
        .throttle(&format!("mm:rate:{user_id}"), s.rate_burst, period)
        .await
    {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(error = %e, "per-user rate limiter unavailable; request allowed");
            None
        }
    }
}

/// A signed-in user working in a workspace: the current one if still a member, else another
/// membership (see [`current_workspace`]).
pub struct Caller {
    /// The authenticated user.
    pub principal: Principal,
    /// Workspace, actor, role, now.
    pub scope: Scope,
}

impl Caller {
    /// The caller's user id.
    pub fn user_id(&self) -> Uuid {
        self.principal.user_id
    }

    /// The workspace the request works in.
    pub fn workspace_id(&self) -> Uuid {
        self.scope.workspace_id
    }

    /// The caller's role in it.
    pub fn role(&self) -> WorkspaceRole {
        self.scope.role
    }
}

impl FromRequestParts<MomentumState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &MomentumState,
    ) -> Result<Self, Self::Rejection> {
        let Account(p) = Account::from_request_parts(parts, st).await?;
        let (workspace_id, role) = current_workspace(st, p.user_id).await?;
        Ok(Caller {
            scope: Scope {
                workspace_id,
                actor: p.user_id,
                role,
                now: st.now(),
            },
            principal: p,
        })
    }
}
