//! [`run`] on a real SQLite platform: every business command once, the refusals REST gives
//! (not found across tenants, no workspace, conflicts, validation naming the argument), and
//! the atomic batch.

use std::sync::Arc;

use serde_json::{Value, json};
use trellis_identity::{ClientCtx, Identity, Principal};
use trellis_kernel::testing::{Backend, TestPlatform, platform};

use super::{Command, CommandError, run};
use crate::service::auth::{self, AUDIENCE, Registration};
use crate::settings::Settings;
use crate::state::MomentumState;

const PASSWORD: &str = "Momentum-Pass-1";

async fn state() -> (MomentumState, TestPlatform) {
    let tp = platform(Backend::Embedded, &[("TRELLIS_APPS", "momentum")]).await;
    let p = tp.platform.clone();
    trellis::migrate(&p).await.unwrap();
    let settings = trellis_identity::Settings::from_vars(&p.config.vars).unwrap();
    let identity = Identity::start(p.clone(), settings).await.unwrap();
    let settings = Arc::new(Settings::from_vars(&p.config.vars).unwrap());
    let st = MomentumState {
        live: Arc::new(crate::realtime::Live::new(&p, &settings)),
        settings,
        platform: p,
        identity,
        memberships: Arc::default(),
    };
    (st, tp)
}

/// Registers `name` (with a workspace of their own) and signs them in.
async fn user(st: &MomentumState, name: &str) -> Principal {
    let email = format!("{name}@example.com");
    let r = Registration {
        email: &email,
        username: name,
        name,
        password: PASSWORD,
    };
    let ctx = ClientCtx {
        ip: [127, 0, 0, 1].into(),
        user_agent: None,
    };
    let s = auth::register(st, r, &ctx).await.unwrap();
    st.identity
        .authenticate(&s.access_token, AUDIENCE)
        .await
        .unwrap()
}

async fn cmd(st: &MomentumState, p: &Principal, frame: Value) -> Result<Value, CommandError> {
    run(st, p, &Command::parse(&frame).unwrap()).await
}

async fn ok(st: &MomentumState, p: &Principal, frame: Value) -> Value {
    let shown = frame.to_string();
    cmd(st, p, frame)
        .await
        .unwrap_or_else(|e| panic!("{shown}: {e:?}"))
}

