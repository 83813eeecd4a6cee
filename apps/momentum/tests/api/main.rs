//! Black-box tests of Momentum through HTTP, on SQLite + in-process and PostgreSQL + Redis.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

mod harness;

mod auth;
mod issues;
mod relations;
mod sync;
