//! Per-app envelopes ("profiles") and the layer that renders every error in the envelope of
//! the app that owns the request path.
//!
//! Handlers, extractors, rate limits and the router's own 404/405/413 all produce either an
//! [`ApiError`] in the response extensions or a bare error status. The layer here turns both
//! into the owning app's JSON envelope, so no client ever sees a framework's text body.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::http::request_id;

/// How one app writes its error bodies.
pub trait Envelope: Send + Sync + 'static {
    /// The JSON body for `err`; `request_id` is the id of the current request.
    fn error_body(&self, err: &ApiError, request_id: &str) -> Value;
}

/// The envelope used for paths no app owns (`/health`, unknown paths).
pub struct KernelEnvelope;

impl Envelope for KernelEnvelope {
    fn error_body(&self, err: &ApiError, request_id: &str) -> Value {
        json!({
            "success": false,
            "error": err.code,
            "message": err.message,
            "details": null,
            "request_id": request_id,
        })
    }
}

/// Path prefixes mapped to envelopes; the longest matching prefix wins.
#[derive(Clone)]
pub struct Profiles {
    routes: Vec<(String, Arc<dyn Envelope>)>,
    fallback: Arc<dyn Envelope>,
}

impl Default for Profiles {
    fn default() -> Self {
        Profiles {
            routes: Vec::new(),
            fallback: Arc::new(KernelEnvelope),
        }
    }
}

impl Profiles {
    /// Registers `envelope` for every path equal to `prefix` or below it.
    pub fn add(&mut self, prefix: &str, envelope: Arc<dyn Envelope>) {
        self.routes
            .push((prefix.trim_end_matches('/').to_string(), envelope));
        self.routes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    }

    /// The envelope for `path`.
    pub fn for_path(&self, path: &str) -> &dyn Envelope {
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
            if is_json {
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
    let body = profiles.for_path(&path).error_body(&err, &rid);
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
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
    impl Envelope for Named {
        fn error_body(&self, _: &ApiError, _: &str) -> Value {
            json!(self.0)
        }
    }

    #[test]
    fn longest_segment_prefix_wins() {
        let mut p = Profiles::default();
        p.add("/api", Arc::new(Named("api")));
        p.add("/api/v1/users", Arc::new(Named("users")));
        let e = ApiError::not_found("x");
        let pick = |path| p.for_path(path).error_body(&e, "");
        assert_eq!(pick("/api/v1/users/me"), json!("users"));
        assert_eq!(pick("/api/v1/users"), json!("users"));
        assert_eq!(pick("/api/v1/usersx"), json!("api"));
        assert_eq!(pick("/api/plugins/list"), json!("api"));
        assert_eq!(pick("/health")["success"], json!(false));
    }
}
