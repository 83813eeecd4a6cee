//! `/openapi.json` and `/docs`: one OpenAPI document for all mounted apps, rendered by a
//! Swagger UI bundled into the binary at build time (no CDN, nothing downloaded).

use axum::Router;
use utoipa_swagger_ui::SwaggerUi;

/// Serves `openapi` at `/openapi.json` and the Swagger UI for it at `/docs`.
pub fn router(openapi: utoipa::openapi::OpenApi) -> Router {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
}
