//! Black-box tests of Momentum through HTTP, on SQLite + in-process and PostgreSQL + Redis.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

mod harness;

mod auth;
mod comments;
mod cycles;
mod document;
mod instances;
mod invitations;
mod issues;
mod labels;
mod project_statuses;
mod projects;
mod realtime;
mod relations;
mod sync;
mod teams;
mod tenants;
mod workflows;
mod workspaces;
mod ws;
