//! Seed 000's envelope: `{success, data, message, request_id, timestamp}`; errors carry
//! `error` (an upper-case code) and `details` instead of `data`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use trellis_kernel::ApiError;
use trellis_kernel::envelope::Envelope;
use trellis_kernel::http::request_id;

fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Renders errors for every path under the workflow app.
pub struct WorkflowEnvelope;

impl Envelope for WorkflowEnvelope {
    fn error_body(&self, err: &ApiError, request_id: &str) -> Value {
        json!({
            "success": false,
            "error": err.code.to_ascii_uppercase(),
            "message": err.message,
            "details": null,
            "request_id": request_id,
            "timestamp": timestamp(),
        })
    }
}

/// A successful answer: `data` plus a human message, serialized straight to bytes.
pub struct Done<T> {
    pub status: StatusCode,
    pub data: T,
    pub message: &'static str,
}

impl<T> Done<T> {
    pub fn ok(data: T, message: &'static str) -> Self {
        Done {
            status: StatusCode::OK,
            data,
            message,
        }
    }

    pub fn created(data: T, message: &'static str) -> Self {
        Done {
            status: StatusCode::CREATED,
            data,
            message,
        }
    }
}

#[derive(Serialize)]
struct Body<'a, T> {
    success: bool,
    data: &'a T,
    message: &'a str,
    request_id: &'a str,
    timestamp: String,
}

impl<T: Serialize> IntoResponse for Done<T> {
    fn into_response(self) -> Response {
        let rid = request_id::current().unwrap_or_default();
        let body = Body {
            success: true,
            data: &self.data,
            message: self.message,
            request_id: &rid,
            timestamp: timestamp(),
        };
        match serde_json::to_vec(&body) {
            Ok(bytes) => (
                self.status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                bytes,
            )
                .into_response(),
            Err(e) => ApiError::internal(e).into_response(),
        }
    }
}

/// Handler result.
pub type Reply<T> = Result<Done<T>, ApiError>;
