//! Cycles (issue 8 "Cycles"): per-team time boxes that never overlap within a team (checked
//! in the writing transaction with the team locked, so a concurrent burst cannot create two
//! overlapping ones), a status computed from the dates, issue membership, stats by state
//! category, and completion, which rolls the unfinished issues into the team's next cycle.
//!
//! Days are calendar dates, both ends included: a cycle ending on the 14th and one starting
//! on the 14th overlap. "Today" is the platform clock's date (UTC).

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use trellis_kernel::db::Tx;
use uuid::Uuid;

use super::{Action, Scope, log_change};
use crate::domain::check::LONG_TEXT;
use crate::domain::{Check, CycleStatus, Patch, StateCategory};
use crate::error::MomentumError;
use crate::state::MomentumState;
use crate::store::cycles::{self, CycleIssue, CycleRow};

/// Longest cycle name.
pub const NAME_MAX: usize = 255;
/// Most issues one membership request may name.
pub const ISSUES_MAX: usize = 500;

/// A cycle as clients see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumCycle)]
pub struct Cycle {
    /// Id.
    pub id: Uuid,
    /// The workspace.
    pub workspace_id: Uuid,
    /// The team.
    pub team_id: Uuid,
    /// Name (1–255 characters).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Goal.
    pub goal: Option<String>,
    /// First day (`YYYY-MM-DD`).
    pub start_date: NaiveDate,
    /// Last day, included (`YYYY-MM-DD`).
    pub end_date: NaiveDate,
    /// `planned` (starts after today), `active` (today is within), `completed` (ended before
    /// today, or completed).
    pub status: CycleStatus,
    /// When it was completed (`POST /cycles/{id}/complete`).
    pub completed_at: Option<DateTime<Utc>>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
}

/// A cycle's status on `today`.
pub fn status_of(r: &CycleRow, today: NaiveDate) -> CycleStatus {
    if r.completed_at.is_some() || r.end_date < today {
        CycleStatus::Completed
    } else if r.start_date > today {
        CycleStatus::Planned
    } else {
        CycleStatus::Active
    }
}

