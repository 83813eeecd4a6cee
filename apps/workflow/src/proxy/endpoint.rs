//! A proxy's address and credentials, parsed at the edge from the text users paste
//! (`scheme://user:pass@host:port`, or a bare `host:port`, which means HTTP).
//!
//! Invariants of a parsed [`ProxyEndpoint`]: the scheme is `http`, `https` or `socks5`
//! (`socks5h` = SOCKS5 with the proxy resolving names, [`ProxyEndpoint::remote_dns`]); the
//! host is a non-empty name (lower-case, IDNA-normalised), an IPv4 address (any of the
//! forms `url` accepts, e.g. `2130706433`, normalised to dotted) or an IPv6 address (written
//! in brackets, stored without them); the port is 1–65535; there is no path, query or
//! fragment; credentials are percent-decoded UTF-8.
//!
//! Secrets: neither [`Display`](std::fmt::Display) nor [`Debug`] ever prints the username or
//! the password, and [`EndpointError`] never quotes the input (a pasted line may hold the
//! password anywhere), so endpoints and their errors are safe to log.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

/// Longest accepted input, in bytes (a proxy line is never legitimately longer).
pub const MAX_INPUT_LEN: usize = 2048;

/// The protocol spoken to the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProxyScheme {
    /// An HTTP proxy (absolute-form requests, `CONNECT` for HTTPS targets).
    Http,
    /// An HTTP proxy reached over TLS.
    Https,
    /// A SOCKS5 proxy (RFC 1928, optional RFC 1929 username/password).
    Socks5,
}

impl ProxyScheme {
    /// Parses the stored scheme (`http`, `https`, `socks5`).
    pub fn parse(s: &str) -> Option<ProxyScheme> {
        match s {
            "http" => Some(ProxyScheme::Http),
            "https" => Some(ProxyScheme::Https),
            "socks5" => Some(ProxyScheme::Socks5),
            _ => None,
        }
    }

    /// The scheme as written in URLs: `http`, `https`, `socks5`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyScheme::Http => "http",
            ProxyScheme::Https => "https",
            ProxyScheme::Socks5 => "socks5",
        }
    }
}

/// Why a proxy line was refused. Messages never quote the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The input is longer than [`MAX_INPUT_LEN`] bytes.
    #[error("the proxy address is longer than {MAX_INPUT_LEN} bytes")]
    TooLong,
    /// The input is empty (after trimming surrounding whitespace).
    #[error("the proxy address is empty")]
    Empty,
    /// The input holds a control character (newline, tab, NUL…).
    #[error("the proxy address contains a control character")]
    ControlCharacter,
    /// The scheme is not `http`, `https`, `socks5` or `socks5h` (quoted only when it looks
    /// like a scheme, so a mangled line cannot leak a password here).
    #[error("unsupported proxy scheme{} (http, https, socks5 or socks5h)", .0.as_deref().map(|s| format!(" '{s}'")).unwrap_or_default())]
    UnsupportedScheme(Option<String>),
    /// A path, query or fragment follows the port.
    #[error("the proxy address must be scheme://[user:pass@]host:port, without a path or query")]
    HasPath,
    /// The host is missing or not a valid name or IP address.
    #[error("the proxy host is missing or invalid")]
    InvalidHost,
    /// No port was given (proxies have no default port worth guessing).
    #[error("the proxy port is missing")]
    MissingPort,
    /// The port is not a number from 1 to 65535.
    #[error("the proxy port must be a number from 1 to 65535")]
    InvalidPort,
    /// The username is empty or the credentials are not valid percent-encoded UTF-8.
    #[error("the proxy credentials are invalid (empty username or bad percent-encoding)")]
    InvalidCredentials,
    /// reqwest refused the proxy (its message is dropped: it may quote the credentials).
    #[error("the HTTP client cannot use this proxy")]
    Unusable,
}

/// A proxy: scheme, host, port and optional credentials.
///
/// Build it with [`ProxyEndpoint::parse`]. `Display` is `scheme://host:port` and `Debug`
/// redacts the credentials; read `username`/`password` directly when you need them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ProxyEndpoint {
    /// The protocol spoken to the proxy.
    pub scheme: ProxyScheme,
    /// For SOCKS5: true when written `socks5h://` (the proxy resolves target names);
    /// always false for HTTP(S) proxies, which resolve target names themselves anyway.
    pub remote_dns: bool,
    /// A lower-case name, a dotted IPv4 address or an IPv6 address without brackets.
    pub host: String,
    /// The proxy's port, 1–65535.
    pub port: u16,
    /// The username (percent-decoded), if any.
    pub username: Option<String>,
    /// The password (percent-decoded), if any; never printed.
    pub password: Option<String>,
}

