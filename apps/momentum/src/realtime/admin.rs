//! Monitoring and messaging endpoints (seed 002 "管理端点"; issue 9 "Admin and monitoring
//! endpoints"): `GET /ws/online`, `GET /ws/stats`, `POST /ws/send`, `POST /ws/broadcast`,
//! `POST /ws/cleanup`. All need a login. A platform `admin`/`super_admin` sees and acts on
//! everything; a workspace owner/admin sees `online`/`stats` of their current workspace and
//! may `send`/`broadcast` within it; members get `online` of their workspace; `cleanup` is
//! for platform admins only.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use trellis_kernel::ApiError;
use trellis_kernel::extract::{Json, Query};
use trellis_kernel::realtime::{ALL_TOPIC, HubStats, group_topic, user_topic};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::frames::{self, MessageType};
use crate::domain::Check;
use crate::envelope::{Reply, ok};
use crate::error::MomentumError;
use crate::routes::access::Account;
use crate::service::auth::current_workspace;
use crate::state::MomentumState;
use crate::store::members;

/// The routes of this module.
pub fn router() -> OpenApiRouter<MomentumState> {
    OpenApiRouter::new()
        .routes(routes!(online))
        .routes(routes!(stats))
        .routes(routes!(send))
        .routes(routes!(broadcast))
        .routes(routes!(cleanup))
}

/// The caller's reach: the whole server (platform admin) or their current workspace with
/// their role there.
struct Reach {
    platform_admin: bool,
    workspace: Option<(Uuid, crate::domain::WorkspaceRole)>,
}

async fn reach(
    st: &MomentumState,
    p: &trellis_identity::Principal,
) -> Result<Reach, MomentumError> {
    let workspace = match current_workspace(st, p.user_id).await {
        Ok(w) => Some(w),
        Err(MomentumError::NoWorkspace) => None,
        Err(e) => return Err(e),
    };
    Ok(Reach {
        platform_admin: p.role.is_admin(),
        workspace,
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
struct WorkspaceQuery {
    /// Another workspace (platform admins only); default: the caller's current one.
    #[param(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    workspace_id: Option<String>,
}

/// The message types a client may be sent through `/ws/send` and `/ws/broadcast` (the
/// schema of their `message_type`; `system` is the original's name for `system_message`).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[expect(
    dead_code,
    reason = "documents the accepted strings; the bodies carry them as text"
)]
enum SendKind {
    Text,
    Notification,
    SystemMessage,
    System,
}

/// Resolves the workspace an endpoint acts on: `asked` for platform admins, else the
/// caller's current one (another workspace's id: 422 naming the field; 409 `NO_WORKSPACE` without
/// one).
fn target(r: &Reach, asked: Option<&str>, field: &str) -> Result<Uuid, MomentumError> {
    let asked = match asked {
        Some(s) => {
            let mut c = Check::new();
            let id = c.uuid(field, s);
            c.finish()?;
            id
        }
        None => None,
    };
    match (asked, r.workspace) {
        (Some(id), _) if r.platform_admin => Ok(id),
        (Some(id), Some((ws, _))) if id == ws => Ok(id),
        // Another workspace's id in a request answers like a missing one (Momentum's rule:
        // 422 naming the field), never telling whether it exists.
        (Some(_), _) => Err(MomentumError::unknown_ref(field, "workspace")),
        (None, Some((ws, _))) => Ok(ws),
        (None, None) => Err(MomentumError::NoWorkspace),
    }
}

/// One online user.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WsOnlineUser)]
struct OnlineUser {
    /// Account id.
    user_id: Uuid,
    /// Username.
    username: String,
    /// Display name.
    name: String,
    /// Open sockets (all instances).
    connections: i64,
}

/// Who is online in a workspace.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WsOnline)]
struct Online {
    /// The workspace.
    workspace_id: Uuid,
    /// Number of users online.
    count: usize,
    /// The users.
    users: Vec<OnlineUser>,
}

/// Users online in the caller's current workspace (every instance), with their open-socket
/// counts. Platform admins may name another workspace; for others another workspace's id is
/// 422 naming `workspace_id`.
#[utoipa::path(get, path = "/ws/online", tag = "momentum", params(WorkspaceQuery),
    responses((status = 200, body = Online), (status = 401, description = "not signed in"),
        (status = 409, description = "NO_WORKSPACE"),
        (status = 422, description = "VALIDATION_ERROR: a malformed or another workspace's id")),
    security(("bearer" = [])))]
