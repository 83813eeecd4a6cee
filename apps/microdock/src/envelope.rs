//! Seed 004's envelope: `{success, message, data}` for everything but file downloads. Errors
//! carry `data: null` and, beyond the seed, a stable `error` code.

use serde::Serialize;
use trellis_kernel::ApiError;
use trellis_kernel::envelope::{self, Profile, Success};

/// MicroDock's profile.
pub struct MicroDockProfile;

/// The error body every MicroDock error is rendered as (`MicroDockError` in the OpenAPI
/// document; seed 004 "统一响应格式" plus the stable `error` code).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MicroDockError)]
struct ErrorBody<'a> {
    /// Always false.
    success: bool,
    /// The human message, in Chinese as in the seed.
    message: &'a str,
    /// Always null.
    #[schema(schema_with = null_schema)]
    data: (),
    /// The stable snake_case code (`crate::error::MicroDockError::code`).
    error: &'a str,
}

fn null_schema() -> utoipa::openapi::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Null)
        .build()
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

/// How MicroDock's envelope appears in the OpenAPI document: errors are [`ErrorBody`]
/// (`MicroDockError`), successes `{success, message, data}` around the handler's data (the
/// fields of `SuccessBody`; a test keeps the two equal).
pub fn openapi_envelope() -> trellis_kernel::docs::EnvelopeDoc {
    trellis_kernel::docs::EnvelopeDoc::of::<ErrorBody>("MicroDockError", success_schema)
}

fn success_schema(
    data: Option<utoipa::openapi::RefOr<utoipa::openapi::Schema>>,
) -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let data = data.unwrap_or_else(|| null_schema().into());
    ObjectBuilder::new()
        .property("success", ObjectBuilder::new().schema_type(Type::Boolean))
        .property("message", ObjectBuilder::new().schema_type(Type::String))
        .property("data", data)
        .required("success")
        .required("message")
        .required("data")
        .into()
}

#[cfg(test)]
mod tests {
    //! The documented envelope keeps the fields the profile writes (issue 7, item 13:
    //! response schemas without the envelope).
    use super::*;

    #[test]
    fn documented_success_and_error_bodies_match_the_profile() {
        trellis_kernel::testing::assert_envelope_documented(&MicroDockProfile, &openapi_envelope());
    }

    /// Issue 7 item 14: MicroDock answered 413/429/503 in English, its own errors in Chinese.
    #[test]
    fn platform_errors_are_answered_in_chinese() {
        for status in [413u16, 416, 429, 503, 500] {
            let s = axum::http::StatusCode::from_u16(status).unwrap();
            let body = MicroDockProfile.error_body(&ApiError::from_status(s), "r");
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let m = v["message"].as_str().unwrap();
            assert!(!m.is_ascii(), "{status}: {m}");
        }
        let own = ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "plugin_not_found",
            "插件不存在",
        );
        let v: serde_json::Value =
            serde_json::from_slice(&MicroDockProfile.error_body(&own, "r")).unwrap();
        assert_eq!(v["message"], "插件不存在");
    }
}
