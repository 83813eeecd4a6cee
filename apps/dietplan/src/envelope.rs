//! Seed 003's envelope: `{code: 0, message, data}` on success; errors
//! `{code: <http status>, message, detail, error}` where `detail` is the list of
//! `{field, message, type}` problems of a 422 (originals.md §3.2) or null, and `error` is our
//! stable snake_case code (an addition clients may ignore).

use serde::Serialize;
use trellis_kernel::ApiError;
use trellis_kernel::envelope::{self, Profile, Success};

/// The diet planner's profile.
pub struct DietProfile;

/// One problem of a validation error, in the seed's shape.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = DietFieldError)]
struct Detail<'a> {
    /// The field as the client sent it (`weight_kg`, `food_preferences[1]`).
    field: &'a str,
    /// The human message.
    message: &'a str,
    /// The stable problem code (`required`, `out_of_range`, `toxic_food`).
    #[serde(rename = "type")]
    kind: &'a str,
}

/// The error body every diet-planner error is rendered as (`DietError` in the OpenAPI
/// document).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = DietError)]
struct ErrorBody<'a> {
    /// The HTTP status, repeated (seed 003: `code` is the status on errors, 0 on success).
    code: u16,
    /// The human message.
    message: &'a str,
    /// The per-field problems of a 422, otherwise null.
    detail: Option<Vec<Detail<'a>>>,
    /// Stable snake_case code, e.g. `validation_error`, `task_not_found`.
    error: &'a str,
}

#[derive(Serialize)]
struct SuccessBody<'a, T> {
    code: u16,
    message: &'a str,
    data: &'a T,
}

impl Profile for DietProfile {
    fn error_body(&self, err: &ApiError, _request_id: &str) -> Vec<u8> {
        envelope::to_bytes(&ErrorBody {
            code: err.status.as_u16(),
            message: &err.message,
            detail: err.fields.as_ref().map(|fs| {
                fs.iter()
                    .map(|f| Detail {
                        field: &f.field,
                        message: &f.message,
                        kind: &f.code,
                    })
                    .collect()
            }),
            error: &err.code,
        })
    }

    fn success_body<T: Serialize>(s: &Success<'_, T>) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(&SuccessBody {
            code: 0,
            message: s.message,
            data: s.data,
        })
    }
}

/// A successful answer in the diet planner's envelope.
pub type Done<T> = envelope::Done<DietProfile, T>;

/// Handler result.
pub type Reply<T> = Result<Done<T>, ApiError>;

/// How the envelope appears in the OpenAPI document.
pub fn openapi_envelope() -> trellis_kernel::docs::EnvelopeDoc {
    trellis_kernel::docs::EnvelopeDoc::of::<ErrorBody>("DietError", success_schema)
}

fn success_schema(
    data: Option<utoipa::openapi::RefOr<utoipa::openapi::Schema>>,
) -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let data = data.unwrap_or_else(|| ObjectBuilder::new().schema_type(Type::Null).into());
    ObjectBuilder::new()
        .property("code", ObjectBuilder::new().schema_type(Type::Integer))
        .property("message", ObjectBuilder::new().schema_type(Type::String))
        .property("data", data)
        .required("code")
        .required("message")
        .required("data")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_success_and_error_bodies_match_the_profile() {
        trellis_kernel::testing::assert_envelope_documented(&DietProfile, &openapi_envelope());
    }
}