async fn online(
    State(st): State<MomentumState>,
    Account(p): Account,
    Query(q): Query<WorkspaceQuery>,
) -> Reply<Online> {
    let r = reach(&st, &p).await?;
    let ws = target(&r, q.workspace_id.as_deref(), "workspace_id")?;
    let counts: HashMap<Uuid, i64> = st.live.hub.online(ws).await.into_iter().collect();
    // Only current members: a count left behind by a removed member is not shown.
    let mut users: Vec<OnlineUser> = members::list(&st.platform.db, ws)
        .await
        .map_err(MomentumError::from)?
        .into_iter()
        .filter_map(|m| {
            counts.get(&m.user_id).map(|n| OnlineUser {
                user_id: m.user_id,
                username: m.user.username,
                name: m.user.name,
                connections: *n,
            })
        })
        .collect();
    users.sort_by(|a, b| a.username.cmp(&b.username));
    Ok(ok(
        Online {
            workspace_id: ws,
            count: users.len(),
            users,
        },
        "online users",
    ))
}

/// Connection figures.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WsStats)]
struct Stats {
    /// Open sockets in scope (the instance for platform admins, else the workspace).
    total_connections: usize,
    /// Distinct users among them.
    unique_users: usize,
    /// Open sockets per workspace (platform admins: every workspace; else the current one).
    per_workspace: HashMap<Uuid, usize>,
    /// This instance's counters and uptime (platform admins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<HubStats>,
}

/// Connection statistics of this instance: platform admins see everything, workspace owners
/// and admins their current workspace; members 403.
#[utoipa::path(get, path = "/ws/stats", tag = "momentum",
    responses((status = 200, body = Stats), (status = 401, description = "not signed in"),
        (status = 403, description = "members"), (status = 409, description = "NO_WORKSPACE")),
    security(("bearer" = [])))]
async fn stats(State(st): State<MomentumState>, Account(p): Account) -> Reply<Stats> {
    let r = reach(&st, &p).await?;
    let hub = &st.live.hub;
    let s = hub.stats();
    let scope = if r.platform_admin {
        None
    } else {
        match r.workspace {
            Some((ws, role)) if role.is_admin() => Some(ws),
            Some(_) => {
                return Err(MomentumError::Forbidden(
                    "only workspace owners and admins can see connection statistics",
                )
                .into());
            }
            None => return Err(MomentumError::NoWorkspace.into()),
        }
    };
    let conns = hub.connections(scope);
    let mut per_workspace: HashMap<Uuid, usize> = HashMap::new();
    let mut users = std::collections::HashSet::new();
    for c in &conns {
        if let Some(g) = c.group {
            *per_workspace.entry(g).or_default() += 1;
        }
        users.insert(c.user);
    }
    Ok(ok(
        Stats {
            total_connections: conns.len(),
            unique_users: users.len(),
            per_workspace,
            instance: r.platform_admin.then_some(s),
        },
        "connection statistics",
    ))
}

/// Message types `/ws/send` and `/ws/broadcast` may carry (seed 002; `system` is the
/// original's name for `system_message`).
fn message_type(check: &mut Check, v: &str) -> Option<MessageType> {
    match v {
        "text" => Some(MessageType::Text),
        "notification" => Some(MessageType::Notification),
        "system" | "system_message" => Some(MessageType::SystemMessage),
        _ => {
            check.fail(
                "message_type",
                "invalid",
                "must be one of text, notification, system_message",
            );
            None
        }
    }
}

/// `POST /ws/send`.
#[derive(Deserialize, utoipa::ToSchema)]
struct SendBody {
    /// The recipient.
    #[serde(default)]
    #[schema(format = Uuid, required = true, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    to_user_id: String,
    /// `text`, `notification` or `system_message`.
    #[serde(default)]
    #[schema(value_type = SendKind, required = true)]
    message_type: String,
    /// Any JSON (at most 16 KiB serialized).
    #[serde(default)]
    data: serde_json::Value,
}

/// How many sockets a message reached.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WsSent)]
struct Sent {
    /// Sockets on this instance that got it (other instances get it through Redis).
    recipients_count: usize,
}

fn data_size(check: &mut Check, v: &serde_json::Value) {
    if serde_json::to_string(v).map_or(0, |s| s.len()) > 16 * 1024 {
        check.fail("data", "too_long", "at most 16 KiB of JSON");
    }
}

/// Sends a frame to every socket of one user (every instance). Platform admins: anyone;
/// workspace owners/admins: members of their current workspace (422 naming `to_user_id`
/// otherwise); others 403.
#[utoipa::path(post, path = "/ws/send", tag = "momentum", request_body = SendBody,
    responses((status = 200, body = Sent), (status = 401, description = "not signed in"),
        (status = 403, description = "not an admin"),
        (status = 409, description = "NO_WORKSPACE"),
        (status = 422, description = "VALIDATION_ERROR (also: the recipient is not a member of your workspace)")),
    security(("bearer" = [])))]
