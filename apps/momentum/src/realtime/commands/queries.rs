//! The list commands whose filters go beyond their REST list's: `query_labels`,
//! `query_workspace_members`, and `query_issues`'s filter names.

use chrono::{DateTime, Utc};

use super::CommandError;
use super::args::{Args, Filters, pattern_field, renamed};
use crate::domain::{Check, WorkspaceRole};
use crate::service::Scope;
use crate::service::issues::ListQuery;
use crate::service::labels::{self, LabelFilter};
use crate::service::workspaces;
use crate::state::MomentumState;
use crate::store::labels::Label;
use crate::store::members::Member;

/// `query_labels`: REST `GET /labels` (`level`, `search`, also as the original's
/// `name_pattern`), narrowed by the original's other filters: `workspace_id` (the current
/// one only), `color`, `created_after`, `created_before` (RFC 3339), `offset`, `limit`.
pub(super) async fn query_labels(
    st: &MomentumState,
    scope: &Scope,
    a: &Args<'_>,
) -> Result<Vec<Label>, CommandError> {
    let mut f = a.filters()?;
    let pattern = f.take("name_pattern");
    let by_pattern = pattern.is_some();
    let filter = LabelFilter {
        level: f.take("level"),
        search: pattern.or_else(|| f.take("search")),
    };
    let mut c = Check::new();
    if let Some(ws) = f.take("workspace_id")
        && c.uuid("workspace_id", &ws)
            .is_some_and(|id| id != scope.workspace_id)
    {
        c.fail("workspace_id", "not_found", "workspace not found");
    }
    let color = f.take("color").and_then(|v| c.color("color", &v));
    let after = f
        .take("created_after")
        .and_then(|v| instant(&mut c, "created_after", &v));
    let before = f
        .take("created_before")
        .and_then(|v| instant(&mut c, "created_before", &v));
    let offset = f.take("offset").and_then(|v| count(&mut c, "offset", &v));
    let limit = f.take("limit").and_then(|v| count(&mut c, "limit", &v));
    c.finish()?;
    let items = labels::list(st, scope, &filter).await.map_err(|e| {
        let e = CommandError::from(e);
        if by_pattern {
            renamed(e, &pattern_field, &[])
        } else {
            e
        }
    })?;
    Ok(items
        .into_iter()
        .filter(|l| {
            color
                .as_deref()
                .is_none_or(|c| l.color.eq_ignore_ascii_case(c))
        })
        .filter(|l| after.is_none_or(|t| l.created_at >= t))
        .filter(|l| before.is_none_or(|t| l.created_at <= t))
        .skip(offset.unwrap_or(0))
        .take(limit.unwrap_or(usize::MAX))
        .collect())
}

/// `query_workspace_members`: REST `GET /workspace-members`, narrowed by the original's
/// filters `role`, `user_id` and `search` (name, username or e-mail, any case).
pub(super) async fn query_members(
    st: &MomentumState,
    scope: &Scope,
    a: &Args<'_>,
) -> Result<Vec<Member>, CommandError> {
    let mut f = a.filters()?;
    let mut c = Check::new();
    let role = f
        .take("role")
        .and_then(|v| c.one_of("role", &v, WorkspaceRole::parse, WorkspaceRole::names));
    let user = f.take("user_id").and_then(|v| c.uuid("user_id", &v));
    let search = f
        .take("search")
        .and_then(|v| c.text("search", &v, 0, 100))
        .map(|s| s.to_lowercase());
    c.finish()?;
    let members = workspaces::members_of(st, scope.actor, scope.workspace_id).await?;
    let matches = |m: &Member| {
        search.as_deref().is_none_or(|s| {
            [&m.user.name, &m.user.username, &m.user.email]
                .iter()
                .any(|t| t.to_lowercase().contains(s))
        })
    };
    Ok(members
        .into_iter()
        .filter(|m| role.is_none_or(|r| m.role == r))
        .filter(|m| user.is_none_or(|u| m.user_id == u))
        .filter(|m| matches(m))
        .collect())
}

/// `query_issues`'s filters as REST `GET /issues`'s query (the original's `team_id`,
/// `project_id`, `assignee_id`, `priority`, `search`, and REST's others; the seed example's
/// `status` is not a filter of either and is ignored, as the original did).
pub(super) fn issue_query(mut f: Filters) -> ListQuery {
    ListQuery {
        team_id: f.take("team_id"),
        project_id: f.take("project_id"),
        assignee_id: f.take("assignee_id"),
        priority: f.take("priority"),
        workflow_state_id: f.take("workflow_state_id"),
        state_category: f.take("state_category"),
        label_id: f.take("label_id"),
        cycle_id: f.take("cycle_id"),
        parent_id: f.take("parent_id"),
        search: f.take("search"),
        sort: f.take("sort"),
        limit: f.take("limit"),
        cursor: f.take("cursor"),
    }
}

/// An RFC 3339 instant, or a failure of `field`.
fn instant(c: &mut Check, field: &str, v: &str) -> Option<DateTime<Utc>> {
    match DateTime::parse_from_rfc3339(v.trim()) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            c.fail(
                field,
                "invalid_datetime",
                "must be an RFC 3339 time like 2026-01-31T12:00:00Z",
            );
            None
        }
    }
}

/// A whole number ≥ 0, or a failure of `field`.
fn count(c: &mut Check, field: &str, v: &str) -> Option<usize> {
    let n = v.trim().parse::<usize>().ok();
    if n.is_none() {
        c.fail(field, "out_of_range", "must be a whole number from 0");
    }
    n
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn filters_drop_blanks_and_take_numbers_as_text() {
        let args = json!({"filters": {"team_id": "", "project_id": null, "search": "bug", "limit": 5, "priority": "  "}});
        let q = issue_query(Args(args.as_object().unwrap()).filters().unwrap());
        assert_eq!((q.team_id, q.project_id, q.priority), (None, None, None));
        assert_eq!(q.search.as_deref(), Some("bug"));
        assert_eq!(q.limit.as_deref(), Some("5"));
        let args = json!({"filters": {"search": ["x"]}});
        let e = Args(args.as_object().unwrap()).filters().err().unwrap();
        assert_eq!(e.field.as_deref(), Some("search"));
        let args = json!({"filters": "x"});
        let e = Args(args.as_object().unwrap()).filters().err().unwrap();
        assert_eq!(e.code, "INVALID_COMMAND");
    }
}
