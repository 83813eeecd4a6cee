//! `/projects`: a freshly registered user creates a project with a name and a key; CRUD with
//! the enriched view (status, owner, issue count); filters and offset pages; every bad
//! field listed at once; keys unique per workspace (also under a burst); the other
//! workspace's ids are 404 in paths and 422 in bodies; guests read only; deleting a project
//! keeps its issues.

use futures::future::join_all;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{Backend, Resp, TestApp, User, ids};

trellis_kernel::backend_tests!(
    fresh_user_creates_a_project_with_name_and_key,
    project_crud_with_enriched_view_and_change_log,
    project_list_filters_and_pages,
    project_errors_are_listed_together,
    project_keys_are_unique_under_a_burst,
    projects_of_another_workspace_are_invisible,
    guests_read_projects_only,
    deleting_a_project_keeps_its_issues,
);

/// The fields named by an error answer, in order.
pub fn fields(r: &Resp) -> Vec<String> {
    r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Asserts a 422 in the envelope and returns the fields it names.
pub fn invalid(r: &Resp) -> Vec<String> {
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["code"], 422, "{}", r.body);
    assert_eq!(r.body["success"], false, "{}", r.body);
    assert!(r.body["data"].is_null(), "{}", r.body);
    fields(r)
}

/// The caller's current workspace id.
pub async fn workspace_of(app: &TestApp, u: &User) -> Uuid {
    let p = app.get_ok("/auth/profile", u).await;
    p["current_workspace_id"].as_str().unwrap().parse().unwrap()
}

/// Makes `u` a member of `owner`'s current workspace with `role` (invitation + acceptance,
/// which makes it `u`'s current workspace).
pub async fn join_as(app: &TestApp, owner: &User, u: &User, role: &str) {
    let ws = workspace_of(app, owner).await;
    crate::harness::join(app, owner, u, role).await;
    assert_eq!(workspace_of(app, u).await, ws);
}

