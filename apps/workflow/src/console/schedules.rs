//! Schedules: the list (cron or interval, next and last run, enabled or paused), create,
//! pause/resume and delete. The API's own handlers do the work, so the rules (and their
//! 402/422 messages, shown above the form) are one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use serde_json::Value;
use trellis_console::Member;
use trellis_console::page::{self, csrf_input, error_note};
use trellis_kernel::extract::Json;
use uuid::Uuid;

use super::{Tab, fail, page_of, when};
use crate::error::WorkflowError;
use crate::routes::workflow::schedules::{self as sched, ScheduleBody};
use crate::service::executions::at;
use crate::state::WorkflowState;

/// The create-schedule form (the API's field names; `input` is JSON text).
#[derive(Deserialize, Default)]
pub struct ScheduleForm {
    #[serde(default)]
    definition_id: String,
    #[serde(default)]
    cron: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    interval_seconds: String,
    #[serde(default)]
    input: String,
}

/// `GET /console/workflows/schedules`.
pub async fn schedules(State(s): State<WorkflowState>, m: Member) -> Response {
    schedules_view(&s, &m, StatusCode::OK, None, &ScheduleForm::default()).await
}

async fn schedules_view(
    s: &WorkflowState,
    m: &Member,
    status: StatusCode,
    problem: Option<&str>,
    f: &ScheduleForm,
) -> Response {
    let lang = m.lang();
    let owner = (!m.principal.role.is_admin()).then_some(m.principal.user_id);
    let list = match s.engine.schedules(owner).await {
        Ok(l) => l,
        Err(e) => return fail(m, WorkflowError::from(e)),
    };
    let defs = match crate::store::definitions::list(
        &s.platform.db,
        Some(m.principal.user_id),
        None,
        100,
        0,
    )
    .await
    {
        Ok((d, _)) => d,
        Err(e) => return fail(m, WorkflowError::from(e)),
    };
    let ctx = &m.guest.ctx;
    let name_of = |id: Uuid| {
        defs.iter()
            .find(|d| d.id == id)
            .map_or_else(|| id.to_string(), |d| d.name.clone())
    };
    let body = html! {
        @if list.is_empty() {
            p.muted { (lang.t("还没有定时调度。", "No schedules yet.")) }
        } @else {
            table {
                caption.muted { (lang.t("定时调度", "Schedules")) }
                thead { tr {
                    th scope="col" { (lang.t("工作流", "Workflow")) }
                    th scope="col" { (lang.t("时间规则", "Timing")) }
                    th scope="col" { (lang.t("下次运行", "Next run")) }
                    th scope="col" { (lang.t("上次运行", "Last run")) }
                    th scope="col" { (lang.t("状态", "State")) }
                    th scope="col" { (lang.t("操作", "Actions")) }
                } }
                tbody {
                    @for x in &list {
                        tr {
                            td { a href=(format!("/console/workflows/definitions/{}", x.subject_id)) { (name_of(x.subject_id)) } }
                            td {
                                @if let Some(c) = &x.cron { code { (c) } " (" (x.timezone) ")" }
                                @if let Some(n) = x.interval_seconds { (lang.t("每 ", "every ")) (n) (lang.t(" 秒", " s")) }
                            }
                            td { (when(at(x.next_fire_ms))) }
                            td {
                                (when(at(x.last_fire_ms)))
                                @if let Some(r) = x.last_run_id { " " a href=(format!("/console/workflows/executions/{r}")) { (lang.t("查看", "view")) } }
                            }
                            td {
                                @if x.paused {
                                    span.badge.disabled { (lang.t("已暂停", "paused")) }
                                    @if let Some(r) = &x.pause_reason { br; span.muted { (r) } }
                                } @else {
                                    span.badge.enabled { (lang.t("已启用", "enabled")) }
                                }
                            }
                            td {
                                form.inline method="post" action=(format!("/console/workflows/schedules/{}/{}", x.id, if x.paused { "resume" } else { "pause" })) {
                                    (csrf_input(ctx))
                                    button.secondary type="submit" { @if x.paused { (lang.t("启用", "Enable")) } @else { (lang.t("暂停", "Pause")) } }
                                }
                                " "
                                form.inline method="post" action=(format!("/console/workflows/schedules/{}/delete", x.id))
                                    data-confirm=(lang.t("确定删除这个调度？", "Delete this schedule?")) {
                                    (csrf_input(ctx))
                                    button.danger type="submit" { (lang.t("删除", "Delete")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { (lang.t("新建调度", "New schedule")) }
            (error_note(problem))
            form.stack method="post" action="/console/workflows/schedules" {
                (csrf_input(ctx))
                label for="definition_id" { (lang.t("工作流", "Workflow")) }
                select id="definition_id" name="definition_id" required {
                    @for d in &defs { option value=(d.id) selected[f.definition_id == d.id.to_string()] { (d.name) } }
                }
                label for="cron" { (lang.t("Cron 表达式（5 段，或秒在前的 6 段）", "Cron expression (5 fields, or 6 with seconds first)")) }
                input id="cron" name="cron" value=(f.cron) placeholder="*/5 * * * *" maxlength="200";
                label for="timezone" { (lang.t("时区（默认 UTC）", "Time zone (default UTC)")) }
                input id="timezone" name="timezone" value=(f.timezone) placeholder="Asia/Shanghai" maxlength="64";
                label for="interval_seconds" { (lang.t("或：间隔秒数", "Or: interval in seconds")) }
                input id="interval_seconds" name="interval_seconds" type="number" min="1" value=(f.interval_seconds);
                label for="schedule-input" { (lang.t("输入 (JSON，可留空)", "Input (JSON, may be empty)")) }
                textarea id="schedule-input" name="input" rows="3" spellcheck="false" { (f.input) }
                button type="submit" { (lang.t("创建调度", "Create the schedule")) }
            }
        }
    };
    page_of(
        m,
        status,
        Tab::Schedules,
        lang.t("定时调度", "Schedules"),
        body,
    )
}

fn schedule_body(f: &ScheduleForm) -> Result<ScheduleBody, WorkflowError> {
    let definition_id = match f.definition_id.trim() {
        "" => None,
        v => Some(v.parse::<Uuid>().map_err(|_| {
            WorkflowError::field("definition_id", "invalid", "definition_id is not a UUID")
        })?),
    };
    let interval_seconds = match f.interval_seconds.trim() {
        "" => None,
        v => Some(v.parse::<i64>().map_err(|_| {
            WorkflowError::field(
                "interval_seconds",
                "invalid",
                "interval_seconds must be a whole number",
            )
        })?),
    };
    let input = match f.input.trim() {
        "" => None,
        v => Some(serde_json::from_str::<Value>(v).map_err(|e| {
            WorkflowError::field(
                "input",
                "invalid_json",
                format!("input is not valid JSON ({e})"),
            )
        })?),
    };
    let some = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    Ok(ScheduleBody {
        definition_id,
        cron: some(&f.cron),
        interval_seconds,
        timezone: some(&f.timezone),
        overlap: None,
        catchup_seconds: None,
        input,
        max_failures: None,
    })
}

/// `POST /console/workflows/schedules`: create (the API's handler, its 402/422 messages
/// shown above the form).
pub async fn create_schedule(
    State(s): State<WorkflowState>,
    m: Member,
    axum::Form(f): axum::Form<ScheduleForm>,
) -> Response {
    let done = match schedule_body(&f) {
        Ok(b) => sched::create(State(s.clone()), m.principal.clone(), Json(b))
            .await
            .map(|_| ()),
        Err(e) => Err(e.into()),
    };
    match done {
        Ok(()) => page::redirect_to(false, "/console/workflows/schedules"),
        Err(e) => {
            let (status, msg) = trellis_console::shell::failure(e);
            schedules_view(&s, &m, status, Some(&msg), &f).await
        }
    }
}

/// `POST /console/workflows/schedules/{id}/{pause|resume|delete}`.
pub async fn schedule_action(
    State(s): State<WorkflowState>,
    m: Member,
    Path((id, action)): Path<(Uuid, String)>,
) -> Response {
    let (st, p, path) = (
        State(s.clone()),
        m.principal.clone(),
        trellis_kernel::extract::Path(id),
    );
    let done = match action.as_str() {
        "pause" => sched::pause(st, p, path).await.map(|_| ()),
        "resume" => sched::resume(st, p, path).await.map(|_| ()),
        "delete" => sched::delete(st, p, path).await.map(|_| ()),
        _ => return page::not_found(&m),
    };
    match done {
        Ok(()) => page::redirect_to(false, "/console/workflows/schedules"),
        Err(e) => fail(&m, e),
    }
}
