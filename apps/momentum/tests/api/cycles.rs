//! Cycles: CRUD with statuses from dates relative to today, no overlap within a team (a
//! concurrent burst makes exactly one), issue membership, stats by state category,
//! completion rolling unfinished issues into the next cycle, guests read only, and another
//! workspace's cycles, teams and issues out of reach.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::harness::{TestApp, User, ids};
use trellis_kernel::testing::Backend;

trellis_kernel::backend_tests!(
    crud_with_status_from_dates,
    bad_input_lists_every_field,
    overlapping_cycles_are_refused,
    a_concurrent_burst_creates_one_cycle,
    another_workspace_is_out_of_reach,
    guests_read_but_do_not_change,
    issues_join_and_leave,
    issues_must_belong_to_the_team_and_workspace,
    stats_count_by_state_category,
    completion_rolls_unfinished_issues_over,
    deleting_a_cycle_releases_its_issues,
);

/// A server without the per-user write limit (these tests write in bursts).
async fn spawn(b: Backend) -> TestApp {
    TestApp::with(b, &[("RATE_LIMIT_PER_SECOND", "0")]).await
}

/// Today (UTC) moved by `days`, as `YYYY-MM-DD`.
fn day(days: i64) -> String {
    (Utc::now().date_naive() + Duration::days(days)).to_string()
}

