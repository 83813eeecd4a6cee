//! The live "making a plan" page and its patch stream.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use trellis_console::page::{self, Nav};
use trellis_console::{Lang, Member};
use trellis_kernel::http::sse;
use uuid::Uuid;

use super::fail;
use crate::service::tasks as task_svc;
use crate::state::DietState;
use crate::stream::follow::{Caller, Follower, Item};

fn node_label(lang: Lang, node: &str) -> String {
    match node {
        "assess" => lang.t("营养评估", "Assessment").to_string(),
        "narrative" => lang.t("AI 建议", "AI narrative").to_string(),
        "finalize" => lang.t("保存计划", "Saving the plan").to_string(),
        n => match n.strip_prefix("week_") {
            Some(w) => match lang {
                Lang::Zh => format!("第 {w} 周"),
                Lang::En => format!("Week {w}"),
            },
            None => n.to_string(),
        },
    }
}

fn status_label(lang: Lang, status: &str) -> &'static str {
    match status {
        "completed" => lang.t("已完成", "completed"),
        "running" => lang.t("进行中", "running"),
        "failed" => lang.t("失败", "failed"),
        "cancelled" => lang.t("已取消", "cancelled"),
        "skipped" => lang.t("已跳过", "skipped"),
        _ => lang.t("等待中", "pending"),
    }
}

fn result_markup(lang: Lang, plan: Option<Uuid>, error: Option<&str>) -> Markup {
    html! {
        @if let Some(p) = plan {
            p.ok role="status" { (lang.t("计划已生成：", "The plan is ready: ")) a href=(format!("/console/diet/plans/{p}")) { (lang.t("查看计划", "view the plan")) } }
        }
        @if let Some(e) = error {
            p.error role="alert" { (e) }
        }
    }
}

