//! Seed 004's envelope: `{success, message, data}` for everything but file downloads. Errors
//! carry `data: null` and, beyond the seed, a stable `error` code.

use serde::Serialize;
use trellis_kernel::ApiError;
use trellis_kernel::envelope::{self, Profile, Success};

/// MicroDock's profile.
pub struct MicroDockProfile;

#[derive(Serialize)]
struct ErrorBody<'a> {
    success: bool,
    message: &'a str,
    data: (),
    error: &'a str,
}

#[derive(Serialize)]
struct SuccessBody<'a, T> {
    success: bool,
    message: &'a str,
    data: &'a T,
}

impl Profile for MicroDockProfile {
    fn error_body(&self, err: &ApiError, _request_id: &str) -> Vec<u8> {
        envelope::to_bytes(&ErrorBody {
            success: false,
            message: &err.message,
            data: (),
            error: &err.code,
        })
    }

    fn success_body<T: Serialize>(s: &Success<'_, T>) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(&SuccessBody {
            success: true,
            message: s.message,
            data: s.data,
        })
    }
}

/// A successful answer in MicroDock's envelope.
pub type Done<T> = envelope::Done<MicroDockProfile, T>;

/// `Done` with the seed's message first, as the handlers read.
pub fn done<T: Serialize>(message: &'static str, data: T) -> Done<T> {
    Done::ok(data, message)
}

/// Handler result.
pub type Reply<T> = Result<Done<T>, ApiError>;