fn fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn cycle(app: &TestApp, u: &User, team: &str, name: &str, from: i64, to: i64) -> Value {
    let r = app
        .post(
            "/cycles",
            json!({"team_id": team, "name": name, "start_date": day(from), "end_date": day(to)}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.ok()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

async fn crud_with_status_from_dates(b: Backend) {
    let app = spawn(b).await;
    let u = app.register("hal").await;
    let team = app.first_team_id(&u).await;
    let planned = cycle(&app, &u, &team, "Next", 10, 23).await;
    let past = cycle(&app, &u, &team, "Last", -20, -7).await;
    let active = cycle(&app, &u, &team, "Now", -3, 3).await;
    assert_eq!(past["status"], "completed");
    assert_eq!(active["status"], "active");
    assert_eq!(planned["status"], "planned");
    assert_eq!(active["start_date"], day(-3));
    assert_eq!(active["end_date"], day(3));
    assert_eq!(active["team_id"], json!(team));
    assert!(active["completed_at"].is_null());
    // A cycle may last one day.
    let today = cycle(&app, &u, &team, "Today", 4, 4).await;
    assert_eq!(today["status"], "planned");

    let list = app.get_ok(&format!("/cycles?team_id={team}"), &u).await;
    assert_eq!(ids(&list), ids(&json!([past, active, today, planned])));
    let all = app.get_ok("/cycles", &u).await;
    assert_eq!(ids(&all), ids(&list));
    let only = app.get_ok("/cycles?status=active", &u).await;
    assert_eq!(ids(&only), [id(&active)]);
    let only = app.get_ok("/cycles?status=Planned", &u).await;
    assert_eq!(ids(&only), ids(&json!([today, planned])));
    let statuses = app
        .post("/cycles/auto-update-status", json!({}), u.t())
        .await
        .ok();
    assert_eq!(ids(&statuses), ids(&list));
    assert_eq!(statuses[1]["status"], "active");

    let got = app.get_ok(&format!("/cycles/{}", id(&active)), &u).await;
    assert_eq!(got["name"], "Now");
    let r = app
        .put(
            &format!("/cycles/{}", id(&active)),
            json!({"name": "Sprint 7", "description": "The **plan**", "goal": "Ship it"}),
            u.t(),
        )
        .await
        .ok();
    assert_eq!(r["name"], "Sprint 7");
    assert_eq!(r["description"], "The **plan**");
    assert_eq!(r["goal"], "Ship it");
    assert_eq!(r["start_date"], day(-3));
    let r = app
        .put(
            &format!("/cycles/{}", id(&active)),
            json!({"goal": null, "end_date": day(2)}),
            u.t(),
        )
        .await
        .ok();
    assert!(r["goal"].is_null());
    assert_eq!(r["description"], "The **plan**");
    assert_eq!(r["end_date"], day(2));
    // Moving a planned cycle into the past changes its status.
    let r = app
        .put(
            &format!("/cycles/{}", id(&today)),
            json!({"start_date": day(-5), "end_date": day(-4)}),
            u.t(),
        )
        .await
        .ok();
    assert_eq!(r["status"], "completed");

    let d = app
        .delete(&format!("/cycles/{}", id(&planned)), u.t())
        .await
        .ok();
    assert_eq!(d["id"], planned["id"]);
    app.get(&format!("/cycles/{}", id(&planned)), u.t())
        .await
        .err(404, "NOT_FOUND");
    app.delete(&format!("/cycles/{}", id(&planned)), u.t())
        .await
        .err(404, "NOT_FOUND");
    // Every change was logged as a `cycle` entry.
    let actions: Vec<String> = app
        .changes(&u)
        .await
        .iter()
        .filter(|c| c["entity"] == "cycle")
        .map(|c| c["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "create", "create", "create", "create", "update", "update", "update", "delete"
        ]
    );
}

async fn bad_input_lists_every_field(b: Backend) {
    let app = spawn(b).await;
    let u = app.register("ida").await;
    let team = app.first_team_id(&u).await;
    let r = app.post("/cycles", json!({}), u.t()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        fields(&r.body),
        ["team_id", "name", "start_date", "end_date"]
    );
    let r = app
        .post(
            "/cycles",
            json!({"team_id": "nope", "name": "x".repeat(256), "start_date": "2026-02-30",
                   "end_date": "tomorrow", "description": "d".repeat(10_001)}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        fields(&r.body),
        ["team_id", "name", "start_date", "end_date", "description"]
    );
    // The end before the start: both dates listed.
    let r = app
        .post(
            "/cycles",
            json!({"team_id": team, "name": "Backwards", "start_date": day(5), "end_date": day(4)}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["start_date", "end_date"]);
    // A well-formed id of no team: 422 `team_id`.
    let r = app
        .post(
            "/cycles",
            json!({"team_id": "0190a000-0000-7000-8000-000000000001", "name": "X",
                   "start_date": day(1), "end_date": day(2)}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["team_id"]);
    assert_eq!(r.body["errors"][0]["code"], "not_found");
    let r = app.get("/cycles?status=done", u.t()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["status"]);
    app.get("/cycles?team_id=nope", u.t())
        .await
        .err(404, "NOT_FOUND");
    app.get("/cycles/nope", u.t()).await.err(404, "NOT_FOUND");

    let c = cycle(&app, &u, &team, "Fine", 1, 7).await;
    let path = format!("/cycles/{}", id(&c));
    let r = app.put(&path, json!({"end_date": day(0)}), u.t()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["start_date", "end_date"]);
    let r = app
        .put(
            &path,
            json!({"name": "", "start_date": "x", "goal": "g".repeat(10_001)}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["name", "start_date", "goal"]);
    // Nothing changed.
    let got = app.get_ok(&path, &u).await;
    assert_eq!(got["name"], "Fine");
    assert_eq!(got["end_date"], day(7));
    // Membership bodies: every bad id listed by index, an empty list refused.
    let r = app
        .post(
            &format!("{path}/issues"),
            json!({"issue_ids": ["a", id(&c), "b"]}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        fields(&r.body),
        ["issue_ids[0]", "issue_ids[1]", "issue_ids[2]"]
    );
    let r = app
        .post(&format!("{path}/issues"), json!({"issue_ids": []}), u.t())
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["issue_ids"]);
    let r = app.delete(&format!("{path}/issues"), u.t()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["issue_ids"]);
}

async fn overlapping_cycles_are_refused(b: Backend) {
    let app = spawn(b).await;
    let u = app.register("jon").await;
    let team = app.first_team_id(&u).await;
    let a = cycle(&app, &u, &team, "A", 0, 6).await;
    for (from, to) in [(0, 6), (-3, 0), (6, 10), (2, 3), (-10, 20)] {
        let r = app
            .post(
                "/cycles",
                json!({"team_id": team, "name": "B", "start_date": day(from), "end_date": day(to)}),
                u.t(),
            )
            .await;
        r.err(409, "CYCLE_OVERLAP");
    }
    let b_ = cycle(&app, &u, &team, "B", 7, 13).await;
    let _before = cycle(&app, &u, &team, "Before", -7, -1).await;
    // Moving B onto A is refused too; moving it later is fine.
    app.put(
        &format!("/cycles/{}", id(&b_)),
        json!({"start_date": day(6)}),
        u.t(),
    )
    .await
    .err(409, "CYCLE_OVERLAP");
    let moved = app
        .put(
            &format!("/cycles/{}", id(&b_)),
            json!({"start_date": day(8), "end_date": day(14)}),
            u.t(),
        )
        .await
        .ok();
    assert_eq!(moved["start_date"], day(8));
    // A cycle may keep its own dates when edited.
    app.put(
        &format!("/cycles/{}", id(&a)),
        json!({"start_date": day(0), "name": "A2"}),
        u.t(),
    )
    .await
    .ok();
    // Another team (here: another workspace's) may use the same dates.
    let other = app.register("kim").await;
    let oteam = app.first_team_id(&other).await;
    cycle(&app, &other, &oteam, "Same days", 0, 6).await;
    assert_eq!(app.get_ok("/cycles", &u).await.as_array().unwrap().len(), 3);
}

async fn a_concurrent_burst_creates_one_cycle(b: Backend) {
    let app = spawn(b).await;
    let u = app.register("lou").await;
    let team = app.first_team_id(&u).await;
    let requests = (0..12).map(|i| {
        let body = json!({"team_id": team, "name": format!("Race {i}"),
                          "start_date": day(i % 3), "end_date": day(5 + i % 2)});
        let app = &app;
        let t = u.token.clone();
        async move { app.post("/cycles", body, Some(&t)).await }
    });
    let results = futures::future::join_all(requests).await;
    let won = results.iter().filter(|r| r.status == 201).count();
    for r in results.iter().filter(|r| r.status != 201) {
        r.err(409, "CYCLE_OVERLAP");
    }
    assert_eq!(won, 1);
    assert_eq!(app.get_ok("/cycles", &u).await.as_array().unwrap().len(), 1);
}

async fn another_workspace_is_out_of_reach(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("max").await;
    let bob = app.register("ned").await;
    let ateam = app.first_team_id(&alice).await;
    let bteam = app.first_team_id(&bob).await;
    let theirs = cycle(&app, &alice, &ateam, "Alice's", 0, 6).await;
    let tid = id(&theirs);
    let mine = cycle(&app, &bob, &bteam, "Bob's", 0, 6).await;

    for path in [
        format!("/cycles/{tid}"),
        format!("/cycles/{tid}/stats"),
        format!("/cycles/{tid}/issues"),
        format!("/cycles?team_id={ateam}"),
    ] {
        app.get(&path, bob.t()).await.err(404, "NOT_FOUND");
    }
    app.put(
        &format!("/cycles/{tid}"),
        json!({"name": "Bob's now"}),
        bob.t(),
    )
    .await
    .err(404, "NOT_FOUND");
    app.delete(&format!("/cycles/{tid}"), bob.t())
        .await
        .err(404, "NOT_FOUND");
    app.post(&format!("/cycles/{tid}/complete"), json!({}), bob.t())
        .await
        .err(404, "NOT_FOUND");
    let some = json!({"issue_ids": ["0190a000-0000-7000-8000-000000000001"]});
    app.post(&format!("/cycles/{tid}/issues"), some.clone(), bob.t())
        .await
        .err(404, "NOT_FOUND");
    app.call(
        reqwest::Method::DELETE,
        &format!("/cycles/{tid}/issues"),
        bob.t(),
        Some(some),
    )
    .await
    .err(404, "NOT_FOUND");
    let r = app
        .post(
            "/cycles",
            json!({"team_id": ateam, "name": "Into Alice's team", "start_date": day(20), "end_date": day(21)}),
            bob.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["team_id"]);
    assert_eq!(ids(&app.get_ok("/cycles", &bob).await), [id(&mine)]);
    assert_eq!(ids(&app.get_ok("/cycles", &alice).await), [tid]);
    let got = app.get_ok(&format!("/cycles/{tid}"), &alice).await;
    assert_eq!(got["name"], "Alice's");
    assert!(got["completed_at"].is_null());
}

async fn guests_read_but_do_not_change(b: Backend) {
    let app = spawn(b).await;
    let owner = app.register("oda").await;
    let team = app.first_team_id(&owner).await;
    let c = cycle(&app, &owner, &team, "Sprint", 0, 6).await;
    let cid = id(&c);
    let issue = app.create_issue(&owner, &team, "Work").await;
    let guest = app.join_workspace(&owner, "oguest", "guest").await;
    let member = app.join_workspace(&owner, "omember", "member").await;

    assert_eq!(ids(&app.get_ok("/cycles", &guest).await), [cid]);
    app.get_ok(&format!("/cycles/{cid}/stats"), &guest).await;
    app.get_ok(&format!("/cycles/{cid}/issues"), &guest).await;
    let body = json!({"team_id": team, "name": "G", "start_date": day(10), "end_date": day(11)});
    app.post("/cycles", body.clone(), guest.t())
        .await
        .err(403, "FORBIDDEN");
    app.put(&format!("/cycles/{cid}"), json!({"name": "G"}), guest.t())
        .await
        .err(403, "FORBIDDEN");
    let ids_body = json!({"issue_ids": [issue["id"]]});
    app.post(
        &format!("/cycles/{cid}/issues"),
        ids_body.clone(),
        guest.t(),
    )
    .await
    .err(403, "FORBIDDEN");
    app.call(
        reqwest::Method::DELETE,
        &format!("/cycles/{cid}/issues"),
        guest.t(),
        Some(ids_body.clone()),
    )
    .await
    .err(403, "FORBIDDEN");
    app.post(&format!("/cycles/{cid}/complete"), json!({}), guest.t())
        .await
        .err(403, "FORBIDDEN");
    app.delete(&format!("/cycles/{cid}"), guest.t())
        .await
        .err(403, "FORBIDDEN");
    // Members change cycles.
    let r = app.post("/cycles", body, member.t()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    app.post(&format!("/cycles/{cid}/issues"), ids_body, member.t())
        .await
        .ok();
    let got = app.get_ok(&format!("/cycles/{cid}"), &guest).await;
    assert_eq!(got["name"], "Sprint");
}

async fn issues_join_and_leave(b: Backend) {
    let app = spawn(b).await;
    let u = app.register("pia").await;
    let team = app.first_team_id(&u).await;
    let c1 = cycle(&app, &u, &team, "One", 0, 6).await;
    let c2 = cycle(&app, &u, &team, "Two", 7, 13).await;
    let (p1, p2) = (
        format!("/cycles/{}", id(&c1)),
        format!("/cycles/{}", id(&c2)),
    );
    let a = app.create_issue(&u, &team, "A").await;
    let b_ = app.create_issue(&u, &team, "B").await;
    let c = app.create_issue(&u, &team, "C").await;
    assert_eq!(app.get_ok(&format!("{p1}/issues"), &u).await, json!([]));

    let r = app
        .post(
            &format!("{p1}/issues"),
            json!({"issue_ids": [id(&a), id(&b_), id(&a)]}),
            u.t(),
        )
        .await
        .ok();
    assert_eq!(r["cycle_id"], c1["id"]);
    assert_eq!(r["issue_ids"], json!([id(&a), id(&b_)]));
    assert_eq!(r["changed_issue_ids"], json!([id(&a), id(&b_)]));
    let list = app.get_ok(&format!("{p1}/issues"), &u).await;
    let mut got = ids(&list);
    got.sort();
    let mut want = vec![id(&a).to_string(), id(&b_).to_string()];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(list[0]["cycle_id"], c1["id"]);
    assert!(list[0]["key"].as_str().unwrap().contains('-'));
    // Again: nothing changes.
    let r = app
        .post(
            &format!("{p1}/issues"),
            json!({"issue_ids": [id(&a)]}),
            u.t(),
        )
        .await
        .ok();
    assert_eq!(r["changed_issue_ids"], json!([]));
    // Adding to another cycle moves the issue.
    app.post(
        &format!("{p2}/issues"),
        json!({"issue_ids": [id(&b_), id(&c)]}),
        u.t(),
    )
    .await
    .ok();
    assert_eq!(
        ids(&app.get_ok(&format!("{p1}/issues"), &u).await),
        [id(&a)]
    );
    assert_eq!(
        app.get_ok(&format!("{p2}/issues"), &u)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Removing: the ids as a JSON body, or as a query; issues not in the cycle are left alone.
    let r = app
        .call(
            reqwest::Method::DELETE,
            &format!("{p2}/issues"),
            u.t(),
            Some(json!({"issue_ids": [id(&b_), id(&a)]})),
        )
        .await
        .ok();
    assert_eq!(r["changed_issue_ids"], json!([id(&b_)]));
    assert_eq!(
        ids(&app.get_ok(&format!("{p1}/issues"), &u).await),
        [id(&a)]
    );
    let r = app
        .delete(&format!("{p2}/issues?issue_ids={}", id(&c)), u.t())
        .await
        .ok();
    assert_eq!(r["changed_issue_ids"], json!([id(&c)]));
    assert_eq!(app.get_ok(&format!("{p2}/issues"), &u).await, json!([]));
    // Each move is an `issue` update in the log.
    let moved: Vec<Value> = app
        .changes(&u)
        .await
        .into_iter()
        .filter(|ch| ch["entity"] == "issue" && ch["action"] == "update")
        .collect();
    assert_eq!(moved.len(), 6, "{moved:?}");
    assert_eq!(moved[5]["entity_id"], c["id"]);
    assert!(moved[5]["data"]["cycle_id"].is_null());
}

async fn issues_must_belong_to_the_team_and_workspace(b: Backend) {
    let app = spawn(b).await;
    let u = app.register("quin").await;
    let team = app.first_team_id(&u).await;
    let c = cycle(&app, &u, &team, "One", 0, 6).await;
    let path = format!("/cycles/{}/issues", id(&c));
    let ok_issue = app.create_issue(&u, &team, "Ours").await;
    let other_team = app.create_team(&u, "Design", "DSN").await;
    let other_team_issue = app
        .create_issue(&u, other_team["id"].as_str().unwrap(), "Theirs")
        .await;
    let stranger = app.register("ray").await;
    let steam = app.first_team_id(&stranger).await;
    let foreign = app.create_issue(&stranger, &steam, "Elsewhere").await;
    let r = app
        .post(
            &path,
            json!({"issue_ids": [id(&ok_issue), id(&other_team_issue), "0190a000-0000-7000-8000-000000000001", id(&foreign)]}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        fields(&r.body),
        ["issue_ids[1]", "issue_ids[2]", "issue_ids[3]"]
    );
    // All or nothing: the good one did not join either.
    assert_eq!(app.get_ok(&path, &u).await, json!([]));
    let r = app
        .call(
            reqwest::Method::DELETE,
            &path,
            u.t(),
            Some(json!({"issue_ids": [id(&foreign)]})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["issue_ids[0]"]);
    // The stranger's issue is in no cycle of ours.
    app.post(&path, json!({"issue_ids": [id(&ok_issue)]}), u.t())
        .await
        .ok();
    assert_eq!(ids(&app.get_ok(&path, &u).await), [id(&ok_issue)]);
}

async fn stats_count_by_state_category(b: Backend) {
    let app = spawn(b).await;
    let u = app.register("sal").await;
    let team = app.first_team_id(&u).await;
    let states = app.state_ids(&u).await;
    let c = cycle(&app, &u, &team, "Stats", 0, 6).await;
    let empty = app.get_ok(&format!("/cycles/{}/stats", id(&c)), &u).await;
    assert_eq!(empty["total"], 0);
    assert_eq!(empty["by_category"]["started"]["count"], 0);
    let mut issue_ids = Vec::new();
    for (title, category, estimate) in [
        ("a", "backlog", 1.0),
        ("b", "started", 2.0),
        ("c", "started", 3.0),
        ("d", "completed", 5.0),
        ("e", "canceled", 8.0),
    ] {
        let i = app.create_issue(&u, &team, title).await;
        app.update_issue(
            &u,
            id(&i),
            json!({"workflow_state_id": states[category], "estimate": estimate}),
        )
        .await;
        issue_ids.push(id(&i).to_string());
    }
    // One issue without an estimate, and one outside the cycle.
    let plain = app.create_issue(&u, &team, "f").await;
    issue_ids.push(id(&plain).to_string());
    app.create_issue(&u, &team, "outside").await;
    app.post_ok(
        &format!("/cycles/{}/issues", id(&c)),
        json!({"issue_ids": issue_ids}),
        &u,
    )
    .await;
    let s = app.get_ok(&format!("/cycles/{}/stats", id(&c)), &u).await;
    assert_eq!(s["total"], 6);
    let by = &s["by_category"];
    assert_eq!(by["backlog"], json!({"count": 2, "estimate": 1.0}));
    assert_eq!(by["started"], json!({"count": 2, "estimate": 5.0}));
    assert_eq!(by["completed"], json!({"count": 1, "estimate": 5.0}));
    assert_eq!(by["canceled"], json!({"count": 1, "estimate": 8.0}));
    assert_eq!(by["triage"], json!({"count": 0, "estimate": 0.0}));
    assert_eq!(by["unstarted"]["count"], 0);
}

async fn completion_rolls_unfinished_issues_over(b: Backend) {
    let app = spawn(b).await;
    let u = app.register("tom").await;
    let team = app.first_team_id(&u).await;
    let states = app.state_ids(&u).await;
    let old = cycle(&app, &u, &team, "Old", -30, -20).await;
    let now = cycle(&app, &u, &team, "Now", -3, 3).await;
    let next = cycle(&app, &u, &team, "Next", 4, 10).await;
    let later = cycle(&app, &u, &team, "Later", 11, 17).await;
    let mut by_state = std::collections::HashMap::new();
    for category in ["backlog", "unstarted", "started", "completed", "canceled"] {
        let i = app.create_issue(&u, &team, category).await;
        app.update_issue(&u, id(&i), json!({"workflow_state_id": states[category]}))
            .await;
        by_state.insert(category, id(&i).to_string());
    }
    let all: Vec<&String> = by_state.values().collect();
    app.post_ok(
        &format!("/cycles/{}/issues", id(&now)),
        json!({"issue_ids": all}),
        &u,
    )
    .await;
    // The old cycle is over by its dates: it takes no issues.
    app.post(
        &format!("/cycles/{}/issues", id(&old)),
        json!({"issue_ids": [by_state["backlog"]]}),
        u.t(),
    )
    .await
    .err(409, "CYCLE_COMPLETED");

    let done = app
        .post(&format!("/cycles/{}/complete", id(&now)), json!({}), u.t())
        .await
        .ok();
    assert_eq!(done["cycle"]["status"], "completed");
    assert!(done["cycle"]["completed_at"].is_string());
    assert_eq!(done["next_cycle_id"], next["id"]);
    let mut moved: Vec<String> = done["moved_issue_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    moved.sort();
    let mut want = vec![
        by_state["backlog"].clone(),
        by_state["unstarted"].clone(),
        by_state["started"].clone(),
    ];
    want.sort();
    assert_eq!(moved, want);
    let mut in_next = ids(&app
        .get_ok(&format!("/cycles/{}/issues", id(&next)), &u)
        .await);
    in_next.sort();
    assert_eq!(in_next, want);
    let mut stayed = ids(&app
        .get_ok(&format!("/cycles/{}/issues", id(&now)), &u)
        .await);
    stayed.sort();
    let mut finished = vec![by_state["completed"].clone(), by_state["canceled"].clone()];
    finished.sort();
    assert_eq!(stayed, finished);
    let got = app.get_ok(&format!("/cycles/{}", id(&now)), &u).await;
    assert_eq!(got["status"], "completed");
    // Completed: not again, and its issues no longer change.
    app.post(&format!("/cycles/{}/complete", id(&now)), json!({}), u.t())
        .await
        .err(409, "CYCLE_COMPLETED");
    app.post(
        &format!("/cycles/{}/issues", id(&now)),
        json!({"issue_ids": [by_state["backlog"]]}),
        u.t(),
    )
    .await
    .err(409, "CYCLE_COMPLETED");
    // The last cycle, completed early: nothing to move, nowhere to go.
    let later_done = app
        .post(
            &format!("/cycles/{}/complete", id(&later)),
            json!({}),
            u.t(),
        )
        .await
        .ok();
    assert_eq!(later_done["moved_issue_ids"], json!([]));
    assert!(later_done["next_cycle_id"].is_null());
    // No open cycle after `next`: its unfinished issues leave any cycle.
    let last = app
        .post(&format!("/cycles/{}/complete", id(&next)), json!({}), u.t())
        .await
        .ok();
    assert!(last["next_cycle_id"].is_null());
    assert_eq!(last["moved_issue_ids"].as_array().unwrap().len(), 3);
    assert_eq!(
        app.get_ok(&format!("/cycles/{}/issues", id(&next)), &u)
            .await,
        json!([])
    );
    let issue = app.get_issue(&u, &by_state["started"]).await;
    assert!(issue["cycle_id"].is_null());
    // The rollover was logged: each moved issue, twice.
    let issue_updates = app
        .changes(&u)
        .await
        .iter()
        .filter(|c| c["entity"] == "issue" && c["entity_id"] == json!(by_state["started"]))
        .filter(|c| c["action"] == "update")
        .count();
    assert!(issue_updates >= 3, "{issue_updates}");
}

async fn deleting_a_cycle_releases_its_issues(b: Backend) {
    let app = spawn(b).await;
    let u = app.register("uma").await;
    let team = app.first_team_id(&u).await;
    let c = cycle(&app, &u, &team, "Gone", 0, 6).await;
    let i = app.create_issue(&u, &team, "Stays").await;
    app.post_ok(
        &format!("/cycles/{}/issues", id(&c)),
        json!({"issue_ids": [id(&i)]}),
        &u,
    )
    .await;
    let before = app.get_issue(&u, id(&i)).await;
    assert_eq!(before["cycle_id"], c["id"]);
    app.delete(&format!("/cycles/{}", id(&c)), u.t()).await.ok();
    let after = app.get_issue(&u, id(&i)).await;
    assert!(after["cycle_id"].is_null());
    let last_issue_change = app
        .changes(&u)
        .await
        .into_iter()
        .rfind(|ch| ch["entity"] == "issue" && ch["entity_id"] == i["id"])
        .unwrap();
    assert!(last_issue_change["data"]["cycle_id"].is_null());
    // The dates are free again.
    cycle(&app, &u, &team, "Again", 0, 6).await;
}
