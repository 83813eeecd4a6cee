//! The SSRF guard for requests that workflow steps send (`http_request`, webhook `notify`).
//!
//! A workflow's author chooses the URL, so without a guard a step could reach the server's
//! own admin ports, the database, other hosts on the private network or the cloud metadata
//! service (169.254.169.254). Unless `allow_private` is true (the caller reads
//! `TRELLIS_ALLOW_PRIVATE_TARGETS=true`; default false), a step may not reach:
//!
//! - IPv4: `0.0.0.0/8` (incl. unspecified), loopback `127/8`, private `10/8`,
//!   `172.16/12`, `192.168/16` (RFC 1918), link-local `169.254/16` (incl. metadata),
//!   CGNAT `100.64/10` (RFC 6598), multicast `224/4`, reserved `240/4` and broadcast;
//! - IPv6: unspecified `::`, loopback `::1`, unique-local `fc00::/7`, link-local
//!   `fe80::/10`, site-local `fec0::/10`, multicast `ff00::/8`, and IPv6 addresses that
//!   embed an IPv4 address (mapped `::ffff:0:0/96`, compatible `::/96`, NAT64 `64:ff9b::/96`,
//!   6to4 `2002::/16`) whose IPv4 address is refused.
//!
//! The rule is enforced where the connection is made, not only on the URL text, so a name
//! that resolves (or later re-resolves: DNS rebinding) to a refused address is refused too:
//! - [`client`] installs a DNS resolver that drops refused addresses and fails when none is
//!   left;
//! - literal-IP hosts never reach a resolver, so [`check_url`] refuses them before sending
//!   and the redirect policy re-checks every redirect target (at most [`MAX_REDIRECTS`]);
//! - system proxies (`HTTP_PROXY`…) are ignored: with a proxy the resolver would see the
//!   proxy's name, not the target's. (Proxy pools, `proxy_pool_id`, will need their own
//!   rule: the proxy then makes the connection.)
//!
//! Only `http` and `https` URLs are accepted.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Redirects a step's request may follow; each target is checked again.
pub const MAX_REDIRECTS: usize = 5;

/// A request refused by the guard (forbidden address or name, scheme, too many
/// redirects); found in a `reqwest::Error`'s source chain by [`is_refusal`], so callers can
/// tell a refusal (not retryable) from a connect error. Address refusals start with
/// `refused by the SSRF guard: `.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A [`Refused`] for a forbidden target, with the guard's prefix.
fn guard(reason: impl std::fmt::Display) -> Refused {
    Refused(format!("refused by the SSRF guard: {reason}"))
}

/// True when `err` (or one of its sources) is a [`Refused`] from this guard.
pub fn is_refusal(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<Refused>() {
            return true;
        }
        cur = e.source();
    }
    false
}

/// Whether a step may connect to `ip` when private targets are not allowed.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 0 // "this network", incl. 0.0.0.0
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || ip.is_multicast()
        || a >= 240 // reserved 240/4, incl. broadcast 255.255.255.255
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    if let Some(v4) = embedded_v4(ip) {
        return is_forbidden_v4(v4);
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || ip.is_multicast()
}

/// The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 or 6to4 IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = ip.segments();
    let o = ip.octets();
    let low = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    // ::a.b.c.d (deprecated "compatible"), but not :: and ::1 themselves.
    if seg[..6].iter().all(|s| *s == 0) && !ip.is_unspecified() && !ip.is_loopback() {
        return Some(low);
    }
    // NAT64 well-known prefix 64:ff9b::/96.
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6].iter().all(|s| *s == 0) {
        return Some(low);
    }
    // 6to4 2002:a.b.c.d::/48.
    if seg[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

/// Parses `url` and checks what can be checked before connecting: the scheme is `http` or
/// `https`, there is a host, and (unless `allow_private`) the host is not a refused literal
/// IP address (`http://127.0.0.1/`, `http://[::ffff:10.0.0.1]/`, `http://2130706433/`) nor
/// `localhost`. Names are checked again at connect time by [`client`]'s resolver.
///
/// Errors are messages: `invalid URL: …`, `unsupported URL scheme 'ftp' (http or https
/// only)`, `the URL has no host`, `refused by the SSRF guard: …`.
pub fn check_url(url: &str, allow_private: bool) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    check_parsed(&parsed, allow_private).map_err(|e| e.to_string())?;
    Ok(parsed)
}

/// [`check_url`] on a parsed URL; the error is a [`Refused`] (or a scheme/host message in
/// the same type, so redirects report it the same way).
fn check_parsed(url: &Url, allow_private: bool) -> Result<(), Refused> {
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(Refused(format!(
                "unsupported URL scheme '{other}' (http or https only)"
            )));
        }
    }
    let host = url
        .host()
        .ok_or_else(|| Refused("the URL has no host".into()))?;
    if allow_private {
        return Ok(());
    }
    let ip = match host {
        Host::Ipv4(v4) => IpAddr::V4(v4),
        Host::Ipv6(v6) => IpAddr::V6(v6),
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return Err(guard(format_args!("{name} is a loopback name")));
            }
            return Ok(());
        }
    };
    if is_forbidden(ip) {
        return Err(guard(format_args!("{ip} is a private or reserved address")));
    }
    Ok(())
}

