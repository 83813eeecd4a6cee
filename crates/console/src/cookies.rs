//! Reading request cookies and writing the console's `Set-Cookie` headers (RFC 6265), via
//! the `cookie` crate. Every console cookie is scoped to `Path=/console`, `HttpOnly`,
//! `SameSite=Lax`, and `Secure` when the request came over TLS.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};

/// The value of cookie `name` in the request's `Cookie` header(s).
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// Whether the request reached us over TLS (directly, or as told by the proxy in front with
/// `X-Forwarded-Proto: https`, RFC 7239's de-facto predecessor): cookies are then `Secure`.
/// A client that sends the header itself only makes its own cookies stricter.
pub fn over_tls(headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    uri.scheme_str() == Some("https")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value for a console cookie; `max_age` in seconds (`None`: a session
/// cookie, `Some(0)`: delete it).
pub fn set(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = Cookie::build((name.to_string(), value.to_string()))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure);
    if let Some(s) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(s));
    }
    HeaderValue::from_str(&c.build().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("trellis_invalid=; Path=/console"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; trellis_lang=en"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(get(&h, "trellis_lang"), Some("en"));
        assert_eq!(get(&h, "b"), Some("2"));
        assert_eq!(get(&h, "c"), None);
        let v = set("s", "tok", Some(60), true);
        let s = v.to_str().unwrap();
        for part in [
            "s=tok",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/console",
            "Max-Age=60",
        ] {
            assert!(s.contains(part), "{s}");
        }
    }
}
