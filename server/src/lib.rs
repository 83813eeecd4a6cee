//! Composition of the `trellis` server: config -> platform -> migrations -> identity -> app
//! routers -> the kernel's common layers. The binary (`main.rs`) only adds the CLI.

use axum::Router;
use trellis_identity::Identity;
use trellis_kernel::config::Config;
use trellis_kernel::envelope::Profiles;
use trellis_kernel::{Platform, StartupError};

/// The apps this binary can mount, in mount order.
pub const APPS: &[&str] = &["workflow", "microdock"];

/// Problems in the apps' own settings (reported together with the kernel's).
pub fn app_setting_errors(vars: &std::collections::HashMap<String, String>) -> Vec<String> {
    trellis_microdock::settings::Settings::from_vars(vars)
        .err()
        .unwrap_or_default()
}

/// A built server: its router plus what `main` reports and shuts down.
pub struct Server {
    pub router: Router,
    pub platform: Platform,
    pub identity: Identity,
    /// `(app, url prefix)` for each mounted app.
    pub mounted: Vec<(&'static str, &'static str)>,
}

/// Errors while building the server.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("identity: {0}")]
    Identity(#[from] trellis_identity::IdentityError),
    #[error("TRELLIS_APPS names unknown app(s) {unknown}; known: {}", APPS.join(", "))]
    UnknownApps { unknown: String },
    #[error("invalid configuration: {}", .0.join("; "))]
    Settings(Vec<String>),
}

/// Applies every crate's migrations, in dependency order.
pub async fn migrate(platform: &Platform) -> Result<(), StartupError> {
    platform.db.migrate(&trellis_identity::migrations()).await?;
    platform
        .db
        .migrate(&trellis_microdock::migrations())
        .await?;
    Ok(())
}

/// Opens the platform from `config` and builds the server.
pub async fn build(config: Config) -> Result<Server, BuildError> {
    let unknown: Vec<&str> = config
        .apps
        .iter()
        .map(String::as_str)
        .filter(|a| !APPS.contains(a))
        .collect();
    if !unknown.is_empty() {
        return Err(BuildError::UnknownApps {
            unknown: unknown.join(", "),
        });
    }
    let platform = Platform::open(config).await?;
    build_on(platform).await
}

/// Builds the server on an opened platform (tests pass their own).
pub async fn build_on(platform: Platform) -> Result<Server, BuildError> {
    migrate(&platform).await?;
    let identity = Identity::start(platform.clone()).await?;
    let mut profiles = Profiles::default();
    let mut apps = Router::new();
    let mut api = utoipa::openapi::OpenApiBuilder::new().build();
    let mut mounted = Vec::new();
    if platform.config.app_enabled("workflow") {
        let (router, doc) = trellis_workflow::router(identity.clone());
        apps = apps.merge(router);
        api.merge(doc);
        trellis_workflow::register_envelope(&mut profiles);
        mounted.push(("workflow", "/api/v1/users"));
    }
    if platform.config.app_enabled("microdock") {
        let settings = trellis_microdock::settings::Settings::from_vars(&platform.config.vars)
            .map_err(BuildError::Settings)?;
        let (router, doc) = trellis_microdock::router(identity.clone(), settings);
        apps = apps.merge(router);
        api.merge(doc);
        trellis_microdock::register_envelope(&mut profiles);
        mounted.push(("microdock", "/api/plugins"));
    }
    let router = trellis_kernel::http::assemble(apps, &platform, profiles, api);
    Ok(Server {
        router,
        platform,
        identity,
        mounted,
    })
}
