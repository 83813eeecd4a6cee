#!/usr/bin/env bash
# Seeds and starts the original Momentum backend (huisnotacouncillor/momentum-backend @ e12cd70)
# as the performance peer of `trellis-bench momentum` (issue 8), with the same data as the
# bench seeds into Trellis: one user, one workspace and team, 6 labels, 2 projects, 100 issues
# with two labels, an assignee and a project each.
#
# Its registration is broken (originals.md §2.3), so the rows are written with SQL, after its
# own diesel migrations (applied as plain SQL files, in order).
#
#   bash bench/reference/momentum_original.sh <checkout> <binary> [port]
#
# Prints the flags for trellis-bench: --original-base, --original-token, --original-issue,
# --original-team. The server runs pinned to CPU 0 until this script's process group ends.
set -euo pipefail
src=${1:?checkout of momentum-backend}
bin=${2:?its release binary (target/release/rust_backend)}
port=${3:-8101}
pg=${PG:-postgres://postgres@127.0.0.1:5432}
db=momentum_original
psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
for d in "$src"/migrations/*/; do
  psql -q -v ON_ERROR_STOP=1 "$pg/$db" -f "$d/up.sql" >/dev/null
done
hash=$(python3 -c "import bcrypt; print(bcrypt.hashpw(b'Bench-Password-1', bcrypt.gensalt(10)).decode())")
psql -q -v ON_ERROR_STOP=1 "$pg/$db" >/dev/null <<SQL
INSERT INTO workspaces (id, name, url_key) VALUES ('00000000-0000-0000-0000-0000000000a1', 'Bench''s Workspace', 'bench-workspace');
INSERT INTO users (id, name, email, username, current_workspace_id)
  VALUES ('00000000-0000-0000-0000-0000000000b1', 'Bench', 'bench@example.com', 'bench', '00000000-0000-0000-0000-0000000000a1');
INSERT INTO user_credentials (user_id, credential_type, credential_hash, is_primary)
  VALUES ('00000000-0000-0000-0000-0000000000b1', 'password', '$hash', true);
INSERT INTO workspace_members (user_id, workspace_id, role) VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000a1', 'owner');
INSERT INTO teams (id, workspace_id, name, team_key, is_private) VALUES ('00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-0000000000a1', 'Bench''s Team', 'BEN', false);
INSERT INTO team_members (user_id, team_id, role) VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000c1', 'admin');
INSERT INTO workflows (id, name, team_id, is_default) VALUES ('00000000-0000-0000-0000-0000000000d1', 'Default', '00000000-0000-0000-0000-0000000000c1', true);
INSERT INTO workflow_states (workflow_id, name, color, category, position, is_default) VALUES
  ('00000000-0000-0000-0000-0000000000d1', 'Triage', '#FC7840', 'triage', 0, false),
  ('00000000-0000-0000-0000-0000000000d1', 'Backlog', '#BEC2C8', 'backlog', 1, true),
  ('00000000-0000-0000-0000-0000000000d1', 'Todo', '#E2E2E2', 'unstarted', 2, false),
  ('00000000-0000-0000-0000-0000000000d1', 'In Progress', '#F2C94C', 'started', 3, false),
  ('00000000-0000-0000-0000-0000000000d1', 'Done', '#5E6AD2', 'completed', 4, false),
  ('00000000-0000-0000-0000-0000000000d1', 'Canceled', '#95A2B3', 'canceled', 5, false);
INSERT INTO project_statuses (id, name, color, category, workspace_id) VALUES
  ('00000000-0000-0000-0000-0000000000e1', 'Backlog', '#BEC2C8', 'backlog', '00000000-0000-0000-0000-0000000000a1'),
  (gen_random_uuid(), 'Planned', '#E2E2E2', 'planned', '00000000-0000-0000-0000-0000000000a1'),
  (gen_random_uuid(), 'In Progress', '#F2C94C', 'in_progress', '00000000-0000-0000-0000-0000000000a1'),
  (gen_random_uuid(), 'Completed', '#5E6AD2', 'completed', '00000000-0000-0000-0000-0000000000a1'),
  (gen_random_uuid(), 'Canceled', '#95A2B3', 'canceled', '00000000-0000-0000-0000-0000000000a1');
INSERT INTO labels (id, workspace_id, name, color, level, created_at, updated_at)
  SELECT ('00000000-0000-0000-0000-00000000010' || n)::uuid, '00000000-0000-0000-0000-0000000000a1', name, color, 'issue', now(), now()
  FROM (VALUES (0, 'Feature', '#BB8FCE'), (1, 'Improvement', '#85C1E9'), (2, 'Bug', '#FF6B6B'),
               (3, 'Frontend', '#336699'), (4, 'Backend', '#993366'), (5, 'Infra', '#669933')) AS l(n, name, color);
INSERT INTO projects (id, workspace_id, owner_id, name, project_key, project_status_id) VALUES
  ('00000000-0000-0000-0000-0000000000f0', '00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000b1', 'Website', 'WEB', '00000000-0000-0000-0000-0000000000e1'),
  ('00000000-0000-0000-0000-0000000000f1', '00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000b1', 'Platform', 'PLT', '00000000-0000-0000-0000-0000000000e1');
INSERT INTO issues (id, project_id, creator_id, assignee_id, title, description, priority, team_id, workflow_id, workflow_state_id)
  SELECT ('00000000-0000-0000-0001-' || lpad(i::text, 12, '0'))::uuid,
         ('00000000-0000-0000-0000-0000000000f' || (i % 2))::uuid,
         '00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000b1',
         'Issue number ' || i || ' with a realistic title',
         'Steps to reproduce: open the page, click the button, see the error.',
         (ARRAY['low','medium','high','urgent'])[i % 4 + 1],
         '00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-0000000000d1',
         (SELECT id FROM workflow_states WHERE name = 'Backlog' AND workflow_id = '00000000-0000-0000-0000-0000000000d1')
  FROM generate_series(0, 99) AS i;
INSERT INTO issue_labels (issue_id, label_id)
  SELECT ('00000000-0000-0000-0001-' || lpad(i::text, 12, '0'))::uuid, ('00000000-0000-0000-0000-00000000010' || ((i + k) % 6))::uuid
  FROM generate_series(0, 99) AS i, generate_series(0, 1) AS k;
SQL
DATABASE_URL="$pg/$db" REDIS_URL=${REDIS:-redis://127.0.0.1:6379} SERVER_PORT=$port SERVER_HOST=127.0.0.1 \
  JWT_SECRET=bench-original-secret-0123456789abcdef LOG_LEVEL=warn RUST_LOG=warn \
  taskset -c 0 "$bin" >/tmp/momentum-original.log 2>&1 &
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.2
done
token=$(curl -s -X POST "http://127.0.0.1:$port/auth/login" -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.com","password":"Bench-Password-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["access_token"])')
echo "--original-base http://127.0.0.1:$port --original-token $token --original-issue 00000000-0000-0000-0001-000000000099 --original-team 00000000-0000-0000-0000-0000000000c1"