impl ProxyEndpoint {
    /// Parses `scheme://user:pass@host:port` (schemes `http`, `https`, `socks5`, `socks5h`,
    /// case-insensitive) or `host:port` (HTTP). Surrounding whitespace is trimmed; credentials
    /// are percent-decoded (`p%40ss` → `p@ss`); an empty password is no password; IPv6 hosts
    /// go in brackets (`http://[2001:db8::1]:8080`). Errors: see [`EndpointError`].
    pub fn parse(input: &str) -> Result<ProxyEndpoint, EndpointError> {
        if input.len() > MAX_INPUT_LEN {
            return Err(EndpointError::TooLong);
        }
        let input = input.trim();
        if input.is_empty() {
            return Err(EndpointError::Empty);
        }
        if input.chars().any(char::is_control) {
            return Err(EndpointError::ControlCharacter);
        }
        let (scheme, remote_dns, rest) = split_scheme(input)?;
        // The last '@' ends the credentials: a raw '@' in a password is common in pasted
        // lists, while a host never contains one.
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, rest),
        };
        if hostport.contains(['/', '?', '#']) {
            return Err(EndpointError::HasPath);
        }
        let (host, port) = split_host_port(hostport)?;
        let (username, password) = match userinfo {
            Some(info) => parse_userinfo(info)?,
            None => (None, None),
        };
        Ok(ProxyEndpoint {
            scheme,
            remote_dns,
            host,
            port,
            username,
            password,
        })
    }

    /// True when a username is set (a password alone is never stored).
    pub fn has_credentials(&self) -> bool {
        self.username.is_some()
    }

    /// `scheme://host:port` with the base scheme (`socks5` for `socks5h` too): the natural
    /// key for finding duplicates within a pool; carries no credentials.
    pub fn key(&self) -> String {
        format!(
            "{}://{}:{}",
            self.scheme.as_str(),
            self.host_for_url(),
            self.port
        )
    }

    /// The host as an IP address, when it is one.
    pub fn host_ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// The host as written in a URL (IPv6 in brackets).
    pub fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// The scheme as written in URLs, `socks5h` for SOCKS5 with remote DNS.
    fn url_scheme(&self) -> &'static str {
        match (self.scheme, self.remote_dns) {
            (ProxyScheme::Socks5, true) => "socks5h",
            (scheme, _) => scheme.as_str(),
        }
    }

    /// The proxy for a `reqwest::ClientBuilder`: for HTTP(S) proxies credentials go in
    /// `Proxy-Authorization: Basic`; for SOCKS5 they go in the proxy URL (reqwest sends them
    /// as RFC 1929 username/password). Errors: [`EndpointError::Unusable`] when reqwest
    /// refuses the URL (fields set by hand to something invalid).
    pub fn to_reqwest_proxy(&self) -> Result<reqwest::Proxy, EndpointError> {
        let base = format!(
            "{}://{}:{}",
            self.url_scheme(),
            self.host_for_url(),
            self.port
        );
        let mut url = Url::parse(&base).map_err(|_| EndpointError::Unusable)?;
        let (user, pass) = (self.username.as_deref(), self.password.as_deref());
        match (self.scheme, user) {
            (ProxyScheme::Socks5, Some(user)) => {
                // set_username/set_password percent-encode; hyper-util decodes them again.
                url.set_username(user)
                    .map_err(|()| EndpointError::Unusable)?;
                url.set_password(pass)
                    .map_err(|()| EndpointError::Unusable)?;
                reqwest::Proxy::all(url.as_str()).map_err(|_| EndpointError::Unusable)
            }
            (_, Some(user)) => Ok(reqwest::Proxy::all(url.as_str())
                .map_err(|_| EndpointError::Unusable)?
                .basic_auth(user, pass.unwrap_or_default())),
            (_, None) => reqwest::Proxy::all(url.as_str()).map_err(|_| EndpointError::Unusable),
        }
    }
}

impl std::fmt::Display for ProxyEndpoint {
    /// `scheme://host:port`, never the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}:{}",
            self.url_scheme(),
            self.host_for_url(),
            self.port
        )
    }
}

impl std::fmt::Debug for ProxyEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |set: bool| if set { "<redacted>" } else { "<none>" };
        f.debug_struct("ProxyEndpoint")
            .field("scheme", &self.scheme)
            .field("remote_dns", &self.remote_dns)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &redacted(self.username.is_some()))
            .field("password", &redacted(self.password.is_some()))
            .finish()
    }
}

