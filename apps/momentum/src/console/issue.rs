//! An issue's page (`/console/issues/i/{key}`, key or id): its fields and description, a
//! state picker (the workflow's rules apply), its labels (set and unset), its comments (list
//! and add) and its change history. Errors show beside the form that caused them.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use trellis_console::Member;
use trellis_console::page::{self, Nav, csrf_input, error_note};
use uuid::Uuid;

use super::board::{issue_url, priority_label};
use super::{fail, message, scope, tabs};
use crate::error::MomentumError;
use crate::service::comments::{self as comment_svc, NewCommentInput};
use crate::service::issues::{self as issue_svc, UpdateIssue};
use crate::service::labels::{self as label_svc, LabelFilter};
use crate::service::workflows::{self as wf_svc, Target};
use crate::state::MomentumState;
use crate::store::comments::Comment;
use crate::store::issues::{HistoryEntry, IssueItem};
use crate::store::labels::Label;
use crate::store::workflows::WorkflowState;

/// Comments and history rows shown (the latest; the page stays within its size budget).
pub const SHOWN: usize = 50;

/// Which form a message belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The state picker.
    Move,
    /// The labels form.
    Labels,
    /// The comment form.
    Comment,
}

/// Everything the page shows.
struct View {
    issue: IssueItem,
    states: Vec<WorkflowState>,
    labels: Vec<Label>,
    comments: Vec<Comment>,
    history: Vec<HistoryEntry>,
}

async fn load(st: &MomentumState, m: &Member, key: &str) -> Result<View, MomentumError> {
    let scope = scope(st, m).await?;
    let db = &st.platform.db;
    let issue = issue_svc::detail(db, &scope, key).await?.issue;
    let states = match issue.workflow_id {
        Some(w) => match wf_svc::states(st, &scope, Target::Workflow(w)).await {
            Ok(s) => s,
            // The issue is the workspace's to see; its private team's workflow may not be.
            Err(MomentumError::NotFound(_)) => Vec::new(),
            Err(e) => return Err(e),
        },
        None => Vec::new(),
    };
    let f = LabelFilter {
        level: Some("issue".into()),
        search: None,
    };
    let labels = label_svc::list(st, &scope, &f).await?;
    let comments = comment_svc::list(st, &scope, issue.id).await?;
    let history = issue_svc::history(db, &scope, &issue.id.to_string()).await?;
    Ok(View {
        issue,
        states,
        labels,
        comments,
        history,
    })
}

/// A history value as text: a state's name for state ids, else the JSON value.
fn shown(v: &Value, states: &[WorkflowState]) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => Uuid::parse_str(s)
            .ok()
            .and_then(|id| states.iter().find(|st| st.id == id))
            .map_or_else(|| s.clone(), |st| st.name.clone()),
        other => other.to_string(),
    }
}

fn fields(m: &Member, v: &View) -> Markup {
    let lang = m.lang();
    let i = &v.issue;
    html! {
        dl.card {
            dt { (lang.t("状态", "State")) } dd { @if let Some(s) = &i.state { (s.name) } @else { "—" } }
            dt { (lang.t("优先级", "Priority")) } dd { (priority_label(lang, i.priority)) }
            dt { (lang.t("负责人", "Assignee")) } dd { @if let Some(a) = &i.assignee { (a.name) } @else { "—" } }
            dt { (lang.t("创建者", "Creator")) } dd { @if let Some(a) = &i.creator { (a.name) } @else { "—" } }
            dt { (lang.t("团队", "Team")) } dd { a href=(format!("/console/issues?team={}", i.team_id)) { (i.team.name) } }
            dt { (lang.t("标签", "Labels")) } dd { @for l in &i.labels { span.badge { (l.name) } " " } @if i.labels.is_empty() { "—" } }
            dt { (lang.t("估算", "Estimate")) } dd { @if let Some(e) = i.estimate { (e) } @else { "—" } }
            dt { (lang.t("截止日期", "Due date")) } dd { @if let Some(d) = i.due_date { (d) } @else { "—" } }
            dt { (lang.t("创建于", "Created")) } dd { (i.created_at.format("%Y-%m-%d %H:%M UTC")) }
            dt { (lang.t("更新于", "Updated")) } dd { (i.updated_at.format("%Y-%m-%d %H:%M UTC")) }
        }
    }
}