async fn err(st: &MomentumState, p: &Principal, frame: Value) -> CommandError {
    let shown = frame.to_string();
    match cmd(st, p, frame).await {
        Ok(v) => panic!("{shown} succeeded: {v}"),
        Err(e) => e,
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[tokio::test]
async fn labels_in_both_forms_and_atomic_batches() {
    let (st, _tp) = state().await;
    let alice = user(&st, "alice").await;
    let bug = ok(&st, &alice, json!({"type": "create_label", "data": {"name": "Crash", "color": "#ff0000", "level": "Issue"}, "request_id": "r1"})).await;
    assert_eq!(bug["name"], "Crash");
    let e = err(&st, &alice, json!({"message_type": "command", "data": {"type": "create_label", "data": {"name": "Crash", "color": "#00ff00"}}})).await;
    assert_eq!(e.code, "LABEL_EXISTS");
    let e = err(
        &st,
        &alice,
        json!({"type": "create_label", "data": {"color": "red"}}),
    )
    .await;
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("VALIDATION_ERROR", Some("name"))
    );
    assert_eq!(e.details.unwrap().as_array().unwrap().len(), 2);
    let id = s(&bug["id"]);
    let v = ok(
        &st,
        &alice,
        json!({"type": "update_label", "label_id": id, "data": {"color": "#00FF00"}}),
    )
    .await;
    assert_eq!(v["color"], "#00FF00");
    let v = ok(
        &st,
        &alice,
        json!({"type": "update_label", "data": {"label_id": id, "name": "Crashes"}}),
    )
    .await;
    assert_eq!(v["name"], "Crashes");
    let found = ok(&st, &alice, json!({"type": "query_labels", "filters": {"name_pattern": "crash", "level": "issue", "color": "#00ff00", "workspace_id": ""}})).await;
    assert_eq!(found.as_array().unwrap().len(), 1);

    // One bad entry: nothing is created, and the entry is named as sent.
    let before = ok(&st, &alice, json!({"type": "query_labels", "filters": {}}))
        .await
        .as_array()
        .unwrap()
        .len();
    let e = err(&st, &alice, json!({"type": "batch_create_labels", "data": [{"name": "A1", "color": "#000000"}, {"name": "A2", "color": "nope"}]})).await;
    assert_eq!(e.field.as_deref(), Some("data[1].color"), "{e:?}");
    let e = err(&st, &alice, json!({"type": "batch_create_labels", "data": [{"name": "A1", "color": "#000000"}, {"name": "Crashes", "color": "#000000"}]})).await;
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("LABEL_EXISTS", Some("data[1].name"))
    );
    let all = ok(&st, &alice, json!({"type": "query_labels"})).await;
    assert_eq!(all.as_array().unwrap().len(), before);
    let done = ok(&st, &alice, json!({"type": "batch_create_labels", "data": [{"name": "A1", "color": "#000000"}, {"name": "A2", "color": "#111111"}]})).await;
    let (a1, a2) = (s(&done["created"][0]["id"]), s(&done["created"][1]["id"]));
    let e = err(&st, &alice, json!({"type": "batch_update_labels", "updates": [{"label_id": a1, "data": {"name": "B1"}}, {"label_id": "x", "data": {}}]})).await;
    assert_eq!(e.field.as_deref(), Some("updates[1].label_id"), "{e:?}");
    let done = ok(&st, &alice, json!({"type": "batch_update_labels", "updates": [{"label_id": a1, "data": {"name": "A2"}}, {"label_id": a2, "data": {"name": "A1"}}]})).await;
    assert_eq!(done["updated"][0]["name"], "A2");
    let done = ok(
        &st,
        &alice,
        json!({"type": "batch_delete_labels", "label_ids": [a1, a2]}),
    )
    .await;
    assert_eq!(done["deleted"].as_array().unwrap().len(), 2);
    let v = ok(&st, &alice, json!({"type": "delete_label", "label_id": id})).await;
    assert_eq!(v, Value::Null);
    let e = err(&st, &alice, json!({"type": "delete_label", "label_id": id})).await;
    assert_eq!(e.code, "NOT_FOUND");
    let e = err(&st, &alice, json!({"type": "delete_label"})).await;
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("VALIDATION_ERROR", Some("label_id"))
    );

    // Another tenant's label is not found, as over REST.
    let bob = user(&st, "bobby").await;
    let theirs = ok(
        &st,
        &bob,
        json!({"type": "create_label", "data": {"name": "Theirs", "color": "#123456"}}),
    )
    .await;
    let e = err(
        &st,
        &alice,
        json!({"type": "update_label", "label_id": s(&theirs["id"]), "data": {"name": "Mine"}}),
    )
    .await;
    assert_eq!(e.code, "NOT_FOUND");
    let e = err(&st, &alice, json!({"type": "teleport"})).await;
    assert_eq!(e.code, "UNKNOWN_COMMAND");
    let e = err(&st, &alice, json!({"type": "ping"})).await;
    assert_eq!(e.code, "INVALID_COMMAND");
}

