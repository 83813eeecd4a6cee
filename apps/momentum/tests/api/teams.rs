//! `/teams…`, `/teams/{id}/members…` and `GET /user/teams`: CRUD with a per-workspace
//! `team_key`, private teams, team roles, the other workspace's ids, a concurrent burst of
//! one key.

use serde_json::{Value, json};

use crate::harness::{Backend, Resp, TestApp, join};

trellis_kernel::backend_tests!(
    team_crud_and_my_teams,
    team_input_lists_every_field,
    team_key_burst_has_one_winner,
    other_workspace_teams_are_not_found,
    roles_decide_who_manages_teams_and_members,
    private_teams_show_to_members_and_admins_only,
);

/// A server whose write bucket does not get in the way of a long scenario.
pub async fn spawn(b: Backend) -> TestApp {
    TestApp::with(b, &[("RATE_LIMIT_BURST", "100000")]).await
}

/// The fields a 422 names, in order.
pub fn fields(r: &Resp) -> Vec<String> {
    assert_eq!(r.status, 422, "{}", r.body);
    r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap_or("").to_string())
        .collect()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

async fn team_crud_and_my_teams(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    // Registration provisioned one team, with Alice as its admin.
    let first = app.first_team(&alice).await;
    assert_eq!(first["team_key"], "ALI");
    assert_eq!(first["is_private"], false);

    let r = app
        .post(
            "/teams",
            json!({"name": " Engineering ", "team_key": "eng", "description": "Builds it",
                   "icon_url": "https://example.com/eng.png"}),
            alice.t(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["code"], 201);
    let eng = r.ok();
    assert_eq!(eng["name"], "Engineering");
    assert_eq!(eng["team_key"], "ENG");
    assert_eq!(eng["description"], "Builds it");
    assert_eq!(eng["icon_url"], "https://example.com/eng.png");
    assert_eq!(eng["is_private"], false);
    let eng_id = id(&eng);

    assert_eq!(app.get_ok(&format!("/teams/{eng_id}"), &alice).await, eng);
    let list = app.get_ok("/teams", &alice).await;
    assert_eq!(
        list.as_array().unwrap().iter().map(id).collect::<Vec<_>>(),
        [id(&first), eng_id.clone()]
    );
    let mine = app.get_ok("/user/teams", &alice).await;
    assert_eq!(mine.as_array().unwrap().len(), 2);
    assert!(
        mine.as_array()
            .unwrap()
            .iter()
            .all(|t| t["role"] == "admin")
    );

    // The creator is the team's admin, and the team has its default workflow.
    let members = app
        .get_ok(&format!("/teams/{eng_id}/members"), &alice)
        .await;
    assert_eq!(members.as_array().unwrap().len(), 1);
    assert_eq!(members[0]["user_id"], alice.id.as_str());
    assert_eq!(members[0]["role"], "admin");
    assert_eq!(members[0]["user"]["username"], "alice");
    let wfs = app
        .get_ok(&format!("/workflows?team_id={eng_id}"), &alice)
        .await;
    assert_eq!(wfs.as_array().unwrap().len(), 1);
    assert_eq!(wfs[0]["is_default"], true);
    let names: Vec<&str> = wfs[0]["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Triage",
            "Backlog",
            "Todo",
            "In Progress",
            "Done",
            "Canceled"
        ]
    );

    // Update: absent fields stay, null clears.
    let changed = app
        .put(
            &format!("/teams/{eng_id}"),
            json!({"name": "Platform", "team_key": "plat", "description": null, "is_private": true}),
            alice.t(),
        )
        .await
        .ok();
    assert_eq!(changed["name"], "Platform");
    assert_eq!(changed["team_key"], "PLAT");
    assert!(changed["description"].is_null());
    assert_eq!(changed["icon_url"], "https://example.com/eng.png");
    assert_eq!(changed["is_private"], true);
    let changed = app
        .put(
            &format!("/teams/{eng_id}"),
            json!({"icon_url": ""}),
            alice.t(),
        )
        .await
        .ok();
    assert!(changed["icon_url"].is_null());
    assert_eq!(changed["name"], "Platform");

    // Delete: the team, its members and workflows go.
    let wf_id = id(&wfs[0]);
    app.delete(&format!("/teams/{eng_id}"), alice.t())
        .await
        .ok();
    app.get(&format!("/teams/{eng_id}"), alice.t())
        .await
        .err(404, "NOT_FOUND");
    app.get(&format!("/workflows/{wf_id}"), alice.t())
        .await
        .err(404, "NOT_FOUND");
    app.delete(&format!("/teams/{eng_id}"), alice.t())
        .await
        .err(404, "NOT_FOUND");
    assert_eq!(
        app.get_ok("/user/teams", &alice)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Every change is in the log.
    let log = app.get_ok("/sync/delta?limit=1000", &alice).await;
    let team_entries: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "team" && c["entity_id"] == eng_id.as_str())
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(team_entries, ["create", "update", "update", "delete"]);
}