fn forms(m: &Member, v: &View, note: Option<(Part, &str)>) -> Markup {
    let lang = m.lang();
    let i = &v.issue;
    let url = issue_url(&i.key);
    let ctx = &m.guest.ctx;
    let note_for = |p: Part| note.filter(|(q, _)| *q == p).map(|(_, msg)| msg);
    html! {
        section.card id="move" {
            h2 { (lang.t("移动到", "Move to")) }
            (error_note(note_for(Part::Move)))
            form.row method="post" action=(format!("{url}/move")) {
                (csrf_input(ctx))
                input type="hidden" name="back" value="issue";
                label { (lang.t("新状态", "New state"))
                    select name="to_state_id" {
                        @for s in &v.states { option value=(s.id) selected[Some(s.id) == i.workflow_state_id] { (s.name) } }
                    }
                }
                button type="submit" { (lang.t("移动", "Move")) }
            }
        }
        section.card id="labels" {
            h2 { (lang.t("标签", "Labels")) }
            (error_note(note_for(Part::Labels)))
            form.stack method="post" action=(format!("{url}/labels")) {
                (csrf_input(ctx))
                fieldset {
                    legend { (lang.t("选择这个议题的标签", "Labels of this issue")) }
                    @for l in &v.labels {
                        label.check {
                            input type="checkbox" name="label_ids" value=(l.id) checked[i.labels.iter().any(|x| x.id == l.id)];
                            (l.name)
                        }
                    }
                    @if v.labels.is_empty() { p.muted { (lang.t("工作区还没有议题标签。", "The workspace has no issue labels yet.")) } }
                }
                button type="submit" { (lang.t("保存标签", "Save labels")) }
            }
        }
    }
}

fn comments(m: &Member, v: &View, note: Option<&str>) -> Markup {
    let lang = m.lang();
    html! {
        section.card id="comments" {
            h2 { (lang.t("评论", "Comments")) " " span.muted { "(" (v.comments.len()) ")" } }
            @if v.comments.is_empty() { p.muted { (lang.t("还没有评论。", "No comments yet.")) } }
            @if v.comments.len() > SHOWN { p.muted { (lang.t("只显示最近的评论。", "Only the latest comments are shown.")) } }
            ol.timeline {
                @for c in latest(&v.comments) {
                    li id=(format!("comment-{}", c.id)) {
                        strong { @if let Some(a) = &c.author { (a.name) } @else { "—" } }
                        " " span.muted { (c.created_at.format("%Y-%m-%d %H:%M")) @if c.is_edited { " · " (lang.t("已编辑", "edited")) } }
                        @if c.is_deleted { p.muted { (lang.t("（已删除）", "(deleted)")) } }
                        @else { p.comment { (c.content) } }
                    }
                }
            }
            (error_note(note))
            form.stack method="post" action=(format!("{}/comments", issue_url(&v.issue.key))) {
                (csrf_input(&m.guest.ctx))
                label { (lang.t("添加评论", "Add a comment")) textarea name="content" rows="4" required maxlength="10000" {} }
                button type="submit" { (lang.t("发表评论", "Post comment")) }
            }
        }
    }
}

