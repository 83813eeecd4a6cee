//! The workspace's labels (`/console/issues/labels`: list and create) and cycles
//! (`/console/issues/cycles`: each with its progress, completed of total issues).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use trellis_console::Member;
use trellis_console::page::{self, Nav, csrf_input, error_note};

use super::{fail, message, scope, tabs};
use crate::domain::CycleStatus;
use crate::service::cycles as cycle_svc;
use crate::service::labels::{self as label_svc, LabelFilter, NewLabel};
use crate::service::teams as team_svc;
use crate::state::MomentumState;

/// Cycles shown on the page (newest start dates); each costs one count query.
pub const CYCLES_SHOWN: usize = 50;

/// The new-label form (the API's field names).
#[derive(Deserialize, Default)]
pub struct LabelForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    color: String,
    #[serde(default)]
    level: String,
}

async fn labels_view(
    st: &MomentumState,
    m: &Member,
    status: StatusCode,
    error: Option<&str>,
    form: &LabelForm,
) -> Response {
    let scope = match scope(st, m).await {
        Ok(s) => s,
        Err(e) => return fail(m, e),
    };
    let all = match label_svc::list(st, &scope, &LabelFilter::default()).await {
        Ok(l) => l,
        Err(e) => return fail(m, e),
    };
    let lang = m.lang();
    let color = if form.color.is_empty() {
        "#5E6AD2"
    } else {
        &form.color
    };
    let body = html! {
        (tabs(m, "labels"))
        section.card {
            h2 { (lang.t("全部标签", "All labels")) " " span.muted { "(" (all.len()) ")" } }
            table {
                thead { tr {
                    th scope="col" { (lang.t("名称", "Name")) }
                    th scope="col" { (lang.t("颜色", "Color")) }
                    th scope="col" { (lang.t("用于", "For")) }
                } }
                tbody {
                    @for l in &all {
                        tr {
                            td { (l.name) }
                            td { code { (l.color) } }
                            td { (match l.level.as_str() { "project" => lang.t("项目", "projects"), _ => lang.t("议题", "issues") }) }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { (lang.t("新建标签", "New label")) }
            (error_note(error))
            form.stack method="post" action="/console/issues/labels" {
                (csrf_input(&m.guest.ctx))
                label { (lang.t("名称", "Name")) input type="text" name="name" required maxlength="50" value=(form.name); }
                label { (lang.t("颜色", "Color")) input type="color" name="color" value=(color); }
                label { (lang.t("用于", "For"))
                    select name="level" {
                        option value="issue" selected[form.level != "project"] { (lang.t("议题", "Issues")) }
                        option value="project" selected[form.level == "project"] { (lang.t("项目", "Projects")) }
                    }
                }
                button type="submit" { (lang.t("创建标签", "Create label")) }
            }
        }
    };
    let title = lang.t("标签", "Labels");
    page::respond(
        status,
        page::frame(&m.guest, Some(m), Nav::Issues, title, body),
    )
}

/// `GET /console/issues/labels`.
pub async fn labels(State(st): State<MomentumState>, m: Member) -> Response {
    labels_view(&st, &m, StatusCode::OK, None, &LabelForm::default()).await
}

/// `POST /console/issues/labels`: creates a label; the service's message in place.
pub async fn add_label(
    State(st): State<MomentumState>,
    m: Member,
    axum::Form(f): axum::Form<LabelForm>,
) -> Response {
    let scope = match scope(&st, &m).await {
        Ok(s) => s,
        Err(e) => return fail(&m, e),
    };
    let b = NewLabel {
        name: Some(f.name.clone()),
        color: Some(f.color.clone()),
        level: Some(f.level.clone()).filter(|l| !l.is_empty()),
    };
    match label_svc::create(&st, &scope, &b).await {
        Ok(_) => page::redirect_to(false, "/console/issues/labels"),
        Err(e) => {
            let (status, msg) = message(e);
            labels_view(&st, &m, status, Some(&msg), &f).await
        }
    }
}

/// A cycle status's label.
fn status_label(lang: trellis_console::Lang, s: CycleStatus) -> &'static str {
    match s {
        CycleStatus::Planned => lang.t("计划中", "planned"),
        CycleStatus::Active => lang.t("进行中", "active"),
        CycleStatus::Completed => lang.t("已完成", "completed"),
    }
}

/// `GET /console/issues/cycles`: the workspace's cycles (of the teams the member sees) with
/// their progress.
pub async fn cycles(State(st): State<MomentumState>, m: Member) -> Response {
    let scope = match scope(&st, &m).await {
        Ok(s) => s,
        Err(e) => return fail(&m, e),
    };
    let teams = match team_svc::list(&st, &scope).await {
        Ok(t) => t,
        Err(e) => return fail(&m, e),
    };
    let mut all = match cycle_svc::list(&st, &scope, None, None).await {
        Ok(c) => c,
        Err(e) => return fail(&m, e),
    };
    all.retain(|c| teams.iter().any(|t| t.id == c.team_id));
    all.reverse();
    all.truncate(CYCLES_SHOWN);
    let mut rows = Vec::with_capacity(all.len());
    for c in all {
        match cycle_svc::stats(&st, &scope, c.id).await {
            Ok(s) => rows.push((c, s)),
            Err(e) => return fail(&m, e),
        }
    }
    let lang = m.lang();
    let body = html! {
        (tabs(&m, "cycles"))
        @if rows.is_empty() {
            p.muted { (lang.t("还没有周期。", "No cycles yet.")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (lang.t("周期", "Cycle")) }
                    th scope="col" { (lang.t("团队", "Team")) }
                    th scope="col" { (lang.t("日期", "Dates")) }
                    th scope="col" { (lang.t("状态", "Status")) }
                    th scope="col" { (lang.t("进度（已完成/全部）", "Progress (completed/total)")) }
                } }
                tbody {
                    @for (c, s) in &rows {
                        @let team = teams.iter().find(|t| t.id == c.team_id).map(|t| t.name.as_str()).unwrap_or("—");
                        @let done = s.by_category.completed.count;
                        tr {
                            td { (c.name) }
                            td { (team) }
                            td { (c.start_date) " – " (c.end_date) }
                            td { span class=(format!("badge {}", c.status.as_str())) { (status_label(lang, c.status)) } }
                            td {
                                progress max=(s.total.max(1)) value=(done) aria-label=(format!("{} {}", c.name, lang.t("进度", "progress"))) { (done) "/" (s.total) }
                                " " span.progress-text { (done) "/" (s.total) }
                            }
                        }
                    }
                }
            }
        }
    };
    page::respond(
        StatusCode::OK,
        page::frame(
            &m.guest,
            Some(&m),
            Nav::Issues,
            lang.t("周期", "Cycles"),
            body,
        ),
    )
}
