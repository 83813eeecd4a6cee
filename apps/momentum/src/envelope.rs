//! Seed 002's envelope (originals §2.2): `{success, code, message, data, meta, errors?,
//! timestamp}`. `code` always equals the HTTP status; `meta.request_id` is always there, and
//! lists add `meta.pagination` (offset lists) or `meta.next_cursor` (cursor lists). Errors
//! list problems in `errors: [{field?, code, message}]`: every field of a validation error,
//! or one entry carrying the stable code (`LABEL_EXISTS`, `NOT_FOUND`, …).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use trellis_kernel::ApiError;
use trellis_kernel::envelope::{self, Profile, Success, json_response};

/// Momentum's profile.
pub struct MomentumProfile;

/// One problem of an error answer.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MomentumErrorItem)]
struct ErrorItem<'a> {
    /// The body or query field, when the problem is one field's.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// Stable code: upper snake case for the whole request (`NOT_FOUND`, `LABEL_EXISTS`),
    /// snake case for a field (`too_long`, `invalid_uuid`).
    code: String,
    /// The human message.
    message: &'a str,
}

/// `meta` of every answer.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MomentumMeta)]
pub struct Meta<'a> {
    /// The request's id (also the `X-Request-ID` header).
    request_id: &'a str,
    /// Offset lists: where this page is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
    /// Cursor lists: pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Where an offset page is (`meta.pagination`).
#[derive(Clone, Copy, Debug, Serialize, utoipa::ToSchema)]
pub struct Pagination {
    /// 1-based page number.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
    /// Items in all pages.
    pub total: u64,
    /// Number of pages (0 when there are no items).
    pub total_pages: u64,
    /// Whether a later page exists.
    pub has_next: bool,
    /// Whether an earlier page exists.
    pub has_prev: bool,
}

impl Pagination {
    /// Pagination of page `page` (1-based) of `per_page` items out of `total`.
    pub fn new(page: u32, per_page: u32, total: u64) -> Self {
        let per = u64::from(per_page.max(1));
        let total_pages = total.div_ceil(per);
        Pagination {
            page,
            per_page,
            total,
            total_pages,
            has_next: u64::from(page) < total_pages,
            has_prev: page > 1,
        }
    }
}

/// The error body (`MomentumError` in the OpenAPI document).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MomentumError)]
struct ErrorBody<'a> {
    /// Always false.
    success: bool,
    /// The HTTP status.
    code: u16,
    /// The human message.
    message: &'a str,
    /// What went wrong: each invalid field, or one item with the stable code.
    errors: Vec<ErrorItem<'a>>,
    /// `request_id`.
    meta: Meta<'a>,
    /// When the answer was made (RFC 3339, UTC).
    timestamp: String,
}

#[derive(Serialize)]
struct SuccessBody<'a, T> {
    success: bool,
    code: u16,
    message: &'a str,
    data: &'a T,
    meta: Meta<'a>,
    timestamp: String,
}

/// The field a serde message names (`title: invalid type: …`), for validation errors the
/// kernel raised before Momentum's code ran.
fn serde_field(message: &str) -> Option<&str> {
    let (head, _) = message.split_once(": ")?;
    let ok = !head.is_empty()
        && head
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.[]".contains(&b));
    ok.then_some(head)
}

impl Profile for MomentumProfile {
    fn error_body(&self, err: &ApiError, request_id: &str) -> Vec<u8> {
        let errors = match &err.fields {
            Some(fields) if !fields.is_empty() => fields
                .iter()
                .map(|f| ErrorItem {
                    field: Some(&f.field),
                    code: f.code.to_string(),
                    message: &f.message,
                })
                .collect(),
            _ => {
                let field = (err.status == StatusCode::UNPROCESSABLE_ENTITY
                    || err.status == StatusCode::BAD_REQUEST)
                    .then(|| serde_field(&err.message))
                    .flatten();
                vec![ErrorItem {
                    field,
                    code: err.code.to_ascii_uppercase(),
                    message: &err.message,
                }]
            }
        };
        envelope::to_bytes(&ErrorBody {
            success: false,
            code: err.status.as_u16(),
            message: &err.message,
            errors,
            meta: Meta {
                request_id,
                pagination: None,
                next_cursor: None,
            },
            timestamp: envelope::timestamp(),
        })
    }