/// `GET /console/diet/tasks/{id}`: the task as it is, following its frames while it runs.
pub(super) async fn page(State(s): State<DietState>, m: Member, Path(id): Path<Uuid>) -> Response {
    let lang = m.lang();
    let view = match task_svc::view(&s, &m.principal, id).await {
        Ok(v) => v,
        Err(e) => return fail(&m, e),
    };
    let mut t = view.task.clone();
    if !t.status.is_final()
        && let Ok(Some(run)) = s.engine.run(id).await
        && run.status == trellis_engine::RunStatus::Completed
    {
        // The run ended but the outbox has not settled the task row yet: show what is true.
        t.status = crate::store::tasks::TaskStatus::Completed;
        t.progress = 100;
        t.plan_id = crate::store::plans::id_of_task(&s.platform.db, id)
            .await
            .ok()
            .flatten();
    }
    let t = &t;
    let status = serde_json::to_value(t.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let live = !t.status.is_final();
    let body = html! {
        // While the task is not settled the page follows its frames from the start: every
        // patch is idempotent (it sets a state), so replaying what the page already shows is
        // harmless, and the AI output box gets the whole text after a reload.
        section.card id="diet-task" data-sse=[live.then(|| format!("/console/diet/tasks/{id}/events?after=0"))] {
            p {
                (lang.t("状态：", "Status: "))
                span id="diet-status" class=(format!("badge {status}")) { (status_label(lang, &status)) }
            }
            label { (lang.t("进度", "Progress"))
                progress id="diet-progress" max="100" value=(t.progress) { (t.progress) "%" }
            }
            p id="diet-node" aria-live="polite" {
                @if let Some(n) = &t.current_node { (node_label(lang, n)) }
            }
            ol.timeline id="diet-nodes" {
                @for n in &view.nodes {
                    li id=(format!("node-{}", n.node)) class=(n.status) {
                        (node_label(lang, &n.node)) " · " span { (status_label(lang, &n.status)) }
                    }
                }
            }
            div id="diet-result" {
                (result_markup(lang, t.plan_id, t.error_message.as_deref()))
            }
            details {
                summary { (lang.t("AI 输出", "AI output")) }
                div.log id="diet-tokens" {}
            }
        }
        p { a href="/console/diet" { (lang.t("返回饮食计划", "Back to diet plans")) } }
    };
    page::respond(
        StatusCode::OK,
        page::frame(
            &m.guest,
            Some(&m),
            Nav::Diet,
            lang.t("生成饮食计划", "Making a plan"),
            body,
        ),
    )
}

/// Query of the console's task stream.
#[derive(Deserialize)]
pub struct AfterQuery {
    after: Option<i64>,
}

/// The patches a frame makes to the task page (`console.js` applies them).
fn patches(lang: Lang, kind: &str, data: &Value) -> Vec<Value> {
    let node = data["node"].as_str().unwrap_or("");
    let li = |status: &str| {
        json!({"target": format!("node-{node}"), "parent": "diet-nodes", "tag": "li", "mode": "replace",
               "html": html! { (node_label(lang, node)) " · " span { (status_label(lang, status)) } }.into_string()})
    };
    let class = |status: &str| {
        json!({"target": format!("node-{node}"), "parent": "diet-nodes", "tag": "li",
                                      "mode": "attr", "name": "class", "value": status})
    };
    match kind {
        "progress" => {
            let mut out = Vec::new();
            if let Some(p) = data["percent"].as_f64() {
                out.push(json!({"target": "diet-progress", "mode": "attr", "name": "value", "value": format!("{p:.0}")}));
            }
            let text = data["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| node_label(lang, node));
            out.push(json!({"target": "diet-node", "mode": "replace", "html": html! { (text) }.into_string()}));
            out
        }
        "node_started" => vec![
            class("running"),
            li("running"),
            json!({"target": "diet-status", "mode": "replace", "html": status_label(lang, "running")}),
            json!({"target": "diet-status", "mode": "attr", "name": "class", "value": "badge running"}),
        ],
        "node_completed" => vec![class("completed"), li("completed")],
        "llm_token" => {
            let token = data["token"].as_str().unwrap_or("");
            vec![
                json!({"target": "diet-tokens", "mode": "append", "html": html! { (token) }.into_string()}),
            ]
        }
        "task_completed" => {
            let plan = data["plan_id"].as_str().and_then(|p| p.parse().ok());
            vec![
                json!({"target": "diet-progress", "mode": "attr", "name": "value", "value": "100"}),
                json!({"target": "diet-status", "mode": "replace", "html": status_label(lang, "completed")}),
                json!({"target": "diet-status", "mode": "attr", "name": "class", "value": "badge completed"}),
                json!({"target": "diet-result", "mode": "replace", "html": result_markup(lang, plan, None).into_string()}),
            ]
        }
        "error" => {
            let status = data["status"].as_str().unwrap_or("failed");
            vec![
                json!({"target": "diet-status", "mode": "replace", "html": status_label(lang, status)}),
                json!({"target": "diet-status", "mode": "attr", "name": "class", "value": format!("badge {status}")}),
                json!({"target": "diet-result", "mode": "replace", "html": result_markup(lang, None, data["error"].as_str()).into_string()}),
            ]
        }
        _ => Vec::new(),
    }
}

/// `GET /console/diet/tasks/{id}/events`: the task's frames as page patches (`event: patch`,
/// `id:` = the frame's sequence number, so the browser's `EventSource` resumes with
/// `Last-Event-ID` after a drop), then `event: end`; `204` once `end` was delivered.
pub(super) async fn events(
    State(s): State<DietState>,
    m: Member,
    Path(id): Path<Uuid>,
    Query(q): Query<AfterQuery>,
    headers: HeaderMap,
) -> Response {
    let run = match task_svc::get_with_run(&s, &m.principal, id).await {
        Ok((_, run)) => run,
        Err(e) => return fail(&m, e),
    };
    let header = trellis_kernel::extract::last_event_id(&headers)
        .ok()
        .flatten();
    let asked = header.or(q.after).unwrap_or(0).max(0);
    let (last, finished) = run.map_or((0, true), |r| (r.last_seq, r.status.is_final()));
    if finished && asked > last {
        // `end` was delivered (its id is the last frame's + 1): 204 stops the EventSource.
        return StatusCode::NO_CONTENT.into_response();
    }
    // An id beyond the log (a stale page) resumes from the log's end.
    let after = asked.min(last);
    let done_now = finished && after >= last;
    let caller = Caller {
        session: m.principal.session_id,
        user: m.principal.user_id,
        revoked: s.identity.revocations(),
    };
    let lang = m.lang();
    let follower = Follower::start(&s.hub, id, after, Vec::new(), done_now, caller).await;
    let stream = futures::stream::unfold(follower, move |mut f| async move {
        loop {
            let ev = match f.next_item().await? {
                Item::Lead(_) => continue,
                Item::Frame(frame) => {
                    let data: Value = serde_json::from_str(frame.data()).unwrap_or(Value::Null);
                    let p = patches(lang, frame.kind.unwrap_or(""), &data);
                    sse::event(Some(frame.seq), Some("patch"), &Value::Array(p).to_string())
                }
                Item::Done(seq) => sse::event(Some(seq), Some("end"), "{}"),
            };
            return Some((ev, f));
        }
    });
    crate::routes::stream::sse_of(stream)
}
