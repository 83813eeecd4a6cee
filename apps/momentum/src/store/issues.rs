//! `mm_issues`, `mm_issue_labels`, `mm_issue_relations` and `mm_issue_history`.
//!
//! Reads return issues enriched for clients ([`IssueItem`]: team, state, project, assignee,
//! creator, labels). A page of the list costs two queries whatever its size: one for the
//! issues with their one-to-one neighbours joined, one for the labels of the whole page
//! ([`IdList`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use trellis_kernel::db::{Db, StoreError, Tx};
use trellis_kernel::{on_db_read, on_tx};
use uuid::Uuid;

use super::{IdList, UserSummary};
use crate::domain::{LabelLevel, Priority, RelationType, StateCategory};

/// The unique constraint on `(team_id, number)` (`ENG-123` is taken once).
pub const NUMBER_KEY: &str = "mm_issues_team_id_number_key";
/// The unique constraint on a relation `(issue_id, related_issue_id, type)`.
pub const RELATION_KEY: &str = "mm_issue_relations_issue_id_related_issue_id_type_key";

/// The team of an issue, as the issue shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumIssueTeam)]
pub struct TeamRef {
    /// Team id.
    pub id: Uuid,
    /// Team name.
    pub name: String,
    /// Key of the team's issues (`ENG`).
    pub team_key: String,
}

/// The workflow state of an issue, as the issue shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumIssueState)]
pub struct StateRef {
    /// State id.
    pub id: Uuid,
    /// State name (`In Progress`).
    pub name: String,
    /// `#RRGGBB`.
    pub color: String,
    /// One of `triage, backlog, unstarted, started, completed, canceled`.
    pub category: StateCategory,
}

/// The project of an issue, as the issue shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumIssueProject)]
pub struct ProjectRef {
    /// Project id.
    pub id: Uuid,
    /// Project name.
    pub name: String,
    /// Project key.
    pub project_key: String,
}

/// A label of an issue.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumIssueLabel)]
pub struct LabelRef {
    /// Label id.
    pub id: Uuid,
    /// Label name.
    pub name: String,
    /// `#RRGGBB`.
    pub color: String,
    /// `issue` or `project`.
    pub level: LabelLevel,
}

/// An issue as lists and `GET /issues/{id}` show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumIssue)]
pub struct IssueItem {
    /// Id.
    pub id: Uuid,
    /// `ENG-123`: the team's key and the issue's number in the team.
    pub key: String,
    /// Number in the team (1, 2, …; never reused).
    pub number: i64,
    /// Title (1–255 characters).
    pub title: String,
    /// Markdown description (at most 10,000 characters), if any.
    pub description: Option<String>,
    /// `none, low, medium, high, urgent`.
    pub priority: Priority,
    /// The team.
    pub team_id: Uuid,
    /// The team's key (the original's field).
    pub team_key: String,
    /// The team.
    pub team: TeamRef,
    /// The workflow the state belongs to.
    pub workflow_id: Option<Uuid>,
    /// The state (`status` of other trackers).
    pub workflow_state_id: Option<Uuid>,
    /// The state.
    pub state: Option<StateRef>,
    /// The project, if any.
    pub project_id: Option<Uuid>,
    /// The project, if any.
    pub project: Option<ProjectRef>,
    /// The cycle, if any.
    pub cycle_id: Option<Uuid>,
    /// The parent issue, if this is a sub-issue.
    pub parent_issue_id: Option<Uuid>,
    /// The assignee, if any.
    pub assignee_id: Option<Uuid>,
    /// The assignee, if any.
    pub assignee: Option<UserSummary>,
    /// Who created it (null once their account is gone).
    pub creator_id: Option<Uuid>,
    /// Who created it.
    pub creator: Option<UserSummary>,
    /// Its labels, by name.
    pub labels: Vec<LabelRef>,
    /// Estimate (points), if any.
    pub estimate: Option<f64>,
    /// Due date, if any.
    pub due_date: Option<NaiveDate>,
    /// Fractional position for manual ordering (smaller first).
    pub sort_order: f64,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// Another issue, in short (parent, sub-issues, the other end of a relation).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumIssueSummary)]
pub struct IssueSummary {
    /// Id.
    pub id: Uuid,
    /// `ENG-123`.
    pub key: String,
    /// Number in its team.
    pub number: i64,
    /// Title.
    pub title: String,
    /// Priority.
    pub priority: Priority,
    /// Its team.
    pub team_id: Uuid,
    /// Its state.
    pub workflow_state_id: Option<Uuid>,
    /// Its state.
    pub state: Option<StateRef>,
    /// Its assignee.
    pub assignee_id: Option<Uuid>,
    /// Its parent.
    pub parent_issue_id: Option<Uuid>,
}

/// A relation as one of its issues sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumIssueRelation)]
pub struct Relation {
    /// Id (the same from both issues).
    pub id: Uuid,
    /// How this issue relates to the other (`blocked_by` when the other `blocks` it).
    #[serde(rename = "type")]
    pub kind: RelationType,
    /// This issue.
    pub issue_id: Uuid,
    /// The other issue.
    pub related_issue_id: Uuid,
    /// The other issue.
    pub related_issue: IssueSummary,
    /// Who created the relation.
    pub created_by: Option<Uuid>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
}

/// A stored relation, in its canonical direction (`blocks`, `related`, `duplicate_of`).
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct RelationRecord {
    /// Id.
    pub id: Uuid,
    /// The issue the type reads from (`issue_id` blocks `related_issue_id`).
    pub issue_id: Uuid,
    /// The other issue.
    pub related_issue_id: Uuid,
    /// `blocks`, `related` or `duplicate_of`.
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: String,
    /// Who created it.
    pub created_by: Option<Uuid>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
}

/// One change of one field (`GET /issues/{id}/history`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumIssueHistory)]
pub struct HistoryEntry {
    /// Id.
    pub id: Uuid,
    /// Who made the change.
    pub actor_id: Option<Uuid>,
    /// Who made the change.
    pub actor: Option<UserSummary>,
    /// The field (`title`, `workflow_state_id`, `label_ids`, `team_id`, `key`, …).
    pub field: String,
    /// The value before (JSON; null when unset).
    #[schema(value_type = Object)]
    pub old: serde_json::Value,
    /// The value after (JSON; null when cleared).
    #[schema(value_type = Object)]
    pub new: serde_json::Value,
    /// When (UTC).
    pub time: DateTime<Utc>,
}

/// An issue as stored, with its key and label ids: what the change log records.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IssueRecord {
    /// Id.
    pub id: Uuid,
    /// Workspace.
    pub workspace_id: Uuid,
    /// Team.
    pub team_id: Uuid,
    /// `ENG-123`.
    pub key: String,
    /// Number in the team.
    pub number: i64,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Priority.
    pub priority: Priority,
    /// Workflow of the state.
    pub workflow_id: Option<Uuid>,
    /// State.
    pub workflow_state_id: Option<Uuid>,
    /// Project.
    pub project_id: Option<Uuid>,
    /// Cycle.
    pub cycle_id: Option<Uuid>,
    /// Parent issue.
    pub parent_issue_id: Option<Uuid>,
    /// Creator.
    pub creator_id: Option<Uuid>,
    /// Assignee.
    pub assignee_id: Option<Uuid>,
    /// Estimate.
    pub estimate: Option<f64>,
    /// Due date.
    pub due_date: Option<NaiveDate>,
    /// Sort order.
    pub sort_order: f64,
    /// Label ids, sorted.
    pub label_ids: Vec<Uuid>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The columns of [`Row`]: the issue, its team, state, project, assignee and creator.
macro_rules! item_columns {
    () => {
        "i.id, i.team_id, i.number, i.title, i.description, i.priority, \
         i.workflow_id, i.workflow_state_id, i.project_id, i.cycle_id, i.parent_issue_id, \
         i.creator_id, i.assignee_id, i.estimate, i.due_date, i.sort_order, i.created_at, i.updated_at, \
         t.name AS team_name, t.team_key, \
         s.name AS state_name, s.color AS state_color, s.category AS state_category, \
         p.name AS project_name, p.project_key, \
         ua.email AS assignee_email, ua.username AS assignee_username, \
         COALESCE(pa.name, ua.username) AS assignee_name, pa.avatar_url AS assignee_avatar_url, \
         uc.email AS creator_email, uc.username AS creator_username, \
         COALESCE(pc.name, uc.username) AS creator_name, pc.avatar_url AS creator_avatar_url"
    };
}

/// `FROM` of [`item_columns`]: every neighbour is one row at most, so the joins never
/// multiply issues.
macro_rules! item_from {
    () => {
        " FROM mm_issues i JOIN mm_teams t ON t.id = i.team_id \
          LEFT JOIN mm_workflow_states s ON s.id = i.workflow_state_id \
          LEFT JOIN mm_projects p ON p.id = i.project_id \
          LEFT JOIN users ua ON ua.id = i.assignee_id LEFT JOIN mm_profiles pa ON pa.user_id = ua.id \
          LEFT JOIN users uc ON uc.id = i.creator_id LEFT JOIN mm_profiles pc ON pc.user_id = uc.id"
    };
}

/// One issue row with its neighbours' columns.
#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    team_id: Uuid,
    number: i64,
    title: String,
    description: Option<String>,
    priority: String,
    workflow_id: Option<Uuid>,
    workflow_state_id: Option<Uuid>,
    project_id: Option<Uuid>,
    cycle_id: Option<Uuid>,
    parent_issue_id: Option<Uuid>,
    creator_id: Option<Uuid>,
    assignee_id: Option<Uuid>,
    estimate: Option<f64>,
    due_date: Option<NaiveDate>,
    sort_order: f64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    team_name: String,
    team_key: String,
    state_name: Option<String>,
    state_color: Option<String>,
    state_category: Option<String>,
    project_name: Option<String>,
    project_key: Option<String>,
    assignee_email: Option<String>,
    assignee_username: Option<String>,
    assignee_name: Option<String>,
    assignee_avatar_url: Option<String>,
    creator_email: Option<String>,
    creator_username: Option<String>,
    creator_name: Option<String>,
    creator_avatar_url: Option<String>,
}

