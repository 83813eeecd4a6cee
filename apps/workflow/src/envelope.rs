//! Seed 000's envelope: `{success, data, message, request_id, timestamp}`; errors carry
//! `error` (an upper-case code) and `details` (per-field problems, or null) instead of `data`.

use serde::Serialize;
use trellis_kernel::ApiError;
use trellis_kernel::envelope::{self, Profile, Success, timestamp};
use trellis_kernel::error::FieldError;

/// The workflow app's profile.
pub struct WorkflowProfile;

#[derive(Serialize)]
struct ErrorBody<'a> {
    success: bool,
    error: String,
    message: &'a str,
    details: Option<&'a [FieldError]>,
    request_id: &'a str,
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
