//! Seed 000's envelope: `{success, data, message, request_id, timestamp}`; errors carry
//! `error` (an upper-case code) and `details` (per-field problems, or null) instead of `data`.

use serde::Serialize;
use trellis_kernel::ApiError;
use trellis_kernel::envelope::{self, Profile, Success, timestamp};
use trellis_kernel::error::FieldError;

/// The workflow app's profile.
pub struct WorkflowProfile;

/// The error body every workflow error is rendered as (`WorkflowError` in the OpenAPI
/// document, seed 000 "统一响应格式").
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WorkflowError)]
struct ErrorBody<'a> {
    /// Always false.
    success: bool,
    /// The stable upper-case code, e.g. `VALIDATION_ERROR` (docs/API.md lists them).
    error: String,
    /// The human message.
    message: &'a str,
    /// Per-field problems of a validation error, otherwise null.
    details: Option<&'a [FieldError]>,
    /// The request's `X-Request-ID`.
    request_id: &'a str,
    /// RFC 3339 UTC with milliseconds.
    timestamp: String,
}

#[derive(Serialize)]
struct SuccessBody<'a, T> {
    success: bool,
    data: &'a T,
    message: &'a str,
    request_id: &'a str,
    timestamp: String,
}

impl Profile for WorkflowProfile {
    fn error_body(&self, err: &ApiError, request_id: &str) -> Vec<u8> {
        envelope::to_bytes(&ErrorBody {
            success: false,
            error: err.code.to_ascii_uppercase(),
            message: &err.message,
            details: err.fields.as_deref(),
            request_id,
            timestamp: timestamp(),
        })
    }

    fn success_body<T: Serialize>(s: &Success<'_, T>) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(&SuccessBody {
            success: true,
            data: s.data,
            message: s.message,
            request_id: s.request_id,
            timestamp: timestamp(),
        })
    }
}

/// A successful answer in the workflow envelope.
pub type Done<T> = envelope::Done<WorkflowProfile, T>;

/// Handler result.
pub type Reply<T> = Result<Done<T>, ApiError>;

/// How the workflow envelope appears in the OpenAPI document: errors are [`ErrorBody`]
/// (`WorkflowError`), successes `{success, data, message, request_id, timestamp}` around the
/// handler's data (the fields of `SuccessBody`; a test keeps the two equal).
pub fn openapi_envelope() -> trellis_kernel::docs::EnvelopeDoc {
    trellis_kernel::docs::EnvelopeDoc::of::<ErrorBody>("WorkflowError", success_schema)
}

fn success_schema(
    data: Option<utoipa::openapi::RefOr<utoipa::openapi::Schema>>,
) -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let data = data.unwrap_or_else(|| ObjectBuilder::new().schema_type(Type::Null).into());
    ObjectBuilder::new()
        .property("success", ObjectBuilder::new().schema_type(Type::Boolean))
        .property("data", data)
        .property("message", string())
        .property("request_id", string())
        .property("timestamp", string())
        .required("success")
        .required("data")
        .required("message")
        .required("request_id")
        .required("timestamp")
        .into()
}

#[cfg(test)]
mod tests {
    //! The documented envelope keeps the fields the profile writes (issue 7, item 13:
    //! response schemas without the envelope).
    use super::*;

    #[test]
    fn documented_success_and_error_bodies_match_the_profile() {
        trellis_kernel::testing::assert_envelope_documented(&WorkflowProfile, &openapi_envelope());
    }
}
