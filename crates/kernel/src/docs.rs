//! `/openapi.json` and `/docs`: one OpenAPI document for all mounted apps, rendered by a
//! Swagger UI bundled into the binary at build time (no CDN, nothing downloaded).
//!
//! The document must describe what the server sends (issue 7, item 13: a schema-driven
//! fuzzer found bodies without their envelope, undocumented 400/415/422 statuses, duplicated
//! operation ids and colliding schema names). Handlers annotate the *data* they return; each
//! app then passes its document through [`document_app`], which wraps every JSON success
//! body in the app's envelope, gives every error status the app's error-envelope schema,
//! lists the statuses the kernel's layers can answer on any operation (400, 401 when a
//! bearer token is required, 413/415 with a body, 422, 429, 500, 503) and prefixes the
//! operation ids with the app's name. [`merge_checked`] refuses two different schemas under
//! one name, and [`finish`] sets the title, the version and the bearer security scheme.

use axum::Router;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, RefOr, Schema};
use utoipa_swagger_ui::SwaggerUi;

/// Serves `openapi` at `/openapi.json` and the Swagger UI for it at `/docs`.
pub fn router(openapi: OpenApi) -> Router {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
}

/// The name of the bearer-token security scheme operations refer to with
/// `security(("bearer" = []))`.
pub const BEARER: &str = "bearer";

/// How one app's envelope appears in the document (see [`document_app`]).
pub struct EnvelopeDoc {
    /// Component name of the app's error body, e.g. `WorkflowError`.
    pub error_name: &'static str,
    /// The schema of the app's error body (from the `ToSchema` of the type it serializes).
    pub error_schema: RefOr<Schema>,
    /// The schemas the error body refers to (`FieldError`), from `ToSchema::schemas`.
    pub error_refs: Vec<(String, RefOr<Schema>)>,
    /// Builds the success envelope around the schema of `data` (`None`: `data` is null).
    pub success: fn(Option<RefOr<Schema>>) -> Schema,
}

impl EnvelopeDoc {
    /// The description of an envelope whose error body is `E` (its `ToSchema`, documented as
    /// `error_name`) and whose success body `success` builds around a handler's data.
    pub fn of<E: utoipa::ToSchema>(
        error_name: &'static str,
        success: fn(Option<RefOr<Schema>>) -> Schema,
    ) -> EnvelopeDoc {
        let mut error_refs = Vec::new();
        E::schemas(&mut error_refs);
        EnvelopeDoc {
            error_name,
            error_schema: E::schema(),
            error_refs,
            success,
        }
    }
}

/// The statuses the kernel's layers may answer on an operation whatever its handler does, as
/// `(status, description)`: extractor and JSON errors, missing tokens, unparsable path
/// parameters, body limits and content types, rate limits, internal errors and overload.
fn common_errors(op: &Operation) -> Vec<(&'static str, &'static str)> {
    let has_body = op.request_body.is_some();
    let secured = op
        .security
        .as_ref()
        .is_some_and(|s| !s.is_empty() && !is_optional(s));
    let in_path = op.parameters.as_ref().is_some_and(|ps| {
        ps.iter()
            .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Path)
    });
    let mut out = vec![("400", "Malformed request (JSON, query, path or headers)")];
    if secured {
        out.push(("401", "Missing, invalid, expired or revoked bearer token"));
    }
    if in_path {
        out.push((
            "404",
            "No such resource, or a path parameter that cannot be parsed",
        ));
    }
    if has_body {
        out.push(("413", "Request body too large"));
        out.push(("415", "Unsupported Content-Type"));
    }
    out.push((
        "422",
        "A field is missing, has the wrong type or is invalid",
    ));
    out.push(("429", "Rate limited (Retry-After)"));
    out.push(("500", "Internal error"));
    out.push(("503", "Server busy or a backing service unavailable"));
    out
}

/// True when one of the alternatives is the empty requirement (authentication optional).
fn is_optional(s: &[utoipa::openapi::security::SecurityRequirement]) -> bool {
    let empty = utoipa::openapi::security::SecurityRequirement::default();
    s.iter().any(|r| r == &empty)
}

const JSON: &str = "application/json";

