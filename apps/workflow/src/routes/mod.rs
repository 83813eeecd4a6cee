//! HTTP routes, one module per resource.

pub mod users;