async fn team_input_lists_every_field(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    let r = app
        .post(
            "/teams",
            json!({"name": "", "team_key": "e", "description": "x".repeat(10_001), "icon_url": "ftp://x"}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["name", "team_key", "description", "icon_url"]);
    assert_eq!(r.body["code"], 422);
    // Missing fields are named too.
    let r = app.post("/teams", json!({}), alice.t()).await;
    assert_eq!(fields(&r), ["name", "team_key"]);
    for bad in ["1AB", "ABCDEFGHIJK", "A-B", "É1", " "] {
        let r = app
            .post("/teams", json!({"name": "T", "team_key": bad}), alice.t())
            .await;
        assert_eq!(fields(&r), ["team_key"], "{bad}");
    }
    // Wrong JSON types are the envelope's 422, not a framework text body.
    let r = app
        .post("/teams", json!({"name": 5, "team_key": "AB"}), alice.t())
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["success"], false);

    let web = app
        .post_ok("/teams", json!({"name": "Web", "team_key": "WEB2"}), &alice)
        .await;
    assert_eq!(web["team_key"], "WEB2");
    // A taken key, in any case, is 409 on create and on update.
    app.post(
        "/teams",
        json!({"name": "Web again", "team_key": "web2"}),
        alice.t(),
    )
    .await
    .err(409, "TEAM_KEY_EXISTS");
    let first = app.first_team(&alice).await;
    app.put(
        &format!("/teams/{}", id(&first)),
        json!({"team_key": "WEB2"}),
        alice.t(),
    )
    .await
    .err(409, "TEAM_KEY_EXISTS");
    let r = app
        .put(
            &format!("/teams/{}", id(&web)),
            json!({"name": "", "team_key": "x", "icon_url": "nope"}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["name", "team_key", "icon_url"]);
    // The same key in another workspace is fine.
    let bob = app.register("bob").await;
    app.post_ok("/teams", json!({"name": "Web", "team_key": "WEB2"}), &bob)
        .await;
    // Malformed and unknown ids are 404.
    app.get("/teams/not-a-uuid", alice.t())
        .await
        .err(404, "NOT_FOUND");
    app.get(&format!("/teams/{}", uuid::Uuid::now_v7()), alice.t())
        .await
        .err(404, "NOT_FOUND");
    // Without a token: 401.
    assert_eq!(app.get("/teams", None).await.status, 401);
}

async fn team_key_burst_has_one_winner(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    let attempts = (0..12).map(|i| {
        app.post(
            "/teams",
            json!({"name": format!("Race {i}"), "team_key": "RACE"}),
            alice.t(),
        )
    });
    let answers = futures::future::join_all(attempts).await;
    let created = answers.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != 201) {
        r.err(409, "TEAM_KEY_EXISTS");
    }
    let teams = app.get_ok("/teams", &alice).await;
    assert_eq!(
        teams
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["team_key"] == "RACE")
            .count(),
        1
    );
    // Nothing half-written: exactly one more default workflow.
    assert_eq!(
        app.get_ok("/workflows", &alice)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn other_workspace_teams_are_not_found(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let theirs = app.first_team(&alice).await;
    let t = id(&theirs);
    let mine = id(&app.first_team(&bob).await);

    assert!(
        !app.get_ok("/teams", &bob)
            .await
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == t.as_str())
    );
    assert!(
        !app.get_ok("/user/teams", &bob)
            .await
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == t.as_str())
    );
    app.get(&format!("/teams/{t}"), bob.t())
        .await
        .err(404, "NOT_FOUND");
    app.put(&format!("/teams/{t}"), json!({"name": "Mine"}), bob.t())
        .await
        .err(404, "NOT_FOUND");
    app.delete(&format!("/teams/{t}"), bob.t())
        .await
        .err(404, "NOT_FOUND");
    app.get(&format!("/teams/{t}/members"), bob.t())
        .await
        .err(404, "NOT_FOUND");
    app.post(
        &format!("/teams/{t}/members"),
        json!({"user_id": bob.id, "role": "admin"}),
        bob.t(),
    )
    .await
    .err(404, "NOT_FOUND");
    app.put(
        &format!("/teams/{t}/members/{}", alice.id),
        json!({"role": "member"}),
        bob.t(),
    )
    .await
    .err(404, "NOT_FOUND");
    app.delete(&format!("/teams/{t}/members/{}", alice.id), bob.t())
        .await
        .err(404, "NOT_FOUND");
    // Alice is no member of Bob's workspace: naming her in a body is 422, like a missing id.
    let r = app
        .post(
            &format!("/teams/{mine}/members"),
            json!({"user_id": alice.id}),
            bob.t(),
        )
        .await;
    assert_eq!(fields(&r), ["user_id"]);
    assert_eq!(r.body["errors"][0]["code"], "not_found");
    let r = app
        .post(
            &format!("/teams/{mine}/members"),
            json!({"user_id": uuid::Uuid::now_v7()}),
            bob.t(),
        )
        .await;
    assert_eq!(fields(&r), ["user_id"]);
    let r = app
        .post(
            &format!("/teams/{mine}/members"),
            json!({"user_id": "nope", "role": "owner"}),
            bob.t(),
        )
        .await;
    assert_eq!(fields(&r), ["user_id", "role"]);
    // Alice's team is untouched.
    assert_eq!(app.get_ok(&format!("/teams/{t}"), &alice).await, theirs);
    assert_eq!(
        app.get_ok(&format!("/teams/{t}/members"), &alice)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn roles_decide_who_manages_teams_and_members(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    join(&app, &alice, &bob, "member").await;
    join(&app, &alice, &carol, "guest").await;
    let eng = id(&app.first_team(&alice).await);

    // Guests read but never write.
    assert_eq!(
        app.get_ok("/teams", &carol).await.as_array().unwrap().len(),
        1
    );
    app.post("/teams", json!({"name": "G", "team_key": "GG"}), carol.t())
        .await
        .err(403, "FORBIDDEN");
    // Members create teams and are their admins; they cannot delete them.
    let bobs = app
        .post_ok("/teams", json!({"name": "Bob's", "team_key": "BOB"}), &bob)
        .await;
    let bobs = id(&bobs);
    app.put(
        &format!("/teams/{bobs}"),
        json!({"name": "Bob's team"}),
        bob.t(),
    )
    .await
    .ok();
    app.delete(&format!("/teams/{bobs}"), bob.t())
        .await
        .err(403, "FORBIDDEN");
    // A team Bob is not an admin of: he reads it, and may not change it or its members.
    app.get_ok(&format!("/teams/{eng}"), &bob).await;
    app.put(&format!("/teams/{eng}"), json!({"name": "X"}), bob.t())
        .await
        .err(403, "FORBIDDEN");
    app.post(
        &format!("/teams/{eng}/members"),
        json!({"user_id": bob.id}),
        bob.t(),
    )
    .await
    .err(403, "FORBIDDEN");

    // Alice (workspace owner) adds Bob as a member; twice is 409.
    let m = app
        .post(
            &format!("/teams/{eng}/members"),
            json!({"user_id": bob.id, "role": "member"}),
            alice.t(),
        )
        .await;
    assert_eq!(m.status, 201, "{}", m.body);
    let m = m.ok();
    assert_eq!(m["role"], "member");
    assert_eq!(m["user"]["username"], "bob");
    app.post(
        &format!("/teams/{eng}/members"),
        json!({"user_id": bob.id, "role": "admin"}),
        alice.t(),
    )
    .await
    .err(409, "ALREADY_MEMBER");
    // A team member who is not its admin still cannot manage it.
    app.post(
        &format!("/teams/{eng}/members"),
        json!({"user_id": carol.id}),
        bob.t(),
    )
    .await
    .err(403, "FORBIDDEN");
    let r = app
        .put(
            &format!("/teams/{eng}/members/{}", bob.id),
            json!({"role": "boss"}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["role"]);
    let promoted = app
        .put(
            &format!("/teams/{eng}/members/{}", bob.id),
            json!({"role": "Admin"}),
            alice.t(),
        )
        .await
        .ok();
    assert_eq!(promoted["role"], "admin");
    // Now Bob manages the team: adds the guest Carol, renames the team.
    app.post_ok(
        &format!("/teams/{eng}/members"),
        json!({"user_id": carol.id}),
        &bob,
    )
    .await;
    app.put(
        &format!("/teams/{eng}"),
        json!({"description": "Ours"}),
        bob.t(),
    )
    .await
    .ok();
    let mine = app.get_ok("/user/teams", &bob).await;
    let roles: Vec<(String, String)> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (id(t), t["role"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        roles,
        [
            (eng.clone(), "admin".into()),
            (bobs.clone(), "admin".into())
        ]
    );
    // A guest team member still cannot manage the team, but may leave it.
    app.put(
        &format!("/teams/{eng}/members/{}", carol.id),
        json!({"role": "admin"}),
        carol.t(),
    )
    .await
    .err(403, "FORBIDDEN");
    app.delete(&format!("/teams/{eng}/members/{}", carol.id), carol.t())
        .await
        .ok();
    app.delete(&format!("/teams/{eng}/members/{}", carol.id), alice.t())
        .await
        .err(404, "NOT_FOUND");
    app.put(
        &format!("/teams/{eng}/members/{}", carol.id),
        json!({"role": "admin"}),
        alice.t(),
    )
    .await
    .err(404, "NOT_FOUND");
    // The workspace owner deletes Bob's team.
    app.delete(&format!("/teams/{bobs}"), alice.t()).await.ok();
    let log = app.get_ok("/sync/delta?limit=1000", &alice).await;
    let member_actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "team_member" && c["entity_id"] == carol.id.as_str())
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(member_actions, ["create", "delete"]);
}

async fn private_teams_show_to_members_and_admins_only(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let dave = app.register("dave").await;
    join(&app, &alice, &bob, "member").await;
    join(&app, &alice, &dave, "admin").await;
    let sec = app
        .post_ok(
            "/teams",
            json!({"name": "Security", "team_key": "SEC", "is_private": true}),
            &alice,
        )
        .await;
    let sec = id(&sec);
    let wf = app.get_ok(&format!("/teams/{sec}/workflows"), &alice).await;
    let wf = id(&wf[0]);

    // Bob is not a member: the team does not exist for him.
    let has = |list: &Value, x: &str| list.as_array().unwrap().iter().any(|t| t["id"] == x);
    assert!(!has(&app.get_ok("/teams", &bob).await, &sec));
    assert!(!has(&app.get_ok("/workflows", &bob).await, &wf));
    for path in [
        format!("/teams/{sec}"),
        format!("/teams/{sec}/members"),
        format!("/teams/{sec}/workflows"),
        format!("/workflows/{wf}"),
        format!("/workflows/{wf}/states"),
        format!("/workflows/{wf}/transitions"),
    ] {
        app.get(&path, bob.t()).await.err(404, "NOT_FOUND");
    }
    let r = app
        .post(
            "/workflows",
            json!({"team_id": sec, "name": "Sneaky"}),
            bob.t(),
        )
        .await;
    assert_eq!(fields(&r), ["team_id"]);
    // Dave, a workspace admin, sees it without being a member.
    assert!(has(&app.get_ok("/teams", &dave).await, &sec));
    app.get_ok(&format!("/workflows/{wf}"), &dave).await;
    // Once Bob is added, he sees it (as a member, not an admin).
    app.post_ok(
        &format!("/teams/{sec}/members"),
        json!({"user_id": bob.id}),
        &dave,
    )
    .await;
    assert!(has(&app.get_ok("/teams", &bob).await, &sec));
    assert!(has(&app.get_ok("/user/teams", &bob).await, &sec));
    app.get_ok(&format!("/workflows/{wf}/states"), &bob).await;
    // Leaving hides it again.
    app.delete(&format!("/teams/{sec}/members/{}", bob.id), bob.t())
        .await
        .ok();
    app.get(&format!("/teams/{sec}"), bob.t())
        .await
        .err(404, "NOT_FOUND");
}
