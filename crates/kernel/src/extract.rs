//! Extractors whose rejections are [`ApiError`]s, so malformed bodies, missing fields and bad
//! query strings come out in the app's envelope with a clear message and the right status.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};

use crate::error::ApiError;

/// A JSON body. Syntax errors are 400, type and missing-field errors 422, a wrong content type
/// 415 and an oversized body 413.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("json"));
        let req = if json_type {
            // Every body this extractor reads is a JSON object, but serde's derived structs
            // also accept an array of their fields in order (`[null, null]` would pass as a
            // profile): a top-level array is refused here, for every route at once.
            let (parts, body) = req.into_parts();
            let bytes =
                axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
                    .await
                    .map_err(bytes_rejection)?;
            if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_error",
                    "the request body must be a JSON object, not an array",
                ));
            }
            Request::from_parts(parts, axum::body::Body::from(bytes))
        } else {
            req
        };
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

/// An optional JSON body: an empty body is `None`, anything else must be valid JSON.
impl<S: Send + Sync, T: DeserializeOwned> axum::extract::OptionalFromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes =
            axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
                .await
                .map_err(bytes_rejection)?;
        // Only a body with no bytes is absent: whitespace is not JSON (RFC 8259 §2 needs a
        // value), and schemathesis showed the document and the server disagreeing on it.
        if bytes.is_empty() {
            return Ok(None);
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        <Self as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// A body that could not be read: too slow, too large (413 `payload_too_large`, as for JSON
/// bodies), or cut off.
fn bytes_rejection(r: axum::extract::rejection::BytesRejection) -> ApiError {
    if crate::http::slow::is_too_slow(&r) {
        return too_slow();
    }
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body too large",
        );
    }
    ApiError::new(r.status(), "bad_request", r.body_text())
}

fn json_rejection(r: JsonRejection) -> ApiError {
    if crate::http::slow::is_too_slow(&r) {
        return too_slow();
    }
    let status = r.status();
    let code = match &r {
        JsonRejection::JsonDataError(_) => "validation_error",
        JsonRejection::JsonSyntaxError(_) => "invalid_json",
        JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        _ => "bad_request",
    };
    let message = match &r {
        // serde's text already names the field and position; drop axum's prefix.
        JsonRejection::JsonDataError(e) => {
            let t = e.body_text();
            t.split_once(": ").map(|(_, m)| m.to_string()).unwrap_or(t)
        }
        JsonRejection::JsonSyntaxError(_) => "request body is not valid JSON".to_string(),
        JsonRejection::MissingJsonContentType(_) => {
            "expected a request with Content-Type: application/json".to_string()
        }
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => "request body too large".to_string(),
        other => other.body_text(),
    };
    ApiError::new(status, code, message)
}

/// The 408 `request_timeout` for a body that arrived slower than the configured minimum
/// rate (`TRELLIS_BODY_MIN_BYTES_PER_SECOND`, see [`crate::http::slow::MinRateBody`]).
pub fn too_slow() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        "request body arrived too slowly",
    )
}

/// A query string; failures are 422 with serde's message.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|r: QueryRejection| {
                let t = r.body_text();
                let msg = t.split_once(": ").map(|(_, m)| m.to_string()).unwrap_or(t);
                ApiError::validation(msg)
            })
    }
}

/// Path parameters; a malformed id is 404 (no such resource), never a 500.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|r: PathRejection| {
                ApiError::not_found(format!("no such resource ({})", r.body_text()))
            })
    }
}

/// The client's IP address, for per-IP limits, sessions and audit rows.
///
/// The socket peer, unless that peer is one of `TRELLIS_TRUSTED_PROXIES`: then the client is
/// the rightmost address of the forwarding chain that is not itself a trusted proxy (RFC 7239
/// section 7.4: only the hops added by proxies we trust can be believed; anything left of them
/// was written by the client). `Forwarded` (RFC 7239) is read first, `X-Forwarded-For`
/// otherwise. The kernel's [`crate::http::client_ip_layer`] resolves it once per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The address resolved by the kernel's layer; without it (router-level tests) the peer
    /// of the request's `ConnectInfo`, and `0.0.0.0` when there is none, so such requests
    /// share one rate bucket.
    pub fn from_parts(parts: &Parts) -> ClientIp {
        if let Some(ip) = parts.extensions.get::<ClientIp>() {
            return *ip;
        }
        ClientIp(peer(parts).unwrap_or(IpAddr::from([0, 0, 0, 0])))
    }

    /// Resolves the client of a request whose socket peer is `peer`, believing forwarding
    /// headers only from `trusted` proxies (see the type's docs).
    pub fn resolve(
        peer: IpAddr,
        headers: &axum::http::HeaderMap,
        trusted: &[crate::config::Cidr],
    ) -> ClientIp {
        let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
        if !is_trusted(peer) {
            return ClientIp(peer);
        }
        let chain = forwarded_chain(headers);
        // Walk from the hop nearest to us; the first untrusted address is the client.
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) => {
                    client = *ip;
                    if !is_trusted(*ip) {
                        break;
                    }
                }
                // An obfuscated or unparsable hop: nothing left of it can be believed.
                None => break,
            }
        }
        ClientIp(client)
    }
}

fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The forwarding chain, leftmost (claimed client) first; `None` for a hop that is not an IP
/// address (`unknown`, obfuscated identifiers, garbage).
fn forwarded_chain(headers: &axum::http::HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all(axum::http::header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_node(v.trim().trim_matches('"')))
                })
            })
            .map(Option::flatten)
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| parse_node(hop.trim()))
        .collect()
}