fn priority(s: &str) -> Priority {
    Priority::parse(s).unwrap_or(Priority::None)
}

fn state_ref(
    id: Option<Uuid>,
    name: Option<String>,
    color: Option<String>,
    category: Option<String>,
) -> Option<StateRef> {
    Some(StateRef {
        id: id?,
        name: name?,
        color: color?,
        category: StateCategory::parse(&category?)?,
    })
}

fn user(
    id: Option<Uuid>,
    email: Option<String>,
    username: Option<String>,
    name: Option<String>,
    avatar_url: Option<String>,
) -> Option<UserSummary> {
    Some(UserSummary {
        id: id?,
        email: email?,
        username: username?,
        name: name?,
        avatar_url,
    })
}

impl Row {
    fn into_item(self) -> IssueItem {
        let project = match (self.project_id, self.project_name, self.project_key) {
            (Some(id), Some(name), Some(project_key)) => Some(ProjectRef {
                id,
                name,
                project_key,
            }),
            _ => None,
        };
        // The join found no account: the id is dangling only until ON DELETE SET NULL ran.
        let assignee = user(
            self.assignee_id,
            self.assignee_email,
            self.assignee_username,
            self.assignee_name,
            self.assignee_avatar_url,
        );
        let creator = user(
            self.creator_id,
            self.creator_email,
            self.creator_username,
            self.creator_name,
            self.creator_avatar_url,
        );
        IssueItem {
            id: self.id,
            key: format!("{}-{}", self.team_key, self.number),
            number: self.number,
            title: self.title,
            description: self.description,
            priority: priority(&self.priority),
            team_id: self.team_id,
            team_key: self.team_key.clone(),
            team: TeamRef {
                id: self.team_id,
                name: self.team_name,
                team_key: self.team_key,
            },
            workflow_id: self.workflow_id,
            workflow_state_id: self.workflow_state_id,
            state: state_ref(
                self.workflow_state_id,
                self.state_name,
                self.state_color,
                self.state_category,
            ),
            project_id: self.project_id,
            project,
            cycle_id: self.cycle_id,
            parent_issue_id: self.parent_issue_id,
            assignee_id: self.assignee_id,
            assignee,
            creator_id: self.creator_id,
            creator,
            labels: Vec::new(),
            estimate: self.estimate,
            due_date: self.due_date,
            sort_order: self.sort_order,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// How a path names an issue: its id, or its key (`ENG-123`, any case).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssueRef {
    /// The UUID.
    Id(Uuid),
    /// Team key (upper case) and number.
    Key(String, i64),
}

impl IssueRef {
    /// Parses a path segment; `None` for anything that is neither (answered 404).
    pub fn parse(s: &str) -> Option<IssueRef> {
        let s = s.trim();
        if let Ok(id) = Uuid::parse_str(s) {
            return Some(IssueRef::Id(id));
        }
        let (key, number) = s.rsplit_once('-')?;
        let key = key.to_ascii_uppercase();
        let key_ok = (2..=10).contains(&key.len())
            && key.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
            && key
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        let number_ok =
            !number.is_empty() && number.len() <= 18 && number.bytes().all(|b| b.is_ascii_digit());
        if !key_ok || !number_ok {
            return None;
        }
        let n: i64 = number.parse().ok()?;
        (n > 0).then_some(IssueRef::Key(key, n))
    }
}

/// The issue `r` of `workspace_id` with its neighbours and labels (2 queries).
pub async fn get(
    db: &Db,
    workspace_id: Uuid,
    r: &IssueRef,
) -> Result<Option<IssueItem>, StoreError> {
    // The issue and its labels in one query: one row per label (or one with no label), the
    // issue's columns repeated (a request's PostgreSQL work is mostly per query, see
    // docs/PERFORMANCE.md).
    #[derive(sqlx::FromRow)]
    struct LabelledRow {
        #[sqlx(flatten)]
        row: Row,
        label_id: Option<Uuid>,
        label_name: Option<String>,
        label_color: Option<String>,
        label_level: Option<String>,
    }
    macro_rules! with_labels {
        () => {
            ", l.id AS label_id, l.name AS label_name, l.color AS label_color, l.level AS label_level"
        };
    }
    macro_rules! join_labels {
        () => {
            " LEFT JOIN mm_issue_labels il ON il.issue_id = i.id LEFT JOIN mm_labels l ON l.id = il.label_id"
        };
    }
    let rows: Vec<LabelledRow> = match r {
        IssueRef::Id(id) => {
            on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", item_columns!(), with_labels!(), item_from!(),
            join_labels!(), " WHERE i.id = $1 AND i.workspace_id = $2 ORDER BY l.name, l.id"))
            .bind(id).bind(workspace_id).fetch_all(pool).await)?
        }
        IssueRef::Key(key, number) => {
            on_db_read!(db, pool => sqlx::query_as(concat!("SELECT ", item_columns!(), with_labels!(), item_from!(),
            join_labels!(), " WHERE i.workspace_id = $1 AND t.team_key = $2 AND i.number = $3 ORDER BY l.name, l.id"))
            .bind(workspace_id).bind(key).bind(number).fetch_all(pool).await)?
        }
    };
    let mut labels = Vec::with_capacity(rows.len());
    let mut first = None;
    for r in rows {
        if let (Some(id), Some(name), Some(color), Some(level)) =
            (r.label_id, r.label_name, r.label_color, r.label_level)
        {
            labels.push(LabelRef {
                id,
                name,
                color,
                level: LabelLevel::parse(&level).unwrap_or(LabelLevel::Issue),
            });
        }
        if first.is_none() {
            first = Some(r.row);
        }
    }
    Ok(first.map(|row| {
        let mut item = row.into_item();
        item.labels = labels;
        item
    }))
}

