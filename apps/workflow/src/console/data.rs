//! Collections (list, a collection's items paged, export links to a console route that
//! streams the API's own export with the cookie session) and the subscription (plan, usage
//! per meter as `<meter>` bars, subscribe, upgrade and cancel with confirmation).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use trellis_console::page::{self, csrf_input, error_note, ok_note};
use trellis_console::{Lang, Member};
use uuid::Uuid;

use super::{PAGE_SIZE, Tab, fail, message, page_no, page_of, pager, when};
use crate::domain::plans::{FREE, Meter, catalogue};
use crate::domain::subscription::Status;
use crate::error::WorkflowError;
use crate::routes::collections::{ExportQuery, export_items};
use crate::service::definitions::visible;
use crate::service::{quota, subscriptions as subs};
use crate::state::WorkflowState;
use crate::store::collections::{self as store, Collection};

/// The export formats the API offers.
const FORMATS: &[&str] = &["csv", "xlsx", "json", "jsonl"];

/// Query of the list pages.
#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

/// `GET /console/workflows/collections`: the caller's collector runs, newest first.
pub async fn collections(
    State(s): State<WorkflowState>,
    m: Member,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = m.lang();
    let page_no = match page_no(q.page.as_deref()) {
        Ok(n) => n,
        Err(e) => return fail(&m, e),
    };
    let owner = (!m.principal.role.is_admin()).then_some(m.principal.user_id);
    let (items, total) = match store::list(
        &s.platform.db,
        owner,
        None,
        PAGE_SIZE,
        (page_no - 1).saturating_mul(PAGE_SIZE),
    )
    .await
    {
        Ok(x) => x,
        Err(e) => return fail(&m, WorkflowError::from(e)),
    };
    let body = html! {
        @if items.is_empty() {
            p.muted { (lang.t("还没有采集结果：运行含有采集步骤（qidian.*、xhs.*）的工作流后会出现在这里。",
                              "No collections yet: they appear here once a workflow with a collector step (qidian.*, xhs.*) runs.")) }
        } @else {
            table {
                caption.muted { (lang.t("采集结果", "Collections")) }
                thead { tr {
                    th scope="col" { (lang.t("采集", "Collection")) }
                    th scope="col" { (lang.t("状态", "Status")) }
                    th scope="col" { (lang.t("新增 / 更新", "New / updated")) }
                    th scope="col" { (lang.t("请求数", "Requests")) }
                    th scope="col" { (lang.t("创建时间", "Created")) }
                    th scope="col" { (lang.t("执行", "Execution")) }
                } }
                tbody {
                    @for c in &items {
                        tr {
                            td { a href=(format!("/console/workflows/collections/{}", c.id)) { (c.operation) } }
                            td { span class=(format!("badge {}", c.status)) { (c.status) } }
                            td { (c.items_new) " / " (c.items_updated) }
                            td { (c.requests) }
                            td { (when(Some(c.created_at))) }
                            td { @if let Some(e) = c.execution_id { a href=(format!("/console/workflows/executions/{e}")) { (lang.t("查看", "view")) } } }
                        }
                    }
                }
            }
            (pager(lang, page_no, total, PAGE_SIZE, |n| format!("/console/workflows/collections?page={n}")))
        }
    };
    page_of(
        &m,
        StatusCode::OK,
        Tab::Collections,
        lang.t("采集结果", "Collections"),
        body,
    )
}

async fn visible_collection(
    s: &WorkflowState,
    m: &Member,
    id: Uuid,
) -> Result<Collection, WorkflowError> {
    store::get(&s.platform.db, id)
        .await?
        .filter(|c| visible(&m.principal, c.owner_id))
        .ok_or(WorkflowError::NotFound("collection"))
}

