//! The board (`/console/issues?team=`): one column per state of the team's default
//! workflow, in position order, with the team's issues as cards. Moving a card is a plain
//! form POST (each card's state picker) or, with `board.js`, a drag onto another column; a
//! move the workflow's rules refuse is explained on the card, which stays where it was. The
//! columns are also served alone (`…/columns`) for the live refresh; a column with more
//! issues than a board shows links to its whole list ([`super::column`]).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use trellis_console::page::{self, Nav, csrf_input, error_note};
use trellis_console::{Lang, Member, assets};
use uuid::Uuid;

use super::{fail, message, scope, tabs};
use crate::domain::Priority;
use crate::error::MomentumError;
use crate::service::issues::{self as issue_svc, CreateIssue, ListQuery, MoveIssue};
use crate::service::workflows::{self as wf_svc, Target};
use crate::service::{Scope, teams as team_svc};
use crate::state::MomentumState;
use crate::store::issues::IssueItem;
use crate::store::teams::Team;
use crate::store::workflows::WorkflowState;

/// Cards shown per column (the first in manual order): with its move form (a state picker
/// of the workflow's ids and a CSRF token) a card is about 1 KB, so a full six-column board
/// stays near 40 KB, under the 50 KB page budget.
pub const COLUMN_CARDS: usize = 6;

/// Characters of a title shown on a card (the issue's page shows all of it).
pub const CARD_TITLE: usize = 40;

/// The board's query: which team.
#[derive(Deserialize, Default)]
pub struct BoardQuery {
    team: Option<String>,
}

/// What a board shows.
struct Board {
    team: Team,
    /// Each state with its first [`COLUMN_CARDS`] issues, and whether it has more.
    columns: Vec<(WorkflowState, Vec<IssueItem>, bool)>,
}

impl Board {
    fn states(&self) -> impl Iterator<Item = &WorkflowState> {
        self.columns.iter().map(|(s, ..)| s)
    }

    fn shows(&self, issue: uuid::Uuid) -> bool {
        self.columns
            .iter()
            .any(|(_, cards, _)| cards.iter().any(|i| i.id == issue))
    }
}

/// A card to annotate: the issue and the refusal's message.
type Refused<'a> = Option<(Uuid, &'a str)>;

/// The team's board: its default workflow's states, each with its first issues in manual
/// order (one query per column, so a team of any size shows every column's head).
async fn load(st: &MomentumState, scope: &Scope, team_id: Uuid) -> Result<Board, MomentumError> {
    let team = team_svc::get(st, scope, team_id).await?;
    let states = wf_svc::states(st, scope, Target::TeamDefault(team_id)).await?;
    let mut columns = Vec::with_capacity(states.len());
    for s in states {
        let q = ListQuery {
            team_id: Some(team_id.to_string()),
            workflow_state_id: Some(s.id.to_string()),
            sort: Some("sort_order".into()),
            limit: Some((COLUMN_CARDS + 1).to_string()),
            ..ListQuery::default()
        };
        let mut cards = issue_svc::list(&st.platform.db, scope, &q).await?.items;
        let more = cards.len() > COLUMN_CARDS;
        cards.truncate(COLUMN_CARDS);
        columns.push((s, cards, more));
    }
    Ok(Board { team, columns })
}

/// `title` cut to [`CARD_TITLE`] characters.
fn short(title: &str) -> std::borrow::Cow<'_, str> {
    match title.char_indices().nth(CARD_TITLE) {
        Some((at, _)) => format!("{}…", &title[..at]).into(),
        None => title.into(),
    }
}

/// A priority's label.
pub fn priority_label(lang: Lang, p: Priority) -> &'static str {
    match p {
        Priority::None => lang.t("无优先级", "No priority"),
        Priority::Low => lang.t("低", "Low"),
        Priority::Medium => lang.t("中", "Medium"),
        Priority::High => lang.t("高", "High"),
        Priority::Urgent => lang.t("紧急", "Urgent"),
    }
}

/// The URL of an issue's page.
pub fn issue_url(key: &str) -> String {
    format!("/console/issues/i/{key}")
}

/// One card: key, title, priority, assignee, labels, and its state picker.
fn card(m: &Member, b: &Board, i: &IssueItem, refused: Refused<'_>) -> Markup {
    let lang = m.lang();
    let url = issue_url(&i.key);
    let move_url = format!("{url}/move");
    html! {
        // board.js reads the move URL from the form and the state from the column.
        article.issue draggable="true" id=(format!("card-{}", i.key)) {
            a href=(url) { strong { (i.key) } } " " (short(&i.title))
            div.muted {
                (priority_label(lang, i.priority))
                @if let Some(a) = &i.assignee { " · " (a.name) }
                @for l in &i.labels { " " span.badge { (l.name) } }
            }
            @if let Some((_, msg)) = refused.filter(|(id, _)| *id == i.id) {
                p.error role="alert" { (msg) }
            }
            form.row method="post" action=(move_url) {
                (csrf_input(&m.guest.ctx))
                select name="to_state_id" aria-label=(format!("{} {}", i.key, lang.t("的新状态", "new state"))) {
                    @for s in b.states() {
                        option value=(s.id) selected[Some(s.id) == i.workflow_state_id] { (s.name) }
                    }
                }
                button.secondary type="submit" { (lang.t("移动", "Move")) }
            }
        }
    }
}