#[tokio::test]
async fn workspaces_members_and_teams() {
    let (st, _tp) = state().await;
    let alice = user(&st, "alice").await;
    let bob = user(&st, "bobby").await;
    let ws = ok(&st, &alice, json!({"type": "get_current_workspace"})).await;
    let v = ok(
        &st,
        &alice,
        json!({"type": "update_workspace", "data": {"name": "Acme"}}),
    )
    .await;
    assert_eq!((&v["id"], &v["name"]), (&ws["id"], &json!("Acme")));
    let inv = ok(&st, &alice, json!({"type": "invite_workspace_member", "data": {"email": "bobby@example.com", "role": "member"}})).await;
    let e = err(
        &st,
        &alice,
        json!({"type": "invite_workspace_member", "data": {"email": "not-an-address"}}),
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("email"), "{e:?}");
    let v = ok(
        &st,
        &bob,
        json!({"type": "accept_invitation", "invitation_id": s(&inv[0]["id"])}),
    )
    .await;
    assert_eq!(v["status"], "accepted");
    let members = ok(&st, &alice, json!({"type": "query_workspace_members", "filters": {"role": "member", "search": "BOBBY"}})).await;
    assert_eq!(members.as_array().unwrap().len(), 1);
    let bob_id = bob.user_id.to_string();

    let team = ok(&st, &alice, json!({"type": "create_team", "data": {"name": "Core", "team_key": "core", "is_private": false}})).await;
    let team_id = s(&team["id"]);
    let e = err(
        &st,
        &alice,
        json!({"type": "create_team", "data": {"name": "Again", "team_key": "CORE"}}),
    )
    .await;
    assert_eq!(e.code, "TEAM_KEY_EXISTS");
    let v = ok(
        &st,
        &alice,
        json!({"type": "update_team", "team_id": team_id, "data": {"description": "the core"}}),
    )
    .await;
    assert_eq!(v["description"], "the core");
    assert!(
        ok(&st, &alice, json!({"type": "query_teams"}))
            .await
            .as_array()
            .unwrap()
            .len()
            >= 2
    );
    ok(&st, &alice, json!({"type": "add_team_member", "team_id": team_id, "data": {"user_id": bob_id, "role": "member"}})).await;
    let v = ok(&st, &alice, json!({"type": "update_team_member", "team_id": team_id, "member_user_id": bob_id, "data": {"role": "admin"}})).await;
    assert_eq!(v["role"], "admin");
    let list = ok(
        &st,
        &alice,
        json!({"type": "list_team_members", "team_id": team_id}),
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    ok(
        &st,
        &alice,
        json!({"type": "remove_team_member", "team_id": team_id, "member_user_id": bob_id}),
    )
    .await;
    ok(
        &st,
        &alice,
        json!({"type": "delete_team", "team_id": team_id}),
    )
    .await;

    // Without any workspace: workspace commands answer NO_WORKSPACE, creating one works.
    let carol = user(&st, "carol").await;
    let own = ok(&st, &carol, json!({"type": "get_current_workspace"})).await;
    ok(
        &st,
        &carol,
        json!({"type": "delete_workspace", "workspace_id": s(&own["id"])}),
    )
    .await;
    let e = err(&st, &carol, json!({"type": "query_labels", "filters": {}})).await;
    assert_eq!(e.code, "NO_WORKSPACE");
    let v = ok(
        &st,
        &carol,
        json!({"type": "update_profile", "data": {"name": "Carol C"}}),
    )
    .await;
    assert_eq!(v["name"], "Carol C");
    let v = ok(
        &st,
        &carol,
        json!({"type": "create_workspace", "data": {"name": "Carol's", "url_key": "carols"}}),
    )
    .await;
    assert_eq!(v["url_key"], "carols");
    ok(&st, &carol, json!({"type": "query_labels"})).await;
}

#[tokio::test]
async fn projects_issues_and_statuses() {
    let (st, _tp) = state().await;
    let alice = user(&st, "alice").await;
    let status = ok(&st, &alice, json!({"type": "create_project_status", "data": {"name": "Review", "color": "#abcdef", "category": "planned"}})).await;
    let sid = s(&status["id"]);
    let v = ok(
        &st,
        &alice,
        json!({"type": "update_project_status", "status_id": sid, "data": {"name": "In review"}}),
    )
    .await;
    assert_eq!(v["name"], "In review");
    let v = ok(
        &st,
        &alice,
        json!({"type": "get_project_status_by_id", "status_id": sid}),
    )
    .await;
    assert_eq!(v["id"], status["id"]);
    assert!(
        ok(&st, &alice, json!({"type": "query_project_statuses"}))
            .await
            .as_array()
            .unwrap()
            .len()
            > 1
    );
    ok(
        &st,
        &alice,
        json!({"type": "delete_project_status", "status_id": sid}),
    )
    .await;

    let project = ok(
        &st,
        &alice,
        json!({"type": "create_project", "data": {"name": "Launch", "project_key": "LAU"}}),
    )
    .await;
    let pid = s(&project["id"]);
    let v = ok(
        &st,
        &alice,
        json!({"type": "update_project", "project_id": pid, "data": {"priority": "high"}}),
    )
    .await;
    assert_eq!(v["priority"], "high");
    let found = ok(
        &st,
        &alice,
        json!({"type": "query_projects", "filters": {"search": "laun", "owner_id": ""}}),
    )
    .await;
    assert_eq!(found.as_array().unwrap().len(), 1);

    let teams = ok(&st, &alice, json!({"type": "query_teams"})).await;
    let team_id = s(&teams[0]["id"]);
    let issue = ok(&st, &alice, json!({"type": "create_issue", "data": {"title": "Fix it", "team_id": team_id, "project_id": pid}})).await;
    let key = s(&issue["key"]);
    let v = ok(
        &st,
        &alice,
        json!({"type": "update_issue", "issue_id": key, "data": {"priority": "urgent"}}),
    )
    .await;
    assert_eq!(v["priority"], "urgent");
    let v = ok(
        &st,
        &alice,
        json!({"type": "get_issue", "issue_id": s(&issue["id"])}),
    )
    .await;
    assert_eq!(v["key"], issue["key"]);
    let found = ok(&st, &alice, json!({"type": "query_issues", "filters": {"team_id": "", "project_id": pid, "assignee_id": "", "priority": "urgent", "search": "fix"}})).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    let e = err(
        &st,
        &alice,
        json!({"type": "query_issues", "filters": {"priority": "someday"}}),
    )
    .await;
    assert_eq!(e.field.as_deref(), Some("priority"));
    let e = err(
        &st,
        &alice,
        json!({"type": "create_issue", "data": {"title": 5, "team_id": team_id}}),
    )
    .await;
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("VALIDATION_ERROR", Some("title"))
    );
    ok(
        &st,
        &alice,
        json!({"type": "delete_issue", "issue_id": key}),
    )
    .await;
    ok(
        &st,
        &alice,
        json!({"type": "delete_project", "project_id": pid}),
    )
    .await;
}