/// The id of issue `r` in `workspace_id`, if it exists there.
pub async fn resolve(
    db: &Db,
    workspace_id: Uuid,
    r: &IssueRef,
) -> Result<Option<Uuid>, StoreError> {
    Ok(match r {
        IssueRef::Id(id) => on_db_read!(db, pool => sqlx::query_scalar(
            "SELECT id FROM mm_issues WHERE id = $1 AND workspace_id = $2")
            .bind(id).bind(workspace_id).fetch_optional(pool).await)?,
        IssueRef::Key(key, number) => on_db_read!(db, pool => sqlx::query_scalar(
            "SELECT i.id FROM mm_issues i JOIN mm_teams t ON t.id = i.team_id \
             WHERE i.workspace_id = $1 AND t.team_key = $2 AND i.number = $3")
            .bind(workspace_id).bind(key).bind(number).fetch_optional(pool).await)?,
    })
}

/// The rank `priority` sorts by: urgent 1, high 2, medium 3, low 4, none 5.
pub fn priority_rank(p: Priority) -> i64 {
    match p {
        Priority::Urgent => 1,
        Priority::High => 2,
        Priority::Medium => 3,
        Priority::Low => 4,
        Priority::None => 5,
    }
}

/// [`priority_rank`] in SQL.
macro_rules! priority_rank_sql {
    () => {
        "(CASE i.priority WHEN 'urgent' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 WHEN 'low' THEN 4 ELSE 5 END)"
    };
}

/// The page query for one order: every filter as `($n IS NULL OR …)`, the keyset condition
/// on `(key, id)` after the cursor, `LIMIT $14`.
macro_rules! page_sql {
    ($key:expr, $op:literal, $dir:literal) => {
        concat!(
            "SELECT ", item_columns!(), item_from!(),
            " WHERE i.workspace_id = $1",
            " AND ($2 IS NULL OR i.team_id = $2)",
            " AND ($3 IS NULL OR i.project_id = $3)",
            " AND ($4 IS NULL OR i.assignee_id = $4)",
            " AND ($5 IS NULL OR i.priority = $5)",
            " AND ($6 IS NULL OR i.workflow_state_id = $6)",
            " AND ($7 IS NULL OR s.category = $7)",
            " AND ($8 IS NULL OR EXISTS (SELECT 1 FROM mm_issue_labels il WHERE il.issue_id = i.id AND il.label_id = $8))",
            " AND ($9 IS NULL OR i.cycle_id = $9)",
            " AND ($10 IS NULL OR i.parent_issue_id = $10)",
            " AND ($11 IS NULL OR LOWER(i.title) LIKE $11 ESCAPE '\\' OR LOWER(i.description) LIKE $11 ESCAPE '\\')",
            " AND ($12 IS NULL OR ", $key, " ", $op, " $12 OR (", $key, " = $12 AND i.id ", $op, " $13))",
            " ORDER BY ", $key, " ", $dir, ", i.id ", $dir,
            " LIMIT $14"
        )
    };
}