/// `GET /console/workflows/collections/{id}`: the items table (paged) and the exports.
pub async fn collection(
    State(s): State<WorkflowState>,
    m: Member,
    Path(id): Path<Uuid>,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = m.lang();
    let c = match visible_collection(&s, &m, id).await {
        Ok(c) => c,
        Err(e) => return fail(&m, e),
    };
    let page_no = match page_no(q.page.as_deref()) {
        Ok(n) => n,
        Err(e) => return fail(&m, e),
    };
    let db = &s.platform.db;
    let total = match store::count_items(db, id, None).await {
        Ok(n) => n,
        Err(e) => return fail(&m, WorkflowError::from(e)),
    };
    // Positions are dense from 1 per collection, so a page starts after (page-1)·size.
    let rows = match store::items(
        db,
        id,
        None,
        (page_no - 1).saturating_mul(PAGE_SIZE),
        PAGE_SIZE,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return fail(&m, WorkflowError::from(e)),
    };
    let body = html! {
        p.muted {
            (c.source) " · " code { (c.operation) } " · " span class=(format!("badge {}", c.status)) { (c.status) }
            " · " (lang.t("创建于 ", "created ")) (when(Some(c.created_at)))
        }
        @if let Some(e) = &c.error { p.error role="alert" { (e) } }
        nav.row aria-label=(lang.t("导出", "Export")) {
            span { (lang.t("导出：", "Export: ")) }
            @for f in FORMATS {
                a.button.secondary href=(format!("/console/workflows/collections/{id}/export?format={f}")) download {
                    (f.to_uppercase())
                }
            }
        }
        @if rows.is_empty() {
            p.muted { (lang.t("这个采集还没有条目。", "This collection has no items yet.")) }
        } @else {
            table {
                caption.muted { (lang.t("条目", "Items")) }
                thead { tr {
                    th scope="col" { (lang.t("键", "Key")) }
                    th scope="col" { (lang.t("类型", "Kind")) }
                    th scope="col" { (lang.t("内容", "Data")) }
                    th scope="col" { (lang.t("首次发现", "First seen")) }
                    th scope="col" { (lang.t("更新时间", "Updated")) }
                } }
                tbody {
                    @for r in &rows {
                        tr {
                            td { code { (r.natural_key) } }
                            td { (r.kind) }
                            td { (title_of(&r.data)) }
                            td { (when(Some(r.first_seen_at))) }
                            td { (when(Some(r.updated_at))) }
                        }
                    }
                }
            }
        }
        (pager(lang, page_no, total, PAGE_SIZE, |n| format!("/console/workflows/collections/{id}?page={n}")))
    };
    let title = format!("{} · {}", lang.t("采集结果", "Collection"), c.operation);
    page_of(&m, StatusCode::OK, Tab::Collections, &title, body)
}

/// A short line for an item: its title or name when it has one, else its JSON, clipped.
fn title_of(data: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
    let text = ["title", "name", "display_title", "nickname", "content"]
        .iter()
        .find_map(|k| v.get(*k).and_then(|x| x.as_str()).map(str::to_string))
        .unwrap_or_else(|| data.to_string());
    if text.chars().count() > 120 {
        let mut t: String = text.chars().take(120).collect();
        t.push('…');
        t
    } else {
        text
    }
}

/// Query of the export route: the API's `format` and `kind`.
#[derive(Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    format: String,
    kind: Option<String>,
}

/// `GET /console/workflows/collections/{id}/export?format=`: the API's streamed export,
/// with the console session.
pub async fn export(
    State(s): State<WorkflowState>,
    m: Member,
    Path(id): Path<Uuid>,
    Query(q): Query<ExportForm>,
) -> Response {
    let q = ExportQuery {
        format: q.format,
        kind: q.kind.filter(|k| !k.is_empty()),
    };
    match export_items(
        State(s),
        m.principal.clone(),
        trellis_kernel::extract::Path(id),
        trellis_kernel::extract::Query(q),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => fail(&m, e),
    }
}

/// `GET /console/workflows/subscription`.
pub async fn subscription(State(s): State<WorkflowState>, m: Member) -> Response {
    subscription_view(&s, &m, StatusCode::OK, None).await
}

fn meter_label(lang: Lang, m: Meter) -> &'static str {
    match m {
        Meter::ExecutionsPerMonth => lang.t("本月执行次数", "Executions this month"),
        Meter::ConcurrentExecutions => lang.t("同时运行的执行", "Concurrent executions"),
        Meter::WorkflowDefinitions => lang.t("工作流定义", "Workflow definitions"),
        Meter::ProxyPools => lang.t("代理池", "Proxy pools"),
        Meter::CollectedItemsPerDay => lang.t("今日采集条目", "Items collected today"),
        Meter::Schedules => lang.t("定时调度", "Schedules"),
    }
}

fn price(minor: i64, currency: &str) -> String {
    format!("{}.{:02} {currency}", minor / 100, minor % 100)
}

