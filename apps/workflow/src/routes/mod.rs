//! HTTP routes, one module per resource.

pub mod collections;
pub mod collections_xhs;
pub mod proxy;
pub mod subscription;
pub mod users;
pub mod workflow;