/// Creates an issue in `u`'s first team (in `project_id` if given) through `POST /issues`;
/// returns its id.
pub async fn insert_issue(app: &TestApp, u: &User, project_id: Option<&str>, _number: i64) -> Uuid {
    let team = app.first_team(u).await["id"].clone();
    let mut body = json!({"title": "An issue", "team_id": team});
    if let Some(p) = project_id {
        body["project_id"] = json!(p);
    }
    app.post_ok("/issues", body, u).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The project of an issue, as `GET /issues/{id}` answers it.
async fn issue_project(app: &TestApp, u: &User, issue: Uuid) -> Option<Uuid> {
    app.get_ok(&format!("/issues/{issue}"), u).await["project_id"]
        .as_str()
        .map(|p| p.parse().unwrap())
}

/// The change-log entries of `entity` after `after`: `(action, entity_id)`.
pub async fn logged(app: &TestApp, u: &User, entity: &str, after: i64) -> Vec<(String, String)> {
    let list = app
        .get_ok(&format!("/sync/delta?after={after}&limit=1000"), u)
        .await;
    list.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == entity)
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                c["entity_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The newest `sync_id` the caller can see.
pub async fn last_sync(app: &TestApp, u: &User) -> i64 {
    let list = app.get_ok("/sync/delta?after=0&limit=1000", u).await;
    list.as_array()
        .unwrap()
        .last()
        .map_or(0, |c| c["sync_id"].as_i64().unwrap())
}

async fn status_id(app: &TestApp, u: &User, category: &str) -> String {
    let list = app.get_ok("/project-statuses", u).await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["category"] == category)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn fresh_user_creates_a_project_with_name_and_key(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("alice").await;
    let r = app
        .post(
            "/projects",
            json!({"name": "Launch", "project_key": "LAUNCH"}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let p = r.ok();
    assert_eq!(p["name"], "Launch");
    assert_eq!(p["project_key"], "LAUNCH");
    assert_eq!(p["priority"], "none");
    assert_eq!(p["status"]["category"], "backlog");
    assert_eq!(p["status"]["name"], "Backlog");
    assert_eq!(p["project_status_id"], p["status"]["id"]);
    assert_eq!(p["owner_id"], u.id.as_str());
    assert_eq!(p["owner"]["id"], u.id.as_str());
    assert_eq!(p["owner"]["username"], "alice");
    assert_eq!(p["owner"]["name"], "ALICE");
    assert_eq!(p["issue_count"], 0);
    assert!(p["description"].is_null() && p["target_date"].is_null());
    assert_eq!(
        p["workspace_id"],
        workspace_of(&app, &u).await.to_string().as_str()
    );
    // The original's "Issue"/"Project" casing and lower-case keys are accepted too.
    let p = app
        .post_ok(
            "/projects",
            json!({"name": "Web", "project_key": "web2"}),
            &u,
        )
        .await;
    assert_eq!(p["project_key"], "WEB2");
}

async fn project_crud_with_enriched_view_and_change_log(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("alice").await;
    let planned = status_id(&app, &u, "planned").await;
    let since = last_sync(&app, &u).await;
    let p = app
        .post_ok(
            "/projects",
            json!({"name": "  Mobile app ", "project_key": "MOB", "description": "iOS and Android",
                   "target_date": "2026-12-31", "project_status_id": planned, "priority": "High",
                   "owner_id": u.id, "roadmap": "2026"}),
            &u,
        )
        .await;
    let id = p["id"].as_str().unwrap().to_string();
    assert_eq!(p["name"], "Mobile app");
    assert_eq!(p["target_date"], "2026-12-31");
    assert_eq!(p["priority"], "high");
    assert_eq!(p["roadmap"], "2026");
    assert_eq!(p["status"]["id"], planned.as_str());
    assert_eq!(p["status"]["category"], "planned");
    assert!(p["status"]["color"].as_str().unwrap().starts_with('#'));

    let got = app.get_ok(&format!("/projects/{id}"), &u).await;
    assert_eq!(got, p);

    // PUT: absent fields stay, null clears the nullable ones.
    let done = app
        .put(
            &format!("/projects/{id}"),
            json!({"name": "Mobile", "priority": "urgent", "description": null, "owner_id": null,
                   "target_date": "2027-01-15"}),
            u.t(),
        )
        .await
        .ok();
    assert_eq!(done["name"], "Mobile");
    assert_eq!(done["project_key"], "MOB");
    assert_eq!(done["priority"], "urgent");
    assert!(done["description"].is_null());
    assert!(done["owner"].is_null() && done["owner_id"].is_null());
    assert_eq!(done["target_date"], "2027-01-15");
    assert_eq!(done["roadmap"], "2026");
    assert_eq!(done["status"]["id"], planned.as_str());
    let done = app
        .put(
            &format!("/projects/{id}"),
            json!({"owner_id": u.id, "project_key": "MOBILE", "roadmap": null}),
            u.t(),
        )
        .await
        .ok();
    assert_eq!(done["owner"]["id"], u.id.as_str());
    assert_eq!(done["project_key"], "MOBILE");
    assert!(done["roadmap"].is_null());
    assert_eq!(app.get_ok(&format!("/projects/{id}"), &u).await, done);

    // Another project cannot take the key.
    let other = app
        .post_ok(
            "/projects",
            json!({"name": "Other", "project_key": "OTH"}),
            &u,
        )
        .await;
    app.put(
        &format!("/projects/{}", other["id"].as_str().unwrap()),
        json!({"project_key": "mobile"}),
        u.t(),
    )
    .await
    .err(409, "PROJECT_KEY_EXISTS");

    app.delete(&format!("/projects/{id}"), u.t()).await.ok();
    app.get(&format!("/projects/{id}"), u.t())
        .await
        .err(404, "NOT_FOUND");
    app.delete(&format!("/projects/{id}"), u.t())
        .await
        .err(404, "NOT_FOUND");
    app.put(&format!("/projects/{id}"), json!({"name": "x"}), u.t())
        .await
        .err(404, "NOT_FOUND");
    app.get("/projects/not-a-uuid", u.t())
        .await
        .err(404, "NOT_FOUND");

    // One change-log entry per mutation.
    let log = logged(&app, &u, "project", since).await;
    let actions: Vec<&str> = log.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["create", "update", "update", "create", "delete"],
        "{log:?}"
    );
    assert!(log.iter().all(|(_, e)| *e == id || *e == other["id"]));
}

async fn project_list_filters_and_pages(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("alice").await;
    let m = app.register("mia").await;
    join_as(&app, &u, &m, "member").await;
    let planned = status_id(&app, &u, "planned").await;
    let mut made = Vec::new();
    for (i, (prio, status, owner)) in [
        ("high", None, &u),
        ("low", Some(&planned), &m),
        ("high", Some(&planned), &u),
        ("none", None, &m),
        ("urgent", None, &u),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = json!({"name": format!("Project {i}"), "project_key": format!("P{i}"),
                              "priority": prio, "owner_id": owner.id});
        if let Some(s) = status {
            body["project_status_id"] = json!(s);
        }
        if i == 4 {
            body["description"] = json!("Contains the Needle_word");
        }
        made.push(app.post_ok("/projects", body, &u).await["id"].clone());
    }
    // Newest first, 2 per page.
    let r = app.get("/projects?per_page=2", u.t()).await;
    let meta = r.body["meta"]["pagination"].clone();
    let page = r.ok();
    assert_eq!(
        ids(&page),
        [made[4].as_str().unwrap(), made[3].as_str().unwrap()]
    );
    assert_eq!(
        meta,
        json!({"page": 1, "per_page": 2, "total": 5, "total_pages": 3, "has_next": true, "has_prev": false})
    );
    let r = app.get("/projects?per_page=2&page=3", u.t()).await;
    assert_eq!(r.body["meta"]["pagination"]["has_next"], false);
    assert_eq!(r.body["meta"]["pagination"]["has_prev"], true);
    assert_eq!(ids(&r.ok()), [made[0].as_str().unwrap()]);
    let r = app.get("/projects?page=9", u.t()).await;
    assert_eq!(r.body["meta"]["pagination"]["total"], 5);
    assert_eq!(r.ok(), json!([]));
    // Default page size, every project enriched.
    let all = app.get_ok("/projects", &u).await;
    assert_eq!(all.as_array().unwrap().len(), 5);
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"]["id"].is_string()
                && p["owner"]["id"] == p["owner_id"]
                && p["issue_count"] == 0)
    );

    let q = |s: &str| format!("/projects?{s}");
    let high = app.get_ok(&q("priority=HIGH"), &u).await;
    assert_eq!(
        ids(&high),
        [made[2].as_str().unwrap(), made[0].as_str().unwrap()]
    );
    let by_status = app.get_ok(&q(&format!("status_id={planned}")), &u).await;
    assert_eq!(
        ids(&by_status),
        [made[2].as_str().unwrap(), made[1].as_str().unwrap()]
    );
    let by_owner = app.get_ok(&q(&format!("owner_id={}", m.id)), &u).await;
    assert_eq!(
        ids(&by_owner),
        [made[3].as_str().unwrap(), made[1].as_str().unwrap()]
    );
    let both = app
        .get_ok(&q(&format!("owner_id={}&priority=low", m.id)), &u)
        .await;
    assert_eq!(ids(&both), [made[1].as_str().unwrap()]);
    // Search: name, key or description, any case, wildcards literal.
    assert_eq!(
        ids(&app.get_ok(&q("search=project%203"), &u).await),
        [made[3].as_str().unwrap()]
    );
    assert_eq!(
        ids(&app.get_ok(&q("search=p2"), &u).await),
        [made[2].as_str().unwrap()]
    );
    assert_eq!(
        ids(&app.get_ok(&q("search=needle_w"), &u).await),
        [made[4].as_str().unwrap()]
    );
    assert_eq!(app.get_ok(&q("search=%25"), &u).await, json!([]));
    // The member sees the same list.
    assert_eq!(
        app.get_ok("/projects", &m).await.as_array().unwrap().len(),
        5
    );
}

async fn project_errors_are_listed_together(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("alice").await;
    let stranger = app.register("sam").await;
    let r = app
        .post(
            "/projects",
            json!({"name": "", "project_key": "x", "target_date": "2026-02-30", "priority": "asap",
                   "project_status_id": "nope", "owner_id": "zzz", "description": "a".repeat(10_001),
                   "roadmap": "r".repeat(256)}),
            u.t(),
        )
        .await;
    invalid(&r);
    assert_eq!(
        fields(&r),
        [
            "name",
            "project_key",
            "description",
            "target_date",
            "priority",
            "roadmap",
            "project_status_id",
            "owner_id"
        ]
    );
    let r = app.post("/projects", json!({}), u.t()).await;
    invalid(&r);
    assert_eq!(fields(&r), ["name", "project_key"]);
    // Well-formed ids that are nobody's, or a user who is not a member: 422 on the field.
    let r = app
        .post(
            "/projects",
            json!({"name": "A", "project_key": "AAA", "project_status_id": Uuid::now_v7(),
                   "owner_id": stranger.id}),
            u.t(),
        )
        .await;
    invalid(&r);
    assert_eq!(fields(&r), ["project_status_id", "owner_id"]);
    assert_eq!(r.body["errors"][0]["code"], "not_found");
    // Duplicate key.
    app.post_ok("/projects", json!({"name": "A", "project_key": "AAA"}), &u)
        .await;
    app.post(
        "/projects",
        json!({"name": "B", "project_key": "aaa"}),
        u.t(),
    )
    .await
    .err(409, "PROJECT_KEY_EXISTS");
    // PUT lists every bad field too.
    let p = app
        .post_ok("/projects", json!({"name": "C", "project_key": "CCC"}), &u)
        .await;
    let r = app
        .put(
            &format!("/projects/{}", p["id"].as_str().unwrap()),
            json!({"name": " ", "project_key": "1AB", "target_date": "tomorrow", "priority": 3,
                   "owner_id": stranger.id}),
            u.t(),
        )
        .await;
    // A wrong JSON type is the body's first problem (serde stops there).
    assert_eq!(r.status, 422, "{}", r.body);
    let r = app
        .put(
            &format!("/projects/{}", p["id"].as_str().unwrap()),
            json!({"name": " ", "project_key": "1AB", "target_date": "tomorrow", "priority": "p1",
                   "owner_id": stranger.id, "project_status_id": "x"}),
            u.t(),
        )
        .await;
    invalid(&r);
    assert_eq!(
        fields(&r),
        [
            "name",
            "project_key",
            "target_date",
            "priority",
            "project_status_id",
            "owner_id"
        ]
    );
    // Query parameters too.
    let r = app
        .get(
            "/projects?page=0&per_page=1000&priority=x&status_id=bad&owner_id=1",
            u.t(),
        )
        .await;
    invalid(&r);
    assert_eq!(
        fields(&r),
        ["status_id", "owner_id", "priority", "page", "per_page"]
    );
}

async fn project_keys_are_unique_under_a_burst(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("alice").await;
    let results = join_all((0..12).map(|i| {
        app.post(
            "/projects",
            json!({"name": format!("Race {i}"), "project_key": "RACE"}),
            u.t(),
        )
    }))
    .await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses[0], 201, "{statuses:?}");
    assert!(statuses[1..].iter().all(|s| *s == 409), "{statuses:?}");
    for r in results.iter().filter(|r| r.status == 409) {
        r.err(409, "PROJECT_KEY_EXISTS");
    }
    assert_eq!(
        app.get_ok("/projects", &u).await.as_array().unwrap().len(),
        1
    );
}

