//! The workflow app's SQL, one module per table group. Reads take `&Db`, writes `&mut Tx`;
//! every query is written once with `$N` placeholders for both backends
//! (`docs/DATABASE.md`). Tables are prefixed `wf_`.

pub mod billing;
pub mod collections;
pub mod counts;
pub mod definitions;
pub mod proxy;
pub mod subscriptions;
pub mod usage;
pub mod xhs;
