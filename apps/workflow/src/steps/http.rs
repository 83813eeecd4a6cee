//! The `http_request` step: one request through the SSRF-guarded [`StepClient`], the
//! response read while streaming under a byte cap, and failures classified as retryable or
//! not for the engine's retry policy.
//!
//! Logs carry the method, host, status and duration only: never URLs (queries hold API
//! keys), header values or bodies (STYLE.md habit 9).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::net::{self, StepClient};

/// A step failure: a message for the execution's event log and whether the engine may
/// retry the step (under its `retry` policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepFailure {
    /// What went wrong, without header values or bodies.
    pub message: String,
    /// True for transient failures: connect errors, timeouts, HTTP 5xx, 429 and 408.
    pub retryable: bool,
}

impl StepFailure {
    /// A failure that retrying cannot fix (bad URL, SSRF refusal, 4xx, body too large).
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }

    /// A transient failure (connect error, timeout, 5xx, 429, 408).
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }
}

impl std::fmt::Display for StepFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// HTTP methods an `http_request` step may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// HEAD (no response body is read)
    Head,
}

impl From<HttpMethod> for reqwest::Method {
    fn from(m: HttpMethod) -> Self {
        match m {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
            HttpMethod::Head => reqwest::Method::HEAD,
        }
    }
}

/// The (rendered) parameters of an `http_request` step; the catalogue's JSON Schema in
/// [`crate::steps::schema`] describes the same shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpParams {
    /// The method.
    pub method: HttpMethod,
    /// An absolute `http`/`https` URL.
    pub url: String,
    /// Request headers, name to value.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body: a string is sent as is, any other JSON value as JSON (with
    /// `Content-Type: application/json` unless a header sets it); absent or `null` = none.
    #[serde(default)]
    pub body: Option<Value>,
    /// Whole-request timeout in seconds for this step; the client's timeout
    /// ([`StepClient::timeout`]) applies when absent and caps this one.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Reserved for proxy pools (issue on proxies); not used yet.
    #[serde(default)]
    pub proxy_pool_id: Option<uuid::Uuid>,
}

/// What an `http_request` step outputs (what later steps see as `steps.<id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpOutput {
    /// The response status code (2xx or 3xx; other codes are failures).
    pub status: u16,
    /// Response headers, lower-case names; repeated headers joined with `", "`.
    pub headers: BTreeMap<String, String>,
    /// The body: parsed JSON when the `Content-Type` is JSON (`application/json`,
    /// `…+json`) and it parses, else the text (invalid UTF-8 replaced); `null` for HEAD or
    /// an empty body.
    pub body: Value,
}

/// Sends the request described by `p` and reads the response, at most `max_body_bytes`
/// of body (streamed: the cap is checked per chunk and against `Content-Length` up front,
/// so an oversized body is never buffered).
///
/// Errors ([`StepFailure`]): not retryable for an invalid or refused URL, an invalid
/// header, a refused redirect, a 4xx status other than 408/429, or a body over the cap;
/// retryable for connect errors, timeouts, 5xx, 408 and 429.
pub async fn execute(
    client: &StepClient,
    p: HttpParams,
    max_body_bytes: usize,
) -> Result<HttpOutput, StepFailure> {
    let url = client.check_url(&p.url).map_err(StepFailure::permanent)?;
    let host = url.host_str().unwrap_or_default().to_string();
    let headers = header_map(&p.headers)?;
    let mut request = client
        .http()
        .request(p.method.into(), url)
        .headers(headers.clone());
    if let Some(secs) = p.timeout_seconds {
        // A per-request timeout replaces the client's in reqwest: keep the shorter one.
        request = request.timeout(Duration::from_secs(secs).min(client.timeout()));
    }
    match p.body {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => request = request.body(text),
        Some(json) => {
            let bytes = serde_json::to_vec(&json)
                .map_err(|e| StepFailure::permanent(format!("body is not JSON: {e}")))?;
            if !headers.contains_key(CONTENT_TYPE) {
                request = request.header(CONTENT_TYPE, "application/json");
            }
            request = request.body(bytes);
        }
    }
    let started = Instant::now();
    let response = request.send().await.map_err(classify)?;
    let status = response.status();
    tracing::debug!(
        http.method = ?p.method,
        http.host = %host,
        http.status = status.as_u16(),
        duration_ms = started.elapsed().as_millis() as u64,
        "step http request"
    );
    if !(status.is_success() || status.is_redirection()) {
        let message = format!("HTTP {status} from {host}");
        let retryable = status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT;
        return Err(StepFailure { message, retryable });
    }
    let out_headers = headers_out(response.headers());
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json_type);
    let bytes = if p.method == HttpMethod::Head {
        Vec::new()
    } else {
        read_capped(response, max_body_bytes).await?
    };
    Ok(HttpOutput {
        status: status.as_u16(),
        headers: out_headers,
        body: decode_body(&bytes, is_json),
    })
}

