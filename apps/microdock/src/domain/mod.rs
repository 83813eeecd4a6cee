//! MicroDock's rules, parsed at the edge: plugin names, manifests, archives, version ranges,
//! user keys and file names.

pub mod archive;
pub mod disposition;
pub mod manifest;
pub mod names;
pub mod zipdir;
