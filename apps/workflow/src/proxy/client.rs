//! One `reqwest::Client` per proxy, built once and reused (a client owns its connection
//! pool, so building one per request would redo the TCP/TLS/proxy handshakes every time).
//!
//! Clients are cached by proxy id with the proxy's version (its `updated_at` or a revision
//! number): a request with a newer version rebuilds the client, so an edited address or
//! password takes effect at once; [`ProxyClients::invalidate`] drops a deleted proxy's client.
//!
//! # The SSRF rule with a proxy
//!
//! Without a proxy, [`crate::steps::net`] enforces its rule where the connection is made (a
//! resolver that drops private addresses). With a proxy the *proxy* connects to the target,
//! so our resolver never sees the target's address (for HTTP(S) and `socks5h` proxies the
//! proxy even resolves the name). What we can still enforce, unless `allow_private`
//! (`TRELLIS_ALLOW_PRIVATE_TARGETS=true`):
//!
//! - target URLs that are literal private addresses or `localhost` are refused before
//!   sending ([`ProxyClients::check_url`] = [`net::check_url`]), and every redirect target
//!   is re-checked the same way (at most [`net::MAX_REDIRECTS`] redirects);
//! - the proxy itself must not be a way into the server's network: a proxy whose host is a
//!   private/loopback literal or `localhost` is refused ([`check_proxy_host`]), and a proxy
//!   *name* that resolves only to refused addresses fails at connect time (the client's
//!   resolver drops them, as in `steps::net`);
//! - with plain `socks5` (local DNS) reqwest resolves the target name through the same
//!   resolver, so names of private targets are refused as well.
//!
//! A target name that the proxy resolves to a private address *of the proxy's network* is
//! the proxy operator's business: it is not our network.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;
use url::Url;
use uuid::Uuid;

use super::endpoint::ProxyEndpoint;
use crate::steps::net::{self, Refused};

/// How long an unused client stays cached (its idle connections go with it).
const IDLE_TTL: Duration = Duration::from_secs(30 * 60);

/// Refuses a proxy whose host is a private, loopback or reserved literal address (see
/// [`net::is_forbidden`]) or `localhost` / `*.localhost`, unless `allow_private`. Names are
/// checked again when the client connects (its resolver drops refused addresses).
///
/// Errors: `refused by the SSRF guard: the proxy host … is a private or reserved address`
/// (or `… is a loopback name`); the message names the host and port, never credentials.
pub fn check_proxy_host(endpoint: &ProxyEndpoint, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    if let Some(ip) = endpoint.host_ip() {
        if net::is_forbidden(ip) {
            return Err(format!(
                "refused by the SSRF guard: the proxy host {ip} is a private or reserved address"
            ));
        }
        return Ok(());
    }
    let name = endpoint.host.trim_end_matches('.');
    if name == "localhost" || name.ends_with(".localhost") {
        return Err(format!(
            "refused by the SSRF guard: the proxy host {name} is a loopback name"
        ));
    }
    Ok(())
}

/// A cache of proxied clients, one per proxy id. Cheap to share behind an `Arc`; all
/// methods take `&self`.
pub struct ProxyClients {
    cache: Cache<Uuid, (u64, reqwest::Client)>,
    allow_private: bool,
    timeout: Duration,
    builds: AtomicU64,
}

impl std::fmt::Debug for ProxyClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyClients")
            .field("allow_private", &self.allow_private)
            .field("timeout", &self.timeout)
            .field("cached", &self.cache.entry_count())
            .finish()
    }
}

impl ProxyClients {
    /// An empty cache. `timeout` is each client's whole-request timeout (connect timeout:
    /// the same, at most 10 s); `capacity` the most clients kept (least recently used are
    /// dropped first; a client unused for 30 minutes is dropped too).
    pub fn new(allow_private: bool, timeout: Duration, capacity: u64) -> Self {
        ProxyClients {
            cache: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(IDLE_TTL)
                .build(),
            allow_private,
            timeout,
            builds: AtomicU64::new(0),
        }
    }

    /// The client for proxy `id` at `version`, built on first use or when `version`
    /// differs from the cached one. `endpoint` is only read when a client is built.
    ///
    /// Errors: the proxy host is refused ([`check_proxy_host`]), reqwest refuses the proxy,
    /// or the client cannot be built (TLS backend failure).
    pub fn get(
        &self,
        id: Uuid,
        version: u64,
        endpoint: &ProxyEndpoint,
    ) -> Result<reqwest::Client, String> {
        if let Some((cached, client)) = self.cache.get(&id)
            && cached == version
        {
            return Ok(client);
        }
        check_proxy_host(endpoint, self.allow_private)?;
        let client = build(endpoint, self.allow_private, self.timeout)?;
        self.builds.fetch_add(1, Ordering::Relaxed);
        // Two callers racing here both build; the last insert wins, which is harmless.
        self.cache.insert(id, (version, client.clone()));
        Ok(client)
    }

    /// Drops proxy `id`'s client (deleted or disabled proxy).
    pub fn invalidate(&self, id: Uuid) {
        self.cache.invalidate(&id);
    }

