//! Executions: the list with the API's filters (`status`, `definition_id`) and a pager, and
//! the detail page whose step timeline follows the engine's event log live (its `data-sse`
//! element reads the stream in `live.rs`). Cancel and retry are POST forms.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use trellis_console::page::{self, csrf_input, error_note};
use trellis_console::{Ctx, Lang, Member};
use trellis_engine::RunStatus;
use uuid::Uuid;

use super::{PAGE_SIZE, Tab, badge, fail, message, page_no, page_of, pager, query, when};
use crate::error::WorkflowError;
use crate::service::executions::{self as svc, ExecutionDetail, ListFilter};
use crate::state::WorkflowState;

/// Query of the list page: the API's filter names.
#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    definition_id: Option<String>,
    page: Option<String>,
}

fn filter_of(q: &ListQuery) -> Result<ListFilter, WorkflowError> {
    let status = match q.status.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(RunStatus::parse(v).ok_or_else(|| {
            WorkflowError::field("status", "invalid", format!("unknown status {v:?}"))
        })?),
    };
    let definition_id = match q.definition_id.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(v.parse::<Uuid>().map_err(|_| {
            WorkflowError::field("definition_id", "invalid", "definition_id is not a UUID")
        })?),
    };
    Ok(ListFilter {
        definition_id,
        status,
        from: None,
        to: None,
    })
}

/// `GET /console/workflows/executions`: the caller's executions, newest first.
pub async fn list(
    State(s): State<WorkflowState>,
    m: Member,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = m.lang();
    let (f, page_no) = match filter_of(&q).and_then(|f| Ok((f, page_no(q.page.as_deref())?))) {
        Ok(x) => x,
        Err(e) => return fail(&m, e),
    };
    let owner = (!m.principal.role.is_admin()).then_some(m.principal.user_id);
    let defs = crate::store::definitions::list(&s.platform.db, owner, None, 100, 0).await;
    let defs = match defs {
        Ok((d, _)) => d,
        Err(e) => return fail(&m, WorkflowError::from(e)),
    };
    let page = match svc::list(&s, &m.principal, f.clone(), page_no, PAGE_SIZE).await {
        Ok(p) => p,
        Err(e) => return fail(&m, e),
    };
    let name_of = |id: Option<Uuid>| {
        id.and_then(|id| defs.iter().find(|d| d.id == id))
            .map_or_else(|| "—".to_string(), |d| d.name.clone())
    };
    let status_v = f.status.map(|s| s.as_str().to_string()).unwrap_or_default();
    let def_v = f.definition_id.map(|d| d.to_string()).unwrap_or_default();
    let body = html! {
        form.row role="search" method="get" action="/console/workflows/executions" {
            div {
                label for="status" { (lang.t("状态", "Status")) }
                select id="status" name="status" {
                    option value="" { (lang.t("全部", "All")) }
                    @for st in RunStatus::ALL {
                        option value=(st.as_str()) selected[status_v == st.as_str()] { (super::state_label(lang, st.as_str())) }
                    }
                }
            }
            div {
                label for="definition_id" { (lang.t("工作流", "Workflow")) }
                select id="definition_id" name="definition_id" {
                    option value="" { (lang.t("全部", "All")) }
                    @for d in &defs {
                        option value=(d.id) selected[def_v == d.id.to_string()] { (d.name) }
                    }
                }
            }
            button type="submit" { (lang.t("筛选", "Filter")) }
        }
        @if page.items.is_empty() {
            p.muted { (lang.t("没有符合条件的执行记录。", "No executions match.")) }
        } @else {
            table {
                caption.muted { (lang.t("执行记录（最新在前）", "Executions (newest first)")) }
                thead { tr {
                    th scope="col" { (lang.t("执行", "Execution")) }
                    th scope="col" { (lang.t("工作流", "Workflow")) }
                    th scope="col" { (lang.t("状态", "Status")) }
                    th scope="col" { (lang.t("尝试", "Attempt")) }
                    th scope="col" { (lang.t("创建时间", "Created")) }
                    th scope="col" { (lang.t("耗时 (ms)", "Duration (ms)")) }
                } }
                tbody {
                    @for e in &page.items {
                        tr {
                            td { a href=(format!("/console/workflows/executions/{}", e.id)) { code { (short(e.id)) } } }
                            td { (name_of(e.definition_id)) @if let Some(v) = e.definition_version { " v" (v) } }
                            td { (badge(lang, e.status.as_str())) }
                            td { (e.attempt) }
                            td { (when(e.created_at)) }
                            td { (e.duration_ms.map_or_else(|| "—".to_string(), |d| d.to_string())) }
                        }
                    }
                }
            }
        }
        (pager(lang, page_no, page.total, PAGE_SIZE, |n| format!("/console/workflows/executions?{}",
            query(&[("status", status_v.clone()), ("definition_id", def_v.clone()), ("page", n.to_string())]))))
    };
    page_of(
        &m,
        StatusCode::OK,
        Tab::Executions,
        lang.t("执行记录", "Executions"),
        body,
    )
}