    fn success_body<T: Serialize>(s: &Success<'_, T>) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(&SuccessBody {
            success: true,
            code: s.status.as_u16(),
            message: s.message,
            data: s.data,
            meta: Meta {
                request_id: s.request_id,
                pagination: None,
                next_cursor: None,
            },
            timestamp: envelope::timestamp(),
        })
    }
}

/// A successful answer in Momentum's envelope.
pub type Done<T> = envelope::Done<MomentumProfile, T>;

/// Handler result.
pub type Reply<T> = Result<Done<T>, ApiError>;

/// A 200 answer.
pub fn ok<T: Serialize>(data: T, message: &'static str) -> Done<T> {
    Done::ok(data, message)
}

/// A 201 answer.
pub fn created<T: Serialize>(data: T, message: &'static str) -> Done<T> {
    Done::created(data, message)
}

/// A list answer: the items in `data`, and `meta.pagination` or `meta.next_cursor`.
pub struct Listed<T> {
    /// The items.
    pub items: Vec<T>,
    /// Offset-list position.
    pub pagination: Option<Pagination>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
    /// The human message.
    pub message: &'static str,
}

impl<T> Listed<T> {
    /// An unpaged list.
    pub fn all(items: Vec<T>, message: &'static str) -> Self {
        Listed {
            items,
            pagination: None,
            next_cursor: None,
            message,
        }
    }
}

impl<T: Serialize> IntoResponse for Listed<T> {
    fn into_response(self) -> Response {
        let rid = trellis_kernel::http::request_id::current().unwrap_or_default();
        let body = serde_json::to_vec(&SuccessBody {
            success: true,
            code: 200,
            message: self.message,
            data: &self.items,
            meta: Meta {
                request_id: &rid,
                pagination: self.pagination,
                next_cursor: self.next_cursor,
            },
            timestamp: envelope::timestamp(),
        });
        match body {
            Ok(b) => json_response(StatusCode::OK, b),
            Err(e) => ApiError::internal(e).into_response(),
        }
    }
}

/// List handler result.
pub type ListReply<T> = Result<Listed<T>, ApiError>;

/// How Momentum's envelope appears in the OpenAPI document.
pub fn openapi_envelope() -> trellis_kernel::docs::EnvelopeDoc {
    trellis_kernel::docs::EnvelopeDoc::of::<ErrorBody>("MomentumError", success_schema)
}

fn success_schema(
    data: Option<utoipa::openapi::RefOr<utoipa::openapi::Schema>>,
) -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{RefOr, Schema};
    let data: RefOr<Schema> = data.unwrap_or_else(|| {
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::Null,
                Type::Object,
                Type::Array,
                Type::String,
                Type::Boolean,
                Type::Number,
            ]))
            .into()
    });
    let meta = <Meta<'_> as utoipa::PartialSchema>::schema();
    ObjectBuilder::new()
        .property("success", ObjectBuilder::new().schema_type(Type::Boolean))
        .property("code", ObjectBuilder::new().schema_type(Type::Integer))
        .property("message", ObjectBuilder::new().schema_type(Type::String))
        .property("data", data)
        .property("meta", meta)
        .property(
            "timestamp",
            ObjectBuilder::new().schema_type(Type::String).format(Some(
                utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime),
            )),
        )
        .required("success")
        .required("code")
        .required("message")
        .required("data")
        .required("meta")
        .required("timestamp")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_success_and_error_bodies_match_the_profile() {
        trellis_kernel::testing::assert_envelope_documented(&MomentumProfile, &openapi_envelope());
    }

    #[test]
    fn code_equals_status_and_fields_are_listed() {
        let err = ApiError::validation("title: invalid type: integer `1`, expected a string");
        let v: serde_json::Value =
            serde_json::from_slice(&MomentumProfile.error_body(&err, "r1")).unwrap();
        assert_eq!(v["code"], 422);
        assert_eq!(v["errors"][0]["field"], "title");
        assert_eq!(v["errors"][0]["code"], "VALIDATION_ERROR");
        assert_eq!(v["meta"]["request_id"], "r1");
        let p = Pagination::new(2, 10, 25);
        assert_eq!((p.total_pages, p.has_next, p.has_prev), (3, true, true));
        assert_eq!(Pagination::new(1, 10, 0).total_pages, 0);
    }
}
