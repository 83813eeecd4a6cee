//! The console's static files, embedded in the binary (`include_bytes!`): served at
//! `/console/assets/{name}` with a strong `ETag` (SHA-256 of the content) and, since page
//! URLs carry `?v=<hash>`, `Cache-Control: public, max-age=31536000, immutable`
//! (RFC 9111 §5.2.2, RFC 8246). htmx is vendored with its licence (`htmx.LICENSE`,
//! Zero-Clause BSD); nothing comes from a CDN.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    /// Its name under `/console/assets/`.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

/// Every embedded file.
pub const FILES: &[Asset] = &[
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/htmx.min.js"),
    },
    Asset {
        name: "htmx.LICENSE",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../assets/htmx.LICENSE"),
    },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/console.js"),
    },
    Asset {
        name: "board.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/board.js"),
    },
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/console.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../assets/favicon.svg"),
    },
];

/// The first 16 hex digits of each file's SHA-256, in [`FILES`] order.
static HASHES: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|a| hex::encode(&Sha256::digest(a.bytes)[..8]))
        .collect()
});

fn find(name: &str) -> Option<(usize, &'static Asset)> {
    FILES.iter().enumerate().find(|(_, a)| a.name == name)
}

/// The versioned URL of an embedded file (`/console/assets/console.css?v=…`).
pub fn url(name: &str) -> String {
    match find(name) {
        Some((i, a)) => format!("/console/assets/{}?v={}", a.name, HASHES[i]),
        None => format!("/console/assets/{name}"),
    }
}

/// `GET /console/assets/{name}`: the file, `304` when `If-None-Match` matches, `404` for an
/// unknown name.
pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some((i, a)) = find(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", HASHES[i]);
    let cache = HeaderValue::from_static("public, max-age=31536000, immutable");
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\""));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    if matches {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        r.headers_mut().insert(header::ETAG, etag_value);
        r.headers_mut().insert(header::CACHE_CONTROL, cache);
        return r;
    }
    let mut r = a.bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(header::ETAG, etag_value);
    h.insert(header::CACHE_CONTROL, cache);
    r
}