async fn send(
    State(st): State<MomentumState>,
    Account(p): Account,
    Json(b): Json<SendBody>,
) -> Reply<Sent> {
    let mut c = Check::new();
    let to = c.uuid("to_user_id", &b.to_user_id);
    let kind = message_type(&mut c, &b.message_type);
    data_size(&mut c, &b.data);
    c.finish()?;
    let (Some(to), Some(kind)) = (to, kind) else {
        return Err(ApiError::validation("invalid message"));
    };
    let r = reach(&st, &p).await?;
    if !r.platform_admin {
        let Some((ws, _)) = r.workspace.filter(|(_, role)| role.is_admin()) else {
            return Err(MomentumError::Forbidden(
                "only workspace owners and admins can send messages",
            )
            .into());
        };
        if members::role(&st.platform.db, ws, to)
            .await
            .map_err(MomentumError::from)?
            .is_none()
        {
            return Err(MomentumError::unknown_ref("to_user_id", "member").into());
        }
    }
    let f = frames::frame(kind, &b.data, st.now(), Some(p.user_id), Some(to));
    let n = st.live.hub.publish(&user_topic(to), f).await;
    Ok(ok(
        Sent {
            recipients_count: n,
        },
        "message sent",
    ))
}

/// `POST /ws/broadcast`.
#[derive(Deserialize, utoipa::ToSchema)]
struct BroadcastBody {
    /// `text`, `notification` or `system_message`.
    #[serde(default)]
    #[schema(value_type = SendKind, required = true)]
    message_type: String,
    /// Any JSON (at most 16 KiB serialized).
    #[serde(default)]
    data: serde_json::Value,
    /// The workspace; absent: the caller's current one (platform admins: every socket).
    #[schema(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    workspace_id: Option<String>,
}

/// Sends a frame to every socket of a workspace (every instance); platform admins may omit
/// the workspace to reach every socket. Workspace owners/admins: their current workspace
/// only (another workspace's id: 422 naming `workspace_id`); others 403.
#[utoipa::path(post, path = "/ws/broadcast", tag = "momentum", request_body = BroadcastBody,
    responses((status = 200, body = Sent), (status = 401, description = "not signed in"),
        (status = 403, description = "not an admin"),
        (status = 409, description = "NO_WORKSPACE"),
        (status = 422, description = "VALIDATION_ERROR (also: another workspace's id)")),
    security(("bearer" = [])))]
async fn broadcast(
    State(st): State<MomentumState>,
    Account(p): Account,
    Json(b): Json<BroadcastBody>,
) -> Reply<Sent> {
    let mut c = Check::new();
    let kind = message_type(&mut c, &b.message_type);
    data_size(&mut c, &b.data);
    c.finish()?;
    let Some(kind) = kind else {
        return Err(ApiError::validation("invalid message"));
    };
    let r = reach(&st, &p).await?;
    let topic = if r.platform_admin && b.workspace_id.is_none() {
        ALL_TOPIC.to_string()
    } else {
        if !r.platform_admin && !r.workspace.is_some_and(|(_, role)| role.is_admin()) {
            return Err(
                MomentumError::Forbidden("only workspace owners and admins can broadcast").into(),
            );
        }
        group_topic(target(&r, b.workspace_id.as_deref(), "workspace_id")?)
    };
    let f = frames::frame(kind, &b.data, st.now(), Some(p.user_id), None);
    let n = st.live.hub.publish(&topic, f).await;
    Ok(ok(
        Sent {
            recipients_count: n,
        },
        "message broadcast",
    ))
}

/// What a cleanup did.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WsCleaned)]
struct Cleaned {
    /// Sockets closed (silent for `WS_CONNECTION_TIMEOUT`, or whose task ended).
    cleaned_connections: usize,
    /// Sockets left open.
    remaining_connections: usize,
}

/// Closes this instance's sockets silent for longer than `WS_CONNECTION_TIMEOUT` (4408);
/// platform admins only.
#[utoipa::path(post, path = "/ws/cleanup", tag = "momentum",
    responses((status = 200, body = Cleaned), (status = 401, description = "not signed in"),
        (status = 403, description = "not a platform admin")),
    security(("bearer" = [])))]
async fn cleanup(State(st): State<MomentumState>, Account(p): Account) -> Reply<Cleaned> {
    if !p.role.is_admin() {
        return Err(
            MomentumError::Forbidden("only platform admins can clean up connections").into(),
        );
    }
    let (cleaned, remaining) = st.live.hub.cleanup(
        Duration::from_secs(st.settings.ws_connection_timeout),
        chrono::Utc::now(),
    );
    Ok(ok(
        Cleaned {
            cleaned_connections: cleaned,
            remaining_connections: remaining,
        },
        "cleanup done",
    ))
}
