//! `GET /ws` (seed 002 "连接方式") and `POST /ws/ticket`: the socket's authentication, its
//! first frames, commands, subscriptions, resume, heartbeat and closes (issue 9).
//!
//! Closes: 4401 bad or expired token, 4403 account not active, 4408 idle for
//! `WS_CONNECTION_TIMEOUT`, 4429 flooding after rate-limit replies, 4000 session revoked,
//! 4409 send queue full (`resync_required`: reconnect and resume).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest;
use trellis_identity::{IdentityError, Principal};
use trellis_kernel::ApiError;
use trellis_kernel::extract::Query;
use trellis_kernel::realtime::{CLOSE_RESYNC, Connection, Outbound, RegisterError, group_topic};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::commands::{self, Command, CommandError};
use super::feed::feed_topic;
use super::frames::{self, MessageType};
use super::topics::{Refusal, Topic};
use crate::envelope::{Reply, created};
use crate::error::MomentumError;
use crate::routes::access::{Account, bucket};
use crate::service::Notice;
use crate::service::auth::{AUDIENCE, current_workspace};
use crate::state::MomentumState;
use crate::store::changes;
use crate::store::live;

/// Members listed in `initial_data` (the oldest memberships first); `workspace_members_total`
/// gives the full count and `GET /workspace-members` the rest. The socket's write buffer
/// keeps the size of the largest frame it ever wrote, so an unbounded first frame (a
/// 500-member workspace's is about 120 KiB) would stay allocated for every idle socket.
pub const INITIAL_MEMBERS: usize = 100;

/// The commands a socket of a console session may send (following changes only).
const CONSOLE_COMMANDS: &[&str] = &[
    "ping",
    "get_connection_info",
    "subscribe",
    "unsubscribe",
    "resume",
];

/// The signal that makes a socket re-authorize its subscriptions.
pub const RECHECK: &str = "recheck";

/// Largest frame a client may send (bytes); commands are small.
const MAX_MESSAGE: usize = 256 * 1024;

/// Longest wait for one frame to be written: a client that stops reading cannot hold its
/// task (and the frames behind it) for longer; its socket is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest wait for the closing frames to be written.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Commands whose result depends only on the moment (never stored for idempotency).
const READ_ONLY: &[&str] = &[
    "ping",
    "get_connection_info",
    "query_labels",
    "query_teams",
    "list_team_members",
    "query_workspace_members",
    "get_current_workspace",
    "query_project_statuses",
    "get_project_status_by_id",
    "query_projects",
    "query_issues",
    "get_issue",
];

/// The routes of this module.
pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .routes(routes!(connect))
        .routes(routes!(ticket))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct ConnectQuery {
    /// A Momentum access token (seed 002: `/ws?token=<JWT>`). Or send `Authorization:
    /// Bearer`, or use `ticket`.
    token: Option<String>,
    /// A single-use ticket from `POST /ws/ticket` (valid 30 s), so browsers need not put the
    /// token in URLs.
    ticket: Option<String>,
    /// Resume: replay the current workspace's events after this `sync_id`, then continue
    /// live (0 or more).
    #[param(minimum = 0)]
    after_sync_id: Option<i64>,
}

/// Opens the realtime socket (RFC 6455 upgrade). First frames: `system_message`
/// `{type: "connected", connection_id, online_users}`, then `initial_data {user, workspaces,
/// current_workspace, teams, workspace_members, sync_id}`, then presence. Errors before the
/// upgrade: 401 without credentials, 426 without an upgrade request, 429 over the per-user
/// socket cap, 503 at `WS_MAX_CONNECTIONS`; an upgrade with a bad token is accepted and closed
/// with 4401 (4403 for an inactive account) so browsers can read the reason.
#[utoipa::path(get, path = "/ws", tag = "momentum", params(ConnectQuery),
    responses((status = 101, description = "Switching protocols: the socket is open"),
        (status = 401, description = "UNAUTHENTICATED: no token, ticket or bearer header"),
        (status = 422, description = "VALIDATION_ERROR: after_sync_id below 0"),
        (status = 426, description = "UPGRADE_REQUIRED: not a WebSocket upgrade request"),
        (status = 429, description = "TOO_MANY_CONNECTIONS: the user's socket cap"),
        (status = 503, description = "SERVICE_UNAVAILABLE: the server's socket cap")))]
