//! Composition of the `trellis` server: config -> platform -> migrations -> identity -> the
//! apps of [`APPS`] -> the kernel's common layers, and [`run`], which serves it until a
//! shutdown signal and then drains. The binary (`main.rs`) only adds the CLI; every test
//! builds and runs its server through these same functions.

#[cfg(feature = "testing")]
pub mod testing;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use trellis_identity::{AppContext, AppDescriptor, Identity};
use trellis_kernel::config::Config;
use trellis_kernel::envelope::Profiles;
use trellis_kernel::{Platform, StartupError};

/// Every app this binary can mount, in mount order.
pub const APPS: &[&AppDescriptor] = &[&trellis_workflow::APP, &trellis_microdock::APP];

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

/// Applies identity's and every app's migrations, in dependency order. Every app's tables
/// are created whether or not it is mounted, so enabling an app later needs no extra step.
pub async fn migrate(platform: &Platform) -> Result<(), StartupError> {
    platform.db.migrate(&trellis_identity::migrations()).await?;
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

/// Builds the server on an opened platform (tests pass their own): migrations, identity, and
/// every app `TRELLIS_APPS` enables.
pub async fn build_on(platform: Platform) -> Result<Server, BuildError> {
    migrate(&platform).await?;
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
pub async fn run(
    listener: tokio::net::TcpListener,
    server: Server,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = Duration::from_secs(server.platform.config.shutdown_grace_seconds);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let serving = axum::serve(
        listener,
        server
            .router
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!(
            grace_seconds = grace.as_secs(),
            "shutting down: draining in-flight requests and tasks"
        );
        let _ = stop_tx.send(true);
    });
    let mut stop = stop_rx.clone();
    let deadline = async move {
        let _ = stop.wait_for(|s| *s).await;
        tokio::time::sleep(grace).await;
    };
    let started = tokio::time::Instant::now();
    tokio::select! {
        r = serving => r?,
        _ = deadline => tracing::warn!("grace period over; closing remaining connections"),
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
