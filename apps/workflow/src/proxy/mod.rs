//! Proxy pools (seed 000 "代理池管理 API", bounded context `proxy_pool`, "智能代理池管理").
//!
//! - `endpoint`: a proxy's address and credentials (`scheme://user:pass@host:port`);
//! - `client`: one `reqwest::Client` per proxy, built once and reused;
//! - `probe`: testing one proxy against a judge URL (latency, anonymity, outcome);
//! - `health`: per-(proxy, target host) scores fed by tests and reported outcomes;
//! - `select`: the pool's selection strategies;
//! - `pool`: a pool's settings; `live`: leases and reports in memory, health written behind;
//! - `validate`: testing a pool, and its periodic validation on the engine queue `proxy`.

pub mod client;
pub mod endpoint;
pub mod health;
pub mod live;
pub mod pool;
pub mod probe;
pub mod select;
pub mod validate;