/// The columns, in workflow order.
fn render_columns(m: &Member, b: &Board, refused: Refused<'_>) -> Markup {
    let lang = m.lang();
    html! {
        @for (s, cards, more) in &b.columns {
            section.column data-state=(s.id) aria-labelledby=(format!("col-{}", s.id)) {
                h2 id=(format!("col-{}", s.id)) { (s.name) " " span.muted { "(" (cards.len()) @if *more { "+" } ")" } }
                @for i in cards { (card(m, b, i, refused)) }
                @if *more {
                    p { a href=(format!("/console/issues/teams/{}/states/{}", b.team.id, s.id)) { (lang.t("查看此状态的全部议题", "All issues in this state")) " →" } }
                }
            }
        }
    }
}

/// The create form's fields (the API's names).
#[derive(Deserialize, Default)]
pub struct NewIssueForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    workflow_state_id: String,
    #[serde(default)]
    priority: String,
}

/// The whole board page.
fn board_page(
    m: &Member,
    teams: &[Team],
    b: &Board,
    status: StatusCode,
    notes: (Refused<'_>, Option<&str>),
    form: &NewIssueForm,
) -> Response {
    let lang = m.lang();
    let (refused, create_error) = notes;
    let tid = b.team.id;
    let body = html! {
        (tabs(m, "board"))
        form.row method="get" action="/console/issues" {
            label { (lang.t("团队", "Team"))
                select name="team" {
                    @for t in teams { option value=(t.id) selected[t.id == tid] { (t.name) " (" (t.team_key) ")" } }
                }
            }
            button.secondary type="submit" { (lang.t("打开看板", "Open board")) }
        }
        p #live .muted role="status" data-on=(lang.t("实时更新：已连接", "Live updates: connected")) data-off=(lang.t("实时更新：重新连接中…", "Live updates: reconnecting…")) {
            (lang.t("拖动卡片到另一列即可移动议题，或使用卡片上的状态选择。", "Drag a card to another column to move it, or use the card's state picker."))
        }
        // A refusal for a card this page does not show (past a column's first cards).
        (error_note(refused.filter(|(id, _)| !b.shows(*id)).map(|(_, msg)| msg)))
        div #columns .board data-team=(tid) data-columns=(format!("/console/issues/teams/{tid}/columns")) data-ticket="/console/issues/ws-ticket" {
            (render_columns(m, b, refused))
        }
        section.card {
            h2 { (lang.t("新建议题", "New issue")) }
            (error_note(create_error))
            form.stack method="post" action=(format!("/console/issues/teams/{tid}/issues")) {
                (csrf_input(&m.guest.ctx))
                label { (lang.t("标题", "Title")) input type="text" name="title" required maxlength="255" value=(form.title); }
                label { (lang.t("描述", "Description")) textarea name="description" rows="4" maxlength="10000" { (form.description) } }
                label { (lang.t("状态", "State"))
                    select name="workflow_state_id" {
                        @for s in b.states() {
                            option value=(s.id) selected[if form.workflow_state_id.is_empty() { s.is_default } else { form.workflow_state_id == s.id.to_string() }] { (s.name) }
                        }
                    }
                }
                label { (lang.t("优先级", "Priority"))
                    select name="priority" {
                        @for p in Priority::ALL {
                            option value=(p.as_str()) selected[form.priority == p.as_str()] { (priority_label(lang, *p)) }
                        }
                    }
                }
                button type="submit" { (lang.t("创建议题", "Create issue")) }
            }
        }
        script src=(assets::url("board.js")) defer {}
    };
    let title = format!("{} · {}", lang.t("看板", "Board"), b.team.name);
    page::respond(
        status,
        page::frame(&m.guest, Some(m), Nav::Issues, &title, body),
    )
}

/// Loads the team's board and renders the page.
async fn show(
    st: &MomentumState,
    m: &Member,
    team: Option<Uuid>,
    status: StatusCode,
    notes: (Refused<'_>, Option<&str>),
    form: &NewIssueForm,
) -> Response {
    let scope = match scope(st, m).await {
        Ok(s) => s,
        Err(e) => return fail(m, e),
    };
    let teams = match team_svc::list(st, &scope).await {
        Ok(t) => t,
        Err(e) => return fail(m, e),
    };
    let Some(team_id) = team.or_else(|| teams.first().map(|t| t.id)) else {
        let lang = m.lang();
        let body = html! {
            (tabs(m, "board"))
            p { (lang.t("这个工作区里没有你能看到的团队。", "There is no team you can see in this workspace.")) }
        };
        return page::respond(
            StatusCode::OK,
            page::frame(&m.guest, Some(m), Nav::Issues, super::title(m), body),
        );
    };
    match load(st, &scope, team_id).await {
        Ok(b) => board_page(m, &teams, &b, status, notes, form),
        Err(e) => fail(m, e),
    }
}

/// `GET /console/issues?team=`: the board (the first team's without `team`).
pub async fn page(
    State(st): State<MomentumState>,
    m: Member,
    Query(q): Query<BoardQuery>,
) -> Response {
    let team = match q.team.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => match Uuid::parse_str(t) {
            Ok(id) => Some(id),
            Err(_) => return page::not_found(&m),
        },
        None => None,
    };
    show(
        &st,
        &m,
        team,
        StatusCode::OK,
        (None, None),
        &NewIssueForm::default(),
    )
    .await
}