async fn connect(
    State(st): State<MomentumState>,
    Query(q): Query<ConnectQuery>,
    parts: Parts,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    if q.after_sync_id.is_some_and(|a| a < 0) {
        return ApiError::from(MomentumError::field(
            "after_sync_id",
            "out_of_range",
            "must be 0 or more",
        ))
        .into_response();
    }
    let bearer = trellis_identity::auth::bearer(&parts).map(str::to_string);
    let credential = match (q.ticket, q.token.or(bearer)) {
        (Some(t), _) => Credential::Ticket(t),
        (None, Some(t)) => Credential::Token(t),
        (None, None) => {
            return ApiError::from(IdentityError::Unauthenticated).into_response();
        }
    };
    let principal = authenticate(&st, &credential).await;
    let Ok(upgrade) = upgrade else {
        return match principal {
            Err(e) => ApiError::from(e).into_response(),
            Ok(_) => ApiError::new(
                StatusCode::UPGRADE_REQUIRED,
                "UPGRADE_REQUIRED",
                "this endpoint speaks WebSocket (RFC 6455): send an upgrade request",
            )
            .into_response(),
        };
    };
    let upgrade = upgrade
        // Commands are small: a 1 KiB read buffer (it grows for a larger frame) instead of
        // the 128 KiB default, which would cost 1.25 GiB per 10,000 idle sockets.
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE);
    let p = match principal {
        Ok(p) => p,
        Err(e) => {
            let code = match e {
                IdentityError::AccountNotActive(_) | IdentityError::Forbidden => 4403,
                _ => 4401,
            };
            let reason = ApiError::from(e).message.to_string();
            return upgrade.on_upgrade(move |mut socket| async move {
                let _ = socket
                    .send(Message::Close(Some(CloseFrame {
                        code,
                        reason: Utf8Bytes::from(truncate(&reason)),
                    })))
                    .await;
            });
        }
    };
    let group = match current_workspace(&st, p.user_id).await {
        Ok((ws, _)) => Some(ws),
        Err(MomentumError::NoWorkspace) => None,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let conn = match st
        .live
        .hub
        .register(p.user_id, p.session_id, group, st.now())
    {
        Ok(c) => c,
        Err(RegisterError::Full) => {
            return ApiError::unavailable("the server holds its maximum number of sockets")
                .into_response();
        }
        Err(RegisterError::UserCap) => {
            return ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_CONNECTIONS",
                format!(
                    "at most {} open sockets per user",
                    st.settings.ws_max_per_user
                ),
            )
            .into_response();
        }
    };
    let after = q.after_sync_id;
    upgrade.on_upgrade(move |socket| async move {
        let (sink, stream) = socket.split();
        let connected_at = st.now();
        let mut s = Sock {
            st,
            p,
            group,
            conn,
            sink,
            subs: HashMap::new(),
            follows: HashMap::new(),
            last_sent: HashMap::new(),
            rejected: 0,
            present: false,
            connected_at,
        };
        s.run(stream, after).await;
    })
}

fn truncate(s: &str) -> String {
    // Close reasons are at most 123 bytes (RFC 6455 §5.5).
    let mut end = s.len().min(120);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

enum Credential {
    Token(String),
    Ticket(String),
}

/// What a ticket stands for (kept hashed-keyed in the key-value store for 30 s).
#[derive(Serialize, Deserialize)]
struct TicketBody {
    user: Uuid,
    session: Uuid,
    exp: i64,
    /// The audience of the session the ticket was issued for: Momentum's API tokens, or the
    /// console's cookie session (the recheck reads the session, whatever its audience).
    #[serde(default = "momentum_audience")]
    aud: String,
}

fn momentum_audience() -> String {
    AUDIENCE.to_string()
}

fn ticket_key(ticket: &str) -> String {
    format!(
        "mm:ws:ticket:{}",
        hex::encode(sha2::Sha256::digest(ticket.as_bytes()))
    )
}

async fn authenticate(st: &MomentumState, c: &Credential) -> Result<Principal, IdentityError> {
    match c {
        Credential::Token(t) => st.identity.authenticate(t, AUDIENCE).await,
        Credential::Ticket(t) => {
            let key = ticket_key(t);
            let kv = &st.platform.kv;
            let body = kv
                .get(&key)
                .await
                .map_err(|_| IdentityError::InvalidToken)?
                .ok_or(IdentityError::InvalidToken)?;
            // Single use: only the caller whose delete removed it may use it.
            if !kv
                .del(&key)
                .await
                .map_err(|_| IdentityError::InvalidToken)?
            {
                return Err(IdentityError::InvalidToken);
            }
            let b: TicketBody =
                serde_json::from_str(&body).map_err(|_| IdentityError::InvalidToken)?;
            st.identity
                .recheck(&Principal {
                    user_id: b.user,
                    session_id: b.session,
                    role: trellis_identity::domain::Role::User,
                    expires_at: b.exp,
                    audience: b.aud,
                })
                .await
        }
    }
}

/// A WebSocket ticket.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WsTicket)]
pub struct Ticket {
    /// Pass as `/ws?ticket=`; single use.
    pub ticket: String,
    /// Seconds it stays valid (30).
    pub expires_in: u64,
}

/// A single-use ticket for `/ws?ticket=` valid 30 s, so browsers need not put the access
/// token in URLs (issue 9 "Connection"). Stored only as its SHA-256.
#[utoipa::path(post, path = "/ws/ticket", tag = "momentum",
    responses((status = 201, body = Ticket), (status = 401, description = "not signed in")),
    security(("bearer" = [])))]
