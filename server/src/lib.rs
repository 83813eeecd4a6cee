//! Composition of the `trellis` server: config -> platform -> migrations -> identity -> the
//! apps of [`APPS`] -> the kernel's common layers, and [`run`], which serves it until a
//! shutdown signal and then drains. The binary (`main.rs`) only adds the CLI; every test
//! builds and runs its server through these same functions.

#[cfg(feature = "testing")]
pub mod testing;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use axum::Router;
use trellis_identity::{AppContext, AppDescriptor, Identity};
use trellis_kernel::config::Config;
use trellis_kernel::envelope::Profiles;
use trellis_kernel::{Platform, StartupError};

/// Every app this binary can mount, in mount order.
pub const APPS: &[&AppDescriptor] = &[
    &trellis_workflow::APP,
    &trellis_dietplan::APP,
    &trellis_microdock::APP,
    &trellis_momentum::APP,
];

/// The names `TRELLIS_APPS` accepts.
pub fn app_names() -> Vec<&'static str> {
    APPS.iter().map(|a| a.name).collect()
}

/// Problems in identity's and every app's own settings, reported with the kernel's.
pub fn setting_errors(vars: &HashMap<String, String>) -> Vec<String> {
    let mut problems = trellis_identity::Settings::from_vars(vars)
        .err()
        .unwrap_or_default();
    for app in APPS {
        problems.extend((app.check_settings)(vars));
    }
    problems
}

/// A built server: its router plus what `main` reports and shuts down.
pub struct Server {
    /// Every mounted app behind the kernel's common layers.
    pub router: Router,
    /// The platform the apps run on.
    pub platform: Platform,
    /// The identity service shared by the apps.
    pub identity: Identity,
    /// `(app, first url prefix)` for each mounted app.
    pub mounted: Vec<(&'static str, &'static str)>,
}

/// Errors while building the server.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The platform could not open its database, Redis, mail or data directory.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// Identity could not start (admin seeding, signing secret, hashing threads).
    #[error("identity: {0}")]
    Identity(#[from] trellis_identity::IdentityError),
    /// `TRELLIS_APPS` names an app this binary does not have.
    #[error("TRELLIS_APPS names unknown app(s) {unknown}; known: {}", app_names().join(", "))]
    UnknownApps {
        /// The unknown names, comma-separated.
        unknown: String,
    },
    /// Two apps (or an app and the platform) document different schemas under one name.
    #[error("{0}")]
    OpenApi(String),
    /// Identity's or an app's settings are invalid.
    #[error("invalid configuration: {}", .0.join("; "))]
    Settings(Vec<String>),
}

/// Applies the shared crates' migrations (identity, the engine) and every app's, in
/// dependency order. Every app's tables are created whether or not it is mounted, so
/// enabling an app later needs no extra step.
pub async fn migrate(platform: &Platform) -> Result<(), StartupError> {
    platform.db.migrate(&trellis_identity::migrations()).await?;
    platform.db.migrate(&trellis_engine::migrations()).await?;
    for app in APPS {
        if let Some(m) = app.migrations {
            platform.db.migrate(&m()).await?;
        }
    }
    Ok(())
}

/// Opens the platform from `config` and builds the server.
pub async fn build(config: Config) -> Result<Server, BuildError> {
    let names = app_names();
    let unknown: Vec<&str> = config
        .apps
        .iter()
        .map(String::as_str)
        .filter(|a| !names.contains(a))
        .collect();
    if !unknown.is_empty() {
        return Err(BuildError::UnknownApps {
            unknown: unknown.join(", "),
        });
    }
    let platform = Platform::open(config).await?;
    build_on(platform).await
}