    /// How many clients are cached (after applying pending evictions).
    pub fn len(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    /// True when no client is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many clients were built since creation (cache misses), for tests and metrics.
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }

    /// Whether private targets and proxies are allowed.
    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// [`net::check_url`] with this cache's setting: call it on every target URL before
    /// sending through a proxied client (literal private hosts are never resolved, so only
    /// this check sees them).
    pub fn check_url(&self, url: &str) -> Result<Url, String> {
        net::check_url(url, self.allow_private)
    }
}

/// One TLS configuration for every proxied client: rustls with aws-lc-rs and the platform
/// verifier (what reqwest builds by default), made once. Without it each client loads and
/// parses the system's root certificates again, which made building 1,000 clients for a pool
/// test cost seconds of CPU; with it a build is cheap. `None` when the platform verifier
/// cannot start (then reqwest builds its own per client).
static TLS: std::sync::LazyLock<Option<rustls::ClientConfig>> = std::sync::LazyLock::new(|| {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone()).ok()?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Some(config)
});

/// Builds a proxied client: rustls, `timeout` per request, the proxy instead of
/// `no_proxy()`, at most [`net::MAX_REDIRECTS`] redirects each re-checked with
/// [`net::check_url`], and (unless `allow_private`) the resolver that drops refused
/// addresses.
fn build(
    endpoint: &ProxyEndpoint,
    allow_private: bool,
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    let proxy = endpoint.to_reqwest_proxy().map_err(|e| e.to_string())?;
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > net::MAX_REDIRECTS {
            let refused = Refused(format!("more than {} redirects", net::MAX_REDIRECTS));
            return attempt.error(refused);
        }
        match net::check_url(attempt.url().as_str(), allow_private) {
            Ok(_) => attempt.follow(),
            Err(message) => attempt.error(Refused(message)),
        }
    });
    let mut builder = reqwest::Client::builder();
    if let Some(tls) = TLS.as_ref() {
        builder = builder.tls_backend_preconfigured(tls.clone());
    }
    let mut builder = builder
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .proxy(proxy)
        .redirect(policy)
        .user_agent(concat!("trellis-workflow/", env!("CARGO_PKG_VERSION")));
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(net::GuardedResolver));
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the proxied HTTP client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(s: &str) -> ProxyEndpoint {
        ProxyEndpoint::parse(s).unwrap()
    }

    #[test]
    fn clients_are_reused_and_rebuilt_on_a_new_version() {
        let clients = ProxyClients::new(false, Duration::from_secs(5), 100);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let ep = endpoint("http://u:p@203.0.113.7:3128");
        clients.get(a, 1, &ep).unwrap();
        clients.get(a, 1, &ep).unwrap();
        assert_eq!(clients.builds(), 1, "the second get is a cache hit");
        clients
            .get(b, 1, &endpoint("socks5h://203.0.113.8:1080"))
            .unwrap();
        assert_eq!((clients.builds(), clients.len()), (2, 2));
        clients.get(a, 2, &ep).unwrap();
        assert_eq!(clients.builds(), 3, "a new version rebuilds");
        clients.get(a, 2, &ep).unwrap();
        assert_eq!(clients.builds(), 3);
        clients.invalidate(a);
        assert_eq!(clients.len(), 1);
        clients.get(a, 2, &ep).unwrap();
        assert_eq!(clients.builds(), 4, "an invalidated proxy is rebuilt");
    }

    #[test]
    fn private_proxy_hosts_are_refused_unless_allowed() {
        for s in [
            "http://127.0.0.1:3128",
            "socks5://[::1]:1080",
            "http://10.1.2.3:8080",
            "http://169.254.169.254:80",
            "http://[::ffff:192.168.0.1]:80",
            "http://2130706433:80",
            "http://localhost:3128",
            "socks5h://proxy.localhost:1080",
        ] {
            let ep = endpoint(s);
            let err = check_proxy_host(&ep, false).unwrap_err();
            assert!(err.starts_with("refused by the SSRF guard"), "{s}: {err}");
            assert!(check_proxy_host(&ep, true).is_ok(), "{s}");
            let clients = ProxyClients::new(false, Duration::from_secs(5), 10);
            assert!(clients.get(Uuid::new_v4(), 1, &ep).is_err(), "{s}");
            assert_eq!(clients.builds(), 0);
        }
        for s in ["http://203.0.113.9:3128", "socks5://proxy.example.com:1080"] {
            assert!(check_proxy_host(&endpoint(s), false).is_ok(), "{s}");
        }
    }

    #[tokio::test]
    async fn a_proxy_name_for_loopback_is_refused_at_connect_time() {
        // Bypasses check_proxy_host to show the resolver guards proxy names too.
        let ep = endpoint("http://localhost:9");
        let client = build(&ep, false, Duration::from_secs(5)).unwrap();
        let err = client.get("http://203.0.113.10/").send().await.unwrap_err();
        assert!(net::is_refusal(&err), "{err:?}");
    }
}
