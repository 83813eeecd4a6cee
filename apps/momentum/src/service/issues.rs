//! Issues (issue 8 "Issues"): create with a per-team key (`ENG-123`), list with filters and
//! a keyset cursor, read by id or key, update with history and transition rules, delete,
//! move between states, relations.
//!
//! Every mutation runs in one transaction with its history rows and change-log entries.
//! Bodies are parsed with [`Check`] first (every bad field at once, 422), then the objects
//! they name are looked up in the caller's workspace (every unknown one at once, 422
//! `not_found`), then the rules that need the stored state apply (409).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trellis_kernel::db::Db;
use trellis_kernel::error::FieldError;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use uuid::Uuid;

use super::{Action, Scope, log_change, transitions};
use crate::domain::check::LONG_TEXT;
use crate::domain::{Check, Patch, Priority, RelationType, StateCategory};
use crate::error::MomentumError;
use crate::store::issues::{
    self, Change, Filter, HistoryEntry, IssueItem, IssueRecord, IssueRef, IssueSummary, Relation,
    RelationRecord, Sort, SortKey, refs,
};
use crate::store::{teams, workflows};

/// Most labels one issue carries.
pub const MAX_LABELS: usize = 50;
/// Largest `limit` of a list page.
pub const MAX_LIMIT: i64 = 100;
/// `limit` when none is given.
pub const DEFAULT_LIMIT: i64 = 50;
/// Longest `search`.
pub const MAX_SEARCH: usize = 200;
/// Largest estimate.
pub const MAX_ESTIMATE: f64 = 1_000_000.0;

/// `POST /issues`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumCreateIssueBody)]
pub struct CreateIssue {
    /// 1–255 characters.
    #[schema(required = true, value_type = String, max_length = 255, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub title: Option<String>,
    /// The team (its key numbers the issue).
    #[schema(required = true, value_type = String, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub team_id: Option<String>,
    /// Markdown, at most 10,000 characters.
    #[schema(
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub description: Option<String>,
    /// `none` (default), `low`, `medium`, `high`, `urgent` (any case).
    #[schema(value_type = Option<Priority>, example = "high")]
    pub priority: Option<String>,
    /// A member of the workspace.
    #[schema(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub assignee_id: Option<String>,
    /// A project of the workspace.
    #[schema(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub project_id: Option<String>,
    /// A cycle of the issue's team.
    #[schema(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub cycle_id: Option<String>,
    /// An issue of the workspace (this becomes its sub-issue).
    #[schema(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub parent_issue_id: Option<String>,
    /// Issue-level labels of the workspace (at most 50).
    #[schema(max_items = 50, value_type = Option<Vec<uuid::Uuid>>)]
    pub label_ids: Option<Vec<String>>,
    /// A state of one of the team's workflows; default: the default workflow's default state
    /// (Backlog in a provisioned workflow).
    #[schema(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub workflow_state_id: Option<String>,
    /// Points, 0–1,000,000.
    #[schema(minimum = 0, maximum = 1000000)]
    pub estimate: Option<f64>,
    /// `YYYY-MM-DD`.
    #[schema(format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    pub due_date: Option<String>,
    /// Position for manual ordering, -1e15–1e15; default: after the team's last issue
    /// (+1024).
    #[schema(minimum = -1e15, maximum = 1e15)]
    pub sort_order: Option<f64>,
}

/// `PUT /issues/{id}`: absent fields stay; `null` clears a nullable one.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumUpdateIssueBody)]
pub struct UpdateIssue {
    /// 1–255 characters.
    #[schema(
        max_length = 255,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub title: Option<String>,
    /// Markdown, at most 10,000 characters; `null` or `""` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub description: Patch<String>,
    /// `none`, `low`, `medium`, `high`, `urgent` (any case).
    #[schema(value_type = Option<Priority>)]
    pub priority: Option<String>,
    /// Another team of the workspace: the issue gets a new key from that team's counter and
    /// moves to its default state (or to `workflow_state_id`, a state of the new team).
    #[schema(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub team_id: Option<String>,
    /// A member of the workspace; `null` unassigns.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub assignee_id: Patch<String>,
    /// A project of the workspace; `null` clears.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub project_id: Patch<String>,
    /// A cycle of the issue's team; `null` clears.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub cycle_id: Patch<String>,
    /// An issue of the workspace, not this one nor one of its sub-issues (409
    /// `PARENT_CYCLE`); `null` clears.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub parent_issue_id: Patch<String>,
    /// Replaces the labels (issue-level labels of the workspace, at most 50).
    #[schema(max_items = 50, value_type = Option<Vec<uuid::Uuid>>)]
    pub label_ids: Option<Vec<String>>,
    /// A state of the team's workflows; the move must be allowed by the workflow's
    /// transition rules (409 `TRANSITION_NOT_ALLOWED`).
    #[schema(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub workflow_state_id: Option<String>,
    /// Points, 0–1,000,000; `null` clears.
    #[serde(default)]
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 1000000)]
    pub estimate: Patch<f64>,
    /// `YYYY-MM-DD`; `null` clears.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date, pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}")]
    pub due_date: Patch<String>,
    /// Position for manual ordering, -1e15–1e15.
    #[schema(minimum = -1e15, maximum = 1e15)]
    pub sort_order: Option<f64>,
}

