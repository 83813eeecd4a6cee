//! The Workflow Platform's console pages (issue 13) under `/console/workflows`: definitions
//! (list, a JSON editor whose validation errors are shown next to it, versions, run),
//! executions (filtered list, a detail page whose step timeline follows the engine's event
//! log live, cancel and retry), schedules, proxy pools (status, per-target health, test),
//! collections (items, exports) and the subscription (plan, usage per meter, upgrade,
//! cancel).
//!
//! Every page calls the app's services and stores directly, with the API's authorization:
//! another user's object is the 404 page (admins see everyone's, as in the API). Errors a
//! user can fix are shown in place with the API's message and its 4xx status.

mod data;
mod definitions;
mod editor;
mod executions;
mod live;
mod pools;
mod schedules;

use axum::Router;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use trellis_console::page::{self, Nav};
use trellis_console::{Lang, Member};

use crate::error::WorkflowError;
use crate::state::WorkflowState;

/// Rows per list page.
pub const PAGE_SIZE: i64 = 20;

/// The console routes of the workflow app.
pub fn router() -> Router<WorkflowState> {
    Router::new()
        .route("/console/workflows", get(definitions::list))
        .route("/console/workflows/definitions/new", get(editor::new_page))
        .route("/console/workflows/definitions", post(definitions::create))
        .route(
            "/console/workflows/definitions/{id}",
            get(editor::edit_page).post(definitions::save),
        )
        .route(
            "/console/workflows/definitions/{id}/versions",
            get(definitions::versions),
        )
        .route(
            "/console/workflows/definitions/{id}/run",
            post(definitions::run),
        )
        .route(
            "/console/workflows/definitions/{id}/delete",
            post(definitions::delete),
        )
        .route("/console/workflows/executions", get(executions::list))
        .route(
            "/console/workflows/executions/{id}",
            get(executions::detail),
        )
        .route(
            "/console/workflows/executions/{id}/events",
            get(live::events),
        )
        .route(
            "/console/workflows/executions/{id}/cancel",
            post(executions::cancel),
        )
        .route(
            "/console/workflows/executions/{id}/retry",
            post(executions::retry),
        )
        .route(
            "/console/workflows/schedules",
            get(schedules::schedules).post(schedules::create_schedule),
        )
        .route(
            "/console/workflows/schedules/{id}/{action}",
            post(schedules::schedule_action),
        )
        .route(
            "/console/workflows/pools",
            get(pools::pools).post(pools::create_pool),
        )
        .route("/console/workflows/pools/{id}", get(pools::pool))
        .route("/console/workflows/pools/{id}/test", post(pools::test_pool))
        .route(
            "/console/workflows/pools/{id}/proxies",
            post(pools::add_proxies),
        )
        .route("/console/workflows/collections", get(data::collections))
        .route("/console/workflows/collections/{id}", get(data::collection))
        .route(
            "/console/workflows/collections/{id}/export",
            get(data::export),
        )
        .route("/console/workflows/subscription", get(data::subscription))
        .route(
            "/console/workflows/subscription/{action}",
            post(data::change_subscription),
        )
}

/// The section's sub-pages, for the tabs under the title.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Definitions,
    Executions,
    Schedules,
    Pools,
    Collections,
    Subscription,
}

const TABS: &[(Tab, &str, &str, &str)] = &[
    (
        Tab::Definitions,
        "/console/workflows",
        "工作流定义",
        "Definitions",
    ),
    (
        Tab::Executions,
        "/console/workflows/executions",
        "执行记录",
        "Executions",
    ),
    (
        Tab::Schedules,
        "/console/workflows/schedules",
        "定时调度",
        "Schedules",
    ),
    (
        Tab::Pools,
        "/console/workflows/pools",
        "代理池",
        "Proxy pools",
    ),
    (
        Tab::Collections,
        "/console/workflows/collections",
        "采集结果",
        "Collections",
    ),
    (
        Tab::Subscription,
        "/console/workflows/subscription",
        "订阅",
        "Subscription",
    ),
];

/// A whole page of the section: the frame, the tabs, then `body`.
fn page_of(
    m: &Member,
    status: axum::http::StatusCode,
    tab: Tab,
    title: &str,
    body: Markup,
) -> Response {
    let lang = m.lang();
    let body = html! {
        nav.tabs aria-label=(lang.t("工作流页面", "Workflow pages")) {
            @for (t, path, zh, en) in TABS {
                a href=(path) aria-current=[(*t == tab).then_some("page")] { (lang.t(zh, en)) }
            }
        }
        (body)
    };
    page::respond(
        status,
        page::frame(&m.guest, Some(m), Nav::Workflows, title, body),
    )
}

/// The page for a failed operation: the 404 page for "not found" (another user's object
/// included), else the API's message with its status.
fn fail(m: &Member, e: impl Into<trellis_kernel::ApiError>) -> Response {
    page::failure_page(m, Nav::Workflows, m.lang().t("工作流", "Workflows"), e)
}

/// The API's message for a failed operation (a generic one for server faults).
fn message(e: WorkflowError) -> (axum::http::StatusCode, String) {
    trellis_console::shell::failure(e)
}

/// A time as the console shows it (UTC).
fn when(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "—".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// A run or step state in the page's language.
fn state_label(lang: Lang, s: &str) -> &'static str {
    match s {
        "pending" => lang.t("等待中", "pending"),
        "queued" => lang.t("排队中", "queued"),
        "running" => lang.t("运行中", "running"),
        "completed" => lang.t("已完成", "completed"),
        "failed" => lang.t("失败", "failed"),
        "timed_out" => lang.t("已超时", "timed out"),
        "crashed" => lang.t("已崩溃", "crashed"),
        "cancelling" => lang.t("取消中", "cancelling"),
        "cancelled" => lang.t("已取消", "cancelled"),
        "skipped" => lang.t("已跳过", "skipped"),
        "reused" => lang.t("沿用结果", "reused"),
        _ => lang.t("未知", "unknown"),
    }
}

/// A state badge (`class` is the state's name, for the stylesheet and the tests).
fn badge(lang: Lang, s: &str) -> Markup {
    html! { span class=(format!("badge {s}")) { (state_label(lang, s)) } }
}

/// A pager under a list: previous and next links, and where we are.
fn pager(lang: Lang, page_no: i64, total: i64, size: i64, url: impl Fn(i64) -> String) -> Markup {
    let pages = ((total + size - 1) / size).max(1);
    html! {
        nav.row aria-label=(lang.t("分页", "Pages")) {
            @if page_no > 1 {
                a rel="prev" href=(url(page_no - 1)) { (lang.t("上一页", "Previous")) }
            }
            span.muted {
                @match lang {
                    Lang::Zh => { "第 " (page_no) " / " (pages) " 页，共 " (total) " 条" },
                    Lang::En => { "Page " (page_no) " of " (pages) ", " (total) " in all" },
                }
            }
            @if page_no < pages {
                a rel="next" href=(url(page_no + 1)) { (lang.t("下一页", "Next")) }
            }
        }
    }
}

/// `name=value` pairs as a query string (empty values left out).
fn query(pairs: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

/// A 1-based page number from a query value (the API's rule: 1 or more).
fn page_no(v: Option<&str>) -> Result<i64, WorkflowError> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(1),
        Some(v) => v.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            WorkflowError::field(
                "page",
                "out_of_range",
                "page is 1 or more and page_size 1 to 100",
            )
        }),
    }
}
