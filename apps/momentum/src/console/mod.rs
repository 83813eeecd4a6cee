//! Momentum's console pages (issue 13) under `/console/issues`: a board per team whose
//! columns are the team's workflow states (drag a card, or use its state picker, to move an
//! issue; a move the workflow's rules refuse is explained on the card), live over the
//! Momentum WebSocket; issue detail with comments, history and labels; the workspace's
//! labels and cycles.
//!
//! Every page calls Momentum's services with the same [`Scope`] the API's `Caller` builds
//! (the member's current workspace and role, read from current data), so a member of one
//! workspace sees nothing of another's: those ids answer the 404 page. A console user with
//! no Momentum workspace yet (an account made in another app, or one that left every
//! workspace) is offered to create one.

mod board;
mod column;
mod issue;
mod lists;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;
use trellis_console::Member;
use trellis_console::page::{self, Nav, csrf_input, error_note};

use crate::domain::Patch;
use crate::error::MomentumError;
use crate::service::Scope;
use crate::service::auth::{current_workspace, ensure_profile};
use crate::service::workspaces::{self, NewWorkspace, WorkspaceChange};
use crate::state::MomentumState;
use crate::store::profiles;

/// The console routes (merged into Momentum's router outside the OpenAPI document, under
/// its change-notifying middleware so console writes reach live sockets).
pub fn router() -> Router<MomentumState> {
    Router::new()
        .route("/console/issues", get(board::page))
        .route("/console/issues/start", post(start))
        .route("/console/issues/ws-ticket", post(ws_ticket))
        .route("/console/issues/teams/{team}/columns", get(board::columns))
        .route("/console/issues/teams/{team}/issues", post(board::create))
        .route(
            "/console/issues/teams/{team}/states/{state}",
            get(column::page),
        )
        .route("/console/issues/i/{key}", get(issue::page))
        .route("/console/issues/i/{key}/move", post(board::move_issue))
        .route("/console/issues/i/{key}/comments", post(issue::comment))
        .route("/console/issues/i/{key}/labels", post(issue::set_labels))
        .route(
            "/console/issues/labels",
            get(lists::labels).post(lists::add_label),
        )
        .route("/console/issues/cycles", get(lists::cycles))
}

/// The page title of the section.
fn title(m: &Member) -> &'static str {
    m.lang().t("项目", "Issues")
}

/// The section's tabs (`current`: `board`, `labels` or `cycles`).
fn tabs(m: &Member, current: &str) -> maud::Markup {
    let lang = m.lang();
    html! {
        nav.tabs aria-label=(lang.t("项目页面", "Issue pages")) {
            @for (k, href, zh, en) in [("board", "/console/issues", "看板", "Board"), ("labels", "/console/issues/labels", "标签", "Labels"), ("cycles", "/console/issues/cycles", "周期", "Cycles")] {
                a href=(href) aria-current=[(k == current).then_some("page")] { (lang.t(zh, en)) }
            }
        }
    }
}

/// The member's scope in Momentum: their current workspace and role (as the API's `Caller`).
async fn scope(st: &MomentumState, m: &Member) -> Result<Scope, MomentumError> {
    let (workspace_id, role) = current_workspace(st, m.principal.user_id).await?;
    Ok(Scope {
        workspace_id,
        actor: m.principal.user_id,
        role,
        now: st.now(),
    })
}

/// The page for a failed operation: 404 page for "not found", the start page for "no
/// workspace", else the service's message under the section's frame.
fn fail(m: &Member, e: MomentumError) -> Response {
    if matches!(e, MomentumError::NoWorkspace) {
        return start_page(m, StatusCode::OK, None);
    }
    page::failure_page(m, Nav::Issues, title(m), e)
}

/// The service's message for a client mistake (a refused move, a bad field), for showing in
/// place; server faults get the kit's generic message.
fn message(e: MomentumError) -> (StatusCode, String) {
    trellis_console::shell::failure(e)
}

/// The page offered to a member without a Momentum workspace.
fn start_page(m: &Member, status: StatusCode, error: Option<&str>) -> Response {
    let lang = m.lang();
    let body = html! {
        (error_note(error))
        section.card {
            p { (lang.t("你还没有 Momentum 工作区。创建一个工作区后即可使用看板：它自带一个团队、默认的工作流状态和标签。",
                "You have no Momentum workspace yet. Create one to use the board: it comes with a team, the default workflow states and labels.")) }
            form.stack method="post" action="/console/issues/start" {
                (csrf_input(&m.guest.ctx))
                label { (lang.t("工作区名称", "Workspace name"))
                    input type="text" name="name" required maxlength="100" value=(default_name(m));
                }
                button type="submit" { (lang.t("创建工作区", "Create workspace")) }
            }
        }
    };
    page::respond(
        status,
        page::frame(&m.guest, Some(m), Nav::Issues, title(m), body),
    )
}

/// The start form.
#[derive(Deserialize)]
struct StartForm {
    #[serde(default)]
    name: String,
}

/// `POST /console/issues/start`: gives the member a Momentum workspace named as asked. An
/// account from another app first gets its Momentum profile and provisioned workspace (what
/// its first API sign-in would make), renamed when another name was asked for; an account
/// that has a profile but belongs to no workspace gets a new one.
async fn start(
    State(st): State<MomentumState>,
    m: Member,
    axum::Form(f): axum::Form<StartForm>,
) -> Response {
    let uid = m.principal.user_id;
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        let msg = m
            .lang()
            .t("名称须为 1–100 个字符。", "name: must be 1-100 characters");
        return start_page(&m, StatusCode::UNPROCESSABLE_ENTITY, Some(msg));
    }
    let fresh = match profiles::exists(&st.platform.db, uid).await {
        Ok(exists) => !exists,
        Err(e) => return fail(&m, e.into()),
    };
    if let Err(e) = ensure_profile(&st, uid, &m.user.username).await {
        return fail(&m, e);
    }
    let done = match current_workspace(&st, uid).await {
        Ok((ws, _)) if fresh && name != default_name(&m) => {
            let c = WorkspaceChange {
                name: Some(name.to_string()),
                url_key: None,
                logo_url: Patch::Absent,
            };
            workspaces::update(&st, uid, ws, c).await.map(|_| ())
        }
        Ok(_) => Ok(()),
        Err(MomentumError::NoWorkspace) => {
            let n = NewWorkspace {
                name,
                url_key: None,
                logo_url: None,
            };
            workspaces::create(&st, uid, n).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => page::redirect_to(false, "/console/issues"),
        Err(e) => {
            let (status, msg) = message(e);
            start_page(&m, status, Some(&msg))
        }
    }
}

/// The name a provisioned workspace gets (see [`ensure_profile`]).
fn default_name(m: &Member) -> String {
    format!("{}'s Workspace", m.user.username)
}

/// `POST /console/issues/ws-ticket` (CSRF-checked by the console layer): a single-use ticket
/// for `/ws?ticket=` bound to the member's console session, as `POST /ws/ticket` issues for
/// API tokens. JSON `{ticket, expires_in}`.
async fn ws_ticket(State(st): State<MomentumState>, m: Member) -> Response {
    match crate::realtime::socket::issue_ticket(&st, &m.principal).await {
        Ok(t) => (StatusCode::CREATED, axum::Json(t)).into_response(),
        Err(e) => {
            let (status, msg) = trellis_console::shell::failure(e);
            (status, axum::Json(serde_json::json!({ "error": msg }))).into_response()
        }
    }
}
