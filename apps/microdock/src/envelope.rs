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

/// The seed's language for the conditions the platform answers before or around MicroDock's
/// own code (body limits, rate limits, an unreachable database, a failed range, a bug): the
/// kernel words them in English, MicroDock's clients read Chinese everywhere (issue 7
/// item 14). Messages already in Chinese (MicroDock's own) are kept.
fn message(err: &ApiError) -> &str {
    if !err.message.is_ascii() {
        return &err.message;
    }
    match err.status.as_u16() {
        413 => "文件大小超过限制",
        416 => "请求的范围超出文件大小",
        429 => "请求过于频繁，请稍后再试",
        503 => "服务暂时不可用，请稍后重试",
        500 => "服务器内部错误",
        _ => &err.message,
    }
}

impl Profile for MicroDockProfile {
    fn error_body(&self, err: &ApiError, _request_id: &str) -> Vec<u8> {
        envelope::to_bytes(&ErrorBody {
            success: false,
            message: message(err),
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

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    /// Issue 7 item 14: MicroDock answered 413/429/503 in English, its own errors in Chinese.
    #[test]
    fn platform_errors_are_answered_in_chinese() {
        for status in [413u16, 416, 429, 503, 500] {
            let s = StatusCode::from_u16(status).unwrap();
            let body = MicroDockProfile.error_body(&ApiError::from_status(s), "r");
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let m = v["message"].as_str().unwrap();
            assert!(!m.is_ascii(), "{status}: {m}");
        }
        let own = ApiError::new(StatusCode::NOT_FOUND, "plugin_not_found", "插件不存在");
        let v: serde_json::Value =
            serde_json::from_slice(&MicroDockProfile.error_body(&own, "r")).unwrap();
        assert_eq!(v["message"], "插件不存在");
    }
}