async fn ticket(State(st): State<MomentumState>, Account(p): Account) -> Reply<Ticket> {
    Ok(created(issue_ticket(&st, &p).await?, "ticket issued"))
}

/// Issues a single-use `/ws?ticket=` ticket for `p`'s session, valid
/// [`super::TICKET_SECONDS`]: `POST /ws/ticket` for API tokens and the console's
/// `POST /console/issues/ws-ticket` for its cookie session. The socket opened with it
/// rechecks that session (revoked, banned, deleted: refused) whatever its audience.
pub async fn issue_ticket(st: &MomentumState, p: &Principal) -> Result<Ticket, ApiError> {
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut raw);
    let t = hex::encode(raw);
    let body = serde_json::to_string(&TicketBody {
        user: p.user_id,
        session: p.session_id,
        exp: p.expires_at,
        aud: p.audience.clone(),
    })
    .map_err(ApiError::internal)?;
    st.platform
        .kv
        .set(
            &ticket_key(&t),
            &body,
            Some(Duration::from_secs(super::TICKET_SECONDS)),
        )
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(Ticket {
        ticket: t,
        expires_in: super::TICKET_SECONDS,
    })
}

/// One followed topic.
struct Sub {
    topic: Topic,
    hub: String,
    workspace: Uuid,
}

/// The state of one open socket.
struct Sock {
    st: MomentumState,
    p: Principal,
    group: Option<Uuid>,
    conn: Connection,
    sink: SplitSink<WebSocket, Message>,
    /// Client topic name → subscription.
    subs: HashMap<String, Sub>,
    /// Workspace → how many subscriptions follow it (the feed topic is held while > 0).
    follows: HashMap<Uuid, usize>,
    /// Workspace → the last `sync_id` written to this socket.
    last_sent: HashMap<Uuid, i64>,
    /// Rate-limited commands in a row.
    rejected: u32,
    /// Whether this socket counts in its workspace's presence.
    present: bool,
    connected_at: chrono::DateTime<chrono::Utc>,
}

/// A command's reply data.
#[derive(Serialize)]
struct ReplyData<'a> {
    command_type: &'a str,
    request_id: Option<&'a str>,
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sync_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
}

fn error_value(e: &CommandError) -> Value {
    let mut v = json!({"code": e.code, "message": e.message});
    if let Some(f) = &e.field {
        v["field"] = json!(f);
    }
    if let Some(d) = &e.details {
        v["details"] = d.clone();
    }
    v
}

fn cmd_error(code: &str, message: impl Into<String>) -> CommandError {
    CommandError {
        code: code.to_string(),
        message: message.into(),
        field: None,
        details: None,
        retry_after_ms: None,
    }
}

/// Why the loop ended.
enum End {
    /// The client went away (or the write failed).
    Gone,
    /// Close with this code and reason.
    Close(u16, String),
}