/// Rewrites an app's document so that it says what the server sends (module docs):
/// operation ids become `<app>_<id>`, JSON success bodies (200/201) are wrapped by
/// `env.success` unless they already are an envelope (their schema has a `success`
/// property), successes without a body get the envelope with `data: null`, every status
/// >= 400 answers `env.error_name`, and the kernel's common error statuses are listed.
pub fn document_app(doc: &mut OpenApi, app: &str, env: &EnvelopeDoc) {
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert(env.error_name.to_owned(), env.error_schema.clone());
    components.schemas.extend(env.error_refs.iter().cloned());
    let schemas = components.schemas.clone();
    let error_ref = RefOr::Ref(utoipa::openapi::Ref::from_schema_name(env.error_name));
    // Handler names repeat across resources (`plugins::delete`, `backups::delete`): such ids
    // are replaced by one made of the method and the path, which is unique by construction.
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for item in doc.paths.paths.values() {
        for op in operations(item) {
            if let Some(id) = &op.operation_id {
                *seen.entry(id.clone()).or_default() += 1;
            }
        }
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
            ("head", &mut item.head),
            ("options", &mut item.options),
        ] {
            let Some(op) = op.as_mut() else { continue };
            let id = match &op.operation_id {
                Some(id) if seen.get(id).copied().unwrap_or(0) <= 1 => id.clone(),
                _ => format!(
                    "{method}{}",
                    path.replace(['/', '-'], "_").replace(['{', '}'], "")
                ),
            };
            if !id.starts_with(&format!("{app}_")) {
                op.operation_id = Some(format!("{app}_{id}"));
            }
            for (status, response) in op.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let code: u16 = status.parse().unwrap_or(0);
                if code >= 400 || status == "default" {
                    response.content.clear();
                    response
                        .content
                        .insert(JSON.to_owned(), Content::new(Some(error_ref.clone())));
                } else if code == 200 || code == 201 {
                    wrap_success(response, env, &schemas);
                }
            }
            header_params_not_null(op);
            for (status, description) in common_errors(op) {
                op.responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description(description)
                                .content(JSON, Content::new(Some(error_ref.clone())))
                                .build(),
                        )
                    });
            }
        }
    }
}

/// A header is absent or a string, never null (RFC 9110 §5.5): utoipa documents an optional
/// header parameter as `type: [string, "null"]`, which invites clients (and fuzzers) to send
/// the text `null`. Header parameters lose the `null`.
fn header_params_not_null(op: &mut Operation) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{SchemaType, Type};
    for p in op.parameters.iter_mut().flatten() {
        if p.parameter_in != ParameterIn::Header {
            continue;
        }
        if let Some(RefOr::T(Schema::Object(o))) = p.schema.as_mut()
            && let SchemaType::Array(types) = &o.schema_type
            && types.contains(&Type::Null)
        {
            let rest: Vec<Type> = types
                .iter()
                .filter(|t| **t != Type::Null)
                .cloned()
                .collect();
            o.schema_type = match rest.as_slice() {
                [one] => SchemaType::Type(one.clone()),
                _ => SchemaType::Array(rest),
            };
        }
    }
}

fn operations(item: &utoipa::openapi::PathItem) -> impl Iterator<Item = &Operation> {
    [
        &item.get,
        &item.put,
        &item.post,
        &item.delete,
        &item.patch,
        &item.head,
        &item.options,
    ]
    .into_iter()
    .flatten()
}

fn wrap_success(
    response: &mut Response,
    env: &EnvelopeDoc,
    schemas: &std::collections::BTreeMap<String, RefOr<Schema>>,
) {
    if response.content.is_empty() {
        response
            .content
            .insert(JSON.to_owned(), Content::new(Some((env.success)(None))));
        return;
    }
    let Some(content) = response.content.get_mut(JSON) else {
        return; // files and text are sent as they are
    };
    let data = content.schema.take();
    if data.as_ref().is_some_and(|s| is_envelope(s, schemas)) {
        content.schema = data;
    } else {
        content.schema = Some(RefOr::T((env.success)(data)));
    }
}