/// `GET /console/issues/teams/{team}/columns`: the columns alone (the live refresh's htmx
/// GET), never cached.
pub async fn columns(
    State(st): State<MomentumState>,
    m: Member,
    Path(team): Path<String>,
) -> Response {
    let Ok(team) = Uuid::parse_str(&team) else {
        return page::not_found(&m);
    };
    // A fragment for htmx: a member who has no workspace any more is sent to the whole
    // page (its start page would otherwise be swapped into the board); other failures are
    // 4xx pages, which htmx does not swap in.
    let scope = match scope(&st, &m).await {
        Ok(s) => s,
        Err(MomentumError::NoWorkspace) => return page::redirect_to(true, "/console/issues"),
        Err(e) => return fail(&m, e),
    };
    match load(&st, &scope, team).await {
        Ok(b) => {
            let mut r =
                axum::response::Html(render_columns(&m, &b, None).into_string()).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => fail(&m, e),
    }
}

/// `POST /console/issues/teams/{team}/issues`: creates an issue; errors in place.
pub async fn create(
    State(st): State<MomentumState>,
    m: Member,
    Path(team): Path<String>,
    axum::Form(f): axum::Form<NewIssueForm>,
) -> Response {
    let Ok(team) = Uuid::parse_str(&team) else {
        return page::not_found(&m);
    };
    let scope = match scope(&st, &m).await {
        Ok(s) => s,
        Err(e) => return fail(&m, e),
    };
    if let Err(e) = team_svc::get(&st, &scope, team).await {
        return fail(&m, e);
    }
    let body = CreateIssue {
        title: Some(f.title.clone()),
        team_id: Some(team.to_string()),
        description: Some(f.description.clone()),
        priority: Some(f.priority.clone()).filter(|p| !p.is_empty()),
        workflow_state_id: Some(f.workflow_state_id.clone()).filter(|s| !s.is_empty()),
        ..CreateIssue::default()
    };
    match issue_svc::create(&st.platform.db, &scope, body).await {
        Ok(_) => page::redirect_to(false, &format!("/console/issues?team={team}")),
        Err(e) => {
            let (status, msg) = message(e);
            show(&st, &m, Some(team), status, (None, Some(&msg)), &f).await
        }
    }
}

/// The move form: the target state, and where to go back to (`issue` for the issue page).
#[derive(Deserialize, Default)]
pub struct MoveForm {
    #[serde(default)]
    to_state_id: String,
    back: Option<String>,
}

/// `POST /console/issues/i/{key}/move`: moves the issue under the workflow's rules. From
/// `board.js` (header `X-Board-Move`): `204`, or the refusal's status with the service's
/// message as JSON `{error}`. From a form: back to the board (or the issue page), or the page again
/// with the message on the card that stayed.
pub async fn move_issue(
    State(st): State<MomentumState>,
    m: Member,
    Path(key): Path<String>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<MoveForm>,
) -> Response {
    let scripted = headers.contains_key("x-board-move");
    let scope = match scope(&st, &m).await {
        Ok(s) => s,
        Err(e) => return fail(&m, e),
    };
    let issue = match issue_svc::detail(&st.platform.db, &scope, &key).await {
        Ok(d) => d.issue,
        Err(e) if !scripted => return fail(&m, e),
        Err(e) => return scripted_error(message(e)),
    };
    let b = MoveIssue {
        to_state_id: Some(f.to_state_id.clone()),
    };
    let to_issue = f.back.as_deref() == Some("issue");
    match issue_svc::move_to(&st.platform.db, &scope, &issue.id.to_string(), b).await {
        Ok(_) if scripted => StatusCode::NO_CONTENT.into_response(),
        Ok(i) if to_issue => page::redirect_to(false, &issue_url(&i.key)),
        Ok(i) => page::redirect_to(false, &format!("/console/issues?team={}", i.team_id)),
        Err(e) if scripted => scripted_error(message(e)),
        Err(e) if to_issue => {
            let (status, msg) = message(e);
            super::issue::show(&st, &m, &key, status, Some(&msg)).await
        }
        Err(e) => {
            let (status, msg) = message(e);
            let notes = (Some((issue.id, msg.as_str())), None);
            show(
                &st,
                &m,
                Some(issue.team_id),
                status,
                notes,
                &NewIssueForm::default(),
            )
            .await
        }
    }
}

/// An answer for `board.js`: `{"error": message}` (JSON, which the server's error layer
/// passes through as it is).
fn scripted_error((status, msg): (StatusCode, String)) -> Response {
    (status, axum::Json(serde_json::json!({ "error": msg }))).into_response()
}
