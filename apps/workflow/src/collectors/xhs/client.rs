//! Sending one signed XHS API request ([`send`]) and classifying the answer.
//!
//! The client passed in **must not follow redirects** (build it with
//! [`no_redirect_client`] or `redirect(reqwest::redirect::Policy::none())`): a 302 to
//! `/website-login/captcha` is a block signal (`collectors.md` §2.5) and must reach
//! [`parse_envelope`]. As a second line of defence, a response whose final URL is the
//! captcha page is classified as a captcha too.
//!
//! Nothing here logs: cookies and signature headers are credentials, bodies may hold
//! search terms. Pacing, retries and identity rotation are the caller's.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE, HeaderMap, HeaderName, HeaderValue};
use reqwest::header::{ORIGIN, REFERER, USER_AGENT};
use serde_json::Value;

use super::api::{ApiMethod, ApiRequest, XhsApi};
use super::envelope::{CAPTCHA_PATH, parse_envelope};
use super::error::{BlockKind, XhsError};
use super::signer::{SignRequest, Signer};

/// The desktop Chrome user agent sent with API calls (§2.4). Callers with an identity
/// pool may pin their own per identity through the client's default headers instead.
pub const DESKTOP_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36";

/// The most of a response body that is read (bytes); more is `Malformed`.
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// A client fit for [`send`]: no redirects, no system proxy (identities choose their
/// proxy explicitly), `timeout` per request.
///
/// Errors: reqwest cannot build a client (its TLS backend fails to initialise).
pub fn no_redirect_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Signs `req` with `signer`, sends it with the session `cookies` (a `Cookie` header
/// value) and returns the envelope's `data`.
///
/// Headers: the signer's `x-*` headers, `Cookie`, `Origin`/`Referer` = the web base,
/// `Content-Type: application/json;charset=UTF-8`, `x-t` (ms now) unless the signer set
/// it, a desktop UA, `Accept: application/json, text/plain, */*`.
///
/// Errors: [`XhsError::Sign`] when signing fails; [`XhsError::Connect`] (retryable) on a
/// connection failure or timeout; [`XhsError::Request`] for other transport failures;
/// otherwise whatever [`parse_envelope`] classifies.
pub async fn send(
    client: &reqwest::Client,
    api: &XhsApi,
    req: &ApiRequest,
    cookies: &str,
    signer: &dyn Signer,
) -> Result<Value, XhsError> {
    let url = api
        .url(req)
        .map_err(|e| XhsError::Request(format!("bad request URL: {e}")))?;
    let signature = signer
        .sign(&SignRequest {
            method: req.method.as_str().to_owned(),
            path: req.path_and_query.clone(),
            body: req.body.clone(),
            cookies: cookies.to_owned(),
        })
        .await?;
    let headers = request_headers(api, cookies, signature)?;
    let builder = match req.method {
        ApiMethod::Get => client.get(url),
        ApiMethod::Post => client.post(url),
    };
    let builder = match &req.body {
        Some(body) => builder.body(body.clone()),
        None => builder,
    };
    let mut response = builder.headers(headers).send().await.map_err(transport)?;
    if response.url().path().starts_with(CAPTCHA_PATH) {
        // The client followed a captcha redirect after all.
        return Err(XhsError::Blocked {
            kind: BlockKind::Captcha,
            code: None,
            message: "redirected to the captcha page".into(),
        });
    }
    let status = response.status().as_u16();
    let response_headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(XhsError::Malformed(format!(
                "the body is larger than {MAX_BODY} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    parse_envelope(status, &response_headers, &body)
}

fn request_headers(
    api: &XhsApi,
    cookies: &str,
    signature: std::collections::BTreeMap<String, String>,
) -> Result<HeaderMap, XhsError> {
    let mut headers = HeaderMap::new();
    // The signer's names and values were validated by `accept_headers`; a failure here
    // would mean a custom Signer skipped that, so it is reported, not unwrapped.
    for (name, value) in signature {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| XhsError::Request("the signer returned a bad header name".into()))?;
        if !name.as_str().starts_with("x-") {
            continue;
        }
        let value = HeaderValue::from_str(&value)
            .map_err(|_| XhsError::Request("the signer returned a bad header value".into()))?;
        headers.insert(name, value);
    }
    if !headers.contains_key("x-t") {
        let now_ms = chrono::Utc::now().timestamp_millis();
        headers.insert("x-t", HeaderValue::from(now_ms));
    }
    let cookie = HeaderValue::from_str(cookies)
        .map_err(|_| XhsError::Request("the session cookies are not a valid header".into()))?;
    headers.insert(COOKIE, cookie);
    let origin = api.web_base().origin().ascii_serialization();
    let referer = format!("{origin}/");
    for (name, value) in [(ORIGIN, origin), (REFERER, referer)] {
        let value = HeaderValue::from_str(&value)
            .map_err(|_| XhsError::Request("the web base is not a valid header".into()))?;
        headers.insert(name, value);
    }
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    headers.insert(USER_AGENT, HeaderValue::from_static(DESKTOP_UA));
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/json, text/plain, */*"),
    );
    Ok(headers)
}

/// Maps a reqwest failure: connection failures and timeouts are retryable. The URL is
/// dropped from the message (it may carry an `xsec_token`).
fn transport(err: reqwest::Error) -> XhsError {
    let retryable = err.is_connect() || err.is_timeout();
    let message = err.without_url().to_string();
    if retryable {
        XhsError::Connect(message)
    } else {
        XhsError::Request(message)
    }
}