async fn subscription_view(
    s: &WorkflowState,
    m: &Member,
    status: StatusCode,
    note: Option<Result<&str, &str>>,
) -> Response {
    let lang = m.lang();
    let now = s.platform.clock.now();
    let user = m.principal.user_id;
    let sub = match subs::current(&s.platform.db, user, now).await {
        Ok(v) => v,
        Err(e) => return fail(m, e),
    };
    let usage = match quota::usage(&s.platform.db, user, now).await {
        Ok(u) => u,
        Err(e) => return fail(m, e),
    };
    let plans = catalogue();
    let current_price = plans.get(&sub.plan_id).map_or(0, |p| p.price_monthly);
    let on_free = sub.plan_id == FREE || sub.status == Status::Canceled;
    let ctx = &m.guest.ctx;
    let (ok, err) = match note {
        Some(Ok(t)) => (Some(t), None),
        Some(Err(t)) => (None, Some(t)),
        None => (None, None),
    };
    let body = html! {
        (ok_note(ok))
        (error_note(err))
        section.card {
            h2 { (lang.t("当前套餐", "Current plan")) }
            p {
                strong { (sub.plan_name) } " · " span class=(format!("badge {}", sub.status.as_str())) { (sub.status.as_str()) }
                " · " (sub.billing_cycle.as_str())
            }
            p.muted {
                (lang.t("本期：", "Period: ")) (when(Some(sub.current_period_start))) " — " (when(Some(sub.current_period_end)))
                @if sub.cancel_at_period_end { " · " (lang.t("将在本期结束时取消", "ends with this period")) }
                @if sub.effective_plan_id != sub.plan_id { " · " (lang.t("当前生效：", "in effect: ")) (sub.effective_plan_id) }
            }
        }
        section.card {
            h2 { (lang.t("用量", "Usage")) }
            @for u in &usage {
                @let id = format!("meter-{}", u.meter.as_str());
                div.usage {
                    label for=(id) { (meter_label(lang, u.meter)) ": " (u.used + u.reserved) " / " (u.limit)
                        @if let Some(r) = u.reset_at { " · " span.muted { (lang.t("重置于 ", "resets ")) (when(Some(r))) } } }
                    meter id=(id) min="0" max=(u.limit.max(1)) low=(u.limit.max(1) / 10 * 8) high=(u.limit.max(1) / 10 * 9)
                        optimum="0" value=((u.used + u.reserved).min(u.limit.max(1))) {
                        (u.used + u.reserved) " / " (u.limit)
                    }
                }
            }
        }
        section.card {
            h2 { @if on_free { (lang.t("订阅", "Subscribe")) } @else { (lang.t("升级", "Upgrade")) } }
            @for p in plans.plans().iter().filter(|p| !p.is_free() && (on_free || p.price_monthly > current_price)) {
                form.row method="post" action=(format!("/console/workflows/subscription/{}", if on_free { "subscribe" } else { "upgrade" }))
                    data-confirm=(format!("{} {}?", if on_free { lang.t("确定订阅", "Subscribe to") } else { lang.t("确定升级到", "Upgrade to") }, p.name)) {
                    (csrf_input(ctx))
                    input type="hidden" name="plan_id" value=(p.id);
                    span { strong { (p.name) } " · " (price(p.price_monthly, &p.currency)) (lang.t(" / 月", " / month")) }
                    @if on_free {
                        @let cid = format!("cycle-{}", p.id);
                        label for=(cid) { (lang.t("计费周期", "Billing cycle")) }
                        select id=(cid) name="billing_cycle" {
                            option value="monthly" { (lang.t("按月", "monthly")) }
                            option value="yearly" { (lang.t("按年", "yearly")) " (" (price(p.price_yearly, &p.currency)) ")" }
                        }
                    }
                    button type="submit" { @if on_free { (lang.t("订阅", "Subscribe")) } @else { (lang.t("升级", "Upgrade")) } " " (p.name) }
                }
            }
        }
        @if !on_free && !sub.cancel_at_period_end {
            section.card {
                h2 { (lang.t("取消订阅", "Cancel the subscription")) }
                form.row method="post" action="/console/workflows/subscription/cancel"
                    data-confirm=(lang.t("确定取消订阅？", "Cancel the subscription?")) {
                    (csrf_input(ctx))
                    label.check for="cancel-now" { input id="cancel-now" type="checkbox" name="now" value="true"; (lang.t("立即取消（默认在本期结束时）", "Cancel now (default: at the end of the period)")) }
                    button.danger type="submit" { (lang.t("取消订阅", "Cancel the subscription")) }
                }
            }
        }
    };
    page_of(
        m,
        status,
        Tab::Subscription,
        lang.t("订阅", "Subscription"),
        body,
    )
}

/// The subscription forms: the API's `plan_id` and `billing_cycle`; `now` for cancel.
#[derive(Deserialize)]
pub struct SubscriptionForm {
    #[serde(default)]
    plan_id: String,
    billing_cycle: Option<String>,
    now: Option<String>,
}

/// `POST /console/workflows/subscription/{subscribe|upgrade|cancel}`.
pub async fn change_subscription(
    State(s): State<WorkflowState>,
    m: Member,
    Path(action): Path<String>,
    axum::Form(f): axum::Form<SubscriptionForm>,
) -> Response {
    let lang = m.lang();
    let (db, now, user) = (&s.platform.db, s.platform.clock.now(), m.principal.user_id);
    let done = match action.as_str() {
        "subscribe" => {
            let cycle = f.billing_cycle.as_deref().unwrap_or("monthly");
            subs::subscribe(db, &s.engine, user, &f.plan_id, cycle, now)
                .await
                .map(|_| lang.t("订阅成功。", "Subscribed."))
        }
        "upgrade" => subs::upgrade(db, &s.engine, user, &f.plan_id, now)
            .await
            .map(|_| lang.t("升级成功。", "Upgraded.")),
        "cancel" => {
            let at_period_end = f.now.as_deref() != Some("true");
            subs::cancel(db, &s.engine, user, at_period_end, now)
                .await
                .map(|_| lang.t("订阅已取消。", "The subscription was cancelled."))
        }
        _ => return page::not_found(&m),
    };
    match done {
        Ok(msg) => subscription_view(&s, &m, StatusCode::OK, Some(Ok(msg))).await,
        Err(e) => {
            let (status, msg): (StatusCode, String) = message(e);
            subscription_view(&s, &m, status, Some(Err(&msg))).await
        }
    }
}
