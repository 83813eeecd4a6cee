//! The one client-visible error type: a stable machine code, an HTTP status, a human message.
//!
//! `ApiError` never renders its own body. It travels in the response extensions and the
//! envelope layer (see [`crate::envelope`]) renders it in the envelope of the app that owns the
//! path, so kernel extractors, rate limits and router fallbacks all speak each app's dialect.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A client-visible error.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// The HTTP status (4xx for the client's mistakes, 5xx for ours).
    pub status: StatusCode,
    /// Stable snake_case code, e.g. `validation_error`.
    pub code: Cow<'static, str>,
    /// The human message, in the app's language.
    pub message: Cow<'static, str>,
    /// Seconds, sent as `Retry-After`.
    pub retry_after: Option<u64>,
    /// Per-field problems of a validation error, rendered by each profile in its seed's
    /// shape (workflow `details`, Momentum `errors`, the diet planner `detail`).
    pub fields: Option<Vec<FieldError>>,
}

/// One field's problem in a validation error: `{field, code, message}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field's name as the client sent it (`email`, `items[2].name`).
    pub field: String,
    /// Stable snake_case code (`required`, `too_long`, `invalid_email`).
    pub code: Cow<'static, str>,
    /// The human message.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(
        field: impl Into<String>,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

impl ApiError {
    /// An error with a status, a stable code and a message.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
            fields: None,
        }
    }

    /// Attaches per-field problems (see [`FieldError`]).
    pub fn with_fields(mut self, fields: Vec<FieldError>) -> Self {
        self.fields = Some(fields);
        self
    }

    /// Sends `Retry-After: seconds` (at least 1).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// 422 `validation_error`.
    pub fn validation(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            message,
        )
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 503 `service_unavailable`.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            message,
        )
    }

    /// Logs the cause once, here at the boundary, and hides it from the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal server error",
        )
    }

    /// The generic error for a status produced by the framework or a layer (404, 405, 413, ...).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "resource not found"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed"),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported_media_type", "unsupported content type")
            }
            StatusCode::REQUEST_TIMEOUT => ("request_timeout", "request timed out"),
            StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests"),
            StatusCode::UNAUTHORIZED => ("unauthorized", "authentication required"),
            StatusCode::FORBIDDEN => ("forbidden", "forbidden"),
            StatusCode::UNPROCESSABLE_ENTITY => ("validation_error", "invalid request"),
            StatusCode::SERVICE_UNAVAILABLE => ("service_unavailable", "service unavailable"),
            s if s.is_server_error() => ("internal_error", "internal server error"),
            _ => ("bad_request", "bad request"),
        };
        Self::new(status, code, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res.extensions_mut().insert(Arc::new(self));
        res
    }
}

impl From<crate::db::StoreError> for ApiError {
    /// The store errors no app maps to a client condition of its own: NUL text is the
    /// client's (422), an unreachable database is 503, anything else is a logged 500.
    fn from(e: crate::db::StoreError) -> Self {
        use crate::db::StoreError;
        match e {
            StoreError::InvalidText => ApiError::validation("text must not contain NUL characters"),
            StoreError::Unavailable(cause) => {
                tracing::error!(error = %cause, "database unavailable");
                ApiError::unavailable("database unavailable, retry shortly").with_retry_after(1)
            }
            other => ApiError::internal(other),
        }
    }
}
