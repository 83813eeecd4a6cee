//! The diet planner's operations, one module per resource; handlers call these.

pub mod auth;
pub mod meals;
pub mod pets;
pub mod plans;
pub mod tasks;
