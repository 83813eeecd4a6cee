//! The app descriptor: what the server needs to know to mount one app, in one value each app
//! crate exports (`trellis_microdock::APP`). The server iterates a list of these, and every
//! test builds its server through the same list (`TRELLIS_APPS` picks which are mounted).
//!
//! The descriptor is generic over the context the server hands every app (`C`: the platform
//! plus the shared services above the kernel, such as identity), so the kernel stays free of
//! any app or service above it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;

use crate::db::Migrations;
use crate::envelope::Profile;

/// What an app's router builder returns: its routes and their OpenAPI description.
pub type Routes = (Router, utoipa::openapi::OpenApi);

/// One app, as the server mounts it.
pub struct App<C> {
    /// The name `TRELLIS_APPS` uses (`microdock`).
    pub name: &'static str,
    /// The seed this app implements (`seed 004`), for the start-up line and docs.
    pub seed: &'static str,
    /// The URL prefixes the app owns; its profile renders every error below them. The first
    /// is the one printed at start-up.
    pub prefixes: &'static [&'static str],
    /// The app's envelope.
    pub profile: fn() -> Arc<dyn Profile>,
    /// The app's migrations (its own version range, see `docs/DATABASE.md`); `None` for an app
    /// with no tables of its own.
    pub migrations: Option<fn() -> Migrations>,
    /// Problems in the app's own settings, read from the same variables as the kernel's
    /// (reported together with the kernel's at start-up, before anything opens).
    pub check_settings: fn(&HashMap<String, String>) -> Vec<String>,
    /// Builds the app's router on the shared context.
    pub router: fn(&C) -> Result<Routes, String>,
}

/// An app with no settings of its own.
pub fn no_settings(_: &HashMap<String, String>) -> Vec<String> {
    Vec::new()
}
