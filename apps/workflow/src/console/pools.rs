//! Proxy pools: the list with their health, create, a pool's page (per-target health, its
//! proxies, add proxies) and the test button, whose report is shown on the pool's page.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use trellis_console::page::{self, csrf_input, error_note, ok_note};
use trellis_console::{Lang, Member};
use uuid::Uuid;

use super::{Tab, fail, message, page_of, when};
use crate::error::WorkflowError;
use crate::proxy::pool::PoolBody;
use crate::proxy::validate::{TestReport, TestRequest};
use crate::service::proxy as pool_svc;
use crate::state::WorkflowState;

/// The create-pool form.
#[derive(Deserialize, Default)]
pub struct PoolForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

/// `GET /console/workflows/pools`: the caller's pools with their health.
pub async fn pools(State(s): State<WorkflowState>, m: Member) -> Response {
    pools_view(&s, &m, StatusCode::OK, None, &PoolForm::default()).await
}

async fn pools_view(
    s: &WorkflowState,
    m: &Member,
    status: StatusCode,
    problem: Option<&str>,
    f: &PoolForm,
) -> Response {
    let lang = m.lang();
    let owner = (!m.principal.role.is_admin()).then_some(m.principal.user_id);
    let (list, _) = match crate::store::proxy::pools(&s.platform.db, owner, 100, 0).await {
        Ok(x) => x,
        Err(e) => return fail(m, WorkflowError::from(e)),
    };
    let mut rows = Vec::with_capacity(list.len());
    for p in list {
        match pool_svc::status(s, &m.principal, p.id).await {
            Ok(st) => rows.push((p, st)),
            Err(e) => return fail(m, e),
        }
    }
    let ctx = &m.guest.ctx;
    let body = html! {
        @if rows.is_empty() {
            p.muted { (lang.t("还没有代理池。", "No proxy pools yet.")) }
        } @else {
            table {
                caption.muted { (lang.t("代理池", "Proxy pools")) }
                thead { tr {
                    th scope="col" { (lang.t("名称", "Name")) }
                    th scope="col" { (lang.t("代理数", "Proxies")) }
                    th scope="col" { (lang.t("可用 / 冷却 / 停用", "Active / cooling / retired")) }
                    th scope="col" { (lang.t("成功率", "Success rate")) }
                    th scope="col" { (lang.t("延迟中位数", "Median latency")) }
                } }
                tbody {
                    @for (p, st) in &rows {
                        tr {
                            td { a href=(format!("/console/workflows/pools/{}", p.id)) { (p.name) } }
                            td { (st.total) }
                            td { (counts(&st.by_state)) }
                            td { (rate(st.success_rate)) }
                            td { (ms(st.median_latency_ms)) }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { (lang.t("新建代理池", "New proxy pool")) }
            (error_note(problem))
            form.stack method="post" action="/console/workflows/pools" {
                (csrf_input(ctx))
                label for="pool-name" { (lang.t("名称", "Name")) }
                input id="pool-name" name="name" value=(f.name) required maxlength="100";
                label for="pool-description" { (lang.t("说明", "Description")) }
                input id="pool-description" name="description" value=(f.description) maxlength="1000";
                button type="submit" { (lang.t("创建", "Create")) }
            }
        }
    };
    page_of(m, status, Tab::Pools, lang.t("代理池", "Proxy pools"), body)
}

fn counts(by: &std::collections::BTreeMap<String, i64>) -> String {
    let n = |k: &str| by.get(k).copied().unwrap_or(0);
    format!("{} / {} / {}", n("active"), n("cooling"), n("retired"))
}

fn rate(r: Option<f64>) -> String {
    r.map_or_else(|| "—".into(), |r| format!("{:.0}%", r * 100.0))
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.0} ms"))
}

/// `POST /console/workflows/pools`: create a pool (default strategy and settings).
pub async fn create_pool(
    State(s): State<WorkflowState>,
    m: Member,
    axum::Form(f): axum::Form<PoolForm>,
) -> Response {
    let body = PoolBody {
        name: f.name.clone(),
        description: Some(f.description.trim().to_string()).filter(|d| !d.is_empty()),
        strategy: Default::default(),
        settings: Default::default(),
    };
    match pool_svc::create(&s, &m.principal, body).await {
        Ok(p) => page::redirect_to(false, &format!("/console/workflows/pools/{}", p.id)),
        Err(e) => {
            let (status, msg) = message(e);
            pools_view(&s, &m, status, Some(&msg), &f).await
        }
    }
}

/// `GET /console/workflows/pools/{id}`.
pub async fn pool(State(s): State<WorkflowState>, m: Member, Path(id): Path<Uuid>) -> Response {
    pool_view(&s, &m, id, StatusCode::OK, None, None).await
}

async fn pool_view(
    s: &WorkflowState,
    m: &Member,
    id: Uuid,
    status: StatusCode,
    note: Option<Result<String, String>>,
    report: Option<&TestReport>,
) -> Response {
    let lang = m.lang();
    let p = match pool_svc::get(s, &m.principal, id).await {
        Ok(p) => p,
        Err(e) => return fail(m, e),
    };
    let st = match pool_svc::status(s, &m.principal, id).await {
        Ok(st) => st,
        Err(e) => return fail(m, e),
    };
    let (proxies, total) = match crate::store::proxy::proxies_page(&s.platform.db, id, 100, 0).await
    {
        Ok(x) => x,
        Err(e) => return fail(m, WorkflowError::from(e)),
    };
    let now = s.platform.clock.now().timestamp_millis();
    let ctx = &m.guest.ctx;
    let (ok, err) = match &note {
        Some(Ok(t)) => (Some(t.as_str()), None),
        Some(Err(t)) => (None, Some(t.as_str())),
        None => (None, None),
    };
    let body = html! {
        (ok_note(ok))
        (error_note(err))
        @if let Some(d) = &p.description { p { (d) } }
        section.card {
            h2 { (lang.t("状态", "Status")) }
            p {
                (lang.t("代理数：", "Proxies: ")) (st.total) " · "
                (lang.t("可用 / 冷却 / 停用：", "active / cooling / retired: ")) (counts(&st.by_state)) " · "
                (lang.t("成功率：", "success rate: ")) (rate(st.success_rate)) " · "
                (lang.t("延迟中位数：", "median latency: ")) (ms(st.median_latency_ms))
            }
            form method="post" action=(format!("/console/workflows/pools/{id}/test")) {
                (csrf_input(ctx))
                button type="submit" { (lang.t("测试全部代理", "Test every proxy")) }
            }
            @if let Some(r) = report { (report_markup(lang, r)) }
        }
        section.card {
            h2 { (lang.t("各目标站点健康度", "Health per target host")) }
            @if st.targets.is_empty() {
                p.muted { (lang.t("还没有目标站点的记录。", "No target host has been used yet.")) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (lang.t("目标", "Target")) }
                        th scope="col" { (lang.t("可用", "Active")) }
                        th scope="col" { (lang.t("冷却", "Cooling")) }
                        th scope="col" { (lang.t("停用", "Retired")) }
                        th scope="col" { (lang.t("成功率", "Success rate")) }
                        th scope="col" { (lang.t("封禁次数", "Blocks")) }
                        th scope="col" { (lang.t("延迟中位数", "Median latency")) }
                    } }
                    tbody {
                        @for t in &st.targets {
                            tr { th scope="row" { (t.target) } td { (t.active) } td { (t.cooling) } td { (t.retired) }
                                 td { (rate(t.success_rate)) } td { (t.blocks) } td { (ms(t.median_latency_ms)) } }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { (lang.t("代理", "Proxies")) " (" (total) ")" }
            @if !proxies.is_empty() {
                table {
                    thead { tr {
                        th scope="col" { (lang.t("地址", "Address")) }
                        th scope="col" { (lang.t("状态", "State")) }
                        th scope="col" { (lang.t("延迟", "Latency")) }
                        th scope="col" { (lang.t("成功 / 失败 / 封禁", "Successes / failures / blocks")) }
                        th scope="col" { (lang.t("上次测试", "Last test")) }
                    } }
                    tbody {
                        @for r in &proxies {
                            @let state = r.health().state_at(now).as_str();
                            tr {
                                td { code { (r.scheme) "://" (r.host) ":" (r.port) } }
                                td { span class=(format!("badge {}", if state == "active" { "enabled" } else { "disabled" })) { (state) } }
                                td { (ms(r.latency_ms)) }
                                td { (r.successes) " / " (r.failures) " / " (r.blocks) }
                                td { (when(r.last_checked_at)) @if let Some(e) = &r.last_error { br; span.muted { (e) } } }
                            }
                        }
                    }
                }
            }
            form.stack method="post" action=(format!("/console/workflows/pools/{id}/proxies")) {
                (csrf_input(ctx))
                label for="proxies" { (lang.t("添加代理（每行一个，如 http://user:pass@host:port）", "Add proxies (one per line, e.g. http://user:pass@host:port)")) }
                textarea id="proxies" name="proxies" rows="4" spellcheck="false" required {}
                button type="submit" { (lang.t("添加", "Add")) }
            }
        }
        p { a href="/console/workflows/pools" { (lang.t("返回代理池", "Back to proxy pools")) } }
    };
    page_of(m, status, Tab::Pools, &p.name, body)
}

fn report_markup(lang: Lang, r: &TestReport) -> Markup {
    html! {
        div id="pool-test-report" role="status" {
            p.ok {
                (lang.t("测试完成：", "Test finished: ")) (r.tested) (lang.t(" 个代理，成功 ", " proxies, ok ")) (r.ok)
                (lang.t("，失败 ", ", failed ")) (r.failed) (lang.t("，被封禁 ", ", blocked ")) (r.blocked)
                " · " (r.duration_ms) " ms"
            }
            @if !r.results.is_empty() {
                ul {
                    @for x in &r.results {
                        li { code { (x.proxy_id) } " · " (format!("{:?}", x.outcome).to_lowercase())
                             @if let Some(l) = x.latency_ms { " · " (l) " ms" } " · " (x.message) }
                    }
                }
            }
        }
    }
}

/// `POST /console/workflows/pools/{id}/test`: test every proxy against the judge URL and
/// show the report on the pool page.
pub async fn test_pool(
    State(s): State<WorkflowState>,
    m: Member,
    Path(id): Path<Uuid>,
) -> Response {
    if let Err(e) = pool_svc::get(&s, &m.principal, id).await {
        return fail(&m, e);
    }
    match s.proxies.test_pool(id, &TestRequest::default(), None).await {
        Ok(r) => pool_view(&s, &m, id, StatusCode::OK, None, Some(&r)).await,
        Err(e) => {
            let (status, msg) = message(e);
            pool_view(&s, &m, id, status, Some(Err(msg)), None).await
        }
    }
}

/// The add-proxies form: one proxy per line.
#[derive(Deserialize)]
pub struct ProxiesForm {
    #[serde(default)]
    proxies: String,
}

/// `POST /console/workflows/pools/{id}/proxies`.
pub async fn add_proxies(
    State(s): State<WorkflowState>,
    m: Member,
    Path(id): Path<Uuid>,
    axum::Form(f): axum::Form<ProxiesForm>,
) -> Response {
    let lines = f.proxies.lines().map(str::to_string).collect();
    let lang = m.lang();
    match pool_svc::add_proxies(&s, &m.principal, id, lines, None, None).await {
        Ok(a) => {
            let note = format!(
                "{}{} · {}{}",
                lang.t("已添加 ", "added "),
                a.added,
                lang.t("重复 ", "duplicates "),
                a.duplicates
            );
            pool_view(&s, &m, id, StatusCode::OK, Some(Ok(note)), None).await
        }
        Err(WorkflowError::NotFound(w)) => fail(&m, WorkflowError::NotFound(w)),
        Err(e) => {
            let (status, msg) = message(e);
            pool_view(&s, &m, id, status, Some(Err(msg)), None).await
        }
    }
}
