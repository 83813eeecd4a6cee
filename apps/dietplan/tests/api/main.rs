//! Black-box tests of the diet planner through HTTP and SSE, on SQLite + in-process and on
//! PostgreSQL + Redis. One file per resource.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

mod auth;
mod harness;
mod pets;
mod plans;
mod sse;
mod stream;