impl std::str::FromStr for ProxyEndpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProxyEndpoint::parse(s)
    }
}

/// Splits off `scheme://`; no scheme means HTTP.
fn split_scheme(input: &str) -> Result<(ProxyScheme, bool, &str), EndpointError> {
    let Some((scheme, rest)) = input.split_once("://") else {
        return Ok((ProxyScheme::Http, false, input));
    };
    let lower = scheme.to_ascii_lowercase();
    let parsed = match lower.as_str() {
        "http" => (ProxyScheme::Http, false),
        "https" => (ProxyScheme::Https, false),
        "socks5" => (ProxyScheme::Socks5, false),
        "socks5h" => (ProxyScheme::Socks5, true),
        _ => {
            // Quote it only if it looks like a scheme: "user:secret@h://" must not echo.
            let looks_like_scheme = (1..=16).contains(&lower.len())
                && lower.starts_with(|c: char| c.is_ascii_alphabetic())
                && lower
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            return Err(EndpointError::UnsupportedScheme(
                looks_like_scheme.then_some(lower),
            ));
        }
    };
    Ok((parsed.0, parsed.1, rest))
}

/// Splits `host:port` / `[v6]:port` and normalises the host.
fn split_host_port(hostport: &str) -> Result<(String, u16), EndpointError> {
    let (host, port) = if let Some(after_bracket) = hostport.strip_prefix('[') {
        let (v6, after) = after_bracket
            .split_once(']')
            .ok_or(EndpointError::InvalidHost)?;
        if after.is_empty() {
            return Err(EndpointError::MissingPort);
        }
        let port = after.strip_prefix(':').ok_or(EndpointError::InvalidHost)?;
        let ip: std::net::Ipv6Addr = v6.parse().map_err(|_| EndpointError::InvalidHost)?;
        (ip.to_string(), port)
    } else {
        let (host, port) = hostport
            .rsplit_once(':')
            .ok_or(EndpointError::MissingPort)?;
        if host.is_empty() || host.contains(':') {
            // Empty, or an IPv6 address without brackets (ambiguous with the port).
            return Err(EndpointError::InvalidHost);
        }
        let host = match Host::parse(host).map_err(|_| EndpointError::InvalidHost)? {
            Host::Domain(name) if !name.is_empty() && name.len() <= 253 => name,
            Host::Domain(_) => return Err(EndpointError::InvalidHost),
            Host::Ipv4(v4) => v4.to_string(),
            Host::Ipv6(v6) => v6.to_string(),
        };
        (host, port)
    };
    if port.is_empty() {
        return Err(EndpointError::MissingPort);
    }
    if port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EndpointError::InvalidPort);
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((host, p)),
        _ => Err(EndpointError::InvalidPort),
    }
}

/// `user[:pass]`, percent-decoded; the first ':' separates them (passwords may hold ':').
fn parse_userinfo(info: &str) -> Result<(Option<String>, Option<String>), EndpointError> {
    let (user, pass) = match info.split_once(':') {
        Some((user, pass)) => (user, Some(pass)),
        None => (info, None),
    };
    let user = percent_decode(user)?;
    if user.is_empty() {
        return Err(EndpointError::InvalidCredentials);
    }
    let pass = match pass {
        Some(p) => Some(percent_decode(p)?).filter(|p| !p.is_empty()),
        None => None,
    };
    Ok((Some(user), pass))
}