/// A body that already carries `success` is an envelope written by its handler.
fn is_envelope(
    s: &RefOr<Schema>,
    schemas: &std::collections::BTreeMap<String, RefOr<Schema>>,
) -> bool {
    let resolved = match s {
        RefOr::T(s) => Some(s),
        RefOr::Ref(r) => r
            .ref_location
            .rsplit('/')
            .next()
            .and_then(|n| schemas.get(n))
            .and_then(|s| match s {
                RefOr::T(s) => Some(s),
                RefOr::Ref(_) => None,
            }),
    };
    matches!(resolved, Some(Schema::Object(o)) if o.properties.contains_key("success"))
}

/// Merges `other` into `into`, refusing an operation id `into` already has and a schema
/// name that `into` already defines differently (two apps' `LoginBody` or `Health` would otherwise silently document one
/// app's body under the other's operation). Returns the conflicting names.
pub fn merge_checked(into: &mut OpenApi, other: OpenApi) -> Result<(), String> {
    if let (Some(a), Some(b)) = (into.components.as_ref(), other.components.as_ref()) {
        let clashes: Vec<&str> = b
            .schemas
            .iter()
            .filter(|(name, schema)| a.schemas.get(*name).is_some_and(|s| s != *schema))
            .map(|(name, _)| name.as_str())
            .collect();
        if !clashes.is_empty() {
            return Err(format!(
                "OpenAPI schema name(s) defined differently by two apps: {}; rename one with #[schema(as = ...)]",
                clashes.join(", ")
            ));
        }
    }
    let ids = |doc: &OpenApi| -> Vec<String> {
        doc.paths
            .paths
            .values()
            .flat_map(operations)
            .filter_map(|op| op.operation_id.clone())
            .collect()
    };
    let mine = ids(into);
    let twice: Vec<String> = ids(&other)
        .into_iter()
        .filter(|id| mine.contains(id))
        .collect();
    if !twice.is_empty() {
        return Err(format!(
            "OpenAPI operation id(s) used by two apps: {}",
            twice.join(", ")
        ));
    }
    into.merge(other);
    Ok(())
}

/// Title (`Trellis`), version (the crate version) and the bearer security scheme
/// (RFC 6750 bearer JWT, what the Swagger UI's Authorize button fills in).
pub fn finish(doc: &mut OpenApi) {
    doc.info.title = "Trellis".to_owned();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.info.description = Some(
        "One server, several apps (one tag each). Every JSON body is the owning app's envelope."
            .to_owned(),
    );
    doc.components
        .get_or_insert_with(Default::default)
        .security_schemes
        .insert(
            BEARER.to_owned(),
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
}

#[cfg(test)]
mod tests {
    //! Regression (issue 7, item 13): two apps' `LoginBody` shadowed each other and handler
    //! names gave eight operations the same id; merging now refuses both.
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::schema::{ComponentsBuilder, ObjectBuilder, Type};
    use utoipa::openapi::{OpenApi, OpenApiBuilder};

    use super::merge_checked;

    fn doc(path: &str, id: &str, schema_type: Type) -> OpenApi {
        OpenApiBuilder::new()
            .paths(PathsBuilder::new().path(
                path,
                PathItem::new(
                    HttpMethod::Post,
                    OperationBuilder::new().operation_id(Some(id)).build(),
                ),
            ))
            .components(Some(
                ComponentsBuilder::new()
                    .schema("LoginBody", ObjectBuilder::new().schema_type(schema_type))
                    .build(),
            ))
            .build()
    }

    #[test]
    fn clashing_schema_names_and_operation_ids_are_refused() {
        let mut a = doc("/a/login", "a_login", Type::Object);
        let clash = merge_checked(&mut a, doc("/b/login", "b_login", Type::String)).unwrap_err();
        assert!(clash.contains("LoginBody"), "{clash}");
        let twice = merge_checked(&mut a, doc("/b/login", "a_login", Type::Object)).unwrap_err();
        assert!(twice.contains("a_login"), "{twice}");
        // The same schema under the same name (shared identity types) is fine.
        merge_checked(&mut a, doc("/b/login", "b_login", Type::Object)).unwrap();
        assert_eq!(a.paths.paths.len(), 2);
    }
}
