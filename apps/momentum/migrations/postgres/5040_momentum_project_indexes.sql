-- Projects by status (the IN_USE check when a status is deleted, and the foreign key's own
-- check), by owner (a deleted user's projects lose their owner) and a workspace's projects
-- newest first (`GET /projects`).
CREATE INDEX mm_projects_status ON mm_projects (project_status_id);
CREATE INDEX mm_projects_owner ON mm_projects (owner_id);
CREATE INDEX mm_projects_workspace ON mm_projects (workspace_id, created_at);