/// `GET /issues` query parameters, as sent (parsed by [`list`], which reports every bad one).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Issues of this team.
    #[param(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub team_id: Option<String>,
    /// Issues of this project.
    #[param(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub project_id: Option<String>,
    /// Issues assigned to this member (`me`: the caller).
    #[param(
        pattern = "^([Mm][Ee]|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$"
    )]
    pub assignee_id: Option<String>,
    /// `none`, `low`, `medium`, `high` or `urgent` (any case).
    #[param(value_type = Option<Priority>)]
    pub priority: Option<String>,
    /// Issues in this state.
    #[param(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub workflow_state_id: Option<String>,
    /// Issues whose state has this category: `triage`, `backlog`, `unstarted`, `started`,
    /// `completed`, `canceled` (any case).
    #[param(value_type = Option<StateCategory>)]
    pub state_category: Option<String>,
    /// Issues carrying this label.
    #[param(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub label_id: Option<String>,
    /// Issues of this cycle.
    #[param(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub cycle_id: Option<String>,
    /// Sub-issues of this issue.
    #[param(format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub parent_id: Option<String>,
    /// Text in the title or description (case-insensitive, at most 200 characters; `%` and
    /// `_` match themselves; blank: no filter).
    #[param(
        max_length = 200,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub search: Option<String>,
    /// `-created_at` (default, newest first), `created_at`, `updated_at`, `-updated_at`,
    /// `priority` (urgent first, none last), `-priority`, `sort_order`, `-sort_order`,
    /// `number`, `-number`. Ties are broken by id.
    #[param(schema_with = sort_schema)]
    pub sort: Option<String>,
    /// Page size, 1–100 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `meta.next_cursor` of the previous page (same `sort` and filters).
    pub cursor: Option<String>,
}

/// The `sort` parameter as the document states it: one of [`Sort::NAMES`].
fn sort_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "`-created_at` (default, newest first), `created_at`, `updated_at`, `-updated_at`, \
             `priority` (urgent first, none last), `-priority`, `sort_order`, `-sort_order`, \
             `number`, `-number`. Ties are broken by id.",
        ))
        .enum_values(Some(Sort::NAMES.iter().copied()))
        .build()
}

/// `POST /issues/{id}/transitions`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumIssueTransitionBody)]
pub struct MoveIssue {
    /// A state of the issue's team's workflows.
    #[schema(required = true, value_type = String, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub to_state_id: Option<String>,
}

/// `POST /issues/{id}/relations`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = MomentumIssueRelationBody)]
pub struct NewRelation {
    /// `blocks`, `blocked_by`, `related`, `duplicate_of` (or `duplicated_by`): how this issue
    /// relates to the other.
    #[serde(rename = "type")]
    #[schema(required = true, value_type = RelationType, example = "blocks")]
    pub kind: Option<String>,
    /// The other issue (of the same workspace, not this one).
    #[schema(required = true, value_type = String, format = Uuid, pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")]
    pub related_issue_id: Option<String>,
}

/// `GET /issues/{id}`: the issue with its parent, sub-issues and relations.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumIssueDetail)]
pub struct IssueDetail {
    /// The issue.
    #[serde(flatten)]
    pub issue: IssueItem,
    /// Its parent, if it is a sub-issue.
    pub parent: Option<IssueSummary>,
    /// Its sub-issues.
    pub children: Vec<IssueSummary>,
    /// Its relations, each as this issue sees it.
    pub relations: Vec<Relation>,
}

/// A page of issues and the cursor of the next one.
pub struct Page {
    /// The issues.
    pub items: Vec<IssueItem>,
    /// `meta.next_cursor`: absent on the last page.
    pub next_cursor: Option<String>,
}

fn opt_uuid(c: &mut Check, field: &str, v: Option<&str>) -> Option<Uuid> {
    v.and_then(|s| c.uuid(field, s))
}