/// A resolver that resolves with the system resolver (via tokio) and keeps only allowed
/// addresses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| !is_forbidden(a.ip()))
                .collect();
            if allowed.is_empty() {
                let refused = guard(format_args!(
                    "{host} resolves only to private or reserved addresses"
                ));
                return Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client for steps, with its private-target setting: [`crate::steps::http`] and
/// [`crate::steps::notify`] take this rather than a bare `reqwest::Client` so the
/// literal-IP check before sending cannot be forgotten. Cheap to clone (one pool).
#[derive(Debug, Clone)]
pub struct StepClient {
    http: reqwest::Client,
    allow_private: bool,
    timeout: Duration,
}

impl StepClient {
    /// The guarded `reqwest` client (resolver, redirect policy and timeouts installed).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Whether private targets are allowed (`TRELLIS_ALLOW_PRIVATE_TARGETS=true`).
    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// The whole-request timeout the client was built with; a step's own
    /// `timeout_seconds` may only shorten it.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A client around another `reqwest` client (a proxy's, from
    /// `crate::proxy::client::ProxyClients`), keeping the pre-send URL check.
    pub fn with_http(http: reqwest::Client, allow_private: bool, timeout: Duration) -> StepClient {
        StepClient {
            http,
            allow_private,
            timeout,
        }
    }

    /// [`check_url`] with this client's setting.
    pub fn check_url(&self, url: &str) -> Result<Url, String> {
        check_url(url, self.allow_private)
    }
}

/// The HTTP client for steps: rustls, `timeout` for the whole request (connect, headers
/// and body; a step's `timeout_seconds` can shorten it per request), no system proxy, at
/// most [`MAX_REDIRECTS`] redirects each re-checked with [`check_url`]'s rules, and (unless
/// `allow_private`) the guarded resolver described in the module docs. Build one per
/// setting and reuse it (it pools connections).
///
/// Errors: only if reqwest cannot build a client (its TLS backend fails to initialise).
pub fn client(allow_private: bool, timeout: Duration) -> Result<StepClient, String> {
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(Refused(format!("more than {MAX_REDIRECTS} redirects")));
        }
        match check_parsed(attempt.url(), allow_private) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    });
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .no_proxy()
        .redirect(policy)
        .user_agent(concat!("trellis-workflow/", env!("CARGO_PKG_VERSION")));
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }
    let http = builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    Ok(StepClient {
        http,
        allow_private,
        timeout,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `client` with its pre-send check switched: lets a test reach the local server by
    /// literal IP while the client's resolver and redirect policy still refuse private
    /// targets (what a public server redirecting to a private address looks like).
    pub(crate) fn with_allow_private(client: StepClient, allow_private: bool) -> StepClient {
        StepClient {
            allow_private,
            ..client
        }
    }

    #[test]
    fn refused_v4_classes() {
        for ip in [
            "127.0.0.1",
            "127.255.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "240.0.0.1",
        ] {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip} should be refused");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "93.184.216.34",
        ] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip} should be allowed");
        }
    }

    #[test]
    fn refused_v6_classes_and_mapped_v4() {
        for ip in [
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
        ] {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip} should be refused");
        }
        for ip in [
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "2001:db8::1",
            "2002:808:808::1",
        ] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip} should be allowed");
        }
    }

    #[test]
    fn check_url_refuses_literal_private_hosts() {
        for url in [
            "http://127.0.0.1/",
            "http://127.0.0.1:8000/admin",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fe80::1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://10.0.0.1/",
            "http://100.64.1.1/",
            "http://localhost:8080/",
            "http://api.localhost/",
        ] {
            let err = check_url(url, false).unwrap_err();
            assert!(err.starts_with("refused by the SSRF guard"), "{url}: {err}");
            assert!(
                check_url(url, true).is_ok(),
                "{url} allowed when private targets are"
            );
        }
        assert!(check_url("https://example.com/x?y=1", false).is_ok());
        assert!(check_url("http://8.8.8.8/", false).is_ok());
    }

    #[test]
    fn check_url_schemes_and_syntax() {
        let err = check_url("ftp://example.com/", true).unwrap_err();
        assert!(err.contains("unsupported URL scheme 'ftp'"), "{err}");
        let err = check_url("file:///etc/passwd", true).unwrap_err();
        assert!(err.contains("unsupported URL scheme 'file'"), "{err}");
        let err = check_url("not a url", true).unwrap_err();
        assert!(err.starts_with("invalid URL"), "{err}");
    }

    #[tokio::test]
    async fn resolver_refuses_names_of_private_addresses() {
        let addrs = GuardedResolver.resolve("localhost".parse().unwrap()).await;
        let Err(err) = addrs else {
            panic!("localhost must be refused")
        };
        assert!(is_refusal(err.as_ref()), "{err}");
    }

    #[tokio::test]
    async fn guarded_client_refuses_a_name_for_loopback() {
        let client = client(false, Duration::from_secs(5)).unwrap();
        // check_url refuses `localhost` early; the resolver refuses it at connect time too.
        let err = client
            .http()
            .get("http://localhost:9/")
            .send()
            .await
            .unwrap_err();
        assert!(is_refusal(&err), "{err:?}");
    }
}