/// Decodes `%XX` escapes; a stray `%` or invalid UTF-8 is an error.
fn percent_decode(s: &str) -> Result<String, EndpointError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(EndpointError::InvalidCredentials)?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).map_err(|_| EndpointError::InvalidCredentials)?;
    if text.chars().any(char::is_control) {
        return Err(EndpointError::ControlCharacter);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> ProxyEndpoint {
        ProxyEndpoint::parse(s).unwrap()
    }

    #[test]
    fn parses_schemes_credentials_and_hosts() {
        let e = ok("socks5://u%40x:p%3Ass@Proxy.Example.com:1080");
        assert_eq!(e.scheme, ProxyScheme::Socks5);
        assert!(!e.remote_dns);
        assert_eq!(e.host, "proxy.example.com");
        assert_eq!(e.port, 1080);
        assert_eq!(e.username.as_deref(), Some("u@x"));
        assert_eq!(e.password.as_deref(), Some("p:ss"));
        assert!(e.has_credentials());

        let e = ok("SOCKS5H://10.0.0.1:9050");
        assert_eq!((e.scheme, e.remote_dns), (ProxyScheme::Socks5, true));
        assert_eq!(e.to_string(), "socks5h://10.0.0.1:9050");
        assert_eq!(e.key(), "socks5://10.0.0.1:9050");

        let e = ok("  1.2.3.4:3128 ");
        assert_eq!(e.scheme, ProxyScheme::Http);
        assert!(!e.has_credentials());
        assert_eq!(e.key(), "http://1.2.3.4:3128");

        let e = ok("https://[2001:DB8::1]:8443");
        assert_eq!(e.host, "2001:db8::1");
        assert_eq!(e.key(), "https://[2001:db8::1]:8443");
        assert_eq!(e.host_ip(), Some("2001:db8::1".parse().unwrap()));

        // A raw '@' and ':' in the password; the last '@' ends the credentials.
        let e = ok("http://user:p@ss:w0rd@host.example:8080");
        assert_eq!(e.password.as_deref(), Some("p@ss:w0rd"));
        // user without password, and an empty password, are both "no password".
        assert_eq!(ok("http://user@h.example:1").password, None);
        assert_eq!(ok("http://user:@h.example:1").password, None);
        // url's IPv4 forms are normalised, so the SSRF check sees the real address.
        assert_eq!(ok("2130706433:80").host, "127.0.0.1");
        assert_eq!(ok("http://h.example:65535").port, 65535);
    }

    #[test]
    fn refuses_bad_inputs_with_the_right_error() {
        use EndpointError::*;
        let long = format!("http://{}.example:80", "a".repeat(MAX_INPUT_LEN));
        let table: &[(&str, EndpointError)] = &[
            ("", Empty),
            ("   ", Empty),
            (&long, TooLong),
            ("http://h.exa\nmple:80", ControlCharacter),
            ("http://h\0.example:80", ControlCharacter),
            ("http://u%0A:p@h.example:80", ControlCharacter),
            ("ftp://h.example:21", UnsupportedScheme(Some("ftp".into()))),
            (
                "socks4://h.example:1080",
                UnsupportedScheme(Some("socks4".into())),
            ),
            ("user:se cret@h://x:1", UnsupportedScheme(None)),
            ("http://h.example:80/path", HasPath),
            ("http://h.example:80/", HasPath),
            ("http://h.example:80?x=1", HasPath),
            ("http://h.example:80#f", HasPath),
            ("http://:80", InvalidHost),
            ("http://u:p@:80", InvalidHost),
            ("http://2001:db8::1:80", InvalidHost),
            ("http://[2001:db8::1]", MissingPort),
            ("http://[not-v6]:80", InvalidHost),
            ("http://[::1]x:80", InvalidHost),
            ("http://bad host:80", InvalidHost),
            ("http://h<x>.example:80", InvalidHost),
            ("http://h.example", MissingPort),
            ("http://h.example:", MissingPort),
            ("http://h.example:0", InvalidPort),
            ("http://h.example:65536", InvalidPort),
            ("http://h.example:123456", InvalidPort),
            ("http://h.example:+80", InvalidPort),
            ("http://h.example:8o", InvalidPort),
            ("http://:pass@h.example:80", InvalidCredentials),
            ("http://u%zz:p@h.example:80", InvalidCredentials),
            ("http://u:%ff%fe@h.example:80", InvalidCredentials),
            ("http://u:p%@h.example:80", InvalidCredentials),
        ];
        for (input, want) in table {
            let got = ProxyEndpoint::parse(input);
            assert_eq!(got.as_ref().err(), Some(want), "{input:?} gave {got:?}");
        }
    }

    #[test]
    fn never_prints_credentials() {
        let e = ok("http://alice:hunter2@h.example:8080");
        for text in [e.to_string(), format!("{e:?}"), e.key()] {
            assert!(
                !text.contains("alice") && !text.contains("hunter2"),
                "{text}"
            );
        }
        assert_eq!(e.to_string(), "http://h.example:8080");
        // Errors never quote the input either.
        for bad in [
            "http://alice:hunter2@h.example:99999",
            "alice:hunter2@x://h:1",
        ] {
            let msg = ProxyEndpoint::parse(bad).unwrap_err().to_string();
            assert!(!msg.contains("hunter2") && !msg.contains("alice"), "{msg}");
        }
    }

    #[test]
    fn converts_to_reqwest_proxies() {
        for s in [
            "http://h.example:3128",
            "http://u:p%2Fx@h.example:3128",
            "https://u:p@h.example:443",
            "socks5://u:p@127.0.0.1:1080",
            "socks5h://[::1]:1080",
        ] {
            let proxy = ok(s).to_reqwest_proxy().unwrap();
            let client = reqwest::Client::builder().proxy(proxy).build();
            assert!(client.is_ok(), "{s}");
        }
    }
}
