//! The only place with SQL for MicroDock; runs unchanged on SQLite and PostgreSQL.

pub mod backups;
pub mod plugins;
