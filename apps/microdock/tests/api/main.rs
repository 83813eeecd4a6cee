//! Black-box tests of MicroDock through HTTP, on SQLite + in-process and PostgreSQL + Redis.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

mod harness;

mod auth;
mod backups;
mod document;
mod downloads;
mod hardening;
mod instances;
mod plugins;
mod python_client;
mod reconcile;
mod transactions;
mod uploads;
