//! One column of a board as a list (`/console/issues/teams/{team}/states/{state}`): every
//! issue in that state, 50 a page in the board's order, for columns with more issues than a
//! board shows ([`super::board::COLUMN_CARDS`]).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use trellis_console::Member;
use trellis_console::page::{self, Nav};
use uuid::Uuid;

use super::board::{issue_url, priority_label};
use super::{fail, scope, tabs};
use crate::service::issues::{self as issue_svc, ListQuery};
use crate::service::teams as team_svc;
use crate::service::workflows::{self as wf_svc, Target};
use crate::state::MomentumState;

/// Issues a page of the list shows.
pub const PAGE: usize = 50;

/// The list's query: the page after this cursor (`meta.next_cursor` of the API's list).
#[derive(Deserialize, Default)]
pub struct ColumnQuery {
    cursor: Option<String>,
}

/// `GET /console/issues/teams/{team}/states/{state}?cursor=`: the state's issues; a team or
/// state the member cannot see (or a malformed id) is the 404 page, a stale cursor the API's
/// message.
pub async fn page(
    State(st): State<MomentumState>,
    m: Member,
    Path((team, state)): Path<(String, String)>,
    Query(q): Query<ColumnQuery>,
) -> Response {
    let (Ok(team), Ok(state)) = (Uuid::parse_str(&team), Uuid::parse_str(&state)) else {
        return page::not_found(&m);
    };
    let scope = match scope(&st, &m).await {
        Ok(s) => s,
        Err(e) => return fail(&m, e),
    };
    let t = match team_svc::get(&st, &scope, team).await {
        Ok(t) => t,
        Err(e) => return fail(&m, e),
    };
    let states = match wf_svc::states(&st, &scope, Target::TeamDefault(team)).await {
        Ok(s) => s,
        Err(e) => return fail(&m, e),
    };
    let Some(s) = states.into_iter().find(|s| s.id == state) else {
        return page::not_found(&m);
    };
    let list = ListQuery {
        team_id: Some(team.to_string()),
        workflow_state_id: Some(state.to_string()),
        sort: Some("sort_order".into()),
        limit: Some(PAGE.to_string()),
        cursor: q.cursor.clone().filter(|c| !c.is_empty()),
        ..ListQuery::default()
    };
    let lang = m.lang();
    let issues = match issue_svc::list(&st.platform.db, &scope, &list).await {
        Ok(p) => p,
        Err(e) => return fail(&m, e),
    };
    let next = issues.next_cursor.as_deref().map(|c| {
        let c: String = form_urlencoded::byte_serialize(c.as_bytes()).collect();
        format!("/console/issues/teams/{team}/states/{state}?cursor={c}")
    });
    let body = html! {
        (tabs(&m, "board"))
        p { a href=(format!("/console/issues?team={team}")) { "← " (lang.t("返回看板", "Back to the board")) } }
        @if issues.items.is_empty() {
            p.muted { (lang.t("这个状态下没有议题。", "No issues in this state.")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (lang.t("编号", "Key")) }
                    th scope="col" { (lang.t("标题", "Title")) }
                    th scope="col" { (lang.t("优先级", "Priority")) }
                    th scope="col" { (lang.t("负责人", "Assignee")) }
                    th scope="col" { (lang.t("标签", "Labels")) }
                } }
                tbody {
                    @for i in &issues.items {
                        tr {
                            td { a href=(issue_url(&i.key)) { (i.key) } }
                            td { (i.title) }
                            td { (priority_label(lang, i.priority)) }
                            td { @if let Some(a) = &i.assignee { (a.name) } @else { "—" } }
                            td { @for l in &i.labels { span.badge { (l.name) } " " } }
                        }
                    }
                }
            }
        }
        @if let Some(n) = next {
            nav.pager aria-label=(lang.t("翻页", "Pages")) {
                a href=(n) rel="next" { (lang.t("下一页", "Next page")) " →" }
            }
        }
    };
    let title = format!("{} · {}", t.name, s.name);
    page::respond(
        StatusCode::OK,
        page::frame(&m.guest, Some(&m), Nav::Issues, &title, body),
    )
}
