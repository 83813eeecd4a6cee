//! Momentum's realtime layer (seed 002 "WebSocket 实时通信", "WebSocket 命令系统", "管理端点";
//! issue 9): the `/ws` socket with its commands, topic events from the change log, presence
//! and loss-free resume, and the `/ws/*` monitoring endpoints, on the kernel's
//! [`Hub`](trellis_kernel::realtime::Hub).
//!
//! How an event travels: a mutation (REST or command) appends to `mm_changes` in its
//! transaction and records a [`Notice`]; once it has committed, the request's wrapper
//! ([`notify_changes`], or the socket after a command) wakes the workspace's
//! [`feed`](feed) on this instance and, with Redis, on every other. Each instance's feed reads
//! the log after its cursor, in `sync_id` order, and queues one `event` frame per entry to the
//! local sockets subscribed to the topics the entry touches. A second-by-second read catches
//! wake-ups lost on the way. Sockets drop what they already sent (by `sync_id`), so a resume
//! (a replay from the log) and live delivery meet with no gap and no duplicate.

pub mod admin;
pub mod commands;
pub mod feed;
pub mod frames;
pub mod socket;
pub mod topics;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use trellis_kernel::realtime::{Hub, HubConfig};
use utoipa_axum::router::OpenApiRouter;

use crate::service::Notice;
use crate::settings::Settings;
use crate::state::MomentumState;

/// The kv pub/sub channel instances tell each other about new change-log entries on.
const CHANGED: &str = "mm:changed";

/// How long a command reply is kept for a repeated `request_id` (issue 9: 5 minutes).
pub const IDEMPOTENCY_SECONDS: u64 = 300;

/// How long a `POST /ws/ticket` ticket is valid (issue 9: 30 s).
pub const TICKET_SECONDS: u64 = 30;

/// Momentum's live state: the hub and the feeds of the workspaces followed here.
pub struct Live {
    /// Connections, topics, fan-out.
    pub hub: Hub,
    /// Per-workspace change-log readers.
    pub feeds: feed::Feeds,
}

impl Live {
    /// The live state for `settings`; nothing runs until [`Live::start`].
    pub fn new(platform: &trellis_kernel::Platform, settings: &Settings) -> Live {
        Live {
            hub: Hub::new(
                platform.kv.clone(),
                HubConfig {
                    max_connections: settings.ws_max_connections,
                    max_per_user: settings.ws_max_per_user,
                    queue: settings.ws_queue_frames,
                },
                &platform.metrics,
            ),
            feeds: feed::Feeds::default(),
        }
    }

    /// Starts the background listeners: other instances' frames (the hub's bus), their
    /// change notices, and revocations (which close the sessions' sockets with 4000).
    pub fn start(st: &MomentumState) {
        let shutdown = st.platform.tasks.token();
        st.live.hub.start_bus(shutdown.clone());
        // Revocations: logout, password change, session revoked, user banned or deleted.
        let mut revoked = st.identity.revocations();
        let hub = st.live.hub.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let r = tokio::select! {
                    () = stop.cancelled() => return,
                    r = revoked.recv() => r,
                };
                match r {
                    Ok(r) => {
                        hub.close_sessions(&r.sessions, r.user, 4000, "session revoked");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(
                            missed = n,
                            "revocations lagged; sockets recheck their session on their next ping"
                        );
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        // Change notices from other instances.
        if matches!(st.platform.kv, trellis_kernel::kv::Kv::Redis(_)) {
            let st = st.clone();
            tokio::spawn(async move {
                loop {
                    let sub = tokio::select! {
                        () = shutdown.cancelled() => return,
                        s = st.platform.kv.subscribe(CHANGED) => s,
                    };
                    match sub {
                        Ok(mut sub) => loop {
                            let m = tokio::select! {
                                () = shutdown.cancelled() => return,
                                m = sub.recv() => m,
                            };
                            let Some(m) = m else { break };
                            if let Some(ws) = std::str::from_utf8(&m)
                                .ok()
                                .and_then(|s| s.parse::<uuid::Uuid>().ok())
                            {
                                st.live.feeds.wake(ws);
                            }
                        },
                        Err(e) => tracing::warn!(error = %e, "change notices: cannot subscribe"),
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            });
        }
    }
}

/// Wakes the feeds of the workspaces `notices` name, here and (with Redis) on every other
/// instance; closes the subscriptions to deleted workspaces.
pub async fn notify(st: &MomentumState, notices: &[Notice]) {
    let mut seen: Vec<uuid::Uuid> = Vec::new();
    for n in notices {
        match *n {
            Notice::Logged { workspace_id, .. } => {
                if !seen.contains(&workspace_id) {
                    seen.push(workspace_id);
                }
            }
            Notice::WorkspaceDeleted(_) => {
                // Every socket rechecks its subscriptions (rare; cheap).
                st.live.hub.deliver(
                    &[trellis_kernel::realtime::ALL_TOPIC],
                    &trellis_kernel::realtime::Outbound::Signal(Arc::from(socket::RECHECK)),
                );
            }
        }
    }
    for ws in seen {
        st.live.feeds.wake(ws);
        if matches!(st.platform.kv, trellis_kernel::kv::Kv::Redis(_))
            && let Err(e) = st
                .platform
                .kv
                .publish(CHANGED, bytes::Bytes::from(ws.to_string()))
                .await
        {
            tracing::warn!(error = %e, "cannot tell other instances about a change; their feeds read it within a second");
        }
    }
}

/// Middleware on Momentum's routes: runs the request recording its change notices, then,
/// with the response ready (the transactions committed), wakes the feeds.
pub async fn notify_changes(State(st): State<MomentumState>, req: Request, next: Next) -> Response {
    if req.method() == axum::http::Method::GET || req.method() == axum::http::Method::HEAD {
        return next.run(req).await;
    }
    let (res, notices) = crate::service::recording(next.run(req)).await;
    if !notices.is_empty() {
        notify(&st, &notices).await;
    }
    res
}

/// The `/ws` routes.
pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .merge(socket::router())
        .merge(admin::router())
}
