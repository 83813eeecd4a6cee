//! Request signing for the XHS web API, kept **pluggable** (`collectors.md` §0.2, §2.4):
//! we ship no reverse-engineered signer. A [`Signer`] receives what is about to be sent
//! ([`SignRequest`], serialised as JSON `{method, path, body, cookies}`) and answers the
//! signature headers (`{"headers": {"x-s": …, "x-t": …, "x-s-common": …}}`).
//!
//! Two implementations: [`HttpSigner`] posts the JSON to a URL (a helper next to the
//! user's own browser context, or the fixture's `/__sign`), [`CommandSigner`] runs a
//! local program with the JSON on stdin. [`signer_from_setting`] picks one from a
//! setting. Whatever a signer answers, only `x-*` header names survive
//! ([`accept_headers`]), lowercased, so a signer cannot inject `Cookie` or `Host`.
//!
//! The request holds the session cookies: neither [`SignRequest`]'s `Debug` nor any
//! [`SignError`] message contains them or the returned headers.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::command::CommandSigner;

/// How long a signer may take for one request.
pub const SIGN_TIMEOUT: Duration = Duration::from_secs(10);

/// The most a signer may answer (bytes); more is an error.
pub const MAX_SIGN_RESPONSE: usize = 64 * 1024;

/// What a signer signs: the request exactly as it will be sent.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The path with its query string, byte for byte as sent (`/api/sns/web/v2/comment/page?note_id=…`).
    pub path: String,
    /// The JSON body text as sent, for `POST`.
    pub body: Option<String>,
    /// The session's `Cookie` header value (the signature covers `a1`).
    pub cookies: String,
}

impl fmt::Debug for SignRequest {
    // Cookies are credentials and bodies may hold search terms: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("body_len", &self.body.as_ref().map(String::len))
            .field("cookies", &"<redacted>")
            .finish()
    }
}

/// Why signing failed. Messages never contain cookies or signature headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The signer setting is unusable (empty command, bad URL, unbalanced quotes).
    #[error("bad signer setting: {0}")]
    Config(String),
    /// The HTTP signer could not be reached.
    #[error("signer unreachable: {0}")]
    Transport(String),
    /// The HTTP signer answered a non-2xx status.
    #[error("signer answered HTTP {0}")]
    Status(u16),
    /// The signer did not answer in time (a command is killed).
    #[error("signer timed out")]
    Timeout,
    /// The signer command could not be started.
    #[error("cannot start the signer command: {0}")]
    Spawn(String),
    /// The signer command exited unsuccessfully; `stderr` is the first line of its
    /// standard error (cookie values removed, at most 200 characters).
    #[error("signer command failed (exit {code:?}): {stderr}", code = code)]
    Exit {
        /// The exit code, `None` if killed by a signal.
        code: Option<i32>,
        /// The first line of standard error.
        stderr: String,
    },
    /// The answer is not `{"headers": {…}}` or is larger than [`MAX_SIGN_RESPONSE`].
    #[error("bad signer answer: {0}")]
    BadResponse(String),
}

/// Signs XHS API requests. Implementations must be cheap to share across tasks.
#[async_trait]
pub trait Signer: Send + Sync {
    /// The signature headers for `req`: lowercase `x-*` names → values.
    async fn sign(&self, req: &SignRequest) -> Result<BTreeMap<String, String>, SignError>;
}

/// Parses a signer's answer `{"headers": {name: value}}` and keeps only acceptable
/// headers (see [`accept_headers`]). Values may be strings or numbers.
pub fn parse_sign_response(bytes: &[u8]) -> Result<BTreeMap<String, String>, SignError> {
    if bytes.len() > MAX_SIGN_RESPONSE {
        return Err(SignError::BadResponse(format!(
            "more than {MAX_SIGN_RESPONSE} bytes"
        )));
    }
    let answer: Value = serde_json::from_slice(bytes)
        .map_err(|e| SignError::BadResponse(format!("not JSON ({e})")))?;
    let Some(Value::Object(headers)) = answer.get("headers") else {
        return Err(SignError::BadResponse("no `headers` object".into()));
    };
    let pairs = headers.iter().filter_map(|(name, value)| match value {
        Value::String(s) => Some((name.clone(), s.clone())),
        Value::Number(n) => Some((name.clone(), n.to_string())),
        _ => None,
    });
    Ok(accept_headers(pairs))
}

