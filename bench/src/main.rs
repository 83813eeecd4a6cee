//! `trellis-bench`: starts a release `trellis` with a scratch data directory, drives load over
//! loopback and prints the figures recorded in `docs/PERFORMANCE.md`.

#![expect(
    clippy::expect_used,
    reason = "a load generator with fixed inputs: a failed setup step (fixed Argon2 params, \
              an in-memory zip, a runtime) should stop the run loudly"
)]

mod accounts;
mod api;
mod console;
mod engine;
mod microdock;
mod momentum;
mod probe;
mod proxy;
mod server;
mod slow_clients;
mod sse;
mod wire;
mod ws;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "trellis-bench", about = "Trellis load scenarios")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Login throughput vs the hash ceiling, /health latency and RSS during a login storm,
    /// idle RSS.
    Accounts(accounts::Args),
    /// Console pages with the bench data sets: HTML size, first render and median render of
    /// every page kind reached from `/console/` (issue 13).
    Console(console::Args),
    /// Workflow engine: 3-step executions started over HTTP, completed per second, p99
    /// start-to-finish and cancel latency under load (issue 10).
    Engine(engine::Args),
    /// Plugin list vs a FastAPI reference, 100 MiB uploads and downloads.
    Microdock(microdock::Args),
    /// Momentum REST reads and issue creation at 64 connections, queries per request, and
    /// optionally the original project side by side (issue 8).
    Momentum(momentum::Args),
    /// Proxy pools: lease + report round trips at a fixed rate against 1,000 proxies, a
    /// pool test of 1,000 real local proxies, Qidian catalog parsing (issue 11).
    Proxy(proxy::Args),
    /// Slowloris headers, idle keep-alive and trickled uploads: connections held over time
    /// and downloads served meanwhile (issue 7).
    SlowClients(slow_clients::Args),
    /// Diet planner: 10,000 SSE followers of 100 running plan tasks (RSS), a reconnect storm
    /// with `Last-Event-ID` (time, events lost and duplicated), the no-key plan time (issue 12).
    Sse(sse::Args),
    /// Interactive Momentum WebSocket client: commands from standard input, frames printed as
    /// JSON lines (issue 9; the seed's `websocket_client`).
    WsClient(ws::ClientArgs),
    /// Momentum WebSocket load: connection storm, command throughput, sustained commands,
    /// broadcast fan-out and resume after a reconnect storm (issue 9; the seed's
    /// `websocket_stress_test`).
    WsStress(ws::StressArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::Accounts(a) => accounts::run(a).await,
        Scenario::Console(a) => console::run(a).await,
        Scenario::Engine(a) => engine::run(a).await,
        Scenario::Microdock(a) => microdock::run(a).await,
        Scenario::Momentum(a) => momentum::run(a).await,
        Scenario::Proxy(a) => proxy::run(a).await,
        Scenario::SlowClients(a) => slow_clients::run(a).await,
        Scenario::Sse(a) => sse::run(a).await,
        Scenario::WsClient(a) => ws::run_client(a).await,
        Scenario::WsStress(a) => ws::run_stress(a).await,
    }
}
