//! The only place with SQL for accounts. Every query runs unchanged on SQLite and PostgreSQL
//! through `on_db!`; rows are turned into domain types before leaving this module.

pub mod attempts;
pub mod audit;
pub mod sessions;
pub mod users;