/// What a list keeps (each `None` keeps everything).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Team.
    pub team_id: Option<Uuid>,
    /// Project.
    pub project_id: Option<Uuid>,
    /// Assignee.
    pub assignee_id: Option<Uuid>,
    /// Priority.
    pub priority: Option<Priority>,
    /// State.
    pub workflow_state_id: Option<Uuid>,
    /// Category of the state.
    pub state_category: Option<StateCategory>,
    /// Carries this label.
    pub label_id: Option<Uuid>,
    /// Cycle.
    pub cycle_id: Option<Uuid>,
    /// Parent issue (its sub-issues).
    pub parent_id: Option<Uuid>,
    /// Words in the title or description (case-insensitive; `%` and `_` match themselves).
    pub search: Option<String>,
}

/// A list order: the key and its direction; ties are broken by id in the same direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// `created_at` (oldest first) / `-created_at` (newest first, the default).
    CreatedAt(bool),
    /// `updated_at` / `-updated_at`.
    UpdatedAt(bool),
    /// `priority` (urgent first, none last) / `-priority`.
    Priority(bool),
    /// `sort_order` (manual order) / `-sort_order`.
    SortOrder(bool),
    /// `number` / `-number`.
    Number(bool),
}

impl Sort {
    /// Every accepted `sort` value.
    pub const NAMES: &'static [&'static str] = &[
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
        "priority",
        "-priority",
        "sort_order",
        "-sort_order",
        "number",
        "-number",
    ];

    /// Parses a `sort` value (`-` prefix: descending).
    pub fn parse(s: &str) -> Option<Sort> {
        let s = s.trim();
        let (desc, name) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let asc = !desc;
        Some(match name.to_ascii_lowercase().as_str() {
            "created_at" => Sort::CreatedAt(asc),
            "updated_at" => Sort::UpdatedAt(asc),
            "priority" => Sort::Priority(asc),
            "sort_order" => Sort::SortOrder(asc),
            "number" => Sort::Number(asc),
            _ => return None,
        })
    }

    /// The accepted values, for messages.
    pub fn names() -> String {
        Sort::NAMES.join(", ")
    }

    /// The canonical name (`-created_at`).
    pub fn name(self) -> &'static str {
        let (i, asc) = match self {
            Sort::CreatedAt(a) => (0, a),
            Sort::UpdatedAt(a) => (2, a),
            Sort::Priority(a) => (4, a),
            Sort::SortOrder(a) => (6, a),
            Sort::Number(a) => (8, a),
        };
        Sort::NAMES[if asc { i } else { i + 1 }]
    }

    /// The sort key of `item`, for the next page's cursor.
    pub fn key_of(self, item: &IssueItem) -> SortKey {
        match self {
            Sort::CreatedAt(_) => SortKey::Time(item.created_at),
            Sort::UpdatedAt(_) => SortKey::Time(item.updated_at),
            Sort::Priority(_) => SortKey::Int(priority_rank(item.priority)),
            Sort::SortOrder(_) => SortKey::Float(item.sort_order),
            Sort::Number(_) => SortKey::Int(item.number),
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Sort::CreatedAt(true) => page_sql!("i.created_at", ">", "ASC"),
            Sort::CreatedAt(false) => page_sql!("i.created_at", "<", "DESC"),
            Sort::UpdatedAt(true) => page_sql!("i.updated_at", ">", "ASC"),
            Sort::UpdatedAt(false) => page_sql!("i.updated_at", "<", "DESC"),
            Sort::Priority(true) => page_sql!(priority_rank_sql!(), ">", "ASC"),
            Sort::Priority(false) => page_sql!(priority_rank_sql!(), "<", "DESC"),
            Sort::SortOrder(true) => page_sql!("i.sort_order", ">", "ASC"),
            Sort::SortOrder(false) => page_sql!("i.sort_order", "<", "DESC"),
            Sort::Number(true) => page_sql!("i.number", ">", "ASC"),
            Sort::Number(false) => page_sql!("i.number", "<", "DESC"),
        }
    }
}

/// The sort key of the last issue of a page (the cursor's value).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SortKey {
    /// `created_at`, `updated_at`.
    Time(DateTime<Utc>),
    /// `priority` rank, `number`.
    Int(i64),
    /// `sort_order`.
    Float(f64),
}

/// A `LIKE` pattern matching `needle` anywhere, lower-cased, with `\`, `%` and `_` escaped.
pub fn contains_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// One page of issues of `workspace_id`: those after `after` (a sort key and id) in `sort`
/// order, at most `limit` (2 queries: the issues, then the labels of all of them).
pub async fn page(
    db: &Db,
    workspace_id: Uuid,
    f: &Filter,
    sort: Sort,
    after: Option<(SortKey, Uuid)>,
    limit: i64,
) -> Result<Vec<IssueItem>, StoreError> {
    let sql = sort.sql();
    let pattern = f.search.as_deref().map(contains_pattern);
    let prio = f.priority.map(|p| p.as_str());
    let category = f.state_category.map(|c| c.as_str());
    let after_id = after.map(|(_, id)| id);
    // The cursor's value, bound with the sort key's type (null on the first page).
    let key = after.map(|(k, _)| k);
    let time = key.and_then(|k| match k {
        SortKey::Time(t) => Some(t),
        _ => None,
    });
    let int = key.and_then(|k| match k {
        SortKey::Int(n) => Some(n),
        _ => None,
    });
    let float = key.and_then(|k| match k {
        SortKey::Float(x) => Some(x),
        _ => None,
    });
    let kind = match sort {
        Sort::CreatedAt(_) | Sort::UpdatedAt(_) => 0,
        Sort::Priority(_) | Sort::Number(_) => 1,
        Sort::SortOrder(_) => 2,
    };
    let rows: Vec<Row> = on_db_read!(db, pool => {
        let q = sqlx::query_as(sql)
            .bind(workspace_id)
            .bind(f.team_id)
            .bind(f.project_id)
            .bind(f.assignee_id)
            .bind(prio)
            .bind(f.workflow_state_id)
            .bind(category)
            .bind(f.label_id)
            .bind(f.cycle_id)
            .bind(f.parent_id)
            .bind(pattern.as_deref());
        let q = match kind {
            0 => q.bind(time),
            1 => q.bind(int),
            _ => q.bind(float),
        };
        q.bind(after_id).bind(limit).fetch_all(pool).await
    })?;
    let mut items: Vec<IssueItem> = rows.into_iter().map(Row::into_item).collect();
    attach_labels(db, &mut items).await?;
    Ok(items)
}

