//! Per-app envelopes ("profiles") and the layer that renders every error in the envelope of
//! the app that owns the request path.
//!
//! Each seed wraps its answers differently (see `ARCHITECTURE.md`, "Errors and envelopes"):
//! an app implements [`Profile`] once, for its success and its error bodies, with typed
//! structs serialized straight to bytes. Handlers answer [`Done`]; extractors, rate limits and
//! the router's own 404/405/413 produce an [`ApiError`] in the response extensions (or a bare
//! error status), and [`render_errors`] turns those into the owning app's body, so no client
//! ever sees a framework's text body.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{ApiError, FieldError};
use crate::http::request_id;

/// What a success body is made of; a [`Profile`] arranges these fields in its seed's shape.
pub struct Success<'a, T> {
    /// The HTTP status (200, 201, ...).
    pub status: StatusCode,
    /// The human message (`"插件上传成功"`, `"login successful"`).
    pub message: &'a str,
    /// The payload.
    pub data: &'a T,
    /// The id of the current request (`X-Request-ID`).
    pub request_id: &'a str,
}

/// How one app writes its bodies.
///
/// `error_body` is called through `dyn Profile` by [`render_errors`]; `success_body` is
/// generic and called statically by [`Done`]. Both serialize typed structs straight to bytes.
pub trait Profile: Send + Sync + 'static {
    /// The JSON body for `err`; `request_id` is the id of the current request.
    fn error_body(&self, err: &ApiError, request_id: &str) -> Vec<u8>;

    /// The JSON body of a successful answer; by default the kernel's
    /// `{success: true, message, data, request_id}`.
    fn success_body<T: Serialize>(s: &Success<'_, T>) -> serde_json::Result<Vec<u8>>
    where
        Self: Sized,
    {
        serde_json::to_vec(&KernelSuccess {
            success: true,
            message: s.message,
            data: s.data,
            request_id: s.request_id,
        })
    }
}

/// The current time as RFC 3339 with milliseconds, UTC (`2026-11-30T05:35:56.123Z`), the
/// `timestamp` field of the envelopes that carry one.
pub fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A JSON response from already-serialized bytes (`Content-Type: application/json`).
pub fn json_response(status: StatusCode, bytes: Vec<u8>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

/// A successful answer in profile `P`'s envelope: `data` plus a human message.
pub struct Done<P, T> {
    /// 200 unless set otherwise ([`Done::created`]).
    pub status: StatusCode,
    /// The human message.
    pub message: Cow<'static, str>,
    /// The payload.
    pub data: T,
    profile: PhantomData<fn() -> P>,
}

impl<P: Profile, T: Serialize> Done<P, T> {
    /// A 200 answer.
    pub fn ok(data: T, message: impl Into<Cow<'static, str>>) -> Self {
        Done {
            status: StatusCode::OK,
            message: message.into(),
            data,
            profile: PhantomData,
        }
    }

    /// A 201 answer.
    pub fn created(data: T, message: impl Into<Cow<'static, str>>) -> Self {
        Done {
            status: StatusCode::CREATED,
            ..Self::ok(data, message)
        }
    }

    /// The serialized body (the MicroDock list cache keeps these bytes).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ApiError> {
        let rid = request_id::current().unwrap_or_default();
        P::success_body(&Success {
            status: self.status,
            message: &self.message,
            data: &self.data,
            request_id: &rid,
        })
        .map_err(ApiError::internal)
    }
}

impl<P: Profile, T: Serialize> IntoResponse for Done<P, T> {
    fn into_response(self) -> Response {
        match self.to_bytes() {
            Ok(bytes) => json_response(self.status, bytes),
            Err(e) => e.into_response(),
        }
    }
}

/// The error body used for paths no app owns (`/health`, unknown paths):
/// `{success: false, error, message, details, request_id}`.
pub struct KernelProfile;

#[derive(Serialize)]
struct KernelError<'a> {
    success: bool,
    error: &'a str,
    message: &'a str,
    details: Option<&'a [FieldError]>,
    request_id: &'a str,
}

#[derive(Serialize)]
struct KernelSuccess<'a, T> {
    success: bool,
    message: &'a str,
    data: &'a T,
    request_id: &'a str,
}

