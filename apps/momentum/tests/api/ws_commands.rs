//! Every business command of `/ws` (issue 9 "Commands"; seed 002 "WebSocket 命令系统", the
//! argument shapes of originals §2.6), one test per resource group: each command's reply
//! (`success`, the object's key fields), the `sync_id` of a mutating command and the `event`
//! a socket subscribed to `workspace:{id}` receives with it, the REST view of the same
//! object, and the REST errors (NOT_FOUND for another workspace's ids, VALIDATION_ERROR
//! naming the field, FORBIDDEN where REST forbids, the conflict codes).

use serde_json::{Value, json};

use crate::harness::{Backend, TestApp, User};
use crate::ws::Ws;

trellis_kernel::backend_tests!(
    label_commands,
    label_batches_are_atomic,
    team_commands,
    workspace_commands,
    project_commands,
    issue_commands,
    project_status_commands,
    update_profile_command,
);

/// A server whose per-user bucket never refuses these tests' bursts of commands (the shared
/// bucket is `realtime::commands_share_the_rate_limit`'s subject).
async fn spawn(b: Backend) -> TestApp {
    TestApp::with(
        b,
        &[
            ("RATE_LIMIT_PER_SECOND", "1000"),
            ("RATE_LIMIT_BURST", "1000"),
        ],
    )
    .await
}

/// `v` as text.
fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

/// The current workspace id of an opened socket's user (from `initial_data`).
fn ws_id(ws: &Ws) -> String {
    s(&ws.initial["current_workspace"]["id"])
}

/// A second socket of `u`, subscribed to `workspace:{u's current workspace}`.
async fn watcher(app: &TestApp, u: &User) -> Ws {
    let mut w = Ws::open(app, u).await;
    let topic = format!("workspace:{}", ws_id(&w));
    let r = w.cmd("subscribe", json!({"topics": [topic]})).await;
    assert_eq!(r["success"], true, "{r}");
    w
}

/// Asserts a successful reply; answers its `data`.
#[track_caller]
fn ok(r: &Value) -> Value {
    assert_eq!(r["success"], true, "{r}");
    assert!(r.get("error").is_none(), "{r}");
    r["data"].clone()
}

/// Asserts a failed reply with `code` (and, when given, the first failing `field`), with no
/// `data` and no `sync_id`; answers the error.
#[track_caller]
fn fails(r: &Value, code: &str, field: Option<&str>) -> Value {
    assert_eq!(r["success"], false, "{r}");
    assert_eq!(r["error"]["code"], code, "{r}");
    if let Some(f) = field {
        assert_eq!(r["error"]["field"], f, "{r}");
    }
    assert!(r["data"].is_null(), "{r}");
    assert!(
        r.get("sync_id").is_none(),
        "a failed command changed nothing: {r}"
    );
    r["error"].clone()
}