/// Fills in the labels of `items` with one query.
async fn attach_labels(db: &Db, items: &mut [IssueItem]) -> Result<(), StoreError> {
    if items.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = items.iter().map(|i| i.id).collect();
    let list = IdList(&ids);
    #[derive(sqlx::FromRow)]
    struct LabelRow {
        issue_id: Uuid,
        id: Uuid,
        name: String,
        color: String,
        level: String,
    }
    let rows: Vec<LabelRow> = match db {
        Db::Postgres(pool) => sqlx::query_as(
            "SELECT il.issue_id, l.id, l.name, l.color, l.level FROM mm_issue_labels il \
             JOIN mm_labels l ON l.id = il.label_id WHERE il.issue_id = ANY($1) ORDER BY l.name, l.id")
            .bind(list.pg()).fetch_all(pool).await?,
        Db::Sqlite(pools) => sqlx::query_as(
            "SELECT il.issue_id, l.id, l.name, l.color, l.level FROM mm_issue_labels il \
             JOIN mm_labels l ON l.id = il.label_id \
             WHERE il.issue_id IN (SELECT unhex(value) FROM json_each($1)) ORDER BY l.name, l.id")
            .bind(list.sqlite()).fetch_all(&pools.read).await?,
    };
    let index: std::collections::HashMap<Uuid, usize> =
        ids.iter().enumerate().map(|(n, id)| (*id, n)).collect();
    for r in rows {
        if let Some(&n) = index.get(&r.issue_id) {
            items[n].labels.push(LabelRef {
                id: r.id,
                name: r.name,
                color: r.color,
                level: LabelLevel::parse(&r.level).unwrap_or(LabelLevel::Issue),
            });
        }
    }
    Ok(())
}

/// Columns of [`SummaryRow`] from `mm_issues i` joined with `mm_teams t` and
/// `mm_workflow_states s`.
macro_rules! summary_columns {
    () => {
        "i.id, i.number, i.title, i.priority, i.team_id, t.team_key, i.workflow_state_id, \
         s.name AS state_name, s.color AS state_color, s.category AS state_category, \
         i.assignee_id, i.parent_issue_id"
    };
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: Uuid,
    number: i64,
    title: String,
    priority: String,
    team_id: Uuid,
    team_key: String,
    workflow_state_id: Option<Uuid>,
    state_name: Option<String>,
    state_color: Option<String>,
    state_category: Option<String>,
    assignee_id: Option<Uuid>,
    parent_issue_id: Option<Uuid>,
}

impl SummaryRow {
    fn into_summary(self) -> IssueSummary {
        IssueSummary {
            id: self.id,
            key: format!("{}-{}", self.team_key, self.number),
            number: self.number,
            title: self.title,
            priority: priority(&self.priority),
            team_id: self.team_id,
            workflow_state_id: self.workflow_state_id,
            state: state_ref(
                self.workflow_state_id,
                self.state_name,
                self.state_color,
                self.state_category,
            ),
            assignee_id: self.assignee_id,
            parent_issue_id: self.parent_issue_id,
        }
    }
}

/// An issue's parent, sub-issues (by team key and number) and relations (oldest first, as
/// [`relations`] gives them) in one query, a `UNION ALL`: the detail view's neighbours.
pub async fn neighbours(
    db: &Db,
    issue_id: Uuid,
    parent: Option<Uuid>,
) -> Result<(Option<IssueSummary>, Vec<IssueSummary>, Vec<Relation>), StoreError> {
    #[derive(sqlx::FromRow)]
    struct NRow {
        part: String,
        rel_id: Option<Uuid>,
        rel_issue_id: Option<Uuid>,
        rel_type: Option<String>,
        rel_created_by: Option<Uuid>,
        rel_created_at: Option<DateTime<Utc>>,
        #[sqlx(flatten)]
        other: SummaryRow,
    }
    let rows: Vec<NRow> = on_db_read!(db, pool => sqlx::query_as(concat!(
        "SELECT 'family' AS part, CAST(NULL AS UUID) AS rel_id, CAST(NULL AS UUID) AS rel_issue_id, \
         CAST(NULL AS TEXT) AS rel_type, CAST(NULL AS UUID) AS rel_created_by, \
         CAST(NULL AS TIMESTAMPTZ) AS rel_created_at, ", summary_columns!(),
        " FROM mm_issues i JOIN mm_teams t ON t.id = i.team_id \
          LEFT JOIN mm_workflow_states s ON s.id = i.workflow_state_id \
          WHERE i.parent_issue_id = $1 OR i.id = $2 \
         UNION ALL \
         SELECT 'relation', r.id, r.issue_id, r.type, r.created_by, r.created_at, ", summary_columns!(),
        " FROM mm_issue_relations r \
          JOIN mm_issues i ON i.id = (CASE WHEN r.issue_id = $1 THEN r.related_issue_id ELSE r.issue_id END) \
          JOIN mm_teams t ON t.id = i.team_id \
          LEFT JOIN mm_workflow_states s ON s.id = i.workflow_state_id \
          WHERE r.issue_id = $1 OR r.related_issue_id = $1"))
        .bind(issue_id).bind(parent).fetch_all(pool).await)?;
    let mut parent_summary = None;
    let mut children = Vec::new();
    let mut relations = Vec::new();
    for r in rows {
        if r.part == "family" {
            if Some(r.other.id) == parent && r.other.parent_issue_id != Some(issue_id) {
                parent_summary = Some(r.other.into_summary());
            } else if r.other.id != issue_id {
                children.push(r.other.into_summary());
            }
            continue;
        }
        let (Some(id), Some(stored_by), Some(kind), Some(created_at)) = (
            r.rel_id,
            r.rel_issue_id,
            r.rel_type.as_deref().and_then(RelationType::parse),
            r.rel_created_at,
        ) else {
            continue;
        };
        let kind = if stored_by == issue_id {
            kind
        } else {
            kind.inverse()
        };
        let other = r.other.into_summary();
        relations.push(Relation {
            id,
            kind,
            issue_id,
            related_issue_id: other.id,
            related_issue: other,
            created_by: r.rel_created_by,
            created_at,
        });
    }
    // `family`'s order: team key, then number.
    children.sort_by(|a, b| {
        let team = |k: &str| k.rsplit_once('-').map(|(t, _)| t.to_string());
        team(&a.key)
            .cmp(&team(&b.key))
            .then(a.number.cmp(&b.number))
    });
    relations.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    Ok((parent_summary, children, relations))
}

