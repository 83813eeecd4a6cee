//! Definitions: the list (`/console/workflows`), create and save from the editor
//! (`editor.rs`), the versions, run and delete.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use serde_json::Value;
use trellis_console::Member;
use trellis_console::page::{self, csrf_input, ok_note};
use uuid::Uuid;

use super::editor::{DefinitionForm, Editor, editor_page, parse, pretty, problems, rejected};
use super::{PAGE_SIZE, Tab, fail, message, page_no, page_of, pager, query, when};
use crate::error::WorkflowError;
use crate::service::definitions as svc;
use crate::service::executions as exec_svc;
use crate::state::WorkflowState;
use crate::store::definitions as store;

/// Query of the list page.
#[derive(Deserialize)]
pub struct ListQuery {
    search: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

/// `GET /console/workflows`: the caller's definitions (everyone's for admins).
pub async fn list(
    State(s): State<WorkflowState>,
    m: Member,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = m.lang();
    let search = q.search.as_deref().map(str::trim).unwrap_or("").to_string();
    let page_no = match page_no(q.page.as_deref()) {
        Ok(n) => n,
        Err(e) => return fail(&m, e),
    };
    if search.chars().count() > 100 {
        return fail(
            &m,
            WorkflowError::field("search", "too_long", "search is at most 100 characters"),
        );
    }
    let owner = (!m.principal.role.is_admin()).then_some(m.principal.user_id);
    let found = store::list(
        &s.platform.db,
        owner,
        Some(search.as_str()).filter(|s| !s.is_empty()),
        PAGE_SIZE,
        (page_no - 1).saturating_mul(PAGE_SIZE),
    )
    .await;
    let (items, total) = match found {
        Ok(x) => x,
        Err(e) => return fail(&m, WorkflowError::from(e)),
    };
    let ok = match q.done.as_deref() {
        Some("deleted") => Some(lang.t("工作流定义已删除。", "The definition was deleted.")),
        _ => None,
    };
    let ctx = &m.guest.ctx;
    let body = html! {
        (ok_note(ok))
        form.row role="search" method="get" action="/console/workflows" {
            label for="search" { (lang.t("按名称搜索", "Search by name")) }
            input id="search" type="search" name="search" value=(search) maxlength="100";
            button type="submit" { (lang.t("搜索", "Search")) }
            a.button.secondary href="/console/workflows/definitions/new" { (lang.t("新建工作流", "New workflow")) }
        }
        @if items.is_empty() {
            p.muted { (lang.t("还没有工作流定义。", "No workflow definitions yet.")) }
        } @else {
            table {
                caption.muted { (lang.t("工作流定义", "Workflow definitions")) }
                thead { tr {
                    th scope="col" { (lang.t("名称", "Name")) }
                    th scope="col" { (lang.t("版本", "Version")) }
                    th scope="col" { (lang.t("更新时间", "Updated")) }
                    th scope="col" { (lang.t("操作", "Actions")) }
                } }
                tbody {
                    @for d in &items {
                        tr {
                            td { a href=(format!("/console/workflows/definitions/{}", d.id)) { (d.name) } }
                            td { a href=(format!("/console/workflows/definitions/{}/versions", d.id)) { "v" (d.version) } }
                            td { (when(Some(d.updated_at))) }
                            td {
                                form.inline method="post" action=(format!("/console/workflows/definitions/{}/run", d.id)) {
                                    (csrf_input(ctx))
                                    button type="submit" aria-label=(format!("{} {}", lang.t("运行", "Run"), d.name)) { (lang.t("运行", "Run")) }
                                }
                                " "
                                a href=(format!("/console/workflows/executions?definition_id={}", d.id)) { (lang.t("执行记录", "Executions")) }
                            }
                        }
                    }
                }
            }
            (pager(lang, page_no, total, PAGE_SIZE, |n| format!("/console/workflows?{}", query(&[("search", search.clone()), ("page", n.to_string())]))))
        }
    };
    page_of(
        &m,
        StatusCode::OK,
        Tab::Definitions,
        lang.t("工作流", "Workflows"),
        body,
    )
}

/// `POST /console/workflows/definitions`: create from the editor's JSON.
pub async fn create(
    State(s): State<WorkflowState>,
    m: Member,
    axum::Form(f): axum::Form<DefinitionForm>,
) -> Response {
    let body = match parse(&f.definition) {
        Ok(b) => b,
        Err(p) => return rejected(&m, None, f.definition, StatusCode::UNPROCESSABLE_ENTITY, p),
    };
    match svc::create(&s, &m.principal, body).await {
        Ok(d) => page::redirect_to(
            false,
            &format!("/console/workflows/definitions/{}?saved=1", d.id),
        ),
        Err(e) => {
            let (status, p) = problems(e);
            rejected(&m, None, f.definition, status, p)
        }
    }
}

/// `POST /console/workflows/definitions/{id}`: save the editor's JSON as a new version.
pub async fn save(
    State(s): State<WorkflowState>,
    m: Member,
    Path(id): Path<Uuid>,
    axum::Form(f): axum::Form<DefinitionForm>,
) -> Response {
    let def = match svc::get(&s, &m.principal, id).await {
        Ok(d) => d,
        Err(e) => return fail(&m, e),
    };
    let body = match parse(&f.definition) {
        Ok(b) => b,
        Err(p) => {
            return rejected(
                &m,
                Some(&def),
                f.definition,
                StatusCode::UNPROCESSABLE_ENTITY,
                p,
            );
        }
    };
    match svc::update(&s, &m.principal, id, body).await {
        Ok(_) => page::redirect_to(
            false,
            &format!("/console/workflows/definitions/{id}?saved=1"),
        ),
        Err(WorkflowError::NotFound(what)) => fail(&m, WorkflowError::NotFound(what)),
        Err(e) => {
            let (status, p) = problems(e);
            rejected(&m, Some(&def), f.definition, status, p)
        }
    }
}

/// `POST /console/workflows/definitions/{id}/run`: start an execution (input `{}` when the
/// field is empty) and go to its page.
pub async fn run(
    State(s): State<WorkflowState>,
    m: Member,
    Path(id): Path<Uuid>,
    axum::Form(f): axum::Form<DefinitionForm>,
) -> Response {
    let def = match svc::get(&s, &m.principal, id).await {
        Ok(d) => d,
        Err(e) => return fail(&m, e),
    };
    let input = if f.input.trim().is_empty() {
        Ok(Value::Object(Default::default()))
    } else {
        serde_json::from_str::<Value>(&f.input)
            .map_err(|e| format!("input: request body is not valid JSON ({e})"))
    };
    let started = match input {
        Ok(input) => exec_svc::start(&s, &m.principal, id, input, None)
            .await
            .map_err(message),
        Err(msg) => Err((StatusCode::UNPROCESSABLE_ENTITY, msg)),
    };
    match started {
        Ok(st) => page::redirect_to(
            false,
            &format!("/console/workflows/executions/{}", st.execution.id),
        ),
        Err((status, msg)) => editor_page(
            &m,
            status,
            Editor {
                def: Some(&def),
                text: pretty(&def.definition),
                input: f.input,
                run_problem: Some(msg),
                ..Editor::default()
            },
        ),
    }
}

/// `POST /console/workflows/definitions/{id}/delete`.
pub async fn delete(State(s): State<WorkflowState>, m: Member, Path(id): Path<Uuid>) -> Response {
    match svc::delete(&s, &m.principal, id).await {
        Ok(()) => page::redirect_to(false, "/console/workflows?done=deleted"),
        Err(e) => fail(&m, e),
    }
}

/// Versions listed on the page (newest first); older ones are counted.
const VERSIONS_SHOWN: usize = 50;

/// Query of the versions page: the version whose JSON is shown (default: the newest).
#[derive(Deserialize, Default)]
pub struct VersionQuery {
    version: Option<i64>,
}

/// `GET /console/workflows/definitions/{id}/versions?version=N`: the newest
/// [`VERSIONS_SHOWN`] versions, and the JSON of one (so the page stays small however often
/// the definition was saved).
pub async fn versions(
    State(s): State<WorkflowState>,
    m: Member,
    Path(id): Path<Uuid>,
    Query(q): Query<VersionQuery>,
) -> Response {
    let lang = m.lang();
    let def = match svc::get(&s, &m.principal, id).await {
        Ok(d) => d,
        Err(e) => return fail(&m, e),
    };
    let list = match svc::versions(&s, &m.principal, id).await {
        Ok(v) => v,
        Err(e) => return fail(&m, e),
    };
    let shown = q
        .version
        .and_then(|n| list.iter().find(|v| v.version == n))
        .or(list.first());
    let older = list.len().saturating_sub(VERSIONS_SHOWN);
    let body = html! {
        p { a href=(format!("/console/workflows/definitions/{id}")) { (lang.t("返回编辑器", "Back to the editor")) } }
        table {
            caption.muted { (lang.t("历史版本（最新在前）", "Versions (newest first)")) }
            thead { tr {
                th scope="col" { (lang.t("版本", "Version")) }
                th scope="col" { (lang.t("保存时间", "Saved")) }
                th scope="col" { (lang.t("步骤数", "Steps")) }
                th scope="col" { (lang.t("定义", "Definition")) }
            } }
            tbody {
                @for v in list.iter().take(VERSIONS_SHOWN) {
                    tr {
                        td { "v" (v.version) @if v.version == def.version { " " span.badge.active { (lang.t("当前", "current")) } } }
                        td { (when(Some(v.created_at))) }
                        td { (v.definition.steps.len()) }
                        td {
                            @if shown.is_some_and(|x| x.version == v.version) { (lang.t("显示在下方", "shown below")) }
                            @else { a href=(format!("/console/workflows/definitions/{id}/versions?version={}", v.version)) { (lang.t("查看 JSON", "Show JSON")) } }
                        }
                    }
                }
            }
        }
        @if older > 0 {
            p.muted { (lang.t("更早的版本数：", "Older versions not listed: ")) (older) }
        }
        @if let Some(v) = shown {
            h2 { "v" (v.version) }
            pre.log { (pretty(&v.definition)) }
        }
    };
    let title = format!("{} · {}", def.name, lang.t("版本", "versions"));
    page_of(&m, StatusCode::OK, Tab::Definitions, &title, body)
}