async fn projects_of_another_workspace_are_invisible(b: Backend) {
    let app = TestApp::spawn(b).await;
    let a = app.register("alice").await;
    let bob = app.register("bob").await;
    let p = app
        .post_ok(
            "/projects",
            json!({"name": "Secret", "project_key": "SEC"}),
            &a,
        )
        .await;
    let path = format!("/projects/{}", p["id"].as_str().unwrap());
    app.get(&path, bob.t()).await.err(404, "NOT_FOUND");
    app.put(&path, json!({"name": "Mine"}), bob.t())
        .await
        .err(404, "NOT_FOUND");
    app.delete(&path, bob.t()).await.err(404, "NOT_FOUND");
    assert_eq!(app.get_ok("/projects", &bob).await, json!([]));
    // The same key is free in another workspace.
    let mine = app
        .post_ok(
            "/projects",
            json!({"name": "Bob's", "project_key": "SEC"}),
            &bob,
        )
        .await;
    // Alice's status or Alice herself in Bob's bodies: 422 naming the field.
    let alice_status = status_id(&app, &a, "planned").await;
    let r = app
        .post(
            "/projects",
            json!({"name": "X", "project_key": "XX", "project_status_id": alice_status, "owner_id": a.id}),
            bob.t(),
        )
        .await;
    invalid(&r);
    assert_eq!(fields(&r), ["project_status_id", "owner_id"]);
    let r = app
        .put(
            &format!("/projects/{}", mine["id"].as_str().unwrap()),
            json!({"project_status_id": alice_status}),
            bob.t(),
        )
        .await;
    invalid(&r);
    assert_eq!(fields(&r), ["project_status_id"]);
    // Filters by another workspace's ids find nothing.
    assert_eq!(
        app.get_ok(&format!("/projects?owner_id={}", a.id), &bob)
            .await,
        json!([])
    );
    // Alice's project is untouched.
    assert_eq!(app.get_ok(&path, &a).await["name"], "Secret");
}