/// Parses `label_ids` (each listed as `label_ids[i]` when malformed), deduplicated and sorted.
fn label_list(c: &mut Check, v: Option<&[String]>) -> Option<Vec<Uuid>> {
    let v = v?;
    if v.len() > MAX_LABELS {
        c.fail(
            "label_ids",
            "too_many",
            format!("at most {MAX_LABELS} labels"),
        );
        return None;
    }
    let mut out = Vec::with_capacity(v.len());
    for (i, s) in v.iter().enumerate() {
        if let Some(id) = c.uuid(&format!("label_ids[{i}]"), s) {
            out.push(id);
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

fn estimate(c: &mut Check, v: f64) -> Option<f64> {
    if v.is_finite() && (0.0..=MAX_ESTIMATE).contains(&v) {
        Some(v)
    } else {
        c.fail(
            "estimate",
            "out_of_range",
            "must be a number from 0 to 1000000",
        );
        None
    }
}

fn sort_order(c: &mut Check, v: f64) -> Option<f64> {
    if v.is_finite() && v.abs() <= 1e15 {
        Some(v)
    } else {
        c.fail(
            "sort_order",
            "out_of_range",
            "must be a finite number of magnitude at most 1e15",
        );
        None
    }
}

/// Optional text: trimmed, at most `max` characters; empty is `None`.
fn opt_text(c: &mut Check, field: &str, v: &str, max: usize) -> Option<Option<String>> {
    c.text(field, v, 0, max)
        .map(|s| (!s.is_empty()).then_some(s))
}

fn unknown(field: &str, what: &str) -> FieldError {
    FieldError::new(field, "not_found", format!("{what} not found"))
}

/// The id of the issue a path names (UUID or key) in the caller's workspace, else 404.
pub async fn resolve(db: &Db, scope: &Scope, path: &str) -> Result<Uuid, MomentumError> {
    let r = IssueRef::parse(path).ok_or(MomentumError::NotFound("issue"))?;
    issues::resolve(db, scope.workspace_id, &r)
        .await?
        .ok_or(MomentumError::NotFound("issue"))
}

async fn item(db: &Db, scope: &Scope, id: Uuid) -> Result<IssueItem, MomentumError> {
    issues::get(db, scope.workspace_id, &IssueRef::Id(id))
        .await?
        .ok_or(MomentumError::NotFound("issue"))
}

/// Creates an issue: validates, takes the team's next number in the same transaction (no
/// gaps, never reused), applies the labels, logs the change.
pub async fn create(db: &Db, scope: &Scope, b: CreateIssue) -> Result<IssueItem, MomentumError> {
    scope.require_writer()?;
    let mut c = Check::new();
    let title = match b.title.as_deref() {
        Some(t) => c.text("title", t, 1, 255),
        None => {
            c.fail("title", "required", "is required");
            None
        }
    };
    let team_id = match b.team_id.as_deref() {
        Some(t) => c.uuid("team_id", t),
        None => {
            c.fail("team_id", "required", "is required");
            None
        }
    };
    let description = b
        .description
        .as_deref()
        .map(|d| opt_text(&mut c, "description", d, LONG_TEXT))
        .unwrap_or(Some(None));
    let priority = match b.priority.as_deref() {
        Some(p) => c.one_of("priority", p, Priority::parse, Priority::names),
        None => Some(Priority::None),
    };
    let assignee_id = opt_uuid(&mut c, "assignee_id", b.assignee_id.as_deref());
    let project_id = opt_uuid(&mut c, "project_id", b.project_id.as_deref());
    let cycle_id = opt_uuid(&mut c, "cycle_id", b.cycle_id.as_deref());
    let parent_id = opt_uuid(&mut c, "parent_issue_id", b.parent_issue_id.as_deref());
    let state_id = opt_uuid(&mut c, "workflow_state_id", b.workflow_state_id.as_deref());
    let label_ids = label_list(&mut c, b.label_ids.as_deref()).unwrap_or_default();
    let estimate = b.estimate.and_then(|v| estimate(&mut c, v));
    let due_date = b.due_date.as_deref().and_then(|d| c.date("due_date", d));
    let order = b.sort_order.and_then(|v| sort_order(&mut c, v));
    c.finish()?;
    let (Some(title), Some(team_id), Some(description), Some(priority)) =
        (title, team_id, description, priority)
    else {
        return Err(MomentumError::field("title", "required", "is required"));
    };

    let ws = scope.workspace_id;
    let mut tx = db.begin().await?;
    let mut bad = Vec::new();
    let team_key = refs::team_key(&mut tx, ws, team_id).await?;
    if team_key.is_none() {
        bad.push(unknown("team_id", "team"));
    }
    let mut state = None;
    if let Some(s) = state_id {
        match refs::state_workflow(&mut tx, team_id, s).await? {
            Some(wf) => state = Some((wf, s)),
            None => bad.push(unknown("workflow_state_id", "workflow state")),
        }
    } else if team_key.is_some() {
        state = workflows::default_state(&mut tx, team_id).await?;
    }
    if let Some(u) = assignee_id
        && !refs::member(&mut tx, ws, u).await?
    {
        bad.push(unknown("assignee_id", "workspace member"));
    }
    if let Some(p) = project_id
        && !refs::project(&mut tx, ws, p).await?
    {
        bad.push(unknown("project_id", "project"));
    }
    if let Some(cy) = cycle_id
        && !refs::cycle(&mut tx, ws, team_id, cy).await?
    {
        bad.push(unknown("cycle_id", "cycle of the team"));
    }
    if let Some(p) = parent_id
        && !refs::issue(&mut tx, ws, p).await?
    {
        bad.push(unknown("parent_issue_id", "issue"));
    }
    if !label_ids.is_empty()
        && refs::issue_labels(&mut tx, ws, &label_ids).await? != label_ids.len()
    {
        bad.push(unknown("label_ids", "issue label"));
    }
    let Some(team_key) = team_key.filter(|_| bad.is_empty()) else {
        return Err(MomentumError::Fields(bad));
    };

    let mut rec = IssueRecord {
        id: Uuid::now_v7(),
        workspace_id: ws,
        team_id,
        key: String::new(),
        number: 0,
        title,
        description,
        priority,
        workflow_id: state.map(|(w, _)| w),
        workflow_state_id: state.map(|(_, s)| s),
        project_id,
        cycle_id,
        parent_issue_id: parent_id,
        creator_id: Some(scope.actor),
        assignee_id,
        estimate,
        due_date,
        sort_order: 0.0,
        label_ids,
        created_at: scope.now,
        updated_at: scope.now,
    };
    // From here the team's counter row is locked until commit: keep this part short.
    let (number, sort_order) = issues::insert_numbered(&mut tx, &rec, order).await?;
    rec.number = number;
    rec.key = format!("{team_key}-{number}");
    rec.sort_order = sort_order;
    issues::add_labels(&mut tx, rec.id, &rec.label_ids).await?;
    log_change(&mut tx, scope, "issue", rec.id, Action::Create, &rec).await?;
    tx.commit().await?;
    item(db, scope, rec.id).await
}

/// One issue by id or key, with parent, sub-issues and relations (4 queries).
pub async fn detail(db: &Db, scope: &Scope, path: &str) -> Result<IssueDetail, MomentumError> {
    let r = IssueRef::parse(path).ok_or(MomentumError::NotFound("issue"))?;
    let issue = issues::get(db, scope.workspace_id, &r)
        .await?
        .ok_or(MomentumError::NotFound("issue"))?;
    let (parent, children, relations) =
        issues::neighbours(db, issue.id, issue.parent_issue_id).await?;
    Ok(IssueDetail {
        issue,
        parent,
        children,
        relations,
    })
}

/// The cursor of the page after `item` in `sort` order: base64url of
/// `{"s": sort, "k": key, "id": id}`.
fn encode_cursor(sort: Sort, item: &IssueItem) -> String {
    let k = match sort.key_of(item) {
        SortKey::Time(t) => json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        SortKey::Int(n) => json!(n),
        SortKey::Float(x) => json!(x),
    };
    URL_SAFE_NO_PAD.encode(json!({"s": sort.name(), "k": k, "id": item.id}).to_string())
}

fn decode_cursor(sort: Sort, s: &str) -> Option<(SortKey, Uuid)> {
    let bytes = URL_SAFE_NO_PAD
        .decode(s.trim().trim_end_matches('='))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    if v["s"].as_str()? != sort.name() {
        return None;
    }
    let id = Uuid::parse_str(v["id"].as_str()?).ok()?;
    let k = &v["k"];
    let key = match sort {
        Sort::CreatedAt(_) | Sort::UpdatedAt(_) => SortKey::Time(
            DateTime::parse_from_rfc3339(k.as_str()?)
                .ok()?
                .with_timezone(&Utc),
        ),
        Sort::Priority(_) | Sort::Number(_) => SortKey::Int(k.as_i64()?),
        Sort::SortOrder(_) => SortKey::Float(k.as_f64().filter(|x| x.is_finite())?),
    };
    Some((key, id))
}

/// A page of the caller's workspace's issues (2 queries: the page, its labels). Every bad
/// parameter is listed in one 422.
pub async fn list(db: &Db, scope: &Scope, q: &ListQuery) -> Result<Page, MomentumError> {
    let mut c = Check::new();
    let mut f = Filter {
        team_id: opt_uuid(&mut c, "team_id", q.team_id.as_deref()),
        project_id: opt_uuid(&mut c, "project_id", q.project_id.as_deref()),
        ..Filter::default()
    };
    f.assignee_id = match q.assignee_id.as_deref().map(str::trim) {
        Some(me) if me.eq_ignore_ascii_case("me") => Some(scope.actor),
        other => opt_uuid(&mut c, "assignee_id", other),
    };
    f.priority = q
        .priority
        .as_deref()
        .and_then(|p| c.one_of("priority", p, Priority::parse, Priority::names));
    f.workflow_state_id = opt_uuid(&mut c, "workflow_state_id", q.workflow_state_id.as_deref());
    f.state_category = q.state_category.as_deref().and_then(|s| {
        c.one_of(
            "state_category",
            s,
            StateCategory::parse,
            StateCategory::names,
        )
    });
    f.label_id = opt_uuid(&mut c, "label_id", q.label_id.as_deref());
    f.cycle_id = opt_uuid(&mut c, "cycle_id", q.cycle_id.as_deref());
    f.parent_id = opt_uuid(&mut c, "parent_id", q.parent_id.as_deref());
    f.search = q
        .search
        .as_deref()
        .and_then(|s| c.text("search", s, 0, MAX_SEARCH))
        .filter(|s| !s.is_empty());
    let sort = match q.sort.as_deref() {
        Some(s) => c.one_of("sort", s, Sort::parse, Sort::names),
        None => Some(Sort::CreatedAt(false)),
    };
    let limit = match q.limit.as_deref().map(str::trim) {
        None => Some(DEFAULT_LIMIT),
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Some(n),
            _ => {
                c.fail(
                    "limit",
                    "out_of_range",
                    format!("must be an integer from 1 to {MAX_LIMIT}"),
                );
                None
            }
        },
    };
    let mut after = None;
    if let (Some(cur), Some(sort)) = (q.cursor.as_deref().filter(|s| !s.is_empty()), sort) {
        after = decode_cursor(sort, cur);
        if after.is_none() {
            c.fail(
                "cursor",
                "invalid_cursor",
                "must be meta.next_cursor of a page with the same sort",
            );
        }
    }
    c.finish()?;
    let (Some(sort), Some(limit)) = (sort, limit) else {
        return Err(MomentumError::field("sort", "invalid_choice", "bad sort"));
    };
    let mut items = issues::page(db, scope.workspace_id, &f, sort, after, limit + 1).await?;
    let more = items.len() as i64 > limit;
    items.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more {
        items.last().map(|i| encode_cursor(sort, i))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// A parsed change: each `Some` sets the field (for nullable fields, to the inner option).
#[derive(Debug, Default)]
struct Changes {
    title: Option<String>,
    description: Option<Option<String>>,
    priority: Option<Priority>,
    team_id: Option<Uuid>,
    assignee_id: Option<Option<Uuid>>,
    project_id: Option<Option<Uuid>>,
    cycle_id: Option<Option<Uuid>>,
    parent_issue_id: Option<Option<Uuid>>,
    label_ids: Option<Vec<Uuid>>,
    workflow_state_id: Option<Uuid>,
    /// The body field naming the state (`workflow_state_id`, or `to_state_id` for moves).
    state_field: &'static str,
    estimate: Option<Option<f64>>,
    due_date: Option<Option<NaiveDate>>,
    sort_order: Option<f64>,
}

fn patch_uuid(c: &mut Check, field: &str, p: &Patch<String>) -> Option<Option<Option<Uuid>>> {
    match p {
        Patch::Absent => Some(None),
        Patch::Null => Some(Some(None)),
        Patch::Value(s) => c.uuid(field, s).map(|u| Some(Some(u))),
    }
}

fn parse_update(b: &UpdateIssue) -> Result<Changes, MomentumError> {
    let mut c = Check::new();
    let mut ch = Changes {
        state_field: "workflow_state_id",
        ..Changes::default()
    };
    ch.title = b.title.as_deref().and_then(|t| c.text("title", t, 1, 255));
    ch.description = match &b.description {
        Patch::Absent => None,
        Patch::Null => Some(None),
        Patch::Value(d) => opt_text(&mut c, "description", d, LONG_TEXT),
    };
    ch.priority = b
        .priority
        .as_deref()
        .and_then(|p| c.one_of("priority", p, Priority::parse, Priority::names));
    ch.team_id = opt_uuid(&mut c, "team_id", b.team_id.as_deref());
    ch.assignee_id = patch_uuid(&mut c, "assignee_id", &b.assignee_id).flatten();
    ch.project_id = patch_uuid(&mut c, "project_id", &b.project_id).flatten();
    ch.cycle_id = patch_uuid(&mut c, "cycle_id", &b.cycle_id).flatten();
    ch.parent_issue_id = patch_uuid(&mut c, "parent_issue_id", &b.parent_issue_id).flatten();
    ch.label_ids = label_list(&mut c, b.label_ids.as_deref());
    ch.workflow_state_id = opt_uuid(&mut c, "workflow_state_id", b.workflow_state_id.as_deref());
    ch.estimate = match b.estimate {
        Patch::Absent => None,
        Patch::Null => Some(None),
        Patch::Value(v) => estimate(&mut c, v).map(Some),
    };
    ch.due_date = match &b.due_date {
        Patch::Absent => None,
        Patch::Null => Some(None),
        Patch::Value(d) => c.date("due_date", d).map(Some),
    };
    ch.sort_order = b.sort_order.and_then(|v| sort_order(&mut c, v));
    c.finish()?;
    Ok(ch)
}

/// Updates an issue (`PUT /issues/{id}`).
pub async fn update(
    db: &Db,
    scope: &Scope,
    path: &str,
    b: UpdateIssue,
) -> Result<IssueItem, MomentumError> {
    let id = resolve(db, scope, path).await?;
    scope.require_writer()?;
    let ch = parse_update(&b)?;
    apply(db, scope, id, ch).await
}

/// Moves an issue to another state (`POST /issues/{id}/transitions`), subject to the
/// workflow's transition rules.
pub async fn move_to(
    db: &Db,
    scope: &Scope,
    path: &str,
    b: MoveIssue,
) -> Result<IssueItem, MomentumError> {
    let id = resolve(db, scope, path).await?;
    scope.require_writer()?;
    let mut c = Check::new();
    let to = match b.to_state_id.as_deref() {
        Some(s) => c.uuid("to_state_id", s),
        None => {
            c.fail("to_state_id", "required", "is required");
            None
        }
    };
    c.finish()?;
    let ch = Changes {
        workflow_state_id: to,
        state_field: "to_state_id",
        ..Changes::default()
    };
    apply(db, scope, id, ch).await
}

fn j<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The history rows between `old` and `new`, one per changed field.
fn diff(old: &IssueRecord, new: &IssueRecord) -> Vec<Change> {
    let mut out = Vec::new();
    let mut field = |name: &'static str, a: Value, b: Value| {
        if a != b {
            out.push(Change {
                field: name,
                old: a,
                new: b,
            });
        }
    };
    field("title", j(&old.title), j(&new.title));
    field("description", j(&old.description), j(&new.description));
    field("priority", j(&old.priority), j(&new.priority));
    field("team_id", j(&old.team_id), j(&new.team_id));
    field("key", j(&old.key), j(&new.key));
    field("workflow_id", j(&old.workflow_id), j(&new.workflow_id));
    field(
        "workflow_state_id",
        j(&old.workflow_state_id),
        j(&new.workflow_state_id),
    );
    field("assignee_id", j(&old.assignee_id), j(&new.assignee_id));
    field("project_id", j(&old.project_id), j(&new.project_id));
    field("cycle_id", j(&old.cycle_id), j(&new.cycle_id));
    field(
        "parent_issue_id",
        j(&old.parent_issue_id),
        j(&new.parent_issue_id),
    );
    field("label_ids", j(&old.label_ids), j(&new.label_ids));
    field("estimate", j(&old.estimate), j(&new.estimate));
    field("due_date", j(&old.due_date), j(&new.due_date));
    field("sort_order", j(&old.sort_order), j(&new.sort_order));
    out
}

/// Applies `ch` to issue `id` in one transaction: references checked in the workspace (and
/// the issue's team), transition rules, parent cycles, the new key on a team change, then the
/// row, its labels, one history row per changed field and the change-log entry.
async fn apply(db: &Db, scope: &Scope, id: Uuid, ch: Changes) -> Result<IssueItem, MomentumError> {
    let ws = scope.workspace_id;
    let mut tx = db.begin().await?;
    let old = issues::lock(&mut tx, ws, id)
        .await?
        .ok_or(MomentumError::NotFound("issue"))?;
    let mut new = old.clone();
    let mut bad = Vec::new();

    let mut new_team_key = None;
    if let Some(t) = ch.team_id.filter(|t| *t != old.team_id) {
        match refs::team_key(&mut tx, ws, t).await? {
            Some(key) => {
                new.team_id = t;
                new_team_key = Some(key);
            }
            None => bad.push(unknown("team_id", "team")),
        }
    }
    let team_changed = new_team_key.is_some();
    if let Some(s) = ch.workflow_state_id {
        match refs::state_workflow(&mut tx, new.team_id, s).await? {
            Some(wf) => {
                new.workflow_id = Some(wf);
                new.workflow_state_id = Some(s);
            }
            None => bad.push(unknown(
                ch.state_field,
                "workflow state of the issue's team",
            )),
        }
    } else if team_changed {
        let state = workflows::default_state(&mut tx, new.team_id).await?;
        new.workflow_id = state.map(|(w, _)| w);
        new.workflow_state_id = state.map(|(_, s)| s);
    }
    if let Some(a) = ch.assignee_id {
        if let Some(u) = a
            && !refs::member(&mut tx, ws, u).await?
        {
            bad.push(unknown("assignee_id", "workspace member"));
        }
        new.assignee_id = a;
    }
    if let Some(p) = ch.project_id {
        if let Some(pid) = p
            && !refs::project(&mut tx, ws, pid).await?
        {
            bad.push(unknown("project_id", "project"));
        }
        new.project_id = p;
    }
    match ch.cycle_id {
        Some(cy) => {
            if let Some(cid) = cy
                && !refs::cycle(&mut tx, ws, new.team_id, cid).await?
            {
                bad.push(unknown("cycle_id", "cycle of the issue's team"));
            }
            new.cycle_id = cy;
        }
        // Cycles belong to a team: the issue leaves its old team's cycle.
        None if team_changed => new.cycle_id = None,
        None => {}
    }
    let mut parent_to_check = None;
    if let Some(p) = ch.parent_issue_id {
        if let Some(pid) = p {
            if !refs::issue(&mut tx, ws, pid).await? {
                bad.push(unknown("parent_issue_id", "issue"));
            } else if Some(pid) != old.parent_issue_id {
                parent_to_check = Some(pid);
            }
        }
        new.parent_issue_id = p;
    }
    if let Some(labels) = ch.label_ids {
        if !labels.is_empty() && refs::issue_labels(&mut tx, ws, &labels).await? != labels.len() {
            bad.push(unknown("label_ids", "issue label"));
        }
        new.label_ids = labels;
    }
    if !bad.is_empty() {
        return Err(MomentumError::Fields(bad));
    }
    if let Some(pid) = parent_to_check
        && (pid == id || refs::is_self_or_ancestor(&mut tx, pid, id).await?)
    {
        return Err(MomentumError::conflict(
            "PARENT_CYCLE",
            "an issue cannot be its own parent or the parent of one of its ancestors",
        ));
    }
    // Within a team, a state change obeys the workflow's transition rules; a team change
    // lands in the new team's workflow, where the old state means nothing.
    if !team_changed
        && new.workflow_state_id != old.workflow_state_id
        && let (Some(wf), Some(to)) = (new.workflow_id, new.workflow_state_id)
    {
        transitions::check_move(db, wf, old.workflow_state_id, to, scope.role).await?;
    }
    if let Some(t) = ch.title {
        new.title = t;
    }
    if let Some(d) = ch.description {
        new.description = d;
    }
    if let Some(p) = ch.priority {
        new.priority = p;
    }
    if let Some(e) = ch.estimate {
        new.estimate = e;
    }
    if let Some(d) = ch.due_date {
        new.due_date = d;
    }
    if let Some(o) = ch.sort_order {
        new.sort_order = o;
    }
    if new == old {
        drop(tx);
        return item(db, scope, id).await;
    }
    if let Some(key) = new_team_key {
        new.number = teams::next_issue_number(&mut tx, new.team_id).await?;
        new.key = format!("{key}-{}", new.number);
    }
    new.updated_at = scope.now;
    let changes = diff(&old, &new);
    issues::update(&mut tx, &new).await?;
    if new.label_ids != old.label_ids {
        issues::set_labels(&mut tx, id, &new.label_ids).await?;
    }
    issues::insert_history(&mut tx, id, scope.actor, &changes, scope.now).await?;
    log_change(&mut tx, scope, "issue", id, Action::Update, &new).await?;
    tx.commit().await?;
    item(db, scope, id).await
}

/// Deletes an issue: its sub-issues lose their parent (history and change log say so), its
/// relations go (logged), then the issue (logged).
pub async fn delete(db: &Db, scope: &Scope, path: &str) -> Result<(), MomentumError> {
    let id = resolve(db, scope, path).await?;
    scope.require_writer()?;
    let mut tx = db.begin().await?;
    let old = issues::lock(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or(MomentumError::NotFound("issue"))?;
    for child in issues::orphan_children(&mut tx, id, scope.now).await? {
        let ch = Change {
            field: "parent_issue_id",
            old: j(&id),
            new: Value::Null,
        };
        issues::insert_history(&mut tx, child, scope.actor, &[ch], scope.now).await?;
        let data = json!({"id": child, "parent_issue_id": null, "updated_at": scope.now});
        log_change(&mut tx, scope, "issue", child, Action::Update, &data).await?;
    }
    for rel in issues::delete_relations_of(&mut tx, id).await? {
        log_change(
            &mut tx,
            scope,
            "issue_relation",
            rel,
            Action::Delete,
            &json!({"id": rel}),
        )
        .await?;
    }
    issues::delete(&mut tx, id).await?;
    log_change(&mut tx, scope, "issue", id, Action::Delete, &old).await?;
    tx.commit().await?;
    Ok(())
}

/// The states the caller may move the issue to (none for guests, who cannot change issues).
pub async fn targets(
    db: &Db,
    scope: &Scope,
    path: &str,
) -> Result<Vec<workflows::WorkflowState>, MomentumError> {
    let r = IssueRef::parse(path).ok_or(MomentumError::NotFound("issue"))?;
    let issue = issues::get(db, scope.workspace_id, &r)
        .await?
        .ok_or(MomentumError::NotFound("issue"))?;
    let Some(wf) = issue.workflow_id.filter(|_| scope.role.can_write()) else {
        return Ok(Vec::new());
    };
    transitions::allowed_targets(db, wf, issue.workflow_state_id, scope.role).await
}

/// The change history of an issue, newest last.
pub async fn history(
    db: &Db,
    scope: &Scope,
    path: &str,
) -> Result<Vec<HistoryEntry>, MomentumError> {
    let id = resolve(db, scope, path).await?;
    Ok(issues::history(db, id).await?)
}

/// The relations of an issue, each as it sees them.
pub async fn relations(db: &Db, scope: &Scope, path: &str) -> Result<Vec<Relation>, MomentumError> {
    let id = resolve(db, scope, path).await?;
    Ok(issues::relations(db, id).await?)
}

/// Relates an issue to another of the workspace. Stored once in the canonical direction
/// (`blocked_by` as the other issue `blocks` this one; `related` from the smaller id), so
/// the same relation asked for from either side is 409 `RELATION_EXISTS`.
pub async fn relate(
    db: &Db,
    scope: &Scope,
    path: &str,
    b: NewRelation,
) -> Result<Relation, MomentumError> {
    let this = resolve(db, scope, path).await?;
    scope.require_writer()?;
    let mut c = Check::new();
    let kind = match b.kind.as_deref() {
        Some(k) => c.one_of("type", k, RelationType::parse, RelationType::names),
        None => {
            c.fail("type", "required", "is required");
            None
        }
    };
    let other = match b.related_issue_id.as_deref() {
        Some(o) => c.uuid("related_issue_id", o),
        None => {
            c.fail("related_issue_id", "required", "is required");
            None
        }
    };
    if other == Some(this) {
        c.fail(
            "related_issue_id",
            "self_relation",
            "an issue cannot be related to itself",
        );
    }
    c.finish()?;
    let (Some(kind), Some(other)) = (kind, other) else {
        return Err(MomentumError::field("type", "required", "is required"));
    };
    let mut tx = db.begin().await?;
    if !refs::issue(&mut tx, scope.workspace_id, other).await? {
        return Err(MomentumError::unknown_ref("related_issue_id", "issue"));
    }
    let (from, to, stored) = match kind {
        RelationType::Blocks => (this, other, RelationType::Blocks),
        RelationType::BlockedBy => (other, this, RelationType::Blocks),
        RelationType::DuplicateOf => (this, other, RelationType::DuplicateOf),
        RelationType::DuplicatedBy => (other, this, RelationType::DuplicateOf),
        RelationType::Related => (this.min(other), this.max(other), RelationType::Related),
    };
    let rec = RelationRecord {
        id: Uuid::now_v7(),
        issue_id: from,
        related_issue_id: to,
        kind: stored.as_str().to_string(),
        created_by: Some(scope.actor),
        created_at: scope.now,
    };
    issues::insert_relation(&mut tx, &rec).await.map_err(|e| {
        if e.violates(issues::RELATION_KEY) {
            MomentumError::conflict(
                "RELATION_EXISTS",
                "these issues are already related this way",
            )
        } else {
            e.into()
        }
    })?;
    log_change(
        &mut tx,
        scope,
        "issue_relation",
        rec.id,
        Action::Create,
        &rec,
    )
    .await?;
    tx.commit().await?;
    issues::relations(db, this)
        .await?
        .into_iter()
        .find(|r| r.id == rec.id)
        .ok_or(MomentumError::NotFound("relation"))
}

/// Deletes a relation of an issue (from either side).
pub async fn unrelate(
    db: &Db,
    scope: &Scope,
    path: &str,
    relation_id: &str,
) -> Result<(), MomentumError> {
    let this = resolve(db, scope, path).await?;
    let rid =
        Uuid::parse_str(relation_id.trim()).map_err(|_| MomentumError::NotFound("relation"))?;
    let rec = issues::relation(db, this, rid)
        .await?
        .ok_or(MomentumError::NotFound("relation"))?;
    scope.require_writer()?;
    let mut tx = db.begin().await?;
    if !issues::delete_relation(&mut tx, rec.id).await? {
        return Err(MomentumError::NotFound("relation"));
    }
    log_change(
        &mut tx,
        scope,
        "issue_relation",
        rec.id,
        Action::Delete,
        &rec,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_another_sort() {
        let now = Utc::now();
        let item = IssueItem {
            id: Uuid::now_v7(),
            key: "ENG-1".into(),
            number: 1,
            title: "t".into(),
            description: None,
            priority: Priority::High,
            team_id: Uuid::now_v7(),
            team_key: "ENG".into(),
            team: issues::TeamRef {
                id: Uuid::nil(),
                name: "Eng".into(),
                team_key: "ENG".into(),
            },
            workflow_id: None,
            workflow_state_id: None,
            state: None,
            project_id: None,
            project: None,
            cycle_id: None,
            parent_issue_id: None,
            assignee_id: None,
            assignee: None,
            creator_id: None,
            creator: None,
            labels: vec![],
            estimate: None,
            due_date: None,
            sort_order: 1536.25,
            created_at: now,
            updated_at: now,
        };
        for sort in [
            Sort::CreatedAt(false),
            Sort::UpdatedAt(true),
            Sort::Priority(true),
            Sort::SortOrder(false),
            Sort::Number(true),
        ] {
            let c = encode_cursor(sort, &item);
            assert_eq!(decode_cursor(sort, &c), Some((sort.key_of(&item), item.id)));
        }
        let c = encode_cursor(Sort::CreatedAt(false), &item);
        assert_eq!(decode_cursor(Sort::CreatedAt(true), &c), None);
        assert_eq!(decode_cursor(Sort::CreatedAt(false), "not-a-cursor"), None);
    }

    #[test]
    fn every_bad_field_is_listed() {
        let b = UpdateIssue {
            title: Some(String::new()),
            priority: Some("extreme".into()),
            assignee_id: Patch::Value("x".into()),
            label_ids: Some(vec!["nope".into()]),
            estimate: Patch::Value(-1.0),
            due_date: Patch::Value("2026-02-30".into()),
            ..UpdateIssue::default()
        };
        let Err(MomentumError::Api(e)) = parse_update(&b) else {
            panic!("expected a validation error");
        };
        let fields: Vec<_> = e
            .fields
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(
            fields,
            [
                "title",
                "priority",
                "assignee_id",
                "label_ids[0]",
                "estimate",
                "due_date"
            ]
        );
    }
}
