//! `/workflows…`, states and transition rules, and the original's `/teams/{id}/workflows…`
//! aliases: defaults (one per team, one per workflow), unique names, positions, refusals,
//! roles, the other workspace's ids.

use serde_json::{Value, json};

use crate::harness::join;
use crate::harness::{Backend, TestApp, User};
use crate::teams::{fields, spawn};

trellis_kernel::backend_tests!(
    workflow_crud_and_team_default,
    workflow_input_and_refusals,
    states_keep_positions_and_one_default,
    state_input_and_refusals,
    default_workflow_aliases,
    transition_rules_round_trip_and_are_validated,
    state_name_burst_has_one_winner,
    other_workspace_workflows_are_not_found,
    roles_decide_who_changes_workflows,
);

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// `(name, position, is_default)` of each state, in list order.
fn shape(states: &Value) -> Vec<(String, i64, bool)> {
    states
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["position"].as_i64().unwrap(),
                s["is_default"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn names(states: &Value) -> Vec<String> {
    shape(states).into_iter().map(|s| s.0).collect()
}

/// The state named `name` in a list.
fn state<'a>(states: &'a Value, name: &str) -> &'a Value {
    states
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

/// The team's default workflow (with states).
async fn default_workflow(app: &TestApp, u: &User, team: &str) -> Value {
    let list = app.get_ok(&format!("/teams/{team}/workflows"), u).await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|w| w["is_default"] == true)
        .unwrap()
        .clone()
}

const SIX: [&str; 6] = [
    "Triage",
    "Backlog",
    "Todo",
    "In Progress",
    "Done",
    "Canceled",
];

async fn workflow_crud_and_team_default(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    let team = id(&app.first_team(&alice).await);
    let all = app.get_ok("/workflows", &alice).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let def = all[0].clone();
    assert_eq!(def["team_id"], team.as_str());
    assert_eq!(def["is_default"], true);
    assert_eq!(names(&def["states"]), SIX);
    assert_eq!(
        app.get_ok(&format!("/teams/{team}/workflows"), &alice)
            .await,
        all
    );
    assert_eq!(
        app.get_ok(&format!("/workflows?team_id={team}"), &alice)
            .await,
        all
    );
    assert_eq!(
        app.get_ok(&format!("/workflows/{}", id(&def)), &alice)
            .await,
        def
    );

    // A new workflow gets the six default states, and is not the default unless asked.
    let r = app
        .post(
            "/workflows",
            json!({"team_id": team, "name": "Bugs", "description": "Triage first"}),
            alice.t(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let bugs = r.ok();
    assert_eq!(bugs["is_default"], false);
    assert_eq!(bugs["description"], "Triage first");
    assert_eq!(
        shape(&bugs["states"]),
        SIX.iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), i as i64, *n == "Backlog"))
            .collect::<Vec<_>>()
    );
    // Created through the original's path as the default: the old default stops being one.
    let ops = app
        .post(
            &format!("/teams/{team}/workflows"),
            json!({"name": "Ops", "is_default": true}),
            alice.t(),
        )
        .await;
    assert_eq!(ops.status, 201, "{}", ops.body);
    let ops = ops.ok();
    assert_eq!(ops["is_default"], true);
    assert_eq!(
        app.get_ok(&format!("/workflows/{}", id(&def)), &alice)
            .await["is_default"],
        false
    );
    assert_eq!(id(&default_workflow(&app, &alice, &team).await), id(&ops));
    let list = app.get_ok("/workflows", &alice).await;
    assert_eq!(
        list.as_array().unwrap().iter().map(id).collect::<Vec<_>>(),
        [id(&def), id(&bugs), id(&ops)]
    );
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|w| w["states"].as_array().unwrap().len() == 6)
    );

    // Update: rename, clear the description, make Bugs the default.
    let changed = app
        .put(
            &format!("/workflows/{}", id(&bugs)),
            json!({"name": "Bug flow", "description": null, "is_default": true}),
            alice.t(),
        )
        .await
        .ok();
    assert_eq!(changed["name"], "Bug flow");
    assert!(changed["description"].is_null());
    assert_eq!(changed["is_default"], true);
    assert_eq!(changed["states"].as_array().unwrap().len(), 6);
    assert_eq!(
        app.get_ok(&format!("/workflows/{}", id(&ops)), &alice)
            .await["is_default"],
        false
    );

    // Delete: not the default; the others go with their states.
    app.delete(&format!("/workflows/{}", id(&bugs)), alice.t())
        .await
        .err(409, "DEFAULT_WORKFLOW");
    app.delete(&format!("/workflows/{}", id(&ops)), alice.t())
        .await
        .ok();
    app.get(&format!("/workflows/{}", id(&ops)), alice.t())
        .await
        .err(404, "NOT_FOUND");
    app.get(&format!("/workflows/{}/states", id(&ops)), alice.t())
        .await
        .err(404, "NOT_FOUND");
    assert_eq!(
        app.get_ok("/workflows", &alice)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let log = app.get_ok("/sync/delta?limit=1000", &alice).await;
    let ops_log: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "workflow" && c["entity_id"] == ops["id"])
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(ops_log, ["create", "update", "delete"]);
    let ops_states: Vec<&Value> = ops["states"].as_array().unwrap().iter().collect();
    assert!(ops_states.iter().all(|s| {
        log.as_array().unwrap().iter().any(|c| {
            c["entity"] == "workflow_state" && c["entity_id"] == s["id"] && c["action"] == "delete"
        })
    }));
}

