//! The logic of the workflow step types, independent of the durable engine that schedules
//! them: jq programs ([`jq`]), `{{ }}` parameter templates ([`template`]), the step-type
//! catalogue and parameter validation ([`schema`]), the SSRF-guarded HTTP client ([`net`]),
//! the `http_request` step ([`http`]) and the `notify` step ([`notify`]).
//!
//! The engine integration calls these; nothing here touches the database or the engine.

pub mod http;
pub mod jq;
pub mod net;
pub mod notify;
pub mod schema;
pub mod template;