/// The relations of `issue_id`, each as `issue_id` sees it (the inverse type when the row
/// reads from the other issue), oldest first (1 query).
pub async fn relations(db: &Db, issue_id: Uuid) -> Result<Vec<Relation>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct RelRow {
        rel_id: Uuid,
        rel_issue_id: Uuid,
        rel_type: String,
        rel_created_by: Option<Uuid>,
        rel_created_at: DateTime<Utc>,
        #[sqlx(flatten)]
        other: SummaryRow,
    }
    let rows: Vec<RelRow> = on_db_read!(db, pool => sqlx::query_as(concat!(
        "SELECT r.id AS rel_id, r.issue_id AS rel_issue_id, r.type AS rel_type, r.created_by AS rel_created_by, \
         r.created_at AS rel_created_at, ", summary_columns!(),
        " FROM mm_issue_relations r \
          JOIN mm_issues i ON i.id = (CASE WHEN r.issue_id = $1 THEN r.related_issue_id ELSE r.issue_id END) \
          JOIN mm_teams t ON t.id = i.team_id \
          LEFT JOIN mm_workflow_states s ON s.id = i.workflow_state_id \
          WHERE r.issue_id = $1 OR r.related_issue_id = $1 ORDER BY r.created_at, r.id"))
        .bind(issue_id).fetch_all(pool).await)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let stored = RelationType::parse(&r.rel_type)?;
            let kind = if r.rel_issue_id == issue_id {
                stored
            } else {
                stored.inverse()
            };
            let other = r.other.into_summary();
            Some(Relation {
                id: r.rel_id,
                kind,
                issue_id,
                related_issue_id: other.id,
                related_issue: other,
                created_by: r.rel_created_by,
                created_at: r.rel_created_at,
            })
        })
        .collect())
}

/// The relation `id` if it involves `issue_id`.
pub async fn relation(
    db: &Db,
    issue_id: Uuid,
    id: Uuid,
) -> Result<Option<RelationRecord>, StoreError> {
    Ok(on_db_read!(db, pool => sqlx::query_as(
        "SELECT id, issue_id, related_issue_id, type, created_by, created_at FROM mm_issue_relations \
         WHERE id = $1 AND (issue_id = $2 OR related_issue_id = $2)")
        .bind(id).bind(issue_id).fetch_optional(pool).await)?)
}

/// Inserts a relation (canonical direction).
pub async fn insert_relation(tx: &mut Tx, r: &RelationRecord) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO mm_issue_relations (id, issue_id, related_issue_id, type, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(r.id).bind(r.issue_id).bind(r.related_issue_id).bind(&r.kind).bind(r.created_by).bind(r.created_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Deletes a relation; whether it existed.
pub async fn delete_relation(tx: &mut Tx, id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM mm_issue_relations WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Deletes every relation of `issue_id` (before the issue goes); their ids.
pub async fn delete_relations_of(tx: &mut Tx, issue_id: Uuid) -> Result<Vec<Uuid>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "DELETE FROM mm_issue_relations WHERE issue_id = $1 OR related_issue_id = $1 RETURNING id")
        .bind(issue_id).fetch_all(&mut *c).await)?)
}

/// The change history of `issue_id`, oldest first (newest last), with each actor (1 query).
pub async fn history(db: &Db, issue_id: Uuid) -> Result<Vec<HistoryEntry>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct HRow {
        id: Uuid,
        actor_id: Option<Uuid>,
        field: String,
        old_value: Option<String>,
        new_value: Option<String>,
        created_at: DateTime<Utc>,
        email: Option<String>,
        username: Option<String>,
        name: Option<String>,
        avatar_url: Option<String>,
    }
    let rows: Vec<HRow> = on_db_read!(db, pool => sqlx::query_as(
        "SELECT h.id, h.actor_id, h.field, h.old_value, h.new_value, h.created_at, \
         u.email, u.username, COALESCE(p.name, u.username) AS name, p.avatar_url \
         FROM mm_issue_history h LEFT JOIN users u ON u.id = h.actor_id LEFT JOIN mm_profiles p ON p.user_id = u.id \
         WHERE h.issue_id = $1 ORDER BY h.created_at, h.id")
        .bind(issue_id).fetch_all(pool).await)?;
    let json = |s: Option<String>| {
        s.and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    Ok(rows
        .into_iter()
        .map(|r| HistoryEntry {
            id: r.id,
            actor: user(r.actor_id, r.email, r.username, r.name, r.avatar_url),
            actor_id: r.actor_id,
            field: r.field,
            old: json(r.old_value),
            new: json(r.new_value),
            time: r.created_at,
        })
        .collect())
}

/// One history row to append.
#[derive(Clone, Debug)]
pub struct Change {
    /// The field.
    pub field: &'static str,
    /// Before.
    pub old: serde_json::Value,
    /// After.
    pub new: serde_json::Value,
}