impl Profile for KernelProfile {
    fn error_body(&self, err: &ApiError, request_id: &str) -> Vec<u8> {
        to_bytes(&KernelError {
            success: false,
            error: &err.code,
            message: &err.message,
            details: err.fields.as_deref(),
            request_id,
        })
    }
}

/// Serializes an error body. Error bodies are plain structs of strings and never fail to
/// serialize; should one ever fail, the client still gets valid JSON.
pub fn to_bytes<T: Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_else(|_| b"{\"success\":false}".to_vec())
}

/// Path prefixes mapped to profiles; the longest matching prefix wins.
#[derive(Clone)]
pub struct Profiles {
    routes: Vec<(String, Arc<dyn Profile>)>,
    fallback: Arc<dyn Profile>,
}

impl Default for Profiles {
    fn default() -> Self {
        Profiles {
            routes: Vec::new(),
            fallback: Arc::new(KernelProfile),
        }
    }
}

impl Profiles {
    /// Registers `profile` for every path equal to `prefix` or below it.
    pub fn add(&mut self, prefix: &str, profile: Arc<dyn Profile>) {
        self.routes
            .push((prefix.trim_end_matches('/').to_string(), profile));
        self.routes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    }

    /// The profile for `path`.
    pub fn for_path(&self, path: &str) -> &dyn Profile {
        self.routes
            .iter()
            .find(|(p, _)| {
                p.is_empty()
                    || path == p
                    || (path.starts_with(p.as_str()) && path.as_bytes().get(p.len()) == Some(&b'/'))
            })
            .map(|(_, e)| e.as_ref())
            .unwrap_or(self.fallback.as_ref())
    }
}

/// Middleware: renders error responses in the owning app's envelope.
pub async fn render_errors(
    State(profiles): State<Arc<Profiles>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let err = match parts.extensions.remove::<Arc<ApiError>>() {
        Some(e) => e,
        None => {
            let is_json = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            // HTML pages (the console's error pages) are already what a browser shows.
            let is_html = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/html"));
            if is_json || is_html {
                return Response::from_parts(parts, body);
            }
            // A framework rejection with a plain-text body: keep its text as the message.
            let mut err = ApiError::from_status(status);
            if let Ok(bytes) = axum::body::to_bytes(body, 4096).await
                && !bytes.is_empty()
                && let Ok(text) = std::str::from_utf8(&bytes)
                && !status.is_server_error()
            {
                err.message = text.trim().to_string().into();
            }
            Arc::new(err)
        }
    };
    let rid = request_id::current().unwrap_or_default();
    let bytes = profiles.for_path(&path).error_body(&err, &rid);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str);
    impl Profile for Named {
        fn error_body(&self, _: &ApiError, _: &str) -> Vec<u8> {
            self.0.as_bytes().to_vec()
        }
    }

    #[test]
    fn longest_segment_prefix_wins() {
        let mut p = Profiles::default();
        p.add("/api", Arc::new(Named("api")));
        p.add("/api/v1/users", Arc::new(Named("users")));
        let e = ApiError::not_found("x");
        let pick = |path| String::from_utf8(p.for_path(path).error_body(&e, "")).unwrap();
        assert_eq!(pick("/api/v1/users/me"), "users");
        assert_eq!(pick("/api/v1/users"), "users");
        assert_eq!(pick("/api/v1/usersx"), "api");
        assert_eq!(pick("/api/plugins/list"), "api");
        let kernel: serde_json::Value = serde_json::from_str(&pick("/health")).unwrap();
        assert_eq!(kernel["success"], false);
        assert_eq!(kernel["error"], "not_found");
    }

    #[test]
    fn field_errors_travel_in_the_kernel_body() {
        let e = ApiError::validation("bad").with_fields(vec![FieldError::new(
            "email",
            "invalid_email",
            "not an e-mail address",
        )]);
        let v: serde_json::Value =
            serde_json::from_slice(&KernelProfile.error_body(&e, "r1")).unwrap();
        assert_eq!(v["details"][0]["field"], "email");
        assert_eq!(v["details"][0]["code"], "invalid_email");
        assert_eq!(v["request_id"], "r1");
    }
}
