-- Issues (issue 8): the list's default order (newest first, keyset on created_at + id) within
-- a workspace, and a team's last sort_order (new issues go after it).
CREATE INDEX mm_issues_workspace_created ON mm_issues (workspace_id, created_at, id);
CREATE INDEX mm_issues_team_sort ON mm_issues (team_id, sort_order);