fn history(m: &Member, v: &View) -> Markup {
    let lang = m.lang();
    html! {
        section.card id="history" {
            h2 { (lang.t("变更历史", "History")) }
            @if v.history.is_empty() { p.muted { (lang.t("还没有变更。", "No changes yet.")) } }
            @else {
                @if v.history.len() > SHOWN { p.muted { (lang.t("只显示最近的变更。", "Only the latest changes are shown.")) } }
                table {
                    thead { tr {
                        th scope="col" { (lang.t("时间", "When")) }
                        th scope="col" { (lang.t("成员", "Who")) }
                        th scope="col" { (lang.t("字段", "Field")) }
                        th scope="col" { (lang.t("原值", "Before")) }
                        th scope="col" { (lang.t("新值", "After")) }
                    } }
                    tbody {
                        @for h in &v.history[v.history.len().saturating_sub(SHOWN)..] {
                            tr {
                                td { (h.time.format("%Y-%m-%d %H:%M")) }
                                td { @if let Some(a) = &h.actor { (a.name) } @else { "—" } }
                                td { (h.field) }
                                td { (shown(&h.old, &v.states)) }
                                td { (shown(&h.new, &v.states)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Renders the issue's page with `status` and an optional message beside one form.
pub async fn show_with(
    st: &MomentumState,
    m: &Member,
    key: &str,
    status: StatusCode,
    note: Option<(Part, &str)>,
) -> Response {
    let v = match load(st, m, key).await {
        Ok(v) => v,
        Err(e) => return fail(m, e),
    };
    let lang = m.lang();
    let comment_note = note.filter(|(p, _)| *p == Part::Comment).map(|(_, s)| s);
    let body = html! {
        (tabs(m, "board"))
        p { a href=(format!("/console/issues?team={}", v.issue.team_id)) { (lang.t("← 返回看板", "← Back to the board")) } }
        (fields(m, &v))
        section.card id="description" {
            h2 { (lang.t("描述", "Description")) }
            @match &v.issue.description {
                Some(d) => { @for line in d.lines() { (line) br; } }
                None => { p.muted { (lang.t("没有描述。", "No description.")) } }
            }
        }
        (forms(m, &v, note))
        (comments(m, &v, comment_note))
        (history(m, &v))
    };
    let title = format!("{} {}", v.issue.key, v.issue.title);
    page::respond(
        status,
        page::frame(&m.guest, Some(m), Nav::Issues, &title, body),
    )
}

/// The page with a move refusal beside the state picker (the board's move handler uses it).
pub async fn show(
    st: &MomentumState,
    m: &Member,
    key: &str,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    show_with(st, m, key, status, error.map(|e| (Part::Move, e))).await
}

/// `GET /console/issues/i/{key}`.
pub async fn page(State(st): State<MomentumState>, m: Member, Path(key): Path<String>) -> Response {
    show_with(&st, &m, &key, StatusCode::OK, None).await
}

/// The comment form.
#[derive(Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    content: String,
}

/// `POST /console/issues/i/{key}/comments`: adds a comment; the service's message in place.
pub async fn comment(
    State(st): State<MomentumState>,
    m: Member,
    Path(key): Path<String>,
    axum::Form(f): axum::Form<CommentForm>,
) -> Response {
    let scope = match scope(&st, &m).await {
        Ok(s) => s,
        Err(e) => return fail(&m, e),
    };
    let issue = match issue_svc::detail(&st.platform.db, &scope, &key).await {
        Ok(d) => d.issue,
        Err(e) => return fail(&m, e),
    };
    let input = NewCommentInput {
        issue_id: None,
        content: f.content,
        parent_comment_id: None,
    };
    match comment_svc::create(&st, &scope, Some(issue.id), input).await {
        Ok(_) => page::redirect_to(false, &format!("{}#comments", issue_url(&issue.key))),
        Err(e) => {
            let (status, msg) = message(e);
            show_with(&st, &m, &key, status, Some((Part::Comment, &msg))).await
        }
    }
}

/// `POST /console/issues/i/{key}/labels`: replaces the issue's labels with the checked ones
/// (`label_ids`, repeated).
pub async fn set_labels(
    State(st): State<MomentumState>,
    m: Member,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let scope = match scope(&st, &m).await {
        Ok(s) => s,
        Err(e) => return fail(&m, e),
    };
    let ids: Vec<String> = form_urlencoded::parse(&body)
        .filter(|(k, _)| k == "label_ids")
        .map(|(_, v)| v.into_owned())
        .collect();
    let change = UpdateIssue {
        label_ids: Some(ids),
        ..UpdateIssue::default()
    };
    match issue_svc::update(&st.platform.db, &scope, &key, change).await {
        Ok(i) => page::redirect_to(false, &format!("{}#labels", issue_url(&i.key))),
        Err(e @ MomentumError::NotFound("issue")) => fail(&m, e),
        Err(e) => {
            let (status, msg) = message(e);
            show_with(&st, &m, &key, status, Some((Part::Labels, &msg))).await
        }
    }
}

/// The latest [`SHOWN`] comments, oldest first (the service lists them in thread order, so
/// a new reply to an old thread is not at its end).
fn latest(comments: &[crate::store::comments::Comment]) -> Vec<&crate::store::comments::Comment> {
    let mut all: Vec<_> = comments.iter().collect();
    all.sort_by_key(|c| (c.created_at, c.id));
    let from = all.len().saturating_sub(SHOWN);
    all.split_off(from)
}
