//! Black-box tests of MicroDock through HTTP, on SQLite + in-process and PostgreSQL + Redis.

mod harness;

mod auth;
mod backups;
mod downloads;
mod instances;
mod plugins;
mod python_client;
mod transactions;
mod uploads;
