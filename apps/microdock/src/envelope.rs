//! Seed 004's envelope: `{success, message, data}` for everything but file downloads. Errors
//! carry `data: null` and, beyond the seed, a stable `error` code.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use trellis_kernel::ApiError;
use trellis_kernel::envelope::Envelope;

pub struct MicrodockEnvelope;

impl Envelope for MicrodockEnvelope {
    fn error_body(&self, err: &ApiError, _request_id: &str) -> Value {
        json!({"success": false, "message": err.message, "data": null, "error": err.code})
    }
}

/// A successful answer.
pub struct Done<T> {
    pub message: &'static str,
    pub data: T,
}

#[derive(Serialize)]
struct Body<'a, T> {
    success: bool,
    message: &'a str,
    data: &'a T,
}

/// Serializes straight to bytes with the JSON content type.
pub fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
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

impl<T: Serialize> Done<T> {
    pub fn bytes(&self) -> Result<Vec<u8>, ApiError> {
        serde_json::to_vec(&Body {
            success: true,
            message: self.message,
            data: &self.data,
        })
        .map_err(ApiError::internal)
    }
}

impl<T: Serialize> IntoResponse for Done<T> {
    fn into_response(self) -> Response {
        match self.bytes() {
            Ok(b) => json_bytes(StatusCode::OK, b),
            Err(e) => e.into_response(),
        }
    }
}

pub fn done<T>(message: &'static str, data: T) -> Done<T> {
    Done { message, data }
}

pub type Reply<T> = Result<Done<T>, ApiError>;
