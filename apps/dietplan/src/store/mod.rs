//! The only place with SQL (`diet_*` tables); one query text for SQLite and PostgreSQL.

pub mod meals;
pub mod pets;
pub mod plans;
pub mod profiles;
pub mod tasks;
pub mod usage;
