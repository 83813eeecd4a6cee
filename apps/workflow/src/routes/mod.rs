//! HTTP routes, one module per resource.

pub mod subscription;
pub mod users;
pub mod workflow;