impl Cycle {
    /// The client's view of a stored cycle on `today`.
    pub fn of(r: CycleRow, today: NaiveDate) -> Cycle {
        Cycle {
            status: status_of(&r, today),
            id: r.id,
            workspace_id: r.workspace_id,
            team_id: r.team_id,
            name: r.name,
            description: r.description,
            goal: r.goal,
            start_date: r.start_date,
            end_date: r.end_date,
            completed_at: r.completed_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn today(scope: &Scope) -> NaiveDate {
    scope.now.date_naive()
}

fn not_found() -> MomentumError {
    MomentumError::NotFound("cycle")
}

/// The cycles of the caller's workspace, of one team if given (a team id that is malformed,
/// missing or another workspace's: 404 `team`), with one status if given; by start date.
pub async fn list(
    st: &MomentumState,
    scope: &Scope,
    team_id: Option<&str>,
    status: Option<&str>,
) -> Result<Vec<Cycle>, MomentumError> {
    let mut check = Check::new();
    let status =
        status.and_then(|s| check.one_of("status", s, CycleStatus::parse, CycleStatus::names));
    check.finish()?;
    let db = &st.platform.db;
    let team = match team_id.map(str::trim).filter(|s| !s.is_empty()) {
        Some(t) => {
            let id = Uuid::parse_str(t).map_err(|_| MomentumError::NotFound("team"))?;
            crate::store::teams::get(db, scope.workspace_id, id)
                .await?
                .ok_or(MomentumError::NotFound("team"))?;
            Some(id)
        }
        None => None,
    };
    let day = today(scope);
    Ok(cycles::list(db, scope.workspace_id, team)
        .await?
        .into_iter()
        .map(|r| Cycle::of(r, day))
        .filter(|c| status.is_none_or(|s| c.status == s))
        .collect())
}

/// One cycle of the caller's workspace.
pub async fn get(st: &MomentumState, scope: &Scope, id: Uuid) -> Result<Cycle, MomentumError> {
    let r = cycles::get(&st.platform.db, scope.workspace_id, id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Cycle::of(r, today(scope)))
}

/// A new cycle as the client sent it.
#[derive(Debug, Default)]
pub struct NewCycle {
    /// The team (UUID).
    pub team_id: Option<String>,
    /// Name.
    pub name: String,
    /// First day.
    pub start_date: Option<String>,
    /// Last day.
    pub end_date: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Goal.
    pub goal: Option<String>,
}

/// An optional long text: at most 10,000 characters ([`Check::text`]), trimmed, blank
/// meaning none.
fn optional_text(check: &mut Check, field: &str, v: Option<&str>) -> Option<Option<String>> {
    match v {
        None => Some(None),
        Some(s) => check
            .text(field, s, 0, LONG_TEXT)
            .map(|s| Some(s).filter(|s| !s.is_empty())),
    }
}

/// Checks the order of two dates (422 listing both when the end is before the start).
fn check_order(check: &mut Check, start: Option<NaiveDate>, end: Option<NaiveDate>) {
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        check.fail("start_date", "date_order", "must be on or before end_date");
        check.fail("end_date", "date_order", "must be on or after start_date");
    }
}

/// 409 `CYCLE_OVERLAP` naming the cycle in the way.
fn overlap(other: &CycleRow) -> MomentumError {
    MomentumError::conflict(
        "CYCLE_OVERLAP",
        format!(
            "the team's cycle \"{}\" ({} to {}) overlaps these dates",
            other.name, other.start_date, other.end_date
        ),
    )
}

/// Creates a cycle (writers only). Dates `YYYY-MM-DD`, end on or after start (422 listing
/// both); a missing or foreign team is 422 `team_id`; dates that meet another cycle of the
/// team are 409 `CYCLE_OVERLAP`, checked with the team locked in the writing transaction.
pub async fn create(
    st: &MomentumState,
    scope: &Scope,
    input: NewCycle,
) -> Result<Cycle, MomentumError> {
    scope.require_writer()?;
    let mut check = Check::new();
    let team_id = check
        .required("team_id", input.team_id.as_deref())
        .and_then(|t| check.uuid("team_id", t));
    let name = check.text("name", &input.name, 1, NAME_MAX);
    let start = check
        .required("start_date", input.start_date.as_deref())
        .and_then(|d| check.date("start_date", d));
    let end = check
        .required("end_date", input.end_date.as_deref())
        .and_then(|d| check.date("end_date", d));
    check_order(&mut check, start, end);
    let description = optional_text(&mut check, "description", input.description.as_deref());
    let goal = optional_text(&mut check, "goal", input.goal.as_deref());
    check.finish()?;
    let (
        Some(team_id),
        Some(name),
        Some(start_date),
        Some(end_date),
        Some(description),
        Some(goal),
    ) = (team_id, name, start, end, description, goal)
    else {
        return Err(MomentumError::field("team_id", "invalid", "invalid cycle"));
    };

    let mut tx = st.platform.db.begin().await?;
    if !cycles::lock_team(&mut tx, scope.workspace_id, team_id).await? {
        return Err(MomentumError::unknown_ref("team_id", "team"));
    }
    if let Some(other) = cycles::overlapping(&mut tx, team_id, start_date, end_date, None).await? {
        return Err(overlap(&other));
    }
    let r = CycleRow {
        id: Uuid::now_v7(),
        workspace_id: scope.workspace_id,
        team_id,
        name,
        description,
        goal,
        start_date,
        end_date,
        completed_at: None,
        created_at: scope.now,
        updated_at: scope.now,
    };
    cycles::insert(&mut tx, &r).await?;
    let c = Cycle::of(r, today(scope));
    log_change(&mut tx, scope, "cycle", c.id, Action::Create, &c).await?;
    tx.commit().await?;
    Ok(c)
}

/// A cycle change as the client sent it (absent fields keep their value).
#[derive(Debug, Default)]
pub struct CycleChange {
    /// New name.
    pub name: Option<String>,
    /// New first day.
    pub start_date: Option<String>,
    /// New last day.
    pub end_date: Option<String>,
    /// New description (`null` clears).
    pub description: Patch<String>,
    /// New goal (`null` clears).
    pub goal: Patch<String>,
}

fn patch_text(check: &mut Check, field: &str, p: Patch<String>) -> Option<Patch<String>> {
    match p {
        Patch::Absent => Some(Patch::Absent),
        Patch::Null => Some(Patch::Null),
        Patch::Value(v) => optional_text(check, field, Some(&v)).map(|v| match v {
            Some(v) => Patch::Value(v),
            None => Patch::Null,
        }),
    }
}

/// Changes a cycle (writers only): the same rules as creating one, the new dates checked
/// against the team's other cycles with the team locked.
pub async fn update(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
    change: CycleChange,
) -> Result<Cycle, MomentumError> {
    let db = &st.platform.db;
    // 404 before 403: a guest learns nothing about ids outside the workspace.
    let existing = cycles::get(db, scope.workspace_id, id)
        .await?
        .ok_or_else(not_found)?;
    scope.require_writer()?;
    let mut check = Check::new();
    let name = change
        .name
        .as_deref()
        .map(|n| check.text("name", n, 1, NAME_MAX));
    let start = change
        .start_date
        .as_deref()
        .map(|d| check.date("start_date", d));
    let end = change
        .end_date
        .as_deref()
        .map(|d| check.date("end_date", d));
    let description = patch_text(&mut check, "description", change.description);
    let goal = patch_text(&mut check, "goal", change.goal);
    // The order is checked again against the stored dates below; here only when both came.
    if let (Some(s), Some(e)) = (start.flatten(), end.flatten()) {
        check_order(&mut check, Some(s), Some(e));
    }
    check.finish()?;

    let mut tx = db.begin().await?;
    cycles::lock_team(&mut tx, scope.workspace_id, existing.team_id).await?;
    let mut r = cycles::lock(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or_else(not_found)?;
    if let Some(Some(n)) = name {
        r.name = n;
    }
    let dates_changed = start.is_some() || end.is_some();
    if let Some(Some(s)) = start {
        r.start_date = s;
    }
    if let Some(Some(e)) = end {
        r.end_date = e;
    }
    if r.end_date < r.start_date {
        let mut check = Check::new();
        check_order(&mut check, Some(r.start_date), Some(r.end_date));
        check.finish()?;
    }
    if let Some(d) = description {
        r.description = d.apply(r.description.take());
    }
    if let Some(g) = goal {
        r.goal = g.apply(r.goal.take());
    }
    if dates_changed
        && let Some(other) =
            cycles::overlapping(&mut tx, r.team_id, r.start_date, r.end_date, Some(r.id)).await?
    {
        return Err(overlap(&other));
    }
    r.updated_at = scope.now;
    cycles::update(&mut tx, &r).await?;
    let c = Cycle::of(r, today(scope));
    log_change(&mut tx, scope, "cycle", c.id, Action::Update, &c).await?;
    tx.commit().await?;
    Ok(c)
}

/// Moves the issues of `moves` (`(issue, its cycle now)`) to `to` in one statement, with one
/// history row and one `issue` change-log entry (the issue as it is now) per issue.
async fn move_issues(
    tx: &mut Tx,
    scope: &Scope,
    moves: &[(Uuid, Option<Uuid>)],
    to: Option<Uuid>,
) -> Result<(), MomentumError> {
    if moves.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = moves.iter().map(|(id, _)| *id).collect();
    cycles::set_issue_cycle(tx, &ids, to, scope.now).await?;
    for (id, from) in moves {
        cycles::record_move(tx, *id, scope.actor, *from, to, scope.now).await?;
    }
    let now = cycles::issues_by_ids(tx, scope.workspace_id, &ids).await?;
    for issue in &now {
        log_change(tx, scope, "issue", issue.id, Action::Update, issue).await?;
    }
    Ok(())
}

/// Deletes a cycle (writers only); its issues leave it (each logged as an `issue` update).
pub async fn delete(st: &MomentumState, scope: &Scope, id: Uuid) -> Result<Cycle, MomentumError> {
    let db = &st.platform.db;
    cycles::get(db, scope.workspace_id, id)
        .await?
        .ok_or_else(not_found)?;
    scope.require_writer()?;
    let mut tx = db.begin().await?;
    let r = cycles::lock(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or_else(not_found)?;
    let members = cycles::issue_ids(&mut tx, id, false).await?;
    let moves: Vec<(Uuid, Option<Uuid>)> = members.into_iter().map(|i| (i, Some(id))).collect();
    move_issues(&mut tx, scope, &moves, None).await?;
    cycles::delete(&mut tx, scope.workspace_id, id).await?;
    let c = Cycle::of(r, today(scope));
    log_change(&mut tx, scope, "cycle", id, Action::Delete, &c).await?;
    tx.commit().await?;
    Ok(c)
}

/// Issues in one state category, and their estimates summed.
#[derive(Clone, Copy, Debug, Default, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumCycleCategoryStats)]
pub struct CategoryStats {
    /// Issues.
    pub count: i64,
    /// Sum of their estimates.
    pub estimate: f64,
}

/// Every state category with its figures (categories without issues count 0).
#[derive(Clone, Copy, Debug, Default, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumCycleCategories)]
pub struct ByCategory {
    /// Incoming.
    pub triage: CategoryStats,
    /// Accepted, not planned (and issues without a state).
    pub backlog: CategoryStats,
    /// Planned, not started.
    pub unstarted: CategoryStats,
    /// In progress.
    pub started: CategoryStats,
    /// Done.
    pub completed: CategoryStats,
    /// Won't be done.
    pub canceled: CategoryStats,
}

impl ByCategory {
    fn slot(&mut self, c: StateCategory) -> &mut CategoryStats {
        match c {
            StateCategory::Triage => &mut self.triage,
            StateCategory::Backlog => &mut self.backlog,
            StateCategory::Unstarted => &mut self.unstarted,
            StateCategory::Started => &mut self.started,
            StateCategory::Completed => &mut self.completed,
            StateCategory::Canceled => &mut self.canceled,
        }
    }
}

/// `GET /cycles/{id}/stats`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumCycleStats)]
pub struct CycleStats {
    /// The cycle.
    pub cycle_id: Uuid,
    /// Its issues.
    pub total: i64,
    /// Sum of their estimates.
    pub total_estimate: f64,
    /// Issues and estimates per workflow state category.
    pub by_category: ByCategory,
}

/// A cycle's issues counted by state category (one query over issues joined with states).
pub async fn stats(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
) -> Result<CycleStats, MomentumError> {
    let db = &st.platform.db;
    cycles::get(db, scope.workspace_id, id)
        .await?
        .ok_or_else(not_found)?;
    let rows = cycles::stats(db, scope.workspace_id, id).await?;
    let mut out = CycleStats {
        cycle_id: id,
        total: 0,
        total_estimate: 0.0,
        by_category: ByCategory::default(),
    };
    for r in rows {
        let c = StateCategory::parse(&r.category).unwrap_or(StateCategory::Backlog);
        let slot = out.by_category.slot(c);
        slot.count += r.count;
        slot.estimate += r.estimate;
        out.total += r.count;
        out.total_estimate += r.estimate;
    }
    Ok(out)
}

/// The issues of a cycle of the caller's workspace.
pub async fn issues(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
) -> Result<Vec<CycleIssue>, MomentumError> {
    let db = &st.platform.db;
    cycles::get(db, scope.workspace_id, id)
        .await?
        .ok_or_else(not_found)?;
    Ok(cycles::issues(db, scope.workspace_id, id).await?)
}

/// What a membership change did.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumCycleMembership)]
pub struct Membership {
    /// The cycle.
    pub cycle_id: Uuid,
    /// The issues the request named (each once).
    pub issue_ids: Vec<Uuid>,
    /// Those it actually moved (the others were already where asked).
    pub changed_issue_ids: Vec<Uuid>,
}

/// Parses `issue_ids`: 1–500 entries (else 422 `issue_ids`), each a UUID (`None` for a
/// malformed one, reported with the lookups' problems so every `issue_ids[i]` comes in one
/// answer, in index order); later duplicates are dropped.
fn parse_ids(ids: &[String]) -> Result<Vec<(usize, Option<Uuid>)>, MomentumError> {
    let mut check = Check::new();
    if ids.is_empty() {
        check.fail("issue_ids", "required", "must name at least one issue");
    } else if ids.len() > ISSUES_MAX {
        check.fail(
            "issue_ids",
            "too_many",
            format!("must name at most {ISSUES_MAX} issues"),
        );
    }
    check.finish()?;
    let mut seen = HashSet::new();
    Ok(ids
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match Uuid::parse_str(s.trim()) {
            Ok(id) => seen.insert(id).then_some((i, Some(id))),
            Err(_) => Some((i, None)),
        })
        .collect())
}

/// Adds issues to a cycle (writers only): each must be an issue of the cycle's team in the
/// caller's workspace (422 listing every `issue_ids[i]` that is not); issues in another cycle
/// move. A completed cycle takes no issues (409 `CYCLE_COMPLETED`).
pub async fn add_issues(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
    ids: &[String],
) -> Result<Membership, MomentumError> {
    change_membership(st, scope, id, ids, true).await
}

/// Removes issues from a cycle (writers only): each must be an issue of the caller's
/// workspace (422 listing every `issue_ids[i]` that is not); those not in the cycle are left
/// alone. A completed cycle keeps its issues (409 `CYCLE_COMPLETED`).
pub async fn remove_issues(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
    ids: &[String],
) -> Result<Membership, MomentumError> {
    change_membership(st, scope, id, ids, false).await
}

async fn change_membership(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
    ids: &[String],
    add: bool,
) -> Result<Membership, MomentumError> {
    let db = &st.platform.db;
    cycles::get(db, scope.workspace_id, id)
        .await?
        .ok_or_else(not_found)?;
    scope.require_writer()?;
    let wanted = parse_ids(ids)?;
    let mut tx = db.begin().await?;
    let cycle = cycles::lock(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or_else(not_found)?;
    if status_of(&cycle, today(scope)) == CycleStatus::Completed {
        return Err(MomentumError::conflict(
            "CYCLE_COMPLETED",
            "the cycle is completed; its issues no longer change",
        ));
    }
    let just_ids: Vec<Uuid> = wanted.iter().filter_map(|(_, u)| *u).collect();
    let found = cycles::issues_by_ids(&mut tx, scope.workspace_id, &just_ids).await?;
    let mut check = Check::new();
    let mut moves = Vec::new();
    for (i, issue_id) in &wanted {
        let field = format!("issue_ids[{i}]");
        let Some(issue_id) = issue_id else {
            check.fail(&field, "invalid_uuid", "must be a UUID");
            continue;
        };
        match found.iter().find(|x| x.id == *issue_id) {
            None => check.fail(&field, "not_found", "issue not found"),
            Some(x) if add && x.team_id != cycle.team_id => {
                check.fail(&field, "other_team", "must be an issue of the cycle's team")
            }
            Some(x) if add && x.cycle_id != Some(id) => moves.push((x.id, x.cycle_id)),
            Some(x) if !add && x.cycle_id == Some(id) => moves.push((x.id, x.cycle_id)),
            Some(_) => {}
        }
    }
    check.finish()?;
    move_issues(&mut tx, scope, &moves, add.then_some(id)).await?;
    tx.commit().await?;
    Ok(Membership {
        cycle_id: id,
        issue_ids: just_ids,
        changed_issue_ids: moves.iter().map(|(i, _)| *i).collect(),
    })
}

/// `POST /cycles/{id}/complete`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = MomentumCycleCompletion)]
pub struct Completion {
    /// The cycle, now completed.
    pub cycle: Cycle,
    /// The unfinished issues that moved on.
    pub moved_issue_ids: Vec<Uuid>,
    /// Where they went: the team's next cycle by start date that is not completed; null
    /// when there is none (they then left the cycle).
    pub next_cycle_id: Option<Uuid>,
}

/// Completes a cycle (writers only; a completed one is 409 `CYCLE_COMPLETED`) and, in the same
/// transaction, moves its unfinished issues (state category neither `completed` nor
/// `canceled`) to the team's next cycle, or out of any cycle when there is none.
pub async fn complete(
    st: &MomentumState,
    scope: &Scope,
    id: Uuid,
) -> Result<Completion, MomentumError> {
    let db = &st.platform.db;
    cycles::get(db, scope.workspace_id, id)
        .await?
        .ok_or_else(not_found)?;
    scope.require_writer()?;
    let mut tx = db.begin().await?;
    let mut r = cycles::lock(&mut tx, scope.workspace_id, id)
        .await?
        .ok_or_else(not_found)?;
    if r.completed_at.is_some() {
        return Err(MomentumError::conflict(
            "CYCLE_COMPLETED",
            "the cycle is already completed",
        ));
    }
    let day = today(scope);
    let next = cycles::next_open(&mut tx, r.team_id, r.start_date, day).await?;
    let next_id = next.as_ref().map(|n| n.id);
    let unfinished = cycles::issue_ids(&mut tx, id, true).await?;
    let moves: Vec<(Uuid, Option<Uuid>)> = unfinished.iter().map(|i| (*i, Some(id))).collect();
    move_issues(&mut tx, scope, &moves, next_id).await?;
    r.completed_at = Some(scope.now);
    r.updated_at = scope.now;
    cycles::update(&mut tx, &r).await?;
    let c = Cycle::of(r, day);
    log_change(&mut tx, scope, "cycle", c.id, Action::Update, &c).await?;
    tx.commit().await?;
    Ok(Completion {
        cycle: c,
        moved_issue_ids: unfinished,
        next_cycle_id: next_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(start: &str, end: &str, completed: bool) -> CycleRow {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        CycleRow {
            id: Uuid::nil(),
            workspace_id: Uuid::nil(),
            team_id: Uuid::nil(),
            name: "c".into(),
            description: None,
            goal: None,
            start_date: d(start),
            end_date: d(end),
            completed_at: completed.then(Utc::now),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn status_from_dates_and_completion() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let s = |r: CycleRow| status_of(&r, today);
        assert_eq!(
            s(row("2026-03-11", "2026-03-20", false)),
            CycleStatus::Planned
        );
        assert_eq!(
            s(row("2026-03-10", "2026-03-10", false)),
            CycleStatus::Active
        );
        assert_eq!(
            s(row("2026-03-01", "2026-03-10", false)),
            CycleStatus::Active
        );
        assert_eq!(
            s(row("2026-03-01", "2026-03-09", false)),
            CycleStatus::Completed
        );
        assert_eq!(
            s(row("2026-03-01", "2026-03-20", true)),
            CycleStatus::Completed
        );
    }

    #[test]
    fn ids_keep_their_index() {
        let n = Uuid::nil().to_string();
        let got = parse_ids(&["x".into(), n.clone(), n.clone(), "y".into()]).unwrap();
        assert_eq!(got, [(0, None), (1, Some(Uuid::nil())), (3, None)]);
        assert!(parse_ids(&[]).is_err());
        assert!(parse_ids(&vec![n; ISSUES_MAX + 1]).is_err());
    }
}