/// An RFC 7239 node (`192.0.2.1`, `192.0.2.1:8080`, `[2001:db8::1]:443`) or a bare address.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.parse::<SocketAddr>().ok().map(|s| s.ip())
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp::from_parts(parts))
    }
}

/// The `User-Agent` header, truncated; for session lists and audit rows.
#[derive(Clone, Debug, Default)]
pub struct UserAgent(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(UserAgent(
            parts
                .headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(256).collect()),
        ))
    }
}

/// The SSE `Last-Event-ID` request header as a sequence number (WHATWG HTML §9.2 "Server-sent
/// events": the client sends the last `id:` it saw when it reconnects). `None` when absent;
/// a value that is not a whole number ≥ 0 is the field error to answer with 422.
pub fn last_event_id(
    headers: &axum::http::HeaderMap,
) -> Result<Option<i64>, crate::error::FieldError> {
    headers
        .get("last-event-id")
        // An empty value is no id (an EventSource whose last event set `id:` to nothing).
        .filter(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace))
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|t| t.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    crate::error::FieldError::new(
                        "Last-Event-ID",
                        "invalid",
                        "Last-Event-ID must be a sequence number (0 or more)",
                    )
                })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::ClientIp;
    use crate::config::Cidr;
    use axum::http::HeaderMap;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[derive(serde::Deserialize, Debug)]
    struct Profile {
        #[expect(dead_code, reason = "only its parsing is tested")]
        nickname: Option<String>,
        #[expect(dead_code, reason = "only its parsing is tested")]
        phone: Option<String>,
    }

    async fn parse(ct: &str, body: &'static str) -> Result<Profile, crate::error::ApiError> {
        use axum::extract::FromRequest;
        let req = axum::http::Request::builder()
            .method("PUT")
            .header("content-type", ct)
            .body(axum::body::Body::from(body))
            .unwrap();
        super::Json::<Profile>::from_request(req, &())
            .await
            .map(|j| j.0)
    }

    /// serde's derived structs accept an array of their fields; a body must be an object.
    #[tokio::test]
    async fn a_top_level_array_is_not_an_object_body() {
        assert!(
            parse("application/json", r#"{"nickname": "a"}"#)
                .await
                .is_ok()
        );
        for body in ["[null, null]", "  \n [\"a\"]", "[]"] {
            let e = parse("application/json", body).await.unwrap_err();
            assert_eq!(
                e.status,
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "{body}"
            );
        }
        // A wrong content type is still 415, whatever the body.
        let e = parse("text/plain", "[null]").await.unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    /// Issue 7, item 12: the client is the rightmost untrusted hop, and only when the socket
    /// peer is a trusted proxy.
    #[test]
    fn rightmost_untrusted_hop_behind_trusted_proxies() {
        let trusted = [
            Cidr::parse("10.0.0.0/8").unwrap(),
            Cidr::parse("::1").unwrap(),
        ];
        let xff = headers(&[("x-forwarded-for", "1.1.1.1, 2.2.2.2, 10.0.0.9")]);
        assert_eq!(
            ClientIp::resolve(ip("10.0.0.1"), &xff, &trusted).0,
            ip("2.2.2.2")
        );
        // An untrusted peer's headers are ignored.
        assert_eq!(
            ClientIp::resolve(ip("8.8.8.8"), &xff, &trusted).0,
            ip("8.8.8.8")
        );
        // No trusted proxies configured: always the peer.
        assert_eq!(
            ClientIp::resolve(ip("10.0.0.1"), &xff, &[]).0,
            ip("10.0.0.1")
        );
        // Several X-Forwarded-For headers form one list.
        let two = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "3.3.3.3"),
        ]);
        assert_eq!(
            ClientIp::resolve(ip("::1"), &two, &trusted).0,
            ip("3.3.3.3")
        );
        // RFC 7239 wins over X-Forwarded-For; quoted IPv6 with port; `unknown` stops the walk.
        let fwd = headers(&[
            (
                "forwarded",
                "for=192.0.2.60;proto=http, for=\"[2001:db8::7]:47\"",
            ),
            ("x-forwarded-for", "9.9.9.9"),
        ]);
        assert_eq!(
            ClientIp::resolve(ip("10.0.0.1"), &fwd, &trusted).0,
            ip("2001:db8::7")
        );
        let unknown = headers(&[("forwarded", "for=192.0.2.60, for=unknown")]);
        assert_eq!(
            ClientIp::resolve(ip("10.0.0.1"), &unknown, &trusted).0,
            ip("10.0.0.1")
        );
        // Every hop trusted: the leftmost one.
        let all = headers(&[("x-forwarded-for", "10.0.0.3, 10.0.0.2")]);
        assert_eq!(
            ClientIp::resolve(ip("10.0.0.1"), &all, &trusted).0,
            ip("10.0.0.3")
        );
    }

    #[test]
    fn cidrs_parse_and_match() {
        let c = Cidr::parse("192.168.0.0/16").unwrap();
        assert!(c.contains(ip("192.168.4.5")));
        assert!(!c.contains(ip("192.169.0.1")));
        assert!(c.contains(ip("::ffff:192.168.1.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nonsense").is_none());
        assert!(
            Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains(ip("2001:db8:1::1"))
        );
    }
}