/// Appends history rows for `issue_id`, in the change's transaction.
pub async fn insert_history(
    tx: &mut Tx,
    issue_id: Uuid,
    actor: Uuid,
    changes: &[Change],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for ch in changes {
        let old = (!ch.old.is_null()).then(|| ch.old.to_string());
        let new = (!ch.new.is_null()).then(|| ch.new.to_string());
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO mm_issue_history (id, issue_id, actor_id, field, old_value, new_value, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(Uuid::now_v7()).bind(issue_id).bind(actor).bind(ch.field).bind(old).bind(new).bind(now)
            .execute(&mut *c).await.map(|_| ()))?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    id: Uuid,
    workspace_id: Uuid,
    team_id: Uuid,
    team_key: String,
    number: i64,
    title: String,
    description: Option<String>,
    priority: String,
    workflow_id: Option<Uuid>,
    workflow_state_id: Option<Uuid>,
    project_id: Option<Uuid>,
    cycle_id: Option<Uuid>,
    parent_issue_id: Option<Uuid>,
    creator_id: Option<Uuid>,
    assignee_id: Option<Uuid>,
    estimate: Option<f64>,
    due_date: Option<NaiveDate>,
    sort_order: f64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Reads issue `id` of `workspace_id` inside `tx` and locks it until commit (PostgreSQL
/// `FOR UPDATE`; a SQLite transaction already holds the only writer), with its label ids.
pub async fn lock(
    tx: &mut Tx,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<Option<IssueRecord>, StoreError> {
    let row: Option<RecordRow> = match tx {
        Tx::Postgres(c) => sqlx::query_as(
            "SELECT i.id, i.workspace_id, i.team_id, t.team_key, i.number, i.title, i.description, i.priority, \
             i.workflow_id, i.workflow_state_id, i.project_id, i.cycle_id, i.parent_issue_id, i.creator_id, \
             i.assignee_id, i.estimate, i.due_date, i.sort_order, i.created_at, i.updated_at \
             FROM mm_issues i JOIN mm_teams t ON t.id = i.team_id WHERE i.id = $1 AND i.workspace_id = $2 \
             FOR UPDATE OF i")
            .bind(id).bind(workspace_id).fetch_optional(&mut **c).await?,
        Tx::Sqlite(c) => sqlx::query_as(
            "SELECT i.id, i.workspace_id, i.team_id, t.team_key, i.number, i.title, i.description, i.priority, \
             i.workflow_id, i.workflow_state_id, i.project_id, i.cycle_id, i.parent_issue_id, i.creator_id, \
             i.assignee_id, i.estimate, i.due_date, i.sort_order, i.created_at, i.updated_at \
             FROM mm_issues i JOIN mm_teams t ON t.id = i.team_id WHERE i.id = $1 AND i.workspace_id = $2")
            .bind(id).bind(workspace_id).fetch_optional(&mut **c).await?,
    };
    let Some(r) = row else { return Ok(None) };
    let mut label_ids: Vec<Uuid> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT label_id FROM mm_issue_labels WHERE issue_id = $1")
        .bind(id).fetch_all(&mut *c).await)?;
    label_ids.sort();
    Ok(Some(IssueRecord {
        id: r.id,
        workspace_id: r.workspace_id,
        team_id: r.team_id,
        key: format!("{}-{}", r.team_key, r.number),
        number: r.number,
        title: r.title,
        description: r.description,
        priority: priority(&r.priority),
        workflow_id: r.workflow_id,
        workflow_state_id: r.workflow_state_id,
        project_id: r.project_id,
        cycle_id: r.cycle_id,
        parent_issue_id: r.parent_issue_id,
        creator_id: r.creator_id,
        assignee_id: r.assignee_id,
        estimate: r.estimate,
        due_date: r.due_date,
        sort_order: r.sort_order,
        label_ids,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }))
}

/// Takes the team's next issue number and inserts the issue with it; returns `(number,
/// sort_order)`. `sort_order` `None` puts it after the team's last issue (+1024).
///
/// The number comes from the team row's counter, in this transaction (no gaps under
/// concurrent creates, never reused). Two statements, not one: the insert's `MAX(sort_order)`
/// must be read after the counter row's lock is held, and a PostgreSQL statement reads with
/// the snapshot it started with (a one-statement `WITH … UPDATE … INSERT` gave concurrent
/// creates the same position; `concurrent_creates_number_without_gaps` caught it).
pub async fn insert_numbered(
    tx: &mut Tx,
    i: &IssueRecord,
    sort_order: Option<f64>,
) -> Result<(i64, f64), StoreError> {
    let number: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "UPDATE mm_teams SET issue_counter = issue_counter + 1 WHERE id = $1 RETURNING issue_counter")
        .bind(i.team_id).fetch_one(&mut *c).await)?;
    Ok(on_tx!(tx, c => sqlx::query_as(
        "INSERT INTO mm_issues (id, workspace_id, team_id, number, title, description, priority, workflow_id, \
         workflow_state_id, project_id, cycle_id, parent_issue_id, creator_id, assignee_id, estimate, due_date, \
         sort_order, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
         COALESCE($17, (SELECT MAX(x.sort_order) FROM mm_issues x WHERE x.team_id = $3) + 1024.0, 1024.0), $18, $19) \
         RETURNING number, sort_order")
        .bind(i.id).bind(i.workspace_id).bind(i.team_id).bind(number).bind(&i.title).bind(&i.description)
        .bind(i.priority.as_str()).bind(i.workflow_id).bind(i.workflow_state_id).bind(i.project_id)
        .bind(i.cycle_id).bind(i.parent_issue_id).bind(i.creator_id).bind(i.assignee_id).bind(i.estimate)
        .bind(i.due_date).bind(sort_order).bind(i.created_at).bind(i.updated_at)
        .fetch_one(&mut *c).await)?)
}

/// Writes every column of `i` but its id, workspace and creation.
pub async fn update(tx: &mut Tx, i: &IssueRecord) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE mm_issues SET team_id = $2, number = $3, title = $4, description = $5, priority = $6, \
         workflow_id = $7, workflow_state_id = $8, project_id = $9, cycle_id = $10, parent_issue_id = $11, \
         assignee_id = $12, estimate = $13, due_date = $14, sort_order = $15, updated_at = $16 WHERE id = $1")
        .bind(i.id).bind(i.team_id).bind(i.number).bind(&i.title).bind(&i.description).bind(i.priority.as_str())
        .bind(i.workflow_id).bind(i.workflow_state_id).bind(i.project_id).bind(i.cycle_id).bind(i.parent_issue_id)
        .bind(i.assignee_id).bind(i.estimate).bind(i.due_date).bind(i.sort_order).bind(i.updated_at)
        .execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}

/// Replaces the labels of an issue.
pub async fn set_labels(tx: &mut Tx, issue_id: Uuid, label_ids: &[Uuid]) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM mm_issue_labels WHERE issue_id = $1")
        .bind(issue_id).execute(&mut *c).await.map(|_| ()))?;
    add_labels(tx, issue_id, label_ids).await
}

/// Adds labels to a new issue (one statement for all of them).
pub async fn add_labels(tx: &mut Tx, issue_id: Uuid, label_ids: &[Uuid]) -> Result<(), StoreError> {
    if label_ids.is_empty() {
        return Ok(());
    }
    let list = IdList(label_ids);
    match tx {
        Tx::Postgres(c) => {
            sqlx::query(
                "INSERT INTO mm_issue_labels (issue_id, label_id) SELECT $1, l FROM UNNEST($2::uuid[]) AS l \
                 ON CONFLICT DO NOTHING",
            )
            .bind(issue_id)
            .bind(list.pg())
            .execute(&mut **c)
            .await?;
        }
        Tx::Sqlite(c) => {
            sqlx::query(
                "INSERT INTO mm_issue_labels (issue_id, label_id) SELECT $1, unhex(value) FROM json_each($2) \
                 WHERE true ON CONFLICT DO NOTHING",
            )
            .bind(issue_id)
            .bind(list.sqlite())
            .execute(&mut **c)
            .await?;
        }
    }
    Ok(())
}