async fn guests_read_projects_only(b: Backend) {
    let app = TestApp::spawn(b).await;
    let a = app.register("alice").await;
    let g = app.register("gus").await;
    let p = app
        .post_ok(
            "/projects",
            json!({"name": "Shared", "project_key": "SHR"}),
            &a,
        )
        .await;
    join_as(&app, &a, &g, "guest").await;
    let path = format!("/projects/{}", p["id"].as_str().unwrap());
    assert_eq!(ids(&app.get_ok("/projects", &g).await), ids(&json!([p])));
    assert_eq!(app.get_ok(&path, &g).await["name"], "Shared");
    app.post(
        "/projects",
        json!({"name": "G", "project_key": "GG"}),
        g.t(),
    )
    .await
    .err(403, "FORBIDDEN");
    app.put(&path, json!({"name": "G"}), g.t())
        .await
        .err(403, "FORBIDDEN");
    app.delete(&path, g.t()).await.err(403, "FORBIDDEN");
    // A missing project is 404, not 403.
    app.delete(&format!("/projects/{}", Uuid::now_v7()), g.t())
        .await
        .err(404, "NOT_FOUND");
    // A guest can be an owner (a member of the workspace).
    let done = app.put(&path, json!({"owner_id": g.id}), a.t()).await.ok();
    assert_eq!(done["owner"]["username"], "gus");
}

async fn deleting_a_project_keeps_its_issues(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("alice").await;
    let p = app
        .post_ok(
            "/projects",
            json!({"name": "Box", "project_key": "BOX"}),
            &u,
        )
        .await;
    let pid = p["id"].as_str().unwrap();
    let i1 = insert_issue(&app, &u, Some(pid), 1001).await;
    let i2 = insert_issue(&app, &u, Some(pid), 1002).await;
    assert_eq!(
        app.get_ok(&format!("/projects/{pid}"), &u).await["issue_count"],
        2
    );
    let listed: Value = app.get_ok("/projects", &u).await;
    assert_eq!(listed[0]["issue_count"], 2);
    app.delete(&format!("/projects/{pid}"), u.t()).await.ok();
    assert_eq!(issue_project(&app, &u, i1).await, None);
    assert_eq!(issue_project(&app, &u, i2).await, None);
}