/// Keeps the headers a signer may set: names lowercased, only `x-` names, only valid
/// header names and values. Everything else (`cookie`, `host`, `user-agent`, …) is
/// dropped, so a signer cannot inject credentials or reroute the request.
pub fn accept_headers(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .filter_map(|(name, value)| {
            let name = name.trim().to_ascii_lowercase();
            let acceptable = name.starts_with("x-")
                && name.len() > 2
                && HeaderName::from_bytes(name.as_bytes()).is_ok()
                && HeaderValue::from_str(&value).is_ok();
            acceptable.then_some((name, value))
        })
        .collect()
}

/// Posts the [`SignRequest`] JSON to a URL and reads `{"headers": {…}}` back.
#[derive(Clone)]
pub struct HttpSigner {
    url: reqwest::Url,
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpSigner {
    /// A signer at `url`, called through `client` with a [`SIGN_TIMEOUT`] per call.
    pub fn new(url: reqwest::Url, client: reqwest::Client) -> Self {
        HttpSigner {
            url,
            client,
            timeout: SIGN_TIMEOUT,
        }
    }

    /// The same signer with another time limit per call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl fmt::Debug for HttpSigner {
    // The URL could carry a token in its query: print the origin only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSigner")
            .field("origin", &self.url.origin().ascii_serialization())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Signer for HttpSigner {
    async fn sign(&self, req: &SignRequest) -> Result<BTreeMap<String, String>, SignError> {
        let call = async {
            let response = self
                .client
                .post(self.url.clone())
                .json(req)
                .send()
                .await
                .map_err(|e| SignError::Transport(e.without_url().to_string()))?;
            let status = response.status();
            if !status.is_success() {
                return Err(SignError::Status(status.as_u16()));
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| SignError::Transport(e.without_url().to_string()))?;
            parse_sign_response(&body)
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| SignError::Timeout)?
    }
}

/// Builds the signer named by a setting (e.g. `TRELLIS_XHS_SIGNER`): an `http://` or
/// `https://` URL gives an [`HttpSigner`] using `client`; anything else is a command line
/// for a [`CommandSigner`] (split without a shell).
///
/// Errors: an unparsable URL, an empty command or unbalanced quotes.
pub fn signer_from_setting(
    value: &str,
    client: reqwest::Client,
) -> Result<Arc<dyn Signer>, String> {
    let value = value.trim();
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let url = reqwest::Url::parse(value)
            .map_err(|e| format!("the signer URL does not parse: {e}"))?;
        return Ok(Arc::new(HttpSigner::new(url, client)));
    }
    let signer = CommandSigner::new(value).map_err(|e| e.to_string())?;
    Ok(Arc::new(signer))
}

#[cfg(test)]
mod tests {
    use super::{SignRequest, accept_headers, parse_sign_response};

    #[test]
    fn only_x_headers_survive_lowercased() {
        let answer = br#"{"headers": {"X-S": "sig", "x-t": 1714479605000, "x-s-common": "c",
            "Cookie": "a1=evil", "host": "evil", "user-agent": "ua", "x-": "empty",
            "x-bad name": "v", "x-nl": "a\nb", "x-obj": {"a": 1}}}"#;
        let headers = parse_sign_response(answer).unwrap();
        let names: Vec<_> = headers.keys().map(String::as_str).collect();
        assert_eq!(names, ["x-s", "x-s-common", "x-t"]);
        assert_eq!(headers["x-t"], "1714479605000");
        assert_eq!(headers["x-s"], "sig");
        let direct = accept_headers([("COOKIE".to_owned(), "x".to_owned())]);
        assert!(direct.is_empty());
    }

    #[test]
    fn bad_answers_are_errors() {
        for answer in [&b"nope"[..], b"{}", b"{\"headers\": []}", b"[]"] {
            assert!(parse_sign_response(answer).is_err());
        }
        let big = vec![b' '; super::MAX_SIGN_RESPONSE + 1];
        assert!(parse_sign_response(&big).is_err());
    }

    #[test]
    fn requests_serialise_as_documented_and_debug_hides_cookies() {
        let req = SignRequest {
            method: "GET".into(),
            path: "/api/x?a=1,2".into(),
            body: None,
            cookies: "a1=secret; web_session=secret2".into(),
        };
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"method": "GET", "path": "/api/x?a=1,2", "body": null,
                "cookies": "a1=secret; web_session=secret2"})
        );
        let debug = format!("{req:?}");
        assert!(!debug.contains("secret"));
    }
}
