//! Cross-site request forgery defence (OWASP "Synchronizer token" with a signed,
//! session-bound token): every console form carries a hidden `csrf_token` input whose value
//! is an HMAC of the browser's binding, checked on every unsafe request before any handler
//! runs; a missing or wrong token is refused with 403.
//!
//! The binding is the session id of a validly signed session cookie (signed in), else the
//! random `trellis_csrf` cookie (signed out: the login, registration and reset forms). The
//! token is found in the `X-CSRF-Token` header (scripts), the `csrf_token` field of an
//! `application/x-www-form-urlencoded` body (plain forms), or, for `multipart/form-data`
//! bodies (uploads, which are not buffered), the `csrf_token` query parameter of the form's
//! `action`. `SameSite=Lax` cookies are a second line.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use trellis_identity::Identity;

/// The signed-out binding cookie.
pub const CSRF_COOKIE: &str = "trellis_csrf";

/// The form field, header and query parameter names.
pub const FIELD: &str = "csrf_token";

/// Largest urlencoded console form read for its token, bytes.
pub const MAX_FORM_BYTES: usize = 1 << 20;

/// What the token of a request is bound to.
pub fn binding(identity: &Identity, headers: &HeaderMap, anon: &str) -> String {
    match crate::cookies::get(headers, crate::session::SESSION_COOKIE)
        .and_then(|t| identity.session_of(t, crate::session::AUDIENCE))
    {
        Some(sid) => format!("session:{sid}"),
        None => format!("anon:{anon}"),
    }
}

/// Whether the method changes state (RFC 9110 §9.2.1 "safe methods" are exempt).
pub fn unsafe_method(m: &Method) -> bool {
    !matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No token was sent.
    Missing,
    /// The token does not match this browser's binding.
    Wrong,
    /// The form body could not be read (too large, or cut off).
    Unreadable,
}

/// Checks the token of an unsafe request against `expected`; returns the request (its body
/// restored when it was read for the token).
pub async fn check(req: Request, identity: &Identity, bind: &str) -> Result<Request, Refusal> {
    let from_header = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (token, req) = if let Some(t) = from_header {
        (Some(t), req)
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| Refusal::Unreadable)?;
        let token = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == FIELD)
            .map(|(_, v)| v.into_owned());
        (token, Request::from_parts(parts, Body::from(bytes)))
    } else if content_type.starts_with("multipart/form-data") {
        let token = req.uri().query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == FIELD)
                .map(|(_, v)| v.into_owned())
        });
        (token, req)
    } else {
        (None, req)
    };
    let token = token.filter(|t| !t.is_empty()).ok_or(Refusal::Missing)?;
    if identity.csrf_valid(bind, &token) {
        Ok(req)
    } else {
        Err(Refusal::Wrong)
    }
}
