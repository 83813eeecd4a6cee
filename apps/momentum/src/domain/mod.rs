//! Momentum's vocabulary, parsed at the edge: roles, categories, priorities, colors, keys,
//! and [`check::Check`], which collects every field's problem of a request at once.

pub mod check;
pub mod enums;
pub mod patch;

pub use check::Check;
pub use enums::*;
pub use patch::Patch;
