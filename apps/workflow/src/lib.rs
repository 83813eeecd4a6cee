//! Workflow Platform (seed 000): the user-management API (`/api/v1/users`, the suite's
//! reference account API), subscriptions and usage quotas (`/api/v1/subscription`), and
//! workflow definitions, executions and schedules (`/api/v1/workflow`) run by the durable
//! engine (`trellis_engine`, queue `workflow`), proxy pools (`/api/v1/proxy`, `proxy/`) and the
//! Qidian and Xiaohongshu collectors (`/api/v1/collections`, `collectors/`).
//!
//! Layout: `routes/` extract and answer, `service/` owns each operation, `store/` holds the
//! SQL (`wf_*` tables), `domain/` the parsers and rules, `steps/` the step types' logic and
//! `runtime` their engine handlers, outbox handlers and the schedule trigger.

pub mod collectors;
pub mod console;
pub mod domain;
pub mod envelope;
pub mod error;
pub mod proxy;
pub mod routes;
pub mod runtime;
pub mod secrets;
pub mod service;
pub mod state;
pub mod steps;
pub mod store;

use std::sync::Arc;

use trellis_identity::{AppContext, AppDescriptor};
use trellis_kernel::app::Routes;
use trellis_kernel::db::Migrations;
use trellis_kernel::envelope::Profile;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::state::WorkflowState;

/// The URL prefixes this app owns (its envelope renders their errors). `/api/v1` itself is
/// shared with the diet planner, so only the workflow's own resources are claimed.
pub const PREFIXES: &[&str] = &[
    "/api/v1/users",
    "/api/v1/subscription",
    "/api/v1/workflow",
    "/api/v1/proxy",
    "/api/v1/collections",
];

/// The app, as the server mounts it.
pub const APP: AppDescriptor = AppDescriptor {
    name: "workflow",
    seed: "seed 000",
    prefixes: PREFIXES,
    profile,
    migrations: Some(migrations),
    check_settings,
    router,
};

/// Every problem with the workflow app's settings, checked at start-up with the rest of the
/// configuration: the plan catalogue, the secrets key (required in production), the
/// collector sites and the proxy judge URL.
fn check_settings(vars: &std::collections::HashMap<String, String>) -> Vec<String> {
    let mut errors = domain::plans::check_settings(vars);
    errors.extend(secrets::check(vars));
    errors.extend(collectors::run::Sites::from_vars(vars).err());
    if let Some(v) = vars
        .get("TRELLIS_PROXY_JUDGE_URL")
        .filter(|v| !v.trim().is_empty())
        && url::Url::parse(v.trim()).is_err()
    {
        errors.push("TRELLIS_PROXY_JUDGE_URL is not a URL".into());
    }
    errors
}

fn profile() -> Arc<dyn Profile> {
    Arc::new(envelope::WorkflowProfile)
}

/// The workflow app's tables (versions 3xxx).
pub fn migrations() -> Migrations {
    Migrations::new(
        sqlx::migrate!("migrations/sqlite"),
        sqlx::migrate!("migrations/postgres"),
    )
}

#[derive(utoipa::OpenApi)]
#[openapi(
    tags((name = "workflow", description = "Workflow Platform (seed 000): users, subscriptions and usage, workflow definitions, executions and schedules"))
)]
struct ApiDoc;

/// The app's routes and their OpenAPI description.
pub fn router(ctx: &AppContext) -> Result<Routes, String> {
    domain::plans::install(&ctx.platform.config.vars)?;
    let allow_private = matches!(
        ctx.platform
            .config
            .vars
            .get("TRELLIS_ALLOW_PRIVATE_TARGETS")
            .map(|v| v.trim()),
        Some("true" | "1")
    );
    let secrets =
        secrets::Secrets::from_config(&ctx.platform.config.vars, &ctx.platform.config.data_dir)?;
    let clients =
        proxy::client::ProxyClients::new(allow_private, std::time::Duration::from_secs(60), 10_000);
    let live = proxy::live::Live::start(&ctx.platform, secrets, clients);
    let sites = collectors::run::Sites::from_vars(&ctx.platform.config.vars)?;
    let collectors = collectors::run::Collectors {
        platform: ctx.platform.clone(),
        polite: collectors::polite::Polite::new(sites.min_interval, allow_private, live.clone())?,
        sites,
    };
    let engine = runtime::start_engine(&ctx.platform, allow_private, collectors.clone())?;
    let proxies = proxy::validate::Proxies::start(&ctx.platform, live, allow_private)?;
    let state = WorkflowState {
        platform: ctx.platform.clone(),
        identity: ctx.identity.clone(),
        engine,
        proxies,
        collectors,
    };
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::users::router())
        .merge(routes::subscription::router())
        .merge(routes::workflow::router())
        .merge(routes::proxy::router())
        .merge(routes::collections::router())
        .merge(routes::collections_xhs::router())
        .with_state(state.clone())
        .split_for_parts();
    // The console's workflow pages, outside the OpenAPI document (HTML for browsers).
    let router = router.merge(console::router().with_state(state));
    trellis_kernel::docs::document_app(&mut doc, "workflow", &envelope::openapi_envelope());
    Ok((router, doc))
}