/// Builds the server on an opened platform (tests pass their own): migrations, the sweep of
/// upload files left by a crash ([`trellis_kernel::blob::BlobStore::sweep_spool`]), identity,
/// and every app `TRELLIS_APPS` enables.
pub async fn build_on(platform: Platform) -> Result<Server, BuildError> {
    migrate(&platform).await?;
    // Uploads interrupted by a crash (kill -9, power loss) left their spool files behind.
    platform.blobs.sweep_spool().await;
    let settings = trellis_identity::Settings::from_vars(&platform.config.vars)
        .map_err(BuildError::Settings)?;
    let identity = Identity::start(platform.clone(), settings).await?;
    let ctx = AppContext {
        platform: platform.clone(),
        identity: identity.clone(),
    };
    let mut profiles = Profiles::default();
    let mut apps = Router::new();
    let mut api = trellis_kernel::http::platform_doc();
    let mut mounted = Vec::new();
    for app in APPS.iter().filter(|a| platform.config.app_enabled(a.name)) {
        let (router, doc) = (app.router)(&ctx).map_err(|e| BuildError::Settings(vec![e]))?;
        apps = apps.merge(router);
        trellis_kernel::docs::merge_checked(&mut api, doc).map_err(BuildError::OpenApi)?;
        let profile = (app.profile)();
        for prefix in app.prefixes {
            profiles.add(prefix, profile.clone());
        }
        mounted.push((app.name, app.prefixes.first().copied().unwrap_or("/")));
    }
    // The console: its shell (sign-in, account, assets) beside the apps' own console pages,
    // and its layer (CSRF, language, request context) over every `/console` request.
    let console = trellis_console::Console {
        identity: identity.clone(),
        apps: std::sync::Arc::new(mounted.iter().map(|(name, _)| *name).collect()),
    };
    let apps = apps.merge(trellis_console::router(console.clone())).layer(
        axum::middleware::from_fn_with_state(console, trellis_console::layer),
    );
    let router = trellis_kernel::http::assemble(apps, &platform, profiles, api);
    Ok(Server {
        router,
        platform,
        identity,
        mounted,
    })
}

/// Serves `server` on `listener` until `shutdown` completes, then drains (mini-redis's
/// `server::run` shape): stops accepting, lets in-flight requests finish, cancels the
/// platform's shutdown token and waits for every tracked task (mail sends, download counters,
/// later streams and workers), all within `TRELLIS_SHUTDOWN_GRACE_SECONDS`; then closes the
/// database. Returns an error only if the listener fails.
///
/// Connections are served by hyper directly (not `axum::serve`) so that slow clients cannot
/// hold them (issue 7, item 9): a client gets `TRELLIS_HEADER_TIMEOUT_SECONDS` to send a
/// complete request head, counted from when the connection is ready for one, so a header
/// trickled a byte at a time and an idle keep-alive connection are both closed after that
/// time. Request bodies are held to a minimum rate by the kernel's
/// [`trellis_kernel::http::slow::min_rate_layer`].
pub async fn run(
    listener: tokio::net::TcpListener,
    server: Server,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt as _;

    let grace = Duration::from_secs(server.platform.config.shutdown_grace_seconds);
    let head_timeout = Duration::from_secs(
        server
            .platform
            .config
            .slow_clients
            .header_timeout_seconds
            .max(1),
    );
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol()
        .keep_alive_interval(head_timeout)
        .keep_alive_timeout(head_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let service = server.router.clone().map_request(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req.map(axum::body::Body::new)
            },
        );
        let conn = builder
            .serve_connection_with_upgrades(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            )
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(
        grace_seconds = grace.as_secs(),
        "shutting down: draining in-flight requests and tasks"
    );
    let started = tokio::time::Instant::now();
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(grace) => tracing::warn!("grace period over; closing remaining connections"),
    }
    // Requests are done; whatever they left running gets the rest of the grace period.
    let left = grace.saturating_sub(started.elapsed().min(grace));
    let unfinished = server
        .platform
        .tasks
        .shutdown(left.max(Duration::from_secs(1)))
        .await;
    if unfinished > 0 {
        tracing::warn!(tasks = unfinished, "background tasks still running at exit");
    }
    server.platform.db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Binds a listening socket on `addr` with a backlog of `net.core.somaxconn` (read from
/// `/proc`, as Go's `net` package does; 4096 where it cannot be read), not tokio's fixed 1024.
///
/// A burst of connections larger than the backlog (10,000 SSE followers reconnecting at once,
/// issue 12's reconnect storm) overflows the accept queue; the kernel then drops the
/// handshakes' last packets and clients wait out TCP's retransmission timers (1 s, 3 s, 7 s)
/// before they are served. `SO_REUSEADDR` is set as `std`'s `TcpListener::bind` does on Unix.
pub fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(listen_backlog())
}

/// The accept queue length [`listen`] asks for (the kernel caps it at `somaxconn` anyway).
fn listen_backlog() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(4096)
        .min(65_535)
}

/// Errors of one accepted connection (the peer reset it before we took it), not of the
/// listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
