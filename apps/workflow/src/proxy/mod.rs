//! Proxy pools (seed 000 "代理池管理 API", bounded context `proxy_pool`, "智能代理池管理").
//!
//! - `endpoint`: a proxy's address and credentials (`scheme://user:pass@host:port`);
//! - `client`: one `reqwest::Client` per proxy, built once and reused;
//! - `probe`: testing one proxy against a judge URL (latency, anonymity, outcome);
//! - `health`: per-(proxy, target host) scores fed by tests and reported outcomes;
//! - `select`: the pool's selection strategies.

pub mod client;
pub mod endpoint;
pub mod probe;