impl Sock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.st.now()
    }

    async fn send(&mut self, b: Bytes) -> Result<(), End> {
        let text = Utf8Bytes::try_from(b).map_err(|_| End::Gone)?;
        match tokio::time::timeout(WRITE_TIMEOUT, self.sink.send(Message::Text(text))).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(End::Gone),
        }
    }

    async fn run(
        &mut self,
        mut stream: futures::stream::SplitStream<WebSocket>,
        after: Option<i64>,
    ) {
        // The one-off and rarely taken steps run boxed: a task's future is as large as its
        // largest state, and a command's (every service function's) would otherwise be
        // carried by every idle socket.
        let end = match Box::pin(self.open(after)).await {
            Ok(()) => self.serve(&mut stream).await,
            Err(e) => e,
        };
        if let End::Close(code, reason) = end {
            let resync = (code == CLOSE_RESYNC).then(|| {
                frames::system(
                    "resync_required",
                    "too many frames queued for this socket; reconnect and resume from your last sync_id",
                    json!({"last_sync_ids": self.last_sent}),
                    self.now(),
                )
            });
            let sink = &mut self.sink;
            let closing = async move {
                if let Some(f) = resync.and_then(|f| Utf8Bytes::try_from(f).ok()) {
                    sink.send(Message::Text(f)).await?;
                }
                sink.send(Message::Close(Some(CloseFrame {
                    code,
                    reason: Utf8Bytes::from(truncate(&reason)),
                })))
                .await
            };
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.sink.close()).await;
        Box::pin(self.leave_presence()).await;
    }

    /// The first frames: connected, initial data, presence; then the resume asked for on
    /// the upgrade.
    async fn open(&mut self, after: Option<i64>) -> Result<(), End> {
        let online = match self.group {
            Some(ws) => self.st.live.hub.online(ws).await.len(),
            None => 0,
        };
        // Counted in presence before the first frame: a client that has its opening frames
        // finds itself in `/ws/online`.
        let joined = match self.group {
            Some(ws) => {
                let n = self.st.live.hub.join(ws, self.p.user_id).await;
                self.present = true;
                Some((ws, n))
            }
            None => None,
        };
        let f = frames::system(
            "connected",
            "Connected successfully",
            json!({"connection_id": self.conn.id, "user_id": self.p.user_id, "online_users": online}),
            self.now(),
        );
        self.send(f).await?;
        let init = self.initial_data().await;
        self.send(frames::simple(MessageType::InitialData, &init, self.now()))
            .await?;
        if let Some((ws, n)) = joined {
            if n == 1 {
                let user = init.get("user").cloned().unwrap_or(Value::Null);
                let f = frames::simple(
                    MessageType::UserJoined,
                    &json!({"user": user, "workspace_id": ws, "connected_at": self.connected_at, "connections": n}),
                    self.now(),
                );
                self.st.live.hub.publish(&group_topic(ws), f).await;
            }
            if let Some(after) = after {
                let r = self.resume(ws, after).await;
                let f = match r {
                    Ok(v) => frames::system(
                        "resumed",
                        "replayed the events after after_sync_id",
                        v,
                        self.now(),
                    ),
                    Err(e) => frames::system(
                        "resume_failed",
                        &e.message,
                        json!({"code": e.code}),
                        self.now(),
                    ),
                };
                self.send(f).await?;
            }
        }
        Ok(())
    }

    async fn initial_data(&self) -> Value {
        use crate::service::{teams, workspaces};
        let st = &self.st;
        let user = crate::service::auth::profile(st, &self.p).await.ok();
        let mine = workspaces::list_mine(st, self.p.user_id)
            .await
            .unwrap_or_default();
        let mut out = json!({
            "user": user,
            "workspaces": mine,
            "current_workspace": null,
            "teams": [],
            "workspace_members": [],
            "workspace_members_total": 0,
            "sync_id": null,
        });
        if let Ok((ws, role)) = current_workspace(st, self.p.user_id).await {
            let scope = crate::service::Scope {
                workspace_id: ws,
                actor: self.p.user_id,
                role,
                now: st.now(),
            };
            out["current_workspace"] = json!(workspaces::current(st, ws, role).await.ok());
            out["teams"] = json!(teams::list(st, &scope).await.unwrap_or_default());
            out["workspace_members"] = json!(
                workspaces::members_of(st, self.p.user_id, ws)
                    .await
                    .unwrap_or_default()
            );
            out["sync_id"] = json!(live::head(&st.platform.db, ws).await.ok().flatten());
        }
        out
    }

    async fn leave_presence(&mut self) {
        let group = self.group.take();
        if let (Some(ws), true) = (group, std::mem::take(&mut self.present)) {
            let n = self.st.live.hub.leave(ws, self.p.user_id).await;
            if n == 0 {
                let username =
                    crate::store::profiles::summary(&self.st.platform.db, self.p.user_id)
                        .await
                        .ok()
                        .flatten()
                        .map(|u| u.username)
                        .unwrap_or_default();
                let f = frames::simple(
                    MessageType::UserLeft,
                    &json!({"user_id": self.p.user_id, "username": username, "workspace_id": ws,
                        "message": format!("{username} left"), "connections": 0}),
                    self.now(),
                );
                self.st.live.hub.publish(&group_topic(ws), f).await;
            }
        }
    }

    async fn serve(&mut self, stream: &mut futures::stream::SplitStream<WebSocket>) -> End {
        let ping_every = Duration::from_secs(self.st.settings.ws_ping_interval);
        let idle_ms = (self.st.settings.ws_connection_timeout * 1000) as i64;
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        let mut close = self.conn.close.clone();
        loop {
            tokio::select! {
                biased;
                changed = close.changed() => {
                    if changed.is_err() {
                        return End::Gone;
                    }
                    if let Some(req) = close.borrow().clone() {
                        return End::Close(req.code, req.reason);
                    }
                }
                item = self.conn.rx.recv() => {
                    let Some(item) = item else { return End::Gone };
                    if let Err(e) = self.outbound(item).await {
                        return e;
                    }
                }
                msg = stream.next() => {
                    let Some(Ok(msg)) = msg else { return End::Gone };
                    self.conn.last_seen.store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
                    match msg {
                        Message::Text(t) => {
                            self.st.live.hub.count_in();
                            if let Err(e) = self.inbound(t.as_str()).await {
                                return e;
                            }
                        }
                        Message::Binary(_) => {
                            self.st.live.hub.count_error();
                            let f = frames::error("UNSUPPORTED_FRAME", "send JSON text frames", self.now());
                            if let Err(e) = self.send(f).await {
                                return e;
                            }
                        }
                        Message::Close(_) => return End::Gone,
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                _ = ping.tick() => {
                    let idle = chrono::Utc::now().timestamp_millis() - self.conn.last_seen.load(Ordering::Relaxed);
                    if idle > idle_ms {
                        return End::Close(4408, "idle timeout".into());
                    }
                    // The session may have ended where no revocation reached us.
                    let st = self.st.clone();
                    match Box::pin(st.identity.recheck(&self.p)).await {
                        Ok(_) => {}
                        Err(IdentityError::AccountNotActive(_)) => return End::Close(4403, "account not active".into()),
                        Err(IdentityError::TokenRevoked) => return End::Close(4000, "session revoked".into()),
                        Err(_) => {}
                    }
                    // Bounded like every other write: a client that stopped reading cannot
                    // hold the task here.
                    let ping = self.sink.send(Message::Ping(Bytes::new()));
                    if !matches!(tokio::time::timeout(WRITE_TIMEOUT, ping).await, Ok(Ok(()))) {
                        return End::Gone;
                    }
                }
            }
        }
    }

    async fn outbound(&mut self, item: Outbound) -> Result<(), End> {
        match item {
            Outbound::Frame(b) => self.send(b).await,
            Outbound::Event(e) => {
                let last = self.last_sent.entry(e.stream).or_insert(0);
                if e.seq <= *last {
                    return Ok(());
                }
                *last = e.seq;
                self.send(e.frame.clone()).await
            }
            Outbound::Signal(s) if &*s == RECHECK => Box::pin(self.recheck()).await,
            Outbound::Signal(_) => Ok(()),
        }
    }

    async fn inbound(&mut self, text: &str) -> Result<(), End> {
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                self.st.live.hub.count_error();
                let f = frames::error("INVALID_JSON", &format!("not JSON: {e}"), self.now());
                return self.send(f).await;
            }
        };
        match v.get("message_type").and_then(Value::as_str) {
            Some("ping") => {
                let f = frames::simple(
                    MessageType::Pong,
                    &json!({"timestamp": self.now()}),
                    self.now(),
                );
                return self.send(f).await;
            }
            Some("pong") => return Ok(()),
            Some("command") => {}
            Some(other) if v.get("type").is_none() => {
                self.st.live.hub.count_error();
                let f = frames::error(
                    "UNSUPPORTED_MESSAGE_TYPE",
                    &format!(
                        "clients send commands and pings, not {other}; messages to users go through POST /ws/send"
                    ),
                    self.now(),
                );
                return self.send(f).await;
            }
            _ => {}
        }
        if !v.is_object() {
            self.st.live.hub.count_error();
            let f = frames::error("INVALID_MESSAGE", "a frame is a JSON object", self.now());
            return self.send(f).await;
        }
        let cmd = match Command::parse(&v) {
            Ok(c) => c,
            Err(e) => {
                self.st.live.hub.count_error();
                let f = frames::simple(
                    MessageType::CommandResponse,
                    &ReplyData {
                        command_type: "unknown",
                        request_id: v.get("request_id").and_then(Value::as_str),
                        success: false,
                        data: None,
                        error: Some(error_value(&e)),
                        sync_id: None,
                        retry_after_ms: None,
                    },
                    self.now(),
                );
                return self.send(f).await;
            }
        };
        Box::pin(self.command(cmd)).await
    }

    async fn command(&mut self, cmd: Command) -> Result<(), End> {
        let st = self.st.clone();
        st.live.hub.count_command();
        // A socket opened with a console session's ticket only follows changes (the board's
        // live refresh): a console cookie is no API credential, so it runs no other command.
        if self.p.audience == trellis_console::session::AUDIENCE
            && !CONSOLE_COMMANDS.contains(&cmd.kind.as_str())
        {
            let e = cmd_error(
                "FORBIDDEN",
                "a console session's socket only subscribes to changes; use an API token for commands",
            );
            return self.reply(&cmd, Err(e), None).await;
        }
        // The per-user bucket (shared with REST writes and every socket of the user).
        if cmd.kind != "ping"
            && cmd.kind != "get_connection_info"
            && let Some(d) = bucket(&st, self.p.user_id).await
        {
            if !d.allowed {
                self.rejected += 1;
                if self.rejected > st.settings.rate_burst.saturating_mul(2) {
                    return Err(End::Close(4429, "rate limited".into()));
                }
                let mut e = cmd_error("RATE_LIMITED", "too many commands; slow down");
                e.retry_after_ms = Some(d.retry_after.as_millis().max(1) as u64);
                return self.reply(&cmd, Err(e), None).await;
            }
            self.rejected = 0;
        }
        let stored = self.remembered(&cmd).await;
        if let Some(r) = stored {
            return match r {
                Ok(data) => {
                    let f = frames::simple(MessageType::CommandResponse, &data, self.now());
                    self.send(f).await
                }
                Err(e) => self.reply(&cmd, Err(e), None).await,
            };
        }
        let (result, sync_id) = match cmd.kind.as_str() {
            "ping" => (Ok(json!({"pong": true, "timestamp": self.now()})), None),
            "get_connection_info" => (Ok(self.connection_info()), None),
            "subscribe" => (self.subscribe(&cmd).await, None),
            "unsubscribe" => (self.unsubscribe(&cmd), None),
            "resume" => (self.resume_command(&cmd).await, None),
            _ => {
                let (r, notices) =
                    crate::service::recording(commands::run(&st, &self.p, &cmd)).await;
                if !notices.is_empty() {
                    super::notify(&st, &notices).await;
                }
                let sync_id = notices
                    .iter()
                    .filter_map(|n| match n {
                        Notice::Logged { sync_id, .. } => Some(*sync_id),
                        Notice::WorkspaceDeleted(_) => None,
                    })
                    .max();
                (r, sync_id)
            }
        };
        let sync_id = if result.is_ok() { sync_id } else { None };
        self.reply(&cmd, result, sync_id).await
    }

    /// Sends the reply and, for a mutating command with a `request_id`, keeps it for
    /// [`super::IDEMPOTENCY_SECONDS`].
    async fn reply(
        &mut self,
        cmd: &Command,
        result: Result<Value, CommandError>,
        sync_id: Option<i64>,
    ) -> Result<(), End> {
        if result.is_err() {
            self.st.live.hub.count_error();
        }
        let retry = result.as_ref().err().and_then(|e| e.retry_after_ms);
        let (data, error) = match result {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(error_value(&e))),
        };
        let body = ReplyData {
            command_type: &cmd.kind,
            request_id: cmd.request_id.as_deref(),
            success: error.is_none(),
            data,
            error,
            sync_id,
            retry_after_ms: retry,
        };
        let rate_limited = retry.is_some();
        if let (Some(key), false) = (self.idempotency_key(cmd), rate_limited)
            && let Ok(text) = serde_json::to_string(&body)
            && let Err(e) = self
                .st
                .platform
                .kv
                .set(
                    &key,
                    &text,
                    Some(Duration::from_secs(super::IDEMPOTENCY_SECONDS)),
                )
                .await
        {
            tracing::warn!(error = %e, "cannot keep a command reply for idempotency");
        }
        let f = frames::simple(MessageType::CommandResponse, &body, self.now());
        self.send(f).await
    }

    fn idempotency_key(&self, cmd: &Command) -> Option<String> {
        let rid = cmd.request_id.as_deref()?;
        if READ_ONLY.contains(&cmd.kind.as_str())
            || matches!(cmd.kind.as_str(), "subscribe" | "unsubscribe" | "resume")
        {
            return None;
        }
        let h = hex::encode(sha2::Sha256::digest(rid.as_bytes()));
        Some(format!("mm:ws:reply:{}:{h}", self.p.user_id))
    }

    /// The stored reply of an earlier command with the same `request_id` (issue 9:
    /// idempotency for 5 minutes); claims the id when it is new. A command still running
    /// elsewhere with that id answers `DUPLICATE_REQUEST` after waiting up to 2 s.
    async fn remembered(&self, cmd: &Command) -> Option<Result<Value, CommandError>> {
        let key = self.idempotency_key(cmd)?;
        let kv = &self.st.platform.kv;
        match kv
            .set_nx(&key, "", Duration::from_secs(super::IDEMPOTENCY_SECONDS))
            .await
        {
            Ok(true) => return None,
            Ok(false) => {}
            Err(_) => return None,
        }
        for _ in 0..40 {
            match kv.get(&key).await {
                Ok(Some(v)) if !v.is_empty() => {
                    return serde_json::from_str::<Value>(&v).ok().map(Ok);
                }
                Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
                _ => return None,
            }
        }
        Some(Err(cmd_error(
            "DUPLICATE_REQUEST",
            "a command with this request_id is still running",
        )))
    }

    fn connection_info(&self) -> Value {
        json!({
            "connection_id": self.conn.id,
            "user_id": self.p.user_id,
            "workspace_id": self.group,
            "connected_at": self.connected_at,
            "topics": self.subs.keys().collect::<Vec<_>>(),
            "last_sync_ids": self.last_sent,
            "queue_capacity": self.st.settings.ws_queue_frames,
        })
    }

    fn topic_names(cmd: &Command) -> Result<Vec<String>, CommandError> {
        let v = cmd
            .args
            .get("topics")
            .or_else(|| cmd.args.get("data").and_then(|d| d.get("topics")))
            .ok_or_else(|| {
                let mut e = cmd_error("VALIDATION_ERROR", "topics: required");
                e.field = Some("topics".into());
                e
            })?;
        let list: Vec<String> = match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .map(|t| t.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    let mut e = cmd_error("VALIDATION_ERROR", "topics: must be a list of strings");
                    e.field = Some("topics".into());
                    e
                })?,
            _ => {
                let mut e = cmd_error("VALIDATION_ERROR", "topics: must be a list of strings");
                e.field = Some("topics".into());
                return Err(e);
            }
        };
        if list.is_empty() || list.len() > 100 {
            let mut e = cmd_error("VALIDATION_ERROR", "topics: give 1 to 100 topics");
            e.field = Some("topics".into());
            return Err(e);
        }
        Ok(list)
    }

    async fn subscribe(&mut self, cmd: &Command) -> Result<Value, CommandError> {
        let names = Self::topic_names(cmd)?;
        let current = current_workspace(&self.st, self.p.user_id)
            .await
            .ok()
            .map(|(w, _)| w);
        let mut ok = Vec::new();
        let mut refused = Vec::new();
        for name in &names {
            let t = match Topic::parse(name, current) {
                Ok(t) => t,
                Err(r) => {
                    refused.push((name.clone(), r));
                    continue;
                }
            };
            match t.authorize(&self.st, self.p.user_id).await {
                Ok(ws) => ok.push((t, ws)),
                Err(r) => refused.push((name.clone(), r)),
            }
        }
        if let Some((name, r)) = refused.first() {
            let code = match r {
                Refusal::Unknown => "UNKNOWN_TOPIC",
                Refusal::Forbidden => "FORBIDDEN_TOPIC",
                Refusal::Store(_) => "INTERNAL_ERROR",
            };
            let mut e = cmd_error(
                code,
                format!("cannot subscribe to {name}: unknown, missing or not visible to you"),
            );
            e.field = Some("topics".into());
            e.details = Some(json!(refused.iter().map(|(n, r)| json!({
                "topic": n,
                "code": match r { Refusal::Unknown => "UNKNOWN_TOPIC", Refusal::Forbidden => "FORBIDDEN_TOPIC", Refusal::Store(_) => "INTERNAL_ERROR" },
            })).collect::<Vec<_>>()));
            return Err(e);
        }
        let mut sync_ids = serde_json::Map::new();
        for (t, ws) in ok {
            let h = self.follow(t, ws).await.map_err(CommandError::from)?;
            sync_ids.insert(ws.to_string(), json!(h));
        }
        Ok(json!({"topics": self.subs.keys().collect::<Vec<_>>(), "sync_ids": sync_ids}))
    }

    /// Subscribes to an authorized topic; answers the `sync_id` live events start after.
    async fn follow(&mut self, t: Topic, ws: Uuid) -> Result<i64, MomentumError> {
        let hub = self.st.live.hub.clone();
        if !self.subs.contains_key(&t.name) {
            let n = self.follows.entry(ws).or_insert(0);
            if *n == 0 {
                hub.subscribe(self.conn.id, &feed_topic(ws));
            }
            *n += 1;
            let ht = t.hub_topic();
            hub.subscribe(self.conn.id, &ht);
            self.subs.insert(
                t.name.clone(),
                Sub {
                    topic: t,
                    hub: ht,
                    workspace: ws,
                },
            );
        }
        self.st.live.feeds.follow(&self.st, ws).await?;
        let head = live::head(&self.st.platform.db, ws).await?.unwrap_or(0);
        Ok(*self.last_sent.entry(ws).or_insert(head))
    }

    fn drop_sub(&mut self, name: &str) -> bool {
        let Some(sub) = self.subs.remove(name) else {
            return false;
        };
        let hub = &self.st.live.hub;
        hub.unsubscribe(self.conn.id, &sub.hub);
        if let Some(n) = self.follows.get_mut(&sub.workspace) {
            *n -= 1;
            if *n == 0 {
                self.follows.remove(&sub.workspace);
                self.last_sent.remove(&sub.workspace);
                hub.unsubscribe(self.conn.id, &feed_topic(sub.workspace));
            }
        }
        true
    }

    fn unsubscribe(&mut self, cmd: &Command) -> Result<Value, CommandError> {
        let names = Self::topic_names(cmd)?;
        let current = self.group;
        let mut removed = Vec::new();
        for name in names {
            let key = Topic::parse(&name, current).map(|t| t.name).unwrap_or(name);
            if self.drop_sub(&key) {
                removed.push(key);
            }
        }
        Ok(json!({"unsubscribed": removed, "topics": self.subs.keys().collect::<Vec<_>>()}))
    }

    /// Re-authorizes every subscription after a membership or team change; drops (and says
    /// so) those the user lost, and leaves the workspace's presence when no longer a member.
    async fn recheck(&mut self) -> Result<(), End> {
        let names: Vec<String> = self.subs.keys().cloned().collect();
        for name in names {
            let Some(sub) = self.subs.get(&name) else {
                continue;
            };
            let topic = sub.topic.clone();
            match topic.authorize(&self.st, self.p.user_id).await {
                Ok(_) | Err(Refusal::Store(_)) => {}
                Err(_) => {
                    self.drop_sub(&name);
                    let f = frames::system(
                        "subscription_dropped",
                        "you no longer have access to this topic",
                        json!({"topic": name}),
                        self.now(),
                    );
                    self.send(f).await?;
                }
            }
        }
        if let Some(ws) = self.group {
            let t = Topic::workspace(ws);
            if matches!(
                t.authorize(&self.st, self.p.user_id).await,
                Err(Refusal::Forbidden)
            ) {
                self.st.live.hub.unsubscribe(self.conn.id, &group_topic(ws));
                self.leave_presence().await;
            }
        }
        Ok(())
    }

    async fn resume_command(&mut self, cmd: &Command) -> Result<Value, CommandError> {
        let d = cmd.args.get("data").unwrap_or(&Value::Null);
        let get = |k: &str| d.get(k).or_else(|| cmd.args.get(k));
        let field = |f: &str, m: &str| {
            let mut e = cmd_error("VALIDATION_ERROR", format!("{f}: {m}"));
            e.field = Some(f.into());
            e
        };
        let ws = match get("workspace_id") {
            None | Some(Value::Null) => self
                .group
                .ok_or_else(|| field("workspace_id", "required"))?,
            Some(v) => v
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| field("workspace_id", "must be a UUID"))?,
        };
        let after = get("after_sync_id")
            .and_then(Value::as_i64)
            .filter(|a| *a >= 0)
            .ok_or_else(|| field("after_sync_id", "required: a whole number, 0 or more"))?;
        self.resume(ws, after).await
    }

    /// Follows `workspace:{ws}` and writes every event after `after` from the log, in order;
    /// live events the queue holds meanwhile are then written only above what the replay
    /// reached. When `after` is outside the retained log, answers `resync_required`.
    async fn resume(&mut self, ws: Uuid, after: i64) -> Result<Value, CommandError> {
        let t = Topic::workspace(ws);
        match t.authorize(&self.st, self.p.user_id).await {
            Ok(_) => {}
            Err(Refusal::Store(e)) => return Err(e.into()),
            Err(_) => {
                let mut e = cmd_error("FORBIDDEN_TOPIC", format!("cannot follow workspace:{ws}"));
                e.field = Some("workspace_id".into());
                return Err(e);
            }
        }
        self.follow(t, ws).await.map_err(CommandError::from)?;
        let st = self.st.clone();
        let db = &st.platform.db;
        let head = live::head(db, ws)
            .await
            .map_err(MomentumError::from)?
            .unwrap_or(0);
        let first = live::first(db, ws).await.map_err(MomentumError::from)?;
        if after > head || first.is_some_and(|f| f > after + 1) {
            let last = self.last_sent.entry(ws).or_insert(head);
            *last = (*last).max(head);
            return Ok(json!({"resync_required": true, "workspace_id": ws, "sync_id": head}));
        }
        let mut cursor = after;
        let mut replayed = 0u64;
        if let Some(frames) = self.st.live.feeds.cached_after(ws, after) {
            // From the feed's memory: the frames are already serialized and shared.
            for f in frames {
                cursor = f.seq;
                self.send(f.frame.clone())
                    .await
                    .map_err(|_| cmd_error("GONE", "socket closed"))?;
                replayed += 1;
            }
        } else {
            loop {
                let page = changes::after(db, ws, cursor, 256)
                    .await
                    .map_err(MomentumError::from)?;
                let n = page.len();
                for c in page {
                    cursor = c.sync_id;
                    let f = frames::frame(MessageType::Event, &c, c.created_at, c.actor, None);
                    self.send(f)
                        .await
                        .map_err(|_| cmd_error("GONE", "socket closed"))?;
                    replayed += 1;
                }
                if n < 256 {
                    break;
                }
            }
        }
        let last = self.last_sent.entry(ws).or_insert(cursor);
        *last = (*last).max(cursor);
        Ok(
            json!({"resync_required": false, "workspace_id": ws, "replayed": replayed, "sync_id": cursor}),
        )
    }
}
