//! Black-box tests of the user-management API through HTTP, on SQLite + in-process and on
//! PostgreSQL + Redis. One file per resource.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

mod harness;

mod admin;
mod codes;
mod collections;
mod document;
mod envelope;
mod login;
mod me;
mod proxy;
mod register;
mod subscription;
mod tokens;
mod workflow;
mod xhs;