/// Reads the body chunk by chunk, failing as soon as it would pass `cap` bytes.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, StepFailure> {
    let too_large = || StepFailure::permanent(format!("response body exceeds {cap} bytes"));
    if response
        .content_length()
        .is_some_and(|len| len > cap as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn decode_body(bytes: &[u8], is_json: bool) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    if is_json && let Ok(v) = serde_json::from_slice(bytes) {
        return v;
    }
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

fn is_json_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

fn header_map(headers: &BTreeMap<String, String>) -> Result<HeaderMap, StepFailure> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| StepFailure::permanent(format!("invalid header name '{name}'")))?;
        // The value may be a secret (Authorization): name the header, never the value.
        let value = HeaderValue::from_str(value)
            .map_err(|_| StepFailure::permanent(format!("invalid value for header '{name}'")))?;
        map.append(header, value);
    }
    Ok(map)
}

fn headers_out(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

/// A reqwest error as a [`StepFailure`]: SSRF refusals, redirect and builder errors are
/// permanent; timeouts, connect and transfer errors transient. The URL is removed from the
/// message (its query may hold keys).
pub(crate) fn classify(err: reqwest::Error) -> StepFailure {
    let refused = net::is_refusal(&err);
    let kind = if refused {
        "request refused"
    } else if err.is_timeout() {
        "request timed out"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_redirect() {
        "redirect failed"
    } else if err.is_builder() {
        "invalid request"
    } else {
        "request failed"
    };
    let retryable = !refused && !err.is_redirect() && !err.is_builder();
    let err = err.without_url();
    let mut message = kind.to_string();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&err);
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    StepFailure { message, retryable }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use axum::Router;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Redirect};
    use axum::routing::{any, get};
    use serde_json::json;

    /// Serves `router` on 127.0.0.1 on an ephemeral port; returns its base URL.
    pub(crate) async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        format!("http://{addr}")
    }

    fn params(method: HttpMethod, url: String) -> HttpParams {
        HttpParams {
            method,
            url,
            headers: BTreeMap::new(),
            body: None,
            timeout_seconds: None,
            proxy_pool_id: None,
        }
    }

    async fn test_server() -> String {
        let router = Router::new()
            .route(
                "/json",
                get(|| async { axum::Json(json!({"n": 1, "s": "x"})) }),
            )
            .route("/text", get(|| async { "plain text" }))
            .route(
                "/echo",
                any(|headers: axum::http::HeaderMap, body: String| async move {
                    axum::Json(json!({
                        "body": body,
                        "content_type": headers.get("content-type").and_then(|v| v.to_str().ok()),
                        "x_key": headers.get("x-key").and_then(|v| v.to_str().ok()),
                    }))
                }),
            )
            .route("/500", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
            .route("/429", get(|| async { StatusCode::TOO_MANY_REQUESTS }))
            .route("/404", get(|| async { StatusCode::NOT_FOUND }))
            .route("/big", get(|| async { "x".repeat(10_000) }))
            .route(
                "/stream",
                get(|| async {
                    // No Content-Length: the cap must hold while streaming.
                    let chunks = (0..100).map(|_| Ok::<_, std::io::Error>("y".repeat(1000)));
                    axum::body::Body::from_stream(futures::stream::iter(chunks))
                }),
            )
            .route("/to-json", get(|| async { Redirect::temporary("/json") }))
            .route(
                "/to-localhost",
                get(|| async { Redirect::temporary("http://localhost:1/json").into_response() }),
            )
            .route(
                "/to-metadata",
                get(|| async {
                    Redirect::temporary("http://169.254.169.254/latest").into_response()
                }),
            )
            .route("/loop", get(|| async { Redirect::temporary("/loop") }));
        serve(router).await
    }

    fn open_client() -> StepClient {
        net::client(true, Duration::from_secs(5)).unwrap()
    }

    #[tokio::test]
    async fn json_and_text_bodies() {
        let base = test_server().await;
        let out = execute(
            &open_client(),
            params(HttpMethod::Get, format!("{base}/json")),
            1 << 20,
        )
        .await
        .unwrap();
        assert_eq!(out.status, 200);
        assert_eq!(out.body, json!({"n": 1, "s": "x"}));
        assert_eq!(
            out.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
        let out = execute(
            &open_client(),
            params(HttpMethod::Get, format!("{base}/text")),
            1 << 20,
        )
        .await
        .unwrap();
        assert_eq!(out.body, json!("plain text"));
        let out = execute(
            &open_client(),
            params(HttpMethod::Head, format!("{base}/text")),
            1 << 20,
        )
        .await
        .unwrap();
        assert_eq!(out.body, Value::Null);
    }

    #[tokio::test]
    async fn request_bodies_and_headers() {
        let base = test_server().await;
        let mut p = params(HttpMethod::Post, format!("{base}/echo"));
        p.body = Some(json!({"a": [1, 2]}));
        p.headers.insert("X-Key".into(), "secret".into());
        let out = execute(&open_client(), p, 1 << 20).await.unwrap();
        assert_eq!(
            out.body,
            json!({"body": "{\"a\":[1,2]}", "content_type": "application/json", "x_key": "secret"})
        );
        let mut p = params(HttpMethod::Put, format!("{base}/echo"));
        p.body = Some(json!("raw text"));
        let out = execute(&open_client(), p, 1 << 20).await.unwrap();
        assert_eq!(out.body["body"], json!("raw text"));
        assert_eq!(out.body["content_type"], Value::Null);
    }

    #[tokio::test]
    async fn statuses_are_classified() {
        let base = test_server().await;
        let c = open_client();
        let err = execute(&c, params(HttpMethod::Get, format!("{base}/500")), 1024)
            .await
            .unwrap_err();
        assert!(err.retryable, "{err:?}");
        assert!(err.message.contains("500"), "{err:?}");
        let err = execute(&c, params(HttpMethod::Get, format!("{base}/429")), 1024)
            .await
            .unwrap_err();
        assert!(err.retryable, "{err:?}");
        let err = execute(&c, params(HttpMethod::Get, format!("{base}/404")), 1024)
            .await
            .unwrap_err();
        assert!(!err.retryable, "{err:?}");
        assert!(err.message.contains("404"), "{err:?}");
    }

    #[tokio::test]
    async fn timeouts_are_retryable() {
        let router = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
        let base = serve(router).await;
        let c = net::client(true, Duration::from_millis(300)).unwrap();
        let mut p = params(HttpMethod::Get, format!("{base}/slow"));
        // Longer than the client's timeout: the client's 300 ms still applies.
        p.timeout_seconds = Some(60);
        let started = Instant::now();
        let err = execute(&c, p, 1024).await.unwrap_err();
        assert!(
            err.retryable && err.message.contains("timed out"),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn connect_errors_are_retryable() {
        // Bind then drop a listener: nothing listens on that port any more.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = execute(
            &open_client(),
            params(HttpMethod::Get, format!("http://{addr}/")),
            1024,
        )
        .await
        .unwrap_err();
        assert!(err.retryable, "{err:?}");
    }

    #[tokio::test]
    async fn body_cap_is_enforced() {
        let base = test_server().await;
        let c = open_client();
        let err = execute(&c, params(HttpMethod::Get, format!("{base}/big")), 1000)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            StepFailure::permanent("response body exceeds 1000 bytes")
        );
        let err = execute(
            &c,
            params(HttpMethod::Get, format!("{base}/stream")),
            50_000,
        )
        .await
        .unwrap_err();
        assert_eq!(err.message, "response body exceeds 50000 bytes");
        let out = execute(
            &c,
            params(HttpMethod::Get, format!("{base}/stream")),
            100_000,
        )
        .await
        .unwrap();
        assert_eq!(out.body.as_str().map(str::len), Some(100_000));
    }

    #[tokio::test]
    async fn redirects_are_followed_and_rechecked() {
        let base = test_server().await;
        let out = execute(
            &open_client(),
            params(HttpMethod::Get, format!("{base}/to-json")),
            1024,
        )
        .await
        .unwrap();
        assert_eq!(out.body, json!({"n": 1, "s": "x"}));
        let err = execute(
            &open_client(),
            params(HttpMethod::Get, format!("{base}/loop")),
            1024,
        )
        .await
        .unwrap_err();
        assert!(
            !err.retryable && err.message.contains("more than 5 redirects"),
            "{err:?}"
        );
    }

    /// The guarded client reaches the test server only through a public-looking first hop:
    /// here the first request goes to the server by literal IP with private targets
    /// refused, so it is refused before sending; and a redirect to `localhost` or to the
    /// metadata address from a server the open client reaches is refused by the same rules.
    #[tokio::test]
    async fn private_targets_are_refused_when_not_allowed() {
        let base = test_server().await;
        let guarded = net::client(false, Duration::from_secs(5)).unwrap();
        let err = execute(
            &guarded,
            params(HttpMethod::Get, format!("{base}/json")),
            1024,
        )
        .await
        .unwrap_err();
        assert!(!err.retryable, "{err:?}");
        assert!(err.message.contains("refused by the SSRF guard"), "{err:?}");

        // A client that may reach 127.0.0.1 literally but whose redirect policy refuses
        // private targets: the redirect hop is what is checked.
        let redirect_guard = redirect_only_guard();
        for path in ["to-localhost", "to-metadata"] {
            let err = execute(
                &redirect_guard,
                params(HttpMethod::Get, format!("{base}/{path}")),
                1024,
            )
            .await
            .unwrap_err();
            assert!(!err.retryable, "{path}: {err:?}");
            assert!(
                err.message.contains("refused by the SSRF guard"),
                "{path}: {err:?}"
            );
        }
    }

    /// A client with the guard's redirect policy and resolver but whose first hop (the
    /// local test server, by literal IP) is allowed: what a public server redirecting to a
    /// private address looks like from here.
    fn redirect_only_guard() -> StepClient {
        let guarded = net::client(false, Duration::from_secs(5)).unwrap();
        net::tests::with_allow_private(guarded, true)
    }
}
