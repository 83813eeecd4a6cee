//! The workflow app's closed sets and rules, parsed at the edge: plans and their
//! entitlements, meters, subscription states and billing cycles.

pub mod definition;
pub mod plans;
pub mod subscription;