fn short(id: Uuid) -> String {
    id.to_string().chars().take(8).collect()
}

/// Whether the API retries an execution in this state.
fn retryable(s: RunStatus) -> bool {
    matches!(
        s,
        RunStatus::Failed | RunStatus::TimedOut | RunStatus::Crashed | RunStatus::Cancelled
    )
}

/// At most `n` characters of `s` (outputs can be large; the page stays small).
fn clip(s: String, n: usize) -> String {
    if s.chars().count() <= n {
        s
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

/// The summary: status, definition, attempt, times, error.
pub(super) fn summary(lang: Lang, d: &ExecutionDetail) -> Markup {
    let e = &d.execution;
    html! {
        p {
            (lang.t("状态：", "Status: ")) span id="wf-status" { (badge(lang, e.status.as_str())) }
            " · " (lang.t("第 ", "attempt ")) (e.attempt) (lang.t(" 次尝试", ""))
            @if let Some(def) = e.definition_id {
                " · " a href=(format!("/console/workflows/definitions/{def}")) { (lang.t("工作流定义", "definition")) }
                @if let Some(v) = e.definition_version { " v" (v) }
            }
        }
        p.muted {
            (lang.t("创建 ", "created ")) (when(e.created_at)) " · "
            (lang.t("开始 ", "started ")) (when(e.started_at)) " · "
            (lang.t("结束 ", "finished ")) (when(e.finished_at))
            @if let Some(ms) = e.duration_ms { " · " (ms) " ms" }
        }
        @if let Some(r) = &e.reason { p.muted { (lang.t("原因：", "Reason: ")) (r) } }
        @if let Some(err) = &e.error { p.error role="alert" { (err) } }
    }
}

/// The timeline rows: one per step record, by attempt then start; a retry button on the
/// latest attempt's failed, cancelled and timed-out steps once the execution may be retried.
pub(super) fn timeline(lang: Lang, ctx: &Ctx, d: &ExecutionDetail) -> Markup {
    let e = &d.execution;
    let can_retry = retryable(e.status);
    html! {
        @if d.steps.is_empty() {
            tr { td colspan="7" { span.muted { (lang.t("还没有步骤开始。", "No step has started yet.")) } } }
        }
        @for st in &d.steps {
            tr id=(format!("step-{}-{}", st.attempt, st.step_id)) class=(st.status.as_str()) {
                td { (st.attempt) }
                th scope="row" { code { (st.step_id) } }
                td { (st.kind) }
                td { (badge(lang, st.status.as_str())) }
                td { (st.tries) }
                td { (when(st.started_at)) @if let Some(ms) = st.duration_ms { br; span.muted { (ms) " ms" } } }
                td {
                    @if let Some(err) = &st.error { p.error { (clip(err.clone(), 500)) } }
                    @if let Some(out) = &st.output {
                        details { summary { (lang.t("输出", "Output")) } pre.log { (clip(out.to_string(), 800)) } }
                    }
                    @if !st.logs.is_empty() {
                        details { summary { (lang.t("日志", "Logs")) } pre.log { @for l in st.logs.iter().take(20) { (clip(l.clone(), 300)) "\n" } } }
                    }
                    @if can_retry && st.attempt == e.attempt
                        && matches!(st.status.as_str(), "failed" | "cancelled" | "timed_out") {
                        form.inline method="post" action=(format!("/console/workflows/executions/{}/retry", e.id)) {
                            (csrf_input(ctx))
                            input type="hidden" name="from_step" value=(st.step_id);
                            button.secondary type="submit" aria-label=(format!("{} {}", lang.t("从此步骤重试", "Retry from step"), st.step_id)) {
                                (lang.t("从此步骤重试", "Retry from this step"))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The buttons: cancel while the execution runs, retry once it failed or was cancelled.
pub(super) fn actions(lang: Lang, ctx: &Ctx, d: &ExecutionDetail) -> Markup {
    let e = &d.execution;
    let url = |a: &str| format!("/console/workflows/executions/{}/{a}", e.id);
    html! {
        @if !e.status.is_final() && e.status != RunStatus::Cancelling {
            form.inline method="post" action=(url("cancel"))
                data-confirm=(lang.t("确定取消这次执行？", "Cancel this execution?")) {
                (csrf_input(ctx))
                button.danger type="submit" { (lang.t("取消执行", "Cancel the execution")) }
            }
        }
        @if retryable(e.status) {
            form.inline method="post" action=(url("retry")) {
                (csrf_input(ctx))
                button type="submit" { (lang.t("重试失败的步骤", "Retry the failed steps")) }
            }
            " "
            form.inline method="post" action=(url("retry")) {
                (csrf_input(ctx))
                input type="hidden" name="from_start" value="true";
                button.secondary type="submit" { (lang.t("从头重试", "Retry from the start")) }
            }
            " "
            form.inline method="post" action=(url("retry")) {
                (csrf_input(ctx))
                input type="hidden" name="use_latest_definition" value="true";
                button.secondary type="submit" { (lang.t("用最新版本重试", "Retry on the newest version")) }
            }
        }
    }
}

pub(super) fn transitions(lang: Lang, d: &ExecutionDetail) -> Markup {
    html! {
        @for t in &d.transitions {
            li { (when(t.at)) " · " code { (t.event) } " · " (lang.t("第 ", "attempt ")) (t.attempt) (lang.t(" 次", ""))
                 @if let Some(r) = &t.reason { " · " span.muted { (r) } } }
        }
    }
}

/// `GET /console/workflows/executions/{id}`.
pub async fn detail(State(s): State<WorkflowState>, m: Member, Path(id): Path<Uuid>) -> Response {
    detail_view(&s, &m, id, StatusCode::OK, None).await
}

async fn detail_view(
    s: &WorkflowState,
    m: &Member,
    id: Uuid,
    status: StatusCode,
    problem: Option<&str>,
) -> Response {
    let lang = m.lang();
    let d = match svc::detail(s, &m.principal, id).await {
        Ok(d) => d,
        Err(e) => return fail(m, e),
    };
    let ctx = &m.guest.ctx;
    let live = !d.execution.status.is_final();
    let body = html! {
        (error_note(problem))
        section.card id="wf-execution"
            data-sse=[live.then(|| format!("/console/workflows/executions/{id}/events?after={}", d.last_event_id))] {
            div id="wf-summary" aria-live="polite" { (summary(lang, &d)) }
            div id="wf-actions" { (actions(lang, ctx, &d)) }
            h2 { (lang.t("步骤时间线", "Step timeline")) }
            table {
                thead { tr {
                    th scope="col" { (lang.t("尝试", "Attempt")) }
                    th scope="col" { (lang.t("步骤", "Step")) }
                    th scope="col" { (lang.t("类型", "Type")) }
                    th scope="col" { (lang.t("状态", "Status")) }
                    th scope="col" { (lang.t("次数", "Tries")) }
                    th scope="col" { (lang.t("开始", "Started")) }
                    th scope="col" { (lang.t("详情", "Details")) }
                } }
                tbody id="wf-steps" { (timeline(lang, ctx, &d)) }
            }
            h2 { (lang.t("状态变化", "State changes")) }
            ol.timeline id="wf-transitions" { (transitions(lang, &d)) }
        }
        details {
            summary { (lang.t("输入", "Input")) }
            pre.log { (clip(d.execution.input.to_string(), 2000)) }
        }
        p { a href="/console/workflows/executions" { (lang.t("返回执行记录", "Back to executions")) } }
    };
    let title = format!("{} {}", lang.t("执行", "Execution"), short(id));
    page_of(m, status, Tab::Executions, &title, body)
}

/// `POST /console/workflows/executions/{id}/cancel`.
pub async fn cancel(State(s): State<WorkflowState>, m: Member, Path(id): Path<Uuid>) -> Response {
    match svc::cancel(&s, &m.principal, id).await {
        Ok(_) => page::redirect_to(false, &format!("/console/workflows/executions/{id}")),
        Err(WorkflowError::NotFound(w)) => fail(&m, WorkflowError::NotFound(w)),
        Err(e) => {
            let (status, msg) = message(e);
            detail_view(&s, &m, id, status, Some(&msg)).await
        }
    }
}

/// The retry form: the API's `from_step`, `from_start` and `use_latest_definition`.
#[derive(Deserialize)]
pub struct RetryForm {
    from_step: Option<String>,
    from_start: Option<String>,
    use_latest_definition: Option<String>,
}

/// `POST /console/workflows/executions/{id}/retry`.
pub async fn retry(
    State(s): State<WorkflowState>,
    m: Member,
    Path(id): Path<Uuid>,
    axum::Form(f): axum::Form<RetryForm>,
) -> Response {
    let from_step = f.from_step.filter(|v| !v.is_empty());
    let from_start = f.from_start.as_deref() == Some("true");
    let latest = f.use_latest_definition.as_deref() == Some("true");
    match svc::retry(&s, &m.principal, id, from_step, from_start, latest).await {
        Ok(_) => page::redirect_to(false, &format!("/console/workflows/executions/{id}")),
        Err(WorkflowError::NotFound(w)) => fail(&m, WorkflowError::NotFound(w)),
        Err(e) => {
            let (status, msg) = message(e);
            detail_view(&s, &m, id, status, Some(&msg)).await
        }
    }
}