async fn workflow_input_and_refusals(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    let team = id(&app.first_team(&alice).await);
    let def = default_workflow(&app, &alice, &team).await;
    let r = app
        .post(
            "/workflows",
            json!({"team_id": "nope", "name": "", "description": "x".repeat(10_001)}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["team_id", "name", "description"]);
    let r = app.post("/workflows", json!({}), alice.t()).await;
    assert_eq!(fields(&r), ["team_id", "name"]);
    let r = app
        .post(
            "/workflows",
            json!({"team_id": uuid::Uuid::now_v7(), "name": "W"}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["team_id"]);
    assert_eq!(r.body["errors"][0]["code"], "not_found");
    let r = app
        .post(
            &format!("/teams/{team}/workflows"),
            json!({"name": " "}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["name"]);
    app.post(
        &format!("/teams/{}/workflows", uuid::Uuid::now_v7()),
        json!({"name": "W"}),
        alice.t(),
    )
    .await
    .err(404, "NOT_FOUND");
    // Names are unique in a team, on create and on rename.
    app.post(
        &format!("/teams/{team}/workflows"),
        json!({"name": def["name"]}),
        alice.t(),
    )
    .await
    .err(409, "WORKFLOW_EXISTS");
    let other = app
        .post_ok(
            "/workflows",
            json!({"team_id": team, "name": "Other"}),
            &alice,
        )
        .await;
    app.put(
        &format!("/workflows/{}", id(&other)),
        json!({"name": def["name"]}),
        alice.t(),
    )
    .await
    .err(409, "WORKFLOW_EXISTS");
    // A team always has a default workflow.
    let r = app
        .put(
            &format!("/workflows/{}", id(&def)),
            json!({"is_default": false}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["is_default"]);
    let r = app
        .put(
            &format!("/workflows/{}", id(&def)),
            json!({"name": "", "description": "y".repeat(10_001)}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["name", "description"]);
    // The same name in another team is fine.
    let web = app
        .post_ok("/teams", json!({"name": "Web", "team_key": "WEB"}), &alice)
        .await;
    app.post_ok(
        "/workflows",
        json!({"team_id": id(&web), "name": "Other"}),
        &alice,
    )
    .await;
    let r = app.get("/workflows?team_id=zzz", alice.t()).await;
    assert_eq!(fields(&r), ["team_id"]);
    app.get("/workflows/zzz", alice.t())
        .await
        .err(404, "NOT_FOUND");
    app.delete(&format!("/workflows/{}", uuid::Uuid::now_v7()), alice.t())
        .await
        .err(404, "NOT_FOUND");
}

async fn states_keep_positions_and_one_default(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    let team = id(&app.first_team(&alice).await);
    let wf = id(&default_workflow(&app, &alice, &team).await);
    let states_path = format!("/workflows/{wf}/states");

    // Inserted at position 3: the later ones move down.
    let r = app
        .post(
            &states_path,
            json!({"name": "Review", "category": "Started", "color": "#123abc", "position": 3,
                   "description": "Code review"}),
            alice.t(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let review = r.ok();
    assert_eq!(review["category"], "started");
    assert_eq!(review["position"], 3);
    assert_eq!(review["is_default"], false);
    let states = app.get_ok(&states_path, &alice).await;
    assert_eq!(
        shape(&states),
        [
            ("Triage".into(), 0, false),
            ("Backlog".into(), 1, true),
            ("Todo".into(), 2, false),
            ("Review".into(), 3, false),
            ("In Progress".into(), 4, false),
            ("Done".into(), 5, false),
            ("Canceled".into(), 6, false),
        ]
    );
    // Without a position: last. With is_default: the only default.
    let blocked = app
        .post_ok(
            &states_path,
            json!({"name": "Blocked", "category": "started", "color": "#FF0000", "is_default": true}),
            &alice,
        )
        .await;
    assert_eq!(blocked["position"], 7);
    let states = app.get_ok(&states_path, &alice).await;
    let defaults: Vec<String> = shape(&states)
        .into_iter()
        .filter(|s| s.2)
        .map(|s| s.0)
        .collect();
    assert_eq!(defaults, ["Blocked"]);

    // Move Blocked first and make Todo the default.
    let moved = app
        .put(
            &format!("{states_path}/{}", id(&blocked)),
            json!({"position": 0, "name": "On hold", "color": "#00ff00", "category": "backlog"}),
            alice.t(),
        )
        .await
        .ok();
    assert_eq!(moved["position"], 0);
    assert_eq!(moved["name"], "On hold");
    assert_eq!(moved["category"], "backlog");
    let todo = id(state(&states, "Todo"));
    let t = app
        .put(
            &format!("{states_path}/{todo}"),
            json!({"is_default": true, "description": null}),
            alice.t(),
        )
        .await
        .ok();
    assert_eq!(t["is_default"], true);
    let states = app.get_ok(&states_path, &alice).await;
    assert_eq!(
        shape(&states),
        [
            ("On hold".into(), 0, false),
            ("Triage".into(), 1, false),
            ("Backlog".into(), 2, false),
            ("Todo".into(), 3, true),
            ("Review".into(), 4, false),
            ("In Progress".into(), 5, false),
            ("Done".into(), 6, false),
            ("Canceled".into(), 7, false),
        ]
    );
    // A position past the end means last.
    app.put(
        &format!("{states_path}/{}", id(&review)),
        json!({"position": 99}),
        alice.t(),
    )
    .await
    .ok();
    let states = app.get_ok(&states_path, &alice).await;
    assert_eq!(names(&states).last().unwrap(), "Review");

    // Reorder: exactly the workflow's states, in the order given.
    let mut order: Vec<String> = states.as_array().unwrap().iter().map(id).collect();
    order.reverse();
    let r = app
        .put(
            &format!("{states_path}/reorder"),
            json!({"state_ids": order}),
            alice.t(),
        )
        .await;
    let reordered = r.ok();
    assert_eq!(
        reordered
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect::<Vec<_>>(),
        order
    );
    let states = app.get_ok(&states_path, &alice).await;
    assert_eq!(states, reordered);
    assert_eq!(
        shape(&states).iter().map(|s| s.1).collect::<Vec<_>>(),
        (0..8).collect::<Vec<i64>>()
    );

    // Deleting the default makes the first remaining state the default; the rest close up.
    app.delete(&format!("{states_path}/{todo}"), alice.t())
        .await
        .ok();
    let states = app.get_ok(&states_path, &alice).await;
    let s = shape(&states);
    assert_eq!(s.len(), 7);
    assert_eq!(
        s.iter().map(|x| x.1).collect::<Vec<_>>(),
        (0..7).collect::<Vec<i64>>()
    );
    assert_eq!(s.iter().filter(|x| x.2).count(), 1);
    assert!(s[0].2);
    app.delete(&format!("{states_path}/{todo}"), alice.t())
        .await
        .err(404, "NOT_FOUND");

    // Down to one state: that one stays.
    let ids: Vec<String> = states.as_array().unwrap().iter().map(id).collect();
    for sid in &ids[1..] {
        app.delete(&format!("{states_path}/{sid}"), alice.t())
            .await
            .ok();
    }
    app.delete(&format!("{states_path}/{}", ids[0]), alice.t())
        .await
        .err(409, "LAST_STATE");
    let states = app.get_ok(&states_path, &alice).await;
    assert_eq!(shape(&states), [(s[0].0.clone(), 0, true)]);

    // Each change is in the log.
    let log = app.get_ok("/sync/delta?limit=1000", &alice).await;
    let review_log: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "workflow_state" && c["entity_id"] == review["id"])
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        review_log,
        ["create", "update", "update", "update", "update"]
    );
}

async fn state_input_and_refusals(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    let team = id(&app.first_team(&alice).await);
    let wf = default_workflow(&app, &alice, &team).await;
    let states_path = format!("/workflows/{}/states", id(&wf));
    let r = app
        .post(
            &states_path,
            json!({"name": "", "category": "doing", "color": "red", "position": -1,
                   "description": "x".repeat(10_001)}),
            alice.t(),
        )
        .await;
    assert_eq!(
        fields(&r),
        ["name", "category", "color", "position", "description"]
    );
    let r = app.post(&states_path, json!({}), alice.t()).await;
    assert_eq!(fields(&r), ["name", "category", "color"]);
    let r = app
        .post(
            &states_path,
            json!({"name": "X", "category": "started", "color": "#123456", "position": "first"}),
            alice.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // Names are unique in a workflow (on create and on rename), not across workflows.
    app.post(
        &states_path,
        json!({"name": "Done", "category": "completed", "color": "#123456"}),
        alice.t(),
    )
    .await
    .err(409, "STATE_EXISTS");
    let backlog = id(state(&wf["states"], "Backlog"));
    let todo = id(state(&wf["states"], "Todo"));
    app.put(
        &format!("{states_path}/{todo}"),
        json!({"name": "Done"}),
        alice.t(),
    )
    .await
    .err(409, "STATE_EXISTS");
    let other = app
        .post_ok(
            "/workflows",
            json!({"team_id": team, "name": "Other"}),
            &alice,
        )
        .await;
    app.post_ok(
        &format!("/workflows/{}/states", id(&other)),
        json!({"name": "Review", "category": "started", "color": "#123456"}),
        &alice,
    )
    .await;
    app.post_ok(
        &states_path,
        json!({"name": "Review", "category": "started", "color": "#123456"}),
        &alice,
    )
    .await;
    let r = app
        .put(
            &format!("{states_path}/{todo}"),
            json!({"name": "", "category": "x", "color": "#12345", "position": -2}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["name", "category", "color", "position"]);
    // The default state cannot stop being the default by itself.
    let r = app
        .put(
            &format!("{states_path}/{backlog}"),
            json!({"is_default": false}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["is_default"]);
    // A state of another workflow is not found under this one.
    let foreign = id(&other["states"][0]);
    app.put(
        &format!("{states_path}/{foreign}"),
        json!({"name": "Y"}),
        alice.t(),
    )
    .await
    .err(404, "NOT_FOUND");
    app.delete(&format!("{states_path}/{foreign}"), alice.t())
        .await
        .err(404, "NOT_FOUND");
    app.put(
        &format!("{states_path}/{}", uuid::Uuid::now_v7()),
        json!({"name": "Y"}),
        alice.t(),
    )
    .await
    .err(404, "NOT_FOUND");
    // Reorder lists every state exactly once, each of this workflow.
    let ids: Vec<String> = app
        .get_ok(&states_path, &alice)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    let reorder = format!("{states_path}/reorder");
    let r = app
        .put(&reorder, json!({"state_ids": ids[1..].to_vec()}), alice.t())
        .await;
    assert_eq!(fields(&r), ["state_ids"]);
    let mut dup = ids.clone();
    dup.push(ids[0].clone());
    let r = app
        .put(&reorder, json!({"state_ids": dup}), alice.t())
        .await;
    assert_eq!(fields(&r), [format!("state_ids[{}]", ids.len())]);
    let mut bad = ids.clone();
    bad[1] = foreign.clone();
    bad[2] = "nope".into();
    let r = app
        .put(&reorder, json!({"state_ids": bad}), alice.t())
        .await;
    assert_eq!(fields(&r), ["state_ids[2]"]);
    bad[2] = ids[2].clone();
    let r = app
        .put(&reorder, json!({"state_ids": bad}), alice.t())
        .await;
    assert_eq!(fields(&r), ["state_ids[1]", "state_ids"]);
    // Nothing moved.
    let now: Vec<String> = app
        .get_ok(&states_path, &alice)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(now, ids);
}

async fn default_workflow_aliases(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    let team = id(&app.first_team(&alice).await);
    let wf = default_workflow(&app, &alice, &team).await;
    let alias = format!("/teams/{team}/workflows/default/states");
    let states = app.get_ok(&alias, &alice).await;
    assert_eq!(states, wf["states"]);
    let r = app
        .post(
            &alias,
            json!({"name": "QA", "category": "started", "color": "#abcdef", "position": 4}),
            alice.t(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let qa = r.ok();
    assert_eq!(qa["workflow_id"], wf["id"]);
    assert_eq!(qa["position"], 4);
    let qa2 = app
        .put(
            &format!("{alias}/{}", id(&qa)),
            json!({"name": "Quality", "is_default": true}),
            alice.t(),
        )
        .await
        .ok();
    assert_eq!(qa2["name"], "Quality");
    assert_eq!(qa2["is_default"], true);
    let states = app
        .get_ok(&format!("/workflows/{}/states", id(&wf)), &alice)
        .await;
    assert_eq!(app.get_ok(&alias, &alice).await, states);
    assert_eq!(state(&states, "Backlog")["is_default"], false);
    // Switching the team's default workflow switches what the alias edits.
    let other = app
        .post_ok(
            &format!("/teams/{team}/workflows"),
            json!({"name": "Next", "is_default": true}),
            &alice,
        )
        .await;
    assert_eq!(app.get_ok(&alias, &alice).await, other["states"]);
    app.put(
        &format!("{alias}/{}", id(&qa)),
        json!({"name": "Elsewhere"}),
        alice.t(),
    )
    .await
    .err(404, "NOT_FOUND");
    let r = app
        .post(
            &alias,
            json!({"name": "", "category": "?", "color": "?"}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["name", "category", "color"]);
    app.get(
        &format!("/teams/{}/workflows/default/states", uuid::Uuid::now_v7()),
        alice.t(),
    )
    .await
    .err(404, "NOT_FOUND");
}

async fn transition_rules_round_trip_and_are_validated(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    let team = id(&app.first_team(&alice).await);
    let wf = default_workflow(&app, &alice, &team).await;
    let path = format!("/workflows/{}/transitions", id(&wf));
    let s = |name: &str| id(state(&wf["states"], name));
    assert_eq!(app.get_ok(&path, &alice).await, json!({"transitions": []}));

    let rules = json!([
        {"from_state_id": null, "to_state_id": s("Done"), "roles": ["admin", "Owner"]},
        {"from_state_id": s("Todo"), "to_state_id": s("In Progress")},
        {"to_state_id": s("Canceled"), "roles": ["member", "member"]},
    ]);
    let r = app
        .put(&path, json!({"transitions": rules}), alice.t())
        .await;
    let expected = json!({"transitions": [
        {"from_state_id": null, "to_state_id": s("Done"), "roles": ["admin", "owner"]},
        {"from_state_id": s("Todo"), "to_state_id": s("In Progress")},
        {"from_state_id": null, "to_state_id": s("Canceled"), "roles": ["member"]},
    ]});
    assert_eq!(r.ok(), expected);
    assert_eq!(app.get_ok(&path, &alice).await, expected);

    // A state named by a rule cannot be deleted until the rules change.
    app.delete(
        &format!("/workflows/{}/states/{}", id(&wf), s("Done")),
        alice.t(),
    )
    .await
    .err(409, "IN_USE");

    // Bad rules: every problem named by its place in the list; nothing changes.
    let other = app
        .post_ok(
            "/workflows",
            json!({"team_id": team, "name": "Other"}),
            &alice,
        )
        .await;
    let foreign = id(&other["states"][0]);
    let r = app
        .put(
            &path,
            json!({"transitions": [
                {"from_state_id": null, "to_state_id": foreign},
                {"from_state_id": "nope", "to_state_id": s("Done"), "roles": ["admin", "boss"]},
                {"to_state_id": "", "roles": []},
                {"from_state_id": uuid::Uuid::now_v7(), "to_state_id": s("Done")},
            ]}),
            alice.t(),
        )
        .await;
    assert_eq!(
        fields(&r),
        [
            "transitions[1].from_state_id",
            "transitions[1].roles[1]",
            "transitions[2].to_state_id",
            "transitions[2].roles",
        ]
    );
    let r = app
        .put(
            &path,
            json!({"transitions": [
                {"from_state_id": null, "to_state_id": foreign},
                {"from_state_id": uuid::Uuid::now_v7(), "to_state_id": s("Done")},
            ]}),
            alice.t(),
        )
        .await;
    assert_eq!(
        fields(&r),
        ["transitions[0].to_state_id", "transitions[1].from_state_id"]
    );
    assert_eq!(r.body["errors"][0]["code"], "not_found");
    let r = app
        .put(
            &path,
            json!({"transitions": [{"to_state_id": 5}]}),
            alice.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(app.get_ok(&path, &alice).await, expected);

    // An empty set allows every move again.
    let cleared = app
        .put(&path, json!({"transitions": []}), alice.t())
        .await
        .ok();
    assert_eq!(cleared, json!({"transitions": []}));
    app.delete(
        &format!("/workflows/{}/states/{}", id(&wf), s("Done")),
        alice.t(),
    )
    .await
    .ok();

    let log = app.get_ok("/sync/delta?limit=1000", &alice).await;
    let rule_log: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "workflow_transitions" && c["entity_id"] == wf["id"])
        .collect();
    assert_eq!(rule_log.len(), 2);
    assert_eq!(rule_log[0]["data"]["transitions"], expected["transitions"]);
}

async fn state_name_burst_has_one_winner(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    let team = id(&app.first_team(&alice).await);
    let wf = id(&default_workflow(&app, &alice, &team).await);
    let path = format!("/workflows/{wf}/states");
    let answers = futures::future::join_all((0..10).map(|i| {
        app.post(
            &path,
            json!({"name": "Review", "category": "started", "color": "#123456", "position": i % 3,
                   "is_default": i % 2 == 0}),
            alice.t(),
        )
    }))
    .await;
    assert_eq!(answers.iter().filter(|r| r.status == 201).count(), 1);
    for r in answers.iter().filter(|r| r.status != 201) {
        r.err(409, "STATE_EXISTS");
    }
    // Concurrent moves and default changes keep positions 0..n and one default.
    let states = app.get_ok(&path, &alice).await;
    let ids: Vec<String> = states.as_array().unwrap().iter().map(id).collect();
    let paths: Vec<String> = ids.iter().map(|sid| format!("{path}/{sid}")).collect();
    let answers = futures::future::join_all(paths.iter().enumerate().map(|(i, p)| {
        app.put(
            p,
            json!({"position": (i * 5) % ids.len(), "is_default": true}),
            alice.t(),
        )
    }))
    .await;
    assert!(answers.iter().all(|r| r.status == 200));
    let s = shape(&app.get_ok(&path, &alice).await);
    assert_eq!(
        s.iter().map(|x| x.1).collect::<Vec<_>>(),
        (0..ids.len() as i64).collect::<Vec<_>>()
    );
    assert_eq!(s.iter().filter(|x| x.2).count(), 1);
}

async fn other_workspace_workflows_are_not_found(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let a_team = id(&app.first_team(&alice).await);
    let a_wf = default_workflow(&app, &alice, &a_team).await;
    let w = id(&a_wf);
    let a_state = id(&a_wf["states"][0]);
    let b_team = id(&app.first_team(&bob).await);
    let b_wf = default_workflow(&app, &bob, &b_team).await;

    assert!(
        !app.get_ok("/workflows", &bob)
            .await
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == w.as_str())
    );
    let filtered = app
        .get_ok(&format!("/workflows?team_id={a_team}"), &bob)
        .await;
    assert_eq!(filtered, json!([]));
    let state_body = json!({"name": "Mine", "category": "started", "color": "#123456"});
    for r in [
        app.get(&format!("/workflows/{w}"), bob.t()).await,
        app.put(&format!("/workflows/{w}"), json!({"name": "Mine"}), bob.t())
            .await,
        app.delete(&format!("/workflows/{w}"), bob.t()).await,
        app.get(&format!("/workflows/{w}/states"), bob.t()).await,
        app.post(
            &format!("/workflows/{w}/states"),
            state_body.clone(),
            bob.t(),
        )
        .await,
        app.put(
            &format!("/workflows/{w}/states/{a_state}"),
            json!({"name": "Mine"}),
            bob.t(),
        )
        .await,
        app.delete(&format!("/workflows/{w}/states/{a_state}"), bob.t())
            .await,
        app.put(
            &format!("/workflows/{w}/states/reorder"),
            json!({"state_ids": [a_state]}),
            bob.t(),
        )
        .await,
        app.get(&format!("/workflows/{w}/transitions"), bob.t())
            .await,
        app.put(
            &format!("/workflows/{w}/transitions"),
            json!({"transitions": []}),
            bob.t(),
        )
        .await,
        app.get(&format!("/teams/{a_team}/workflows"), bob.t())
            .await,
        app.post(
            &format!("/teams/{a_team}/workflows"),
            json!({"name": "Mine"}),
            bob.t(),
        )
        .await,
        app.get(
            &format!("/teams/{a_team}/workflows/default/states"),
            bob.t(),
        )
        .await,
        app.post(
            &format!("/teams/{a_team}/workflows/default/states"),
            state_body.clone(),
            bob.t(),
        )
        .await,
        app.put(
            &format!("/teams/{a_team}/workflows/default/states/{a_state}"),
            json!({"name": "Mine"}),
            bob.t(),
        )
        .await,
        // Alice's state under Bob's own workflow: not found there either.
        app.put(
            &format!("/workflows/{}/states/{a_state}", id(&b_wf)),
            json!({"name": "Mine"}),
            bob.t(),
        )
        .await,
        app.put(
            &format!("/teams/{b_team}/workflows/default/states/{a_state}"),
            json!({"name": "Mine"}),
            bob.t(),
        )
        .await,
    ] {
        r.err(404, "NOT_FOUND");
    }
    // In bodies: 422 naming the field.
    let r = app
        .post(
            "/workflows",
            json!({"team_id": a_team, "name": "Mine"}),
            bob.t(),
        )
        .await;
    assert_eq!(fields(&r), ["team_id"]);
    let r = app
        .put(
            &format!("/workflows/{}/transitions", id(&b_wf)),
            json!({"transitions": [{"from_state_id": a_state, "to_state_id": a_state}]}),
            bob.t(),
        )
        .await;
    assert_eq!(
        fields(&r),
        ["transitions[0].from_state_id", "transitions[0].to_state_id"]
    );
    let mut order: Vec<String> = b_wf["states"].as_array().unwrap().iter().map(id).collect();
    order[0] = a_state.clone();
    let r = app
        .put(
            &format!("/workflows/{}/states/reorder", id(&b_wf)),
            json!({"state_ids": order}),
            bob.t(),
        )
        .await;
    assert_eq!(fields(&r), ["state_ids[0]", "state_ids"]);
    // Alice's workflow is untouched.
    assert_eq!(app.get_ok(&format!("/workflows/{w}"), &alice).await, a_wf);
}

async fn roles_decide_who_changes_workflows(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    join(&app, &alice, &bob, "member").await;
    join(&app, &alice, &carol, "guest").await;
    let team = id(&app.first_team(&alice).await);
    let wf = default_workflow(&app, &alice, &team).await;
    let w = id(&wf);
    let st = id(&wf["states"][0]);
    let state_body = json!({"name": "QA", "category": "started", "color": "#123456"});

    // Guests and members outside the team's admins read, and change nothing.
    for u in [&bob, &carol] {
        app.get_ok(&format!("/workflows/{w}"), u).await;
        app.get_ok(&format!("/workflows/{w}/transitions"), u).await;
        app.get_ok(&format!("/teams/{team}/workflows/default/states"), u)
            .await;
        for r in [
            app.post("/workflows", json!({"team_id": team, "name": "X"}), u.t())
                .await,
            app.post(
                &format!("/teams/{team}/workflows"),
                json!({"name": "X"}),
                u.t(),
            )
            .await,
            app.put(&format!("/workflows/{w}"), json!({"name": "X"}), u.t())
                .await,
            app.delete(&format!("/workflows/{w}"), u.t()).await,
            app.post(&format!("/workflows/{w}/states"), state_body.clone(), u.t())
                .await,
            app.put(
                &format!("/workflows/{w}/states/{st}"),
                json!({"name": "X"}),
                u.t(),
            )
            .await,
            app.delete(&format!("/workflows/{w}/states/{st}"), u.t())
                .await,
            app.put(
                &format!("/workflows/{w}/states/reorder"),
                json!({"state_ids": [st]}),
                u.t(),
            )
            .await,
            app.put(
                &format!("/workflows/{w}/transitions"),
                json!({"transitions": []}),
                u.t(),
            )
            .await,
        ] {
            r.err(403, "FORBIDDEN");
        }
    }
    // A team admin manages the team's workflows and states, but not transition rules.
    app.post_ok(
        &format!("/teams/{team}/members"),
        json!({"user_id": bob.id, "role": "admin"}),
        &alice,
    )
    .await;
    let mine = app
        .post_ok(
            &format!("/teams/{team}/workflows"),
            json!({"name": "Bob's"}),
            &bob,
        )
        .await;
    app.post_ok(&format!("/workflows/{w}/states"), state_body.clone(), &bob)
        .await;
    app.put(
        &format!("/workflows/{}", id(&mine)),
        json!({"description": "by Bob"}),
        bob.t(),
    )
    .await
    .ok();
    app.put(
        &format!("/workflows/{w}/transitions"),
        json!({"transitions": []}),
        bob.t(),
    )
    .await
    .err(403, "FORBIDDEN");
    app.delete(&format!("/workflows/{}", id(&mine)), bob.t())
        .await
        .ok();
    // Workspace admins set the rules.
    app.put(
        &format!("/workflows/{w}/transitions"),
        json!({"transitions": [{"to_state_id": st}]}),
        alice.t(),
    )
    .await
    .ok();
}
