//! Security headers from seed 000's `SecurityHeadersMiddleware`, on every response.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The API never serves active content, so the CSP is strict; the offline docs page needs
/// inline styles and data: images.
const CSP_API: &str = "default-src 'self'";
const CSP_DOCS: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'";
/// The console (`/console`): scripts, styles and streams only from this origin, nothing
/// inline, forms only to this origin, never framed.
const CSP_CONSOLE: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
                           base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Middleware adding `X-Content-Type-Options`, `X-Frame-Options`, `X-XSS-Protection`,
/// `Referrer-Policy` and `Content-Security-Policy` (looser under `/docs`, the console's under
/// `/console`) to every
/// response.
pub async fn layer(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let csp = if path.starts_with("/docs") {
        CSP_DOCS
    } else if path == "/console" || path.starts_with("/console/") {
        CSP_CONSOLE
    } else {
        CSP_API
    };
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-xss-protection",
        HeaderValue::from_static("1; mode=block"),
    );
    h.insert(
        "referrer-policy",
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert("content-security-policy", HeaderValue::from_static(csp));
    res
}