/// Asserts that the successful mutating reply `r` carries a `sync_id` and that `watch`
/// receives the `event` with that id, about `entity_id`, with `entity` and `action`;
/// answers the event's data.
async fn evented(
    watch: &mut Ws,
    r: &Value,
    entity: &str,
    action: &str,
    entity_id: &Value,
) -> Value {
    assert_eq!(r["success"], true, "{r}");
    let sid = r["sync_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("a mutating command's reply carries its sync_id: {r}"));
    let e = watch.event(sid).await;
    assert_eq!(e["entity"], entity, "{e}");
    assert_eq!(e["action"], action, "{e}");
    assert_eq!(e["entity_id"], *entity_id, "{e}");
    e
}

/// Asserts that no `event` about one of `entities` (any entity when empty) arrived at
/// `watch`, pending frames included, within 300 ms from now. Other entities' events (a
/// member joining through REST) pass.
async fn no_events(watch: &mut Ws, entities: &[&str]) {
    let seen = watch.drain(300).await;
    let about = |f: &Value| {
        f["message_type"] == "event"
            && (entities.is_empty() || entities.iter().any(|e| f["data"]["entity"] == *e))
    };
    assert!(
        !seen.iter().any(about),
        "nothing changed, so no event about {entities:?}: {seen:?}"
    );
}

/// Registers `username` and joins `owner`'s current workspace as `role`; answers the user
/// and an open socket of theirs.
async fn joined(app: &TestApp, owner: &User, username: &str, role: &str) -> (User, Ws) {
    let u = app.join_workspace(owner, username, role).await;
    let ws = Ws::open(app, &u).await;
    (u, ws)
}

async fn label_commands(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("wcalice").await;
    let mut ws = Ws::open(&app, &alice).await;
    let mut watch = watcher(&app, &alice).await;

    // create_label {data{name, color, level}}: the label as REST stores it, one event.
    let r = ws
        .cmd(
            "create_label",
            json!({"data": {"name": " Backend ", "color": "#112233", "level": "Project"}}),
        )
        .await;
    let label = ok(&r);
    assert_eq!(label["name"], "Backend");
    assert_eq!(label["color"], "#112233");
    assert_eq!(label["level"], "project");
    let id = s(&label["id"]);
    let e = evented(&mut watch, &r, "label", "create", &label["id"]).await;
    assert_eq!(e["data"]["name"], "Backend", "{e}");
    assert_eq!(e["workspace_id"], ws_id(&ws));
    assert_eq!(app.get_ok(&format!("/labels/{id}"), &alice).await, label);

    // update_label {label_id, data}: absent fields stay; the id may also sit in `data`.
    let r = ws
        .cmd(
            "update_label",
            json!({"label_id": id, "data": {"name": "Back end", "color": "#FFFFFF"}}),
        )
        .await;
    let changed = ok(&r);
    assert_eq!(changed["name"], "Back end");
    assert_eq!(changed["color"], "#FFFFFF");
    assert_eq!(changed["level"], "project");
    evented(&mut watch, &r, "label", "update", &label["id"]).await;
    let r = ws
        .cmd(
            "update_label",
            json!({"data": {"label_id": id, "level": "issue"}}),
        )
        .await;
    let changed = ok(&r);
    assert_eq!(changed["level"], "issue");
    evented(&mut watch, &r, "label", "update", &label["id"]).await;
    assert_eq!(app.get_ok(&format!("/labels/{id}"), &alice).await, changed);

    // query_labels {filters}: REST's list, and the original's filters.
    let all = ok(&ws.cmd("query_labels", json!({"filters": {}})).await);
    assert_eq!(all, app.get_ok("/labels", &alice).await);
    assert_eq!(all.as_array().unwrap().len(), 4, "{all}");
    let found = ok(&ws
        .cmd("query_labels", json!({"filters": {"name_pattern": "BACK"}}))
        .await);
    assert_eq!(found, json!([changed]));
    let found = ok(&ws
        .cmd(
            "query_labels",
            json!({"filters": {"level": "issue", "color": "#ffffff", "limit": 5}}),
        )
        .await);
    assert_eq!(found, json!([changed]));
    let page = ok(&ws
        .cmd(
            "query_labels",
            json!({"filters": {"workspace_id": ws_id(&ws), "offset": 1, "limit": 2}}),
        )
        .await);
    assert_eq!(page, json!([all[1], all[2]]));
    let r = ws
        .cmd(
            "query_labels",
            json!({"filters": {"created_after": "yesterday"}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("created_after"));

    // Errors: a bad field (all of them in details), a missing id, a taken name.
    let r = ws
        .cmd(
            "create_label",
            json!({"data": {"name": "", "color": "red", "level": "issue"}}),
        )
        .await;
    let err = fails(&r, "VALIDATION_ERROR", Some("name"));
    let fields: Vec<&str> = err["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "color"], "{err}");
    let r = ws.cmd("update_label", json!({"data": {"name": "x"}})).await;
    fails(&r, "VALIDATION_ERROR", Some("label_id"));
    let r = ws
        .cmd(
            "update_label",
            json!({"label_id": "not-a-uuid", "data": {}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("label_id"));
    let r = ws
        .cmd(
            "create_label",
            json!({"data": {"name": "Bug", "color": "#000000"}}),
        )
        .await;
    fails(&r, "LABEL_EXISTS", None);
    let r = ws.cmd("create_label", json!({"data": "Bug"})).await;
    fails(&r, "INVALID_COMMAND", Some("data"));

    // Another workspace's label: not found, as over REST; nothing changes there.
    let bob = app.register("wcbob").await;
    let theirs = app
        .post_ok(
            "/labels",
            json!({"name": "Theirs", "color": "#123456"}),
            &bob,
        )
        .await;
    let their_id = s(&theirs["id"]);
    let r = ws
        .cmd(
            "update_label",
            json!({"label_id": their_id, "data": {"name": "Mine"}}),
        )
        .await;
    fails(&r, "NOT_FOUND", None);
    let r = ws.cmd("delete_label", json!({"label_id": their_id})).await;
    fails(&r, "NOT_FOUND", None);
    let bob_ws_id = s(&app.get_ok("/auth/profile", &bob).await["current_workspace_id"]);
    let r = ws
        .cmd(
            "query_labels",
            json!({"filters": {"workspace_id": bob_ws_id}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("workspace_id"));
    assert_eq!(
        app.get_ok(&format!("/labels/{their_id}"), &bob).await,
        theirs
    );

    // A guest reads labels but changes none.
    let (_, mut guest) = joined(&app, &alice, "wcgus", "guest").await;
    assert_eq!(ok(&guest.cmd("query_labels", json!({})).await), all);
    let r = guest
        .cmd(
            "create_label",
            json!({"data": {"name": "Guest", "color": "#000000"}}),
        )
        .await;
    fails(&r, "FORBIDDEN", None);
    let r = guest
        .cmd(
            "update_label",
            json!({"label_id": id, "data": {"name": "G"}}),
        )
        .await;
    fails(&r, "FORBIDDEN", None);
    let r = guest.cmd("delete_label", json!({"label_id": id})).await;
    fails(&r, "FORBIDDEN", None);

    // delete_label {label_id}: `null`, one event, gone from REST; a second delete is 404.
    let r = ws.cmd("delete_label", json!({"label_id": id})).await;
    assert_eq!(ok(&r), Value::Null);
    let e = evented(&mut watch, &r, "label", "delete", &label["id"]).await;
    assert_eq!(e["data"]["name"], "Back end", "{e}");
    app.get(&format!("/labels/{id}"), alice.t())
        .await
        .err(404, "NOT_FOUND");
    fails(
        &ws.cmd("delete_label", json!({"label_id": id})).await,
        "NOT_FOUND",
        None,
    );
    // The failed commands and the guest's refusals made no events.
    no_events(&mut watch, &["label"]).await;
}

async fn label_batches_are_atomic(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("wcbatch").await;
    let mut ws = Ws::open(&app, &alice).await;
    let mut watch = watcher(&app, &alice).await;
    let before = app.get_ok("/labels", &alice).await;
    let id_of = |name: &str| {
        before
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .map(|l| s(&l["id"]))
            .unwrap_or_else(|| panic!("no label {name}: {before}"))
    };
    let (bug, feature) = (id_of("Bug"), id_of("Feature"));

    // batch_create_labels {data[]}: all created, one event each.
    let r = ws
        .cmd(
            "batch_create_labels",
            json!({"data": [
                {"name": "B1", "color": "#000001"},
                {"name": "B2", "color": "#000002", "level": "project"},
            ]}),
        )
        .await;
    let done = ok(&r);
    let created = done["created"].as_array().unwrap().clone();
    assert_eq!(created.len(), 2, "{done}");
    assert_eq!(
        (&created[0]["name"], &created[1]["name"]),
        (&json!("B1"), &json!("B2"))
    );
    assert_eq!(created[1]["level"], "project");
    let (b1, b2) = (s(&created[0]["id"]), s(&created[1]["id"]));
    // The reply's sync_id is the batch's last entry; every label has its event.
    evented(&mut watch, &r, "label", "create", &created[1]["id"]).await;
    watch
        .next_where(|f| {
            f["message_type"] == "event"
                && f["data"]["entity_id"] == b1.as_str()
                && f["data"]["action"] == "create"
        })
        .await;
    assert_eq!(
        app.get_ok(&format!("/labels/{b1}"), &alice).await,
        created[0]
    );

    // batch_update_labels {updates[{label_id, data}]}: names may swap within one batch.
    let r = ws
        .cmd(
            "batch_update_labels",
            json!({"updates": [
                {"label_id": b1, "data": {"name": "B2"}},
                {"label_id": b2, "data": {"name": "B1", "color": "#0000FF"}},
            ]}),
        )
        .await;
    let done = ok(&r);
    assert_eq!(done["updated"][0]["name"], "B2", "{done}");
    assert_eq!(done["updated"][1]["name"], "B1");
    assert_eq!(done["updated"][1]["color"], "#0000FF");
    evented(&mut watch, &r, "label", "update", &json!(b2)).await;
    watch
        .next_where(|f| {
            f["message_type"] == "event"
                && f["data"]["entity_id"] == b1.as_str()
                && f["data"]["action"] == "update"
        })
        .await;
    assert_eq!(
        app.get_ok(&format!("/labels/{b2}"), &alice).await["name"],
        "B1"
    );

    // One bad entry: nothing applied, the entry named as sent, no event.
    let r = ws
        .cmd(
            "batch_create_labels",
            json!({"data": [{"name": "Good", "color": "#000003"}, {"name": "", "color": "#000004"}]}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("data[1].name"));
    let r = ws
        .cmd(
            "batch_create_labels",
            json!({"data": [{"name": "Good", "color": "#000003"}, {"name": "Bug", "color": "#000004"}]}),
        )
        .await;
    fails(&r, "LABEL_EXISTS", Some("data[1].name"));
    let r = ws
        .cmd(
            "batch_update_labels",
            json!({"updates": [
                {"label_id": bug, "data": {"name": "Bugs"}},
                {"label_id": uuid::Uuid::now_v7().to_string(), "data": {"name": "Ghost"}},
            ]}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("updates[1].label_id"));
    let r = ws
        .cmd(
            "batch_update_labels",
            json!({"updates": [{"label_id": bug, "data": {"color": "blue"}}]}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("updates[0].data.color"));
    let r = ws
        .cmd(
            "batch_update_labels",
            json!({"updates": [
                {"label_id": bug, "data": {"color": "#000005"}},
                {"label_id": bug, "data": {"name": "Bugs"}},
            ]}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("updates[1].label_id"));
    // Another workspace's label in a delete batch is unknown here (422, as REST's batch).
    let bob = app.register("wcbatchb").await;
    let theirs = app
        .post_ok(
            "/labels",
            json!({"name": "Theirs", "color": "#123456"}),
            &bob,
        )
        .await;
    let r = ws
        .cmd(
            "batch_delete_labels",
            json!({"label_ids": [feature, s(&theirs["id"])]}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("label_ids[1]"));
    let r = ws
        .cmd("batch_delete_labels", json!({"label_ids": "all"}))
        .await;
    fails(&r, "INVALID_COMMAND", Some("label_ids"));
    no_events(&mut watch, &["label"]).await;
    let names: Vec<Value> = app
        .get_ok("/labels", &alice)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].clone())
        .collect();
    assert_eq!(
        names,
        [
            json!("B1"),
            json!("B2"),
            json!("Bug"),
            json!("Feature"),
            json!("Improvement")
        ],
        "the refused batches changed nothing"
    );
    app.get_ok(&format!("/labels/{}", s(&theirs["id"])), &bob)
        .await;

    // A guest's batch is refused.
    let (_, mut guest) = joined(&app, &alice, "wcbatchg", "guest").await;
    let r = guest
        .cmd("batch_delete_labels", json!({"label_ids": [b1]}))
        .await;
    fails(&r, "FORBIDDEN", None);

    // An empty batch does nothing and logs nothing; an entry may be flat (`{label_id, name}`).
    let r = ws.cmd("batch_create_labels", json!({"data": []})).await;
    assert_eq!(ok(&r)["created"], json!([]));
    assert!(r.get("sync_id").is_none(), "{r}");
    let r = ws
        .cmd(
            "batch_update_labels",
            json!({"updates": [{"label_id": b1, "color": "#0000AA"}]}),
        )
        .await;
    assert_eq!(ok(&r)["updated"][0]["color"], "#0000AA");
    evented(&mut watch, &r, "label", "update", &json!(b1)).await;

    // batch_delete_labels {label_ids}: all deleted, one event each.
    let r = ws
        .cmd("batch_delete_labels", json!({"label_ids": [b1, b2]}))
        .await;
    let done = ok(&r);
    assert_eq!(done["deleted"], json!([b1, b2]), "{done}");
    evented(&mut watch, &r, "label", "delete", &json!(b2)).await;
    for id in [&b1, &b2] {
        app.get(&format!("/labels/{id}"), alice.t())
            .await
            .err(404, "NOT_FOUND");
    }
}

async fn team_commands(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("wcteam").await;
    let mut ws = Ws::open(&app, &alice).await;
    let mut watch = watcher(&app, &alice).await;
    let (bob, mut bob_ws) = joined(&app, &alice, "wcteamb", "member").await;

    // create_team {data{name, team_key, description?, is_private}}: the team (key
    // upper-cased); its reply's sync_id is the last entry it wrote (the default workflow's
    // states), and the team's own event arrives too.
    let r = ws
        .cmd(
            "create_team",
            json!({"data": {"name": "Core", "team_key": "core", "description": "the core", "is_private": false}}),
        )
        .await;
    let team = ok(&r);
    assert_eq!(team["team_key"], "CORE", "{team}");
    assert_eq!(team["name"], "Core");
    assert_eq!(team["is_private"], false);
    let tid = s(&team["id"]);
    let sid = r["sync_id"].as_i64().unwrap_or_else(|| panic!("{r}"));
    let last = watch.event(sid).await;
    assert_eq!(last["action"], "create", "{last}");
    let e = watch
        .next_where(|f| f["message_type"] == "event" && f["data"]["entity_id"] == tid.as_str())
        .await;
    assert_eq!(
        (&e["data"]["entity"], &e["data"]["action"]),
        (&json!("team"), &json!("create")),
        "{e}"
    );
    assert!(e["data"]["sync_id"].as_i64().unwrap() < sid);
    assert_eq!(app.get_ok(&format!("/teams/{tid}"), &alice).await, team);

    // update_team {team_id, data}.
    let r = ws
        .cmd(
            "update_team",
            json!({"team_id": tid, "data": {"name": "Core Team", "description": null}}),
        )
        .await;
    let changed = ok(&r);
    assert_eq!(changed["name"], "Core Team");
    assert!(changed["description"].is_null(), "{changed}");
    assert_eq!(changed["team_key"], "CORE");
    evented(&mut watch, &r, "team", "update", &team["id"]).await;
    assert_eq!(app.get_ok(&format!("/teams/{tid}"), &alice).await, changed);

    // query_teams: REST's list.
    let teams = ok(&ws.cmd("query_teams", json!({})).await);
    assert_eq!(teams, app.get_ok("/teams", &alice).await);
    assert_eq!(teams.as_array().unwrap().len(), 2, "{teams}");

    // add_team_member {team_id, data{user_id, role}}.
    let r = ws
        .cmd(
            "add_team_member",
            json!({"team_id": tid, "data": {"user_id": bob.id, "role": "member"}}),
        )
        .await;
    let m = ok(&r);
    assert_eq!(
        (&m["user_id"], &m["role"]),
        (&json!(bob.id), &json!("member")),
        "{m}"
    );
    assert_eq!(m["team_id"], tid.as_str());
    let e = evented(&mut watch, &r, "team_member", "create", &json!(bob.id)).await;
    assert_eq!(e["data"]["team_id"], tid.as_str(), "{e}");
    let r = ws
        .cmd(
            "add_team_member",
            json!({"team_id": tid, "data": {"user_id": bob.id}}),
        )
        .await;
    fails(&r, "ALREADY_MEMBER", None);

    // update_team_member {team_id, member_user_id, data{role}}.
    let r = ws
        .cmd(
            "update_team_member",
            json!({"team_id": tid, "member_user_id": bob.id, "data": {"role": "admin"}}),
        )
        .await;
    assert_eq!(ok(&r)["role"], "admin");
    evented(&mut watch, &r, "team_member", "update", &json!(bob.id)).await;
    let r = ws
        .cmd(
            "update_team_member",
            json!({"team_id": tid, "member_user_id": bob.id, "data": {"role": "boss"}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("role"));

    // The ids may also sit in `data`, and the member as `user_id`.
    let r = ws
        .cmd(
            "update_team_member",
            json!({"data": {"team_id": tid, "user_id": bob.id, "role": "member"}}),
        )
        .await;
    assert_eq!(ok(&r)["role"], "member");
    evented(&mut watch, &r, "team_member", "update", &json!(bob.id)).await;
    let r = ws
        .cmd(
            "update_team_member",
            json!({"team_id": tid, "data": {"member_user_id": bob.id, "role": "admin"}}),
        )
        .await;
    assert_eq!(ok(&r)["role"], "admin");
    evented(&mut watch, &r, "team_member", "update", &json!(bob.id)).await;

    // list_team_members {team_id}: REST's list.
    let members = ok(&ws
        .cmd("list_team_members", json!({"data": {"team_id": tid}}))
        .await);
    assert_eq!(
        members,
        ok(&ws.cmd("list_team_members", json!({"team_id": tid})).await)
    );
    assert_eq!(
        members,
        app.get_ok(&format!("/teams/{tid}/members"), &alice).await
    );
    assert_eq!(members.as_array().unwrap().len(), 2, "{members}");

    // A workspace member: may not delete a team, nor manage one they do not administer.
    let def = s(&app.first_team(&alice).await["id"]);
    assert_ne!(def, tid);
    let r = bob_ws
        .cmd(
            "update_team",
            json!({"team_id": def, "data": {"name": "Mine"}}),
        )
        .await;
    fails(&r, "FORBIDDEN", None);
    let r = bob_ws
        .cmd(
            "add_team_member",
            json!({"team_id": def, "data": {"user_id": bob.id}}),
        )
        .await;
    fails(&r, "FORBIDDEN", None);
    let r = bob_ws.cmd("delete_team", json!({"team_id": tid})).await;
    fails(&r, "FORBIDDEN", None);
    // …but a team admin (bob, of Core) updates that team.
    let r = bob_ws
        .cmd(
            "update_team",
            json!({"team_id": tid, "data": {"icon_url": "https://example.com/i.png"}}),
        )
        .await;
    let changed = ok(&r);
    assert_eq!(changed["icon_url"], "https://example.com/i.png");
    evented(&mut watch, &r, "team", "update", &team["id"]).await;
    // A guest creates no team.
    let (_, mut guest) = joined(&app, &alice, "wcteamg", "guest").await;
    let r = guest
        .cmd(
            "create_team",
            json!({"data": {"name": "G", "team_key": "GST"}}),
        )
        .await;
    fails(&r, "FORBIDDEN", None);

    // remove_team_member {team_id, member_user_id}.
    let r = ws
        .cmd(
            "remove_team_member",
            json!({"team_id": tid, "member_user_id": bob.id}),
        )
        .await;
    assert_eq!(ok(&r), Value::Null);
    evented(&mut watch, &r, "team_member", "delete", &json!(bob.id)).await;
    let members = ok(&ws.cmd("list_team_members", json!({"team_id": tid})).await);
    assert_eq!(members.as_array().unwrap().len(), 1, "{members}");
    let r = ws
        .cmd(
            "remove_team_member",
            json!({"team_id": tid, "member_user_id": bob.id}),
        )
        .await;
    fails(&r, "NOT_FOUND", None);

    // Errors: bad key, taken key, missing id, another workspace's team.
    let r = ws
        .cmd(
            "create_team",
            json!({"data": {"name": "X", "team_key": "1x"}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("team_key"));
    let r = ws
        .cmd(
            "create_team",
            json!({"data": {"name": "Again", "team_key": "Core"}}),
        )
        .await;
    fails(&r, "TEAM_KEY_EXISTS", None);
    let r = ws.cmd("list_team_members", json!({})).await;
    fails(&r, "VALIDATION_ERROR", Some("team_id"));
    let carol = app.register("wcteamc").await;
    let theirs = s(&app.first_team(&carol).await["id"]);
    for (kind, args) in [
        (
            "update_team",
            json!({"team_id": theirs, "data": {"name": "Mine"}}),
        ),
        ("delete_team", json!({"team_id": theirs})),
        ("list_team_members", json!({"team_id": theirs})),
        (
            "add_team_member",
            json!({"team_id": theirs, "data": {"user_id": alice.id}}),
        ),
        (
            "update_team_member",
            json!({"team_id": theirs, "member_user_id": carol.id, "data": {"role": "member"}}),
        ),
        (
            "remove_team_member",
            json!({"team_id": theirs, "member_user_id": carol.id}),
        ),
    ] {
        let r = ws.cmd(kind, args).await;
        fails(&r, "NOT_FOUND", None);
    }
    assert_eq!(
        app.get_ok(&format!("/teams/{theirs}/members"), &carol)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // delete_team {team_id}.
    let r = ws.cmd("delete_team", json!({"team_id": tid})).await;
    assert_eq!(ok(&r), Value::Null);
    evented(&mut watch, &r, "team", "delete", &team["id"]).await;
    app.get(&format!("/teams/{tid}"), alice.t())
        .await
        .err(404, "NOT_FOUND");
    no_events(&mut watch, &["team", "team_member"]).await;
}

async fn workspace_commands(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("wcws").await;
    let mut ws = Ws::open(&app, &alice).await;
    let mut watch = watcher(&app, &alice).await;
    let home = ws_id(&ws);

    // get_current_workspace: REST's, with the caller's role.
    let cur = ok(&ws.cmd("get_current_workspace", json!({})).await);
    assert_eq!(cur["id"], home.as_str());
    assert_eq!(cur["role"], "owner");
    assert_eq!(cur, app.get_ok("/workspaces/current", &alice).await);

    // update_workspace {workspace_id?, data}: without the id, the current one.
    let r = ws
        .cmd("update_workspace", json!({"data": {"name": "Acme"}}))
        .await;
    let changed = ok(&r);
    assert_eq!(
        (&changed["id"], &changed["name"]),
        (&json!(home), &json!("Acme"))
    );
    evented(&mut watch, &r, "workspace", "update", &json!(home)).await;
    let r = ws
        .cmd(
            "update_workspace",
            json!({"workspace_id": home, "data": {"url_key": "acme-co"}}),
        )
        .await;
    let changed = ok(&r);
    assert_eq!(changed["url_key"], "acme-co");
    assert_eq!(changed["name"], "Acme");
    evented(&mut watch, &r, "workspace", "update", &json!(home)).await;
    assert_eq!(
        app.get_ok(&format!("/workspaces/{home}"), &alice).await,
        changed
    );

    // invite_workspace_member {data{email, role}}: the invitation (REST answers a list).
    let bob = app.register("wcwsb").await;
    let r = ws
        .cmd(
            "invite_workspace_member",
            json!({"data": {"email": bob.email, "role": "member"}}),
        )
        .await;
    let invs = ok(&r);
    let inv = invs[0].clone();
    assert_eq!(invs.as_array().unwrap().len(), 1, "{invs}");
    assert_eq!(inv["email"], bob.email.as_str());
    assert_eq!(
        (&inv["role"], &inv["status"]),
        (&json!("member"), &json!("pending"))
    );
    assert_eq!(inv["workspace_id"], home.as_str());
    evented(&mut watch, &r, "invitation", "create", &inv["id"]).await;
    let iid = s(&inv["id"]);
    assert_eq!(
        app.get_ok(&format!("/invitations/{iid}"), &alice).await["status"],
        "pending"
    );
    let r = ws
        .cmd(
            "invite_workspace_member",
            json!({"data": {"email": bob.email}}),
        )
        .await;
    fails(&r, "INVITATION_PENDING", None);
    let r = ws
        .cmd(
            "invite_workspace_member",
            json!({"data": {"emails": ["wcws1@example.com", "wcws2@example.com"], "role": "admin"}}),
        )
        .await;
    let two = ok(&r);
    assert_eq!(two.as_array().unwrap().len(), 2, "{two}");
    assert_eq!(two[1]["role"], "admin");
    evented(&mut watch, &r, "invitation", "create", &two[1]["id"]).await;
    watch
        .next_where(|f| f["message_type"] == "event" && f["data"]["entity_id"] == two[0]["id"])
        .await;
    let r = ws
        .cmd(
            "invite_workspace_member",
            json!({"data": {"emails": ["wcws3@example.com", "nope"]}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("emails[1]"));
    let r = ws
        .cmd(
            "invite_workspace_member",
            json!({"data": {"email": "not-an-address", "role": "member"}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("email"));

    // accept_invitation {invitation_id}, by the invitee on their own socket: the workspace
    // becomes theirs; alice's watcher sees the new member.
    let mut bob_ws = Ws::open(&app, &bob).await;
    let r = ws
        .cmd("accept_invitation", json!({"invitation_id": iid}))
        .await;
    fails(&r, "FORBIDDEN", None);
    let stranger = app.register("wcwsc").await;
    let mut stranger_ws = Ws::open(&app, &stranger).await;
    let r = stranger_ws
        .cmd("accept_invitation", json!({"invitation_id": iid}))
        .await;
    fails(&r, "NOT_FOUND", None);
    let r = bob_ws
        .cmd("accept_invitation", json!({"invitation_id": iid}))
        .await;
    let accepted = ok(&r);
    assert_eq!(
        (&accepted["id"], &accepted["status"]),
        (&inv["id"], &json!("accepted"))
    );
    let e = evented(&mut watch, &r, "member", "create", &json!(bob.id)).await;
    assert_eq!(e["data"]["role"], "member", "{e}");
    let e = watch
        .next_where(|f| f["message_type"] == "event" && f["data"]["entity_id"] == iid.as_str())
        .await;
    assert_eq!(e["data"]["action"], "update", "{e}");
    assert_eq!(e["data"]["data"]["status"], "accepted", "{e}");
    let theirs = ok(&bob_ws.cmd("get_current_workspace", json!({})).await);
    assert_eq!(
        (&theirs["id"], &theirs["role"]),
        (&json!(home), &json!("member"))
    );
    let r = bob_ws
        .cmd("accept_invitation", json!({"invitation_id": iid}))
        .await;
    fails(&r, "INVITATION_CLOSED", None);

    // query_workspace_members {filters{role?, user_id?, search?}}: REST's list, narrowed.
    let all = ok(&ws
        .cmd("query_workspace_members", json!({"filters": {}}))
        .await);
    assert_eq!(all, app.get_ok("/workspace-members", &alice).await);
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    let found = ok(&ws
        .cmd(
            "query_workspace_members",
            json!({"filters": {"role": "member", "search": "WCWSB"}}),
        )
        .await);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["user_id"], bob.id.as_str());
    let found = ok(&bob_ws
        .cmd(
            "query_workspace_members",
            json!({"filters": {"user_id": alice.id}}),
        )
        .await);
    assert_eq!(found[0]["role"], "owner", "{found}");
    let r = ws
        .cmd(
            "query_workspace_members",
            json!({"filters": {"role": "king"}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("role"));

    // A member manages nothing of the workspace.
    let r = bob_ws
        .cmd("update_workspace", json!({"data": {"name": "Bob's"}}))
        .await;
    fails(&r, "FORBIDDEN", None);
    let r = bob_ws
        .cmd(
            "invite_workspace_member",
            json!({"data": {"email": "dora@example.com"}}),
        )
        .await;
    fails(&r, "FORBIDDEN", None);
    let r = bob_ws
        .cmd("delete_workspace", json!({"workspace_id": home}))
        .await;
    fails(&r, "FORBIDDEN", None);

    // Another workspace: not found.
    let other = ws_id(&stranger_ws);
    let r = ws
        .cmd(
            "update_workspace",
            json!({"workspace_id": other, "data": {"name": "Mine"}}),
        )
        .await;
    fails(&r, "NOT_FOUND", None);
    let r = ws
        .cmd("delete_workspace", json!({"workspace_id": other}))
        .await;
    fails(&r, "NOT_FOUND", None);
    assert_eq!(
        app.get_ok("/workspaces/current", &stranger).await["id"],
        other.as_str()
    );
    no_events(&mut watch, &["workspace", "member", "invitation"]).await;

    // create_workspace {data{name, url_key, logo_url?}}: provisioned and current; its
    // sync_id is in the new workspace's log.
    let r = ws
        .cmd(
            "create_workspace",
            json!({"data": {"name": "Side", "url_key": "acme-co"}}),
        )
        .await;
    fails(&r, "WORKSPACE_URL_KEY_EXISTS", None);
    let r = ws
        .cmd(
            "create_workspace",
            json!({"data": {"name": "Side", "url_key": "Not Valid!"}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("url_key"));
    let r = ws
        .cmd(
            "create_workspace",
            json!({"data": {"name": "Side", "url_key": "side-ws", "logo_url": "https://example.com/l.png"}}),
        )
        .await;
    let side = ok(&r);
    assert_eq!(
        (&side["name"], &side["url_key"]),
        (&json!("Side"), &json!("side-ws"))
    );
    assert_eq!(side["role"], "owner");
    let side_id = s(&side["id"]);
    let sid = r["sync_id"].as_i64().unwrap_or_else(|| panic!("{r}"));
    assert_eq!(
        app.get_ok(&format!("/workspaces/{side_id}"), &alice).await,
        side
    );
    let cur = ok(&ws.cmd("get_current_workspace", json!({})).await);
    assert_eq!(cur["id"], side_id.as_str());
    let log = app.changes(&alice).await;
    assert!(
        log.iter().any(|c| c["sync_id"] == sid),
        "the reply's sync_id is the new workspace's: {sid} {log:?}"
    );
    assert!(
        log.iter()
            .any(|c| c["entity"] == "workspace" && c["entity_id"] == side_id.as_str())
    );

    // delete_workspace {workspace_id}: owners only; no change-log entry (the log goes with
    // it), subscribers are dropped, the owner falls back to another workspace.
    let mut side_watch = Ws::open(&app, &alice).await;
    let r = side_watch
        .cmd(
            "subscribe",
            json!({"topics": [format!("workspace:{side_id}")]}),
        )
        .await;
    assert_eq!(r["success"], true, "{r}");
    let r = ws
        .cmd("delete_workspace", json!({"workspace_id": side_id}))
        .await;
    assert_eq!(ok(&r), Value::Null);
    assert!(r.get("sync_id").is_none(), "{r}");
    let dropped = side_watch
        .next_where(|f| f["data"]["type"] == "subscription_dropped")
        .await;
    assert_eq!(dropped["data"]["topic"], format!("workspace:{side_id}"));
    app.get(&format!("/workspaces/{side_id}"), alice.t())
        .await
        .err(404, "NOT_FOUND");
    let cur = ok(&ws.cmd("get_current_workspace", json!({})).await);
    assert_eq!(cur["id"], home.as_str());
    let r = ws
        .cmd(
            "delete_workspace",
            json!({"data": {"workspace_id": side_id}}),
        )
        .await;
    fails(&r, "NOT_FOUND", None);
    let r = ws.cmd("delete_workspace", json!({})).await;
    fails(&r, "VALIDATION_ERROR", Some("workspace_id"));
}

async fn project_commands(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("wcproj").await;
    let mut ws = Ws::open(&app, &alice).await;
    let mut watch = watcher(&app, &alice).await;
    // The seed's `projects` shorthand follows the same events.
    let mut projects_only = Ws::open(&app, &alice).await;
    let r = projects_only
        .cmd("subscribe", json!({"topics": ["projects"]}))
        .await;
    assert_eq!(r["success"], true, "{r}");

    // create_project {data{name, project_key, description?, target_date?, priority?}}.
    let r = ws
        .cmd(
            "create_project",
            json!({"data": {"name": "Launch", "project_key": "lau", "priority": "high", "target_date": "2030-01-31"}}),
        )
        .await;
    let p = ok(&r);
    assert_eq!(
        (&p["name"], &p["project_key"]),
        (&json!("Launch"), &json!("LAU")),
        "{p}"
    );
    assert_eq!(p["priority"], "high");
    assert_eq!(p["owner_id"], alice.id.as_str());
    let pid = s(&p["id"]);
    evented(&mut watch, &r, "project", "create", &p["id"]).await;
    let sid = r["sync_id"].as_i64().unwrap();
    assert_eq!(projects_only.event(sid).await["entity_id"], pid.as_str());
    assert_eq!(app.get_ok(&format!("/projects/{pid}"), &alice).await, p);

    // update_project {project_id, data}.
    let r = ws
        .cmd(
            "update_project",
            json!({"project_id": pid, "data": {"description": "Go live", "priority": "low"}}),
        )
        .await;
    let changed = ok(&r);
    assert_eq!(changed["description"], "Go live");
    assert_eq!(changed["priority"], "low");
    assert_eq!(changed["name"], "Launch");
    evented(&mut watch, &r, "project", "update", &p["id"]).await;
    assert_eq!(
        app.get_ok(&format!("/projects/{pid}"), &alice).await,
        changed
    );

    // query_projects {filters{search?, owner_id?, priority?}}: REST's list.
    let found = ok(&ws
        .cmd(
            "query_projects",
            json!({"filters": {"search": "laun", "owner_id": alice.id}}),
        )
        .await);
    assert_eq!(found, json!([changed]));
    assert_eq!(found, app.get_ok("/projects?search=laun", &alice).await);
    let found = ok(&ws
        .cmd("query_projects", json!({"filters": {"priority": "urgent"}}))
        .await);
    assert_eq!(found, json!([]));
    let found = ok(&ws
        .cmd(
            "query_projects",
            json!({"filters": {"page": 2, "per_page": 1}}),
        )
        .await);
    assert_eq!(found, json!([]));
    let found = ok(&ws
        .cmd(
            "query_projects",
            json!({"filters": {"page": 1, "per_page": 1}}),
        )
        .await);
    assert_eq!(found, json!([changed]));
    let r = ws
        .cmd(
            "query_projects",
            json!({"filters": {"priority": "someday"}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("priority"));

    // Errors: bad key, taken key, a missing or foreign id.
    let r = ws
        .cmd(
            "create_project",
            json!({"data": {"name": "X", "project_key": "1"}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("project_key"));
    let r = ws
        .cmd("create_project", json!({"data": {"project_key": "ABC"}}))
        .await;
    fails(&r, "VALIDATION_ERROR", Some("name"));
    let r = ws
        .cmd(
            "create_project",
            json!({"data": {"name": "Again", "project_key": "LAU"}}),
        )
        .await;
    fails(&r, "PROJECT_KEY_EXISTS", None);
    let r = ws.cmd("delete_project", json!({})).await;
    fails(&r, "VALIDATION_ERROR", Some("project_id"));
    let bob = app.register("wcprojb").await;
    let theirs = app
        .post_ok(
            "/projects",
            json!({"name": "Theirs", "project_key": "THR"}),
            &bob,
        )
        .await;
    let their_id = s(&theirs["id"]);
    let r = ws
        .cmd(
            "update_project",
            json!({"project_id": their_id, "data": {"name": "Mine"}}),
        )
        .await;
    fails(&r, "NOT_FOUND", None);
    let r = ws
        .cmd("delete_project", json!({"project_id": their_id}))
        .await;
    fails(&r, "NOT_FOUND", None);
    assert_eq!(
        app.get_ok(&format!("/projects/{their_id}"), &bob).await,
        theirs
    );

    // A guest reads projects, changes none.
    let (_, mut guest) = joined(&app, &alice, "wcprojg", "guest").await;
    let seen = ok(&guest.cmd("query_projects", json!({})).await);
    assert_eq!(seen.as_array().unwrap().len(), 1, "{seen}");
    let r = guest
        .cmd(
            "create_project",
            json!({"data": {"name": "G", "project_key": "GST"}}),
        )
        .await;
    fails(&r, "FORBIDDEN", None);
    let r = guest
        .cmd(
            "update_project",
            json!({"project_id": pid, "data": {"name": "G"}}),
        )
        .await;
    fails(&r, "FORBIDDEN", None);
    let r = guest
        .cmd("delete_project", json!({"project_id": pid}))
        .await;
    fails(&r, "FORBIDDEN", None);
    no_events(&mut watch, &["project"]).await;

    // delete_project {project_id}.
    let r = ws.cmd("delete_project", json!({"project_id": pid})).await;
    assert_eq!(ok(&r), Value::Null);
    evented(&mut watch, &r, "project", "delete", &p["id"]).await;
    app.get(&format!("/projects/{pid}"), alice.t())
        .await
        .err(404, "NOT_FOUND");
}

async fn issue_commands(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("wcissue").await;
    let mut ws = Ws::open(&app, &alice).await;
    let mut watch = watcher(&app, &alice).await;
    let team = app.first_team(&alice).await;
    let team_id = s(&team["id"]);

    // create_issue {data{title, team_id, …}}: numbered by the team's key.
    let r = ws
        .cmd(
            "create_issue",
            json!({"data": {"title": "Fix it", "team_id": team_id, "priority": "high", "description": "soon"}}),
        )
        .await;
    let issue = ok(&r);
    assert_eq!(issue["title"], "Fix it", "{issue}");
    assert_eq!(issue["priority"], "high");
    assert_eq!(issue["team_id"], team_id.as_str());
    let key = s(&issue["key"]);
    assert!(
        key.starts_with(&format!("{}-", s(&team["team_key"]))),
        "{key}"
    );
    let iid = s(&issue["id"]);
    let e = evented(&mut watch, &r, "issue", "create", &issue["id"]).await;
    assert_eq!(e["data"]["title"], "Fix it", "{e}");
    let rest = app.get_issue(&alice, &iid).await;
    assert_eq!(
        (&rest["key"], &rest["title"]),
        (&issue["key"], &issue["title"])
    );

    // An `issue:{id}` subscriber follows it from here.
    let mut one = Ws::open(&app, &alice).await;
    let r = one
        .cmd("subscribe", json!({"topics": [format!("issue:{iid}")]}))
        .await;
    assert_eq!(r["success"], true, "{r}");

    // update_issue {issue_id (id or key), data}.
    let r = ws
        .cmd(
            "update_issue",
            json!({"issue_id": key, "data": {"title": "Fix it now", "priority": "urgent"}}),
        )
        .await;
    let changed = ok(&r);
    assert_eq!(
        (&changed["title"], &changed["priority"]),
        (&json!("Fix it now"), &json!("urgent"))
    );
    assert_eq!(changed["id"], iid.as_str());
    evented(&mut watch, &r, "issue", "update", &issue["id"]).await;
    let sid = r["sync_id"].as_i64().unwrap();
    assert_eq!(one.event(sid).await["action"], "update");

    // get_issue {issue_id}: REST's detail, by id or key.
    let detail = ok(&ws.cmd("get_issue", json!({"issue_id": iid})).await);
    assert_eq!(detail, app.get_issue(&alice, &iid).await);
    assert_eq!(detail["title"], "Fix it now");
    let by_key = ok(&ws.cmd("get_issue", json!({"issue_id": key})).await);
    assert_eq!(by_key, detail);

    // query_issues {filters{team_id?, project_id?, assignee_id?, priority?, search?}}: blank
    // filters are none; REST's list.
    app.create_issue(&alice, &team_id, "Unrelated").await;
    let found = ok(
        &ws.cmd(
            "query_issues",
            json!({"filters": {"team_id": "", "assignee_id": null, "priority": "urgent", "search": "FIX"}}),
        )
        .await,
    );
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["id"], iid.as_str());
    assert_eq!(
        found,
        app.get_ok("/issues?priority=urgent&search=FIX", &alice)
            .await
    );
    let all = ok(&ws
        .cmd("query_issues", json!({"filters": {"team_id": team_id}}))
        .await);
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    let first = ok(&ws
        .cmd("query_issues", json!({"filters": {"limit": 1}}))
        .await);
    assert_eq!(first.as_array().unwrap().len(), 1, "{first}");

    // Errors.
    let r = ws
        .cmd(
            "create_issue",
            json!({"data": {"title": 5, "team_id": team_id}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("title"));
    let r = ws
        .cmd("create_issue", json!({"data": {"title": "No team"}}))
        .await;
    fails(&r, "VALIDATION_ERROR", Some("team_id"));
    let r = ws
        .cmd("query_issues", json!({"filters": {"priority": "someday"}}))
        .await;
    fails(&r, "VALIDATION_ERROR", Some("priority"));
    let r = ws.cmd("get_issue", json!({})).await;
    fails(&r, "VALIDATION_ERROR", Some("issue_id"));
    let bob = app.register("zedissue").await;
    let bob_team = s(&app.first_team(&bob).await["id"]);
    let theirs = app.create_issue(&bob, &bob_team, "Theirs").await;
    let r = ws
        .cmd(
            "create_issue",
            json!({"data": {"title": "Into theirs", "team_id": bob_team}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("team_id"));
    for (kind, args) in [
        ("get_issue", json!({"issue_id": theirs["id"]})),
        ("get_issue", json!({"issue_id": theirs["key"]})),
        (
            "update_issue",
            json!({"issue_id": theirs["id"], "data": {"title": "Mine"}}),
        ),
        ("delete_issue", json!({"issue_id": theirs["id"]})),
    ] {
        let r = ws.cmd(kind, args).await;
        fails(&r, "NOT_FOUND", None);
    }
    assert_eq!(
        app.get_issue(&bob, &s(&theirs["id"])).await["title"],
        "Theirs"
    );

    // A guest reads issues, changes none.
    let (_, mut guest) = joined(&app, &alice, "wcissueg", "guest").await;
    assert_eq!(
        ok(&guest.cmd("get_issue", json!({"issue_id": key})).await)["id"],
        iid.as_str()
    );
    let r = guest
        .cmd(
            "create_issue",
            json!({"data": {"title": "G", "team_id": team_id}}),
        )
        .await;
    fails(&r, "FORBIDDEN", None);
    let r = guest
        .cmd(
            "update_issue",
            json!({"issue_id": key, "data": {"title": "G"}}),
        )
        .await;
    fails(&r, "FORBIDDEN", None);
    let r = guest.cmd("delete_issue", json!({"issue_id": key})).await;
    fails(&r, "FORBIDDEN", None);
    // The Unrelated issue (REST) is the only issue event since.
    let seen = watch.drain(300).await;
    let events: Vec<&Value> = seen
        .iter()
        .filter(|f| f["message_type"] == "event" && f["data"]["entity"] == "issue")
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"]["data"]["title"], "Unrelated");

    // delete_issue {issue_id}.
    let r = ws.cmd("delete_issue", json!({"issue_id": key})).await;
    assert_eq!(ok(&r), Value::Null);
    evented(&mut watch, &r, "issue", "delete", &issue["id"]).await;
    app.get(&format!("/issues/{iid}"), alice.t())
        .await
        .err(404, "NOT_FOUND");
    let r = ws.cmd("get_issue", json!({"issue_id": iid})).await;
    fails(&r, "NOT_FOUND", None);
}

async fn project_status_commands(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("wcstat").await;
    let mut ws = Ws::open(&app, &alice).await;
    let mut watch = watcher(&app, &alice).await;

    // create_project_status {data{name, description?, color, category}}.
    let r = ws
        .cmd(
            "create_project_status",
            json!({"data": {"name": "Review", "description": "waiting", "color": "#abcdef", "category": "planned"}}),
        )
        .await;
    let st = ok(&r);
    assert_eq!(
        (&st["name"], &st["category"]),
        (&json!("Review"), &json!("planned")),
        "{st}"
    );
    assert_eq!(st["color"], "#abcdef");
    let sid = s(&st["id"]);
    evented(&mut watch, &r, "project_status", "create", &st["id"]).await;
    assert_eq!(
        app.get_ok(&format!("/project-statuses/{sid}"), &alice)
            .await,
        st
    );

    // update_project_status {status_id, data}.
    let r = ws
        .cmd(
            "update_project_status",
            json!({"status_id": sid, "data": {"name": "In review", "description": null}}),
        )
        .await;
    let changed = ok(&r);
    assert_eq!(changed["name"], "In review");
    assert!(changed["description"].is_null(), "{changed}");
    assert_eq!(changed["category"], "planned");
    evented(&mut watch, &r, "project_status", "update", &st["id"]).await;

    // get_project_status_by_id {status_id}: REST's.
    let one = ok(&ws
        .cmd("get_project_status_by_id", json!({"status_id": sid}))
        .await);
    assert_eq!(one, changed);
    let again = ok(&ws
        .cmd(
            "get_project_status_by_id",
            json!({"data": {"status_id": sid}}),
        )
        .await);
    assert_eq!(again, one);
    assert_eq!(
        one,
        app.get_ok(&format!("/project-statuses/{sid}"), &alice)
            .await
    );

    // query_project_statuses: REST's list, with the new one.
    let all = ok(&ws.cmd("query_project_statuses", json!({})).await);
    assert_eq!(all, app.get_ok("/project-statuses", &alice).await);
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == sid.as_str()),
        "{all}"
    );

    // Errors.
    let r = ws
        .cmd(
            "create_project_status",
            json!({"data": {"name": "Blue", "color": "blue", "category": "planned"}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("color"));
    let r = ws
        .cmd(
            "create_project_status",
            json!({"data": {"name": "Later", "color": "#000000", "category": "someday"}}),
        )
        .await;
    fails(&r, "VALIDATION_ERROR", Some("category"));
    let r = ws.cmd("get_project_status_by_id", json!({})).await;
    fails(&r, "VALIDATION_ERROR", Some("status_id"));
    let bob = app.register("wcstatb").await;
    let theirs = app.get_ok("/project-statuses", &bob).await[0].clone();
    let their_id = s(&theirs["id"]);
    for (kind, args) in [
        ("get_project_status_by_id", json!({"status_id": their_id})),
        (
            "update_project_status",
            json!({"status_id": their_id, "data": {"name": "Mine"}}),
        ),
        ("delete_project_status", json!({"status_id": their_id})),
    ] {
        let r = ws.cmd(kind, args).await;
        fails(&r, "NOT_FOUND", None);
    }
    assert_eq!(
        app.get_ok(&format!("/project-statuses/{their_id}"), &bob)
            .await,
        theirs
    );

    // A member reads statuses; only owners and admins change them.
    let (_, mut mate) = joined(&app, &alice, "wcstatm", "member").await;
    assert_eq!(
        ok(&mate.cmd("query_project_statuses", json!({})).await),
        all
    );
    let r = mate
        .cmd(
            "create_project_status",
            json!({"data": {"name": "Mine", "color": "#000000", "category": "planned"}}),
        )
        .await;
    fails(&r, "FORBIDDEN", None);
    let r = mate
        .cmd(
            "update_project_status",
            json!({"status_id": sid, "data": {"name": "Mine"}}),
        )
        .await;
    fails(&r, "FORBIDDEN", None);
    let r = mate
        .cmd("delete_project_status", json!({"status_id": sid}))
        .await;
    fails(&r, "FORBIDDEN", None);
    no_events(&mut watch, &["project_status"]).await;

    // delete_project_status {status_id} (REST's other name `project_status_id` too).
    let r = ws
        .cmd("delete_project_status", json!({"project_status_id": sid}))
        .await;
    assert_eq!(ok(&r), Value::Null);
    evented(&mut watch, &r, "project_status", "delete", &st["id"]).await;
    app.get(&format!("/project-statuses/{sid}"), alice.t())
        .await
        .err(404, "NOT_FOUND");
    let r = ws
        .cmd("get_project_status_by_id", json!({"status_id": sid}))
        .await;
    fails(&r, "NOT_FOUND", None);
}

async fn update_profile_command(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("wcprof").await;
    let bob = app.register("wcprofb").await;
    let mut ws = Ws::open(&app, &alice).await;
    let mut watch = watcher(&app, &alice).await;

    // update_profile {data{name?, username?, email?, avatar_url?}}: REST's profile.
    let r = ws
        .cmd(
            "update_profile",
            json!({"data": {"name": "Alice A", "avatar_url": "https://example.com/a.png"}}),
        )
        .await;
    let p = ok(&r);
    assert_eq!(p["name"], "Alice A", "{p}");
    assert_eq!(p["avatar_url"], "https://example.com/a.png");
    assert_eq!(p["id"], alice.id.as_str());
    assert_eq!(p, app.get_ok("/auth/profile", &alice).await);
    // A profile is no workspace object: no change-log entry, no event.
    assert!(r.get("sync_id").is_none(), "{r}");
    let r = ws
        .cmd(
            "update_profile",
            json!({"data": {"username": "wcprof2", "avatar_url": null}}),
        )
        .await;
    let p = ok(&r);
    assert_eq!(p["username"], "wcprof2");
    assert!(p["avatar_url"].is_null(), "{p}");
    assert_eq!(p["name"], "Alice A");
    assert_eq!(app.get_ok("/auth/profile", &alice).await, p);
    no_events(&mut watch, &[]).await;

    // Errors: a bad field, a taken username or e-mail, a body of the wrong shape.
    let r = ws
        .cmd("update_profile", json!({"data": {"name": ""}}))
        .await;
    fails(&r, "VALIDATION_ERROR", Some("name"));
    let r = ws
        .cmd("update_profile", json!({"data": {"avatar_url": "ftp://x"}}))
        .await;
    fails(&r, "VALIDATION_ERROR", Some("avatar_url"));
    let r = ws.cmd("update_profile", json!({"data": {"name": 7}})).await;
    fails(&r, "VALIDATION_ERROR", Some("name"));
    let r = ws
        .cmd(
            "update_profile",
            json!({"data": {"username": bob.username}}),
        )
        .await;
    fails(&r, "USER_USERNAME_EXISTS", None);
    let r = ws
        .cmd("update_profile", json!({"data": {"email": bob.email}}))
        .await;
    fails(&r, "USER_EMAIL_EXISTS", None);
    let r = ws.cmd("update_profile", json!({"data": ["x"]})).await;
    fails(&r, "INVALID_COMMAND", Some("data"));
    assert_eq!(app.get_ok("/auth/profile", &alice).await, p);

    // Without any workspace: workspace commands answer NO_WORKSPACE; the profile still
    // changes.
    let mut bws = Ws::open(&app, &bob).await;
    let r = bws
        .cmd("delete_workspace", json!({"workspace_id": ws_id(&bws)}))
        .await;
    ok(&r);
    fails(
        &bws.cmd("get_current_workspace", json!({})).await,
        "NO_WORKSPACE",
        None,
    );
    let p = ok(&bws
        .cmd("update_profile", json!({"data": {"name": "Bob B"}}))
        .await);
    assert_eq!(p["name"], "Bob B");
    assert!(p["current_workspace_id"].is_null(), "{p}");
}