/// Clears the parent of the sub-issues of `issue_id` (before it is deleted); their ids.
pub async fn orphan_children(
    tx: &mut Tx,
    issue_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "UPDATE mm_issues SET parent_issue_id = NULL, updated_at = $2 WHERE parent_issue_id = $1 RETURNING id")
        .bind(issue_id).bind(now).fetch_all(&mut *c).await)?)
}

/// Deletes an issue (labels, relations, history and comments go with it).
pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<bool, StoreError> {
    let n = on_tx!(tx, c => sqlx::query("DELETE FROM mm_issues WHERE id = $1")
        .bind(id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Checks of the objects a body refers to, inside the operation's transaction; each answers
/// whether the object exists where it must.
pub mod refs {
    use super::*;

    /// The key of team `id` in `workspace_id`.
    pub async fn team_key(
        tx: &mut Tx,
        workspace_id: Uuid,
        id: Uuid,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_tx!(tx, c => sqlx::query_scalar(
            "SELECT team_key FROM mm_teams WHERE id = $1 AND workspace_id = $2")
            .bind(id).bind(workspace_id).fetch_optional(&mut *c).await)?)
    }

    /// The workflow of state `state_id` if it is a state of one of `team_id`'s workflows.
    pub async fn state_workflow(
        tx: &mut Tx,
        team_id: Uuid,
        state_id: Uuid,
    ) -> Result<Option<Uuid>, StoreError> {
        Ok(on_tx!(tx, c => sqlx::query_scalar(
            "SELECT s.workflow_id FROM mm_workflow_states s JOIN mm_workflows w ON w.id = s.workflow_id \
             WHERE s.id = $1 AND w.team_id = $2")
            .bind(state_id).bind(team_id).fetch_optional(&mut *c).await)?)
    }

    /// Whether `user_id` is a member of `workspace_id`.
    pub async fn member(
        tx: &mut Tx,
        workspace_id: Uuid,
        user_id: Uuid,
    ) -> Result<bool, StoreError> {
        let n: i64 = on_tx!(tx, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM mm_members WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace_id).bind(user_id).fetch_one(&mut *c).await)?;
        Ok(n > 0)
    }

    /// Whether project `id` is in `workspace_id`.
    pub async fn project(tx: &mut Tx, workspace_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let n: i64 = on_tx!(tx, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM mm_projects WHERE id = $1 AND workspace_id = $2")
            .bind(id).bind(workspace_id).fetch_one(&mut *c).await)?;
        Ok(n > 0)
    }

    /// Whether cycle `id` belongs to team `team_id` of `workspace_id`.
    pub async fn cycle(
        tx: &mut Tx,
        workspace_id: Uuid,
        team_id: Uuid,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let n: i64 = on_tx!(tx, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM mm_cycles WHERE id = $1 AND workspace_id = $2 AND team_id = $3")
            .bind(id).bind(workspace_id).bind(team_id).fetch_one(&mut *c).await)?;
        Ok(n > 0)
    }

    /// Whether issue `id` is in `workspace_id`.
    pub async fn issue(tx: &mut Tx, workspace_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let n: i64 = on_tx!(tx, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM mm_issues WHERE id = $1 AND workspace_id = $2")
            .bind(id).bind(workspace_id).fetch_one(&mut *c).await)?;
        Ok(n > 0)
    }

    /// How many of `ids` (distinct) are issue-level labels of `workspace_id`.
    pub async fn issue_labels(
        tx: &mut Tx,
        workspace_id: Uuid,
        ids: &[Uuid],
    ) -> Result<usize, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let list = IdList(ids);
        let n: i64 = match tx {
            Tx::Postgres(c) => sqlx::query_scalar(
                "SELECT COUNT(*) FROM mm_labels WHERE id = ANY($1) AND workspace_id = $2 AND level = 'issue'")
                .bind(list.pg()).bind(workspace_id).fetch_one(&mut **c).await?,
            Tx::Sqlite(c) => sqlx::query_scalar(
                "SELECT COUNT(*) FROM mm_labels WHERE id IN (SELECT unhex(value) FROM json_each($1)) \
                 AND workspace_id = $2 AND level = 'issue'")
                .bind(list.sqlite()).bind(workspace_id).fetch_one(&mut **c).await?,
        };
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Whether `ancestor` is `issue_id` or one of its ancestors (parent, parent's parent, …).
    pub async fn is_self_or_ancestor(
        tx: &mut Tx,
        issue_id: Uuid,
        ancestor: Uuid,
    ) -> Result<bool, StoreError> {
        let n: i64 = on_tx!(tx, c => sqlx::query_scalar(
            "WITH RECURSIVE up (id, parent) AS ( \
               SELECT id, parent_issue_id FROM mm_issues WHERE id = $1 \
               UNION SELECT i.id, i.parent_issue_id FROM mm_issues i JOIN up ON i.id = up.parent) \
             SELECT COUNT(*) FROM up WHERE id = $2")
            .bind(issue_id).bind(ancestor).fetch_one(&mut *c).await)?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_ids_parse() {
        let id = Uuid::now_v7();
        assert_eq!(IssueRef::parse(&id.to_string()), Some(IssueRef::Id(id)));
        assert_eq!(
            IssueRef::parse("eng-12"),
            Some(IssueRef::Key("ENG".into(), 12))
        );
        assert_eq!(
            IssueRef::parse("WEB2-1"),
            Some(IssueRef::Key("WEB2".into(), 1))
        );
        for bad in [
            "ENG",
            "ENG-",
            "ENG-0",
            "E-1",
            "1AB-2",
            "ENG-x",
            "ENG--1",
            "ENG-99999999999999999999",
        ] {
            assert_eq!(IssueRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn sorts_round_trip_and_like_escapes() {
        for n in Sort::NAMES {
            assert_eq!(Sort::parse(n).map(Sort::name), Some(*n));
        }
        assert_eq!(Sort::parse("bogus"), None);
        assert_eq!(contains_pattern("50%_a\\B"), "%50\\%\\_a\\\\b%");
    }
}
