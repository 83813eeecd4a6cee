//! `/project-statuses`: the five provisioned statuses, CRUD by workspace admins, members
//! and guests read only, names unique per workspace, a status in use cannot be deleted,
//! every bad field listed at once, the other workspace's ids 404.

use serde_json::json;
use uuid::Uuid;

use crate::harness::{Backend, TestApp, ids};
use crate::projects::{fields, invalid, join_as, last_sync, logged};

trellis_kernel::backend_tests!(
    status_crud_by_an_admin,
    status_in_use_and_bad_input,
    members_read_statuses_admins_manage_them,
    statuses_of_another_workspace_are_invisible,
);

async fn status_crud_by_an_admin(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("alice").await;
    let list = app.get_ok("/project-statuses", &u).await;
    let cats: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["category"].as_str().unwrap())
        .collect();
    assert_eq!(
        cats,
        ["backlog", "planned", "in_progress", "completed", "canceled"]
    );
    assert_eq!(list[2]["name"], "In Progress");
    assert_eq!(list[4]["position"], 4);
    let since = last_sync(&app, &u).await;

    let s = app
        .post_ok(
            "/project-statuses",
            json!({"name": "In Review", "color": "#abcdef", "category": "In_Progress",
                   "description": "Waiting for review"}),
            &u,
        )
        .await;
    let id = s["id"].as_str().unwrap().to_string();
    assert_eq!(s["category"], "in_progress");
    assert_eq!(s["position"], 5, "after the last one");
    assert_eq!(s["description"], "Waiting for review");
    assert_eq!(app.get_ok(&format!("/project-statuses/{id}"), &u).await, s);
    let first = app
        .post_ok(
            "/project-statuses",
            json!({"name": "Ideas", "color": "#000000", "category": "backlog", "position": 0}),
            &u,
        )
        .await;
    assert_eq!(first["position"], 0);

    let done = app
        .put(
            &format!("/project-statuses/{id}"),
            json!({"name": "Review", "description": null, "position": 7}),
            u.t(),
        )
        .await
        .ok();
    assert_eq!(done["name"], "Review");
    assert!(done["description"].is_null());
    assert_eq!(done["position"], 7);
    assert_eq!(done["color"], "#abcdef");
    assert_eq!(done["category"], "in_progress");
    let done = app
        .put(
            &format!("/project-statuses/{id}"),
            json!({"category": "planned", "color": "#111111"}),
            u.t(),
        )
        .await
        .ok();
    assert_eq!(
        (done["category"].as_str(), done["name"].as_str()),
        (Some("planned"), Some("Review"))
    );
    app.put(
        &format!("/project-statuses/{id}"),
        json!({"name": "Backlog"}),
        u.t(),
    )
    .await
    .err(409, "PROJECT_STATUS_EXISTS");
    app.post(
        "/project-statuses",
        json!({"name": "Review", "color": "#000000", "category": "planned"}),
        u.t(),
    )
    .await
    .err(409, "PROJECT_STATUS_EXISTS");

    // Display order: position, then name.
    let list = app.get_ok("/project-statuses", &u).await;
    assert_eq!(list[0]["name"], "Backlog");
    assert_eq!(list[1]["name"], "Ideas");
    assert_eq!(list[6]["name"], "Review");

    app.delete(&format!("/project-statuses/{id}"), u.t())
        .await
        .ok();
    app.get(&format!("/project-statuses/{id}"), u.t())
        .await
        .err(404, "NOT_FOUND");
    app.delete(&format!("/project-statuses/{id}"), u.t())
        .await
        .err(404, "NOT_FOUND");
    app.get("/project-statuses/x", u.t())
        .await
        .err(404, "NOT_FOUND");

    let log = logged(&app, &u, "project_status", since).await;
    let actions: Vec<&str> = log.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(actions, ["create", "create", "update", "update", "delete"]);
}

async fn status_in_use_and_bad_input(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("alice").await;
    let list = app.get_ok("/project-statuses", &u).await;
    let planned = list[1]["id"].as_str().unwrap().to_string();
    let p = app
        .post_ok(
            "/projects",
            json!({"name": "P", "project_key": "PP", "project_status_id": planned}),
            &u,
        )
        .await;
    app.delete(&format!("/project-statuses/{planned}"), u.t())
        .await
        .err(409, "IN_USE");
    // Once no project has it, it can go.
    app.put(
        &format!("/projects/{}", p["id"].as_str().unwrap()),
        json!({"project_status_id": list[0]["id"]}),
        u.t(),
    )
    .await
    .ok();
    app.delete(&format!("/project-statuses/{planned}"), u.t())
        .await
        .ok();

    let r = app
        .post(
            "/project-statuses",
            json!({"name": "", "color": "green", "category": "done", "position": -1,
                   "description": "d".repeat(10_001)}),
            u.t(),
        )
        .await;
    invalid(&r);
    assert_eq!(
        fields(&r),
        ["name", "description", "color", "category", "position"]
    );
    let r = app.post("/project-statuses", json!({}), u.t()).await;
    assert_eq!(fields(&r), ["name", "color", "category"]);
    let backlog = list[0]["id"].as_str().unwrap();
    let r = app
        .put(
            &format!("/project-statuses/{backlog}"),
            json!({"name": "x".repeat(101), "color": "#1234567", "category": "started", "position": 10_001}),
            u.t(),
        )
        .await;
    invalid(&r);
    assert_eq!(fields(&r), ["name", "color", "category", "position"]);
}

async fn members_read_statuses_admins_manage_them(b: Backend) {
    let app = TestApp::spawn(b).await;
    let a = app.register("alice").await;
    let m = app.register("mia").await;
    let g = app.register("gus").await;
    let ad = app.register("adam").await;
    join_as(&app, &a, &m, "member").await;
    join_as(&app, &a, &g, "guest").await;
    join_as(&app, &a, &ad, "admin").await;
    let list = app.get_ok("/project-statuses", &a).await;
    let id = list[0]["id"].as_str().unwrap();
    let path = format!("/project-statuses/{id}");
    for u in [&m, &g] {
        assert_eq!(ids(&app.get_ok("/project-statuses", u).await), ids(&list));
        assert_eq!(app.get_ok(&path, u).await["name"], "Backlog");
        app.post(
            "/project-statuses",
            json!({"name": "Mine", "color": "#000000", "category": "planned"}),
            u.t(),
        )
        .await
        .err(403, "FORBIDDEN");
        app.put(&path, json!({"name": "Mine"}), u.t())
            .await
            .err(403, "FORBIDDEN");
        app.delete(&path, u.t()).await.err(403, "FORBIDDEN");
        // What does not exist is 404 for them too.
        app.put(
            &format!("/project-statuses/{}", Uuid::now_v7()),
            json!({"name": "Mine"}),
            u.t(),
        )
        .await
        .err(404, "NOT_FOUND");
    }
    // A workspace admin manages them.
    let s = app
        .post_ok(
            "/project-statuses",
            json!({"name": "Admin's", "color": "#000000", "category": "planned"}),
            &ad,
        )
        .await;
    app.put(
        &format!("/project-statuses/{}", s["id"].as_str().unwrap()),
        json!({"color": "#FFFFFF"}),
        ad.t(),
    )
    .await
    .ok();
    app.delete(
        &format!("/project-statuses/{}", s["id"].as_str().unwrap()),
        ad.t(),
    )
    .await
    .ok();
}

async fn statuses_of_another_workspace_are_invisible(b: Backend) {
    let app = TestApp::spawn(b).await;
    let a = app.register("alice").await;
    let bob = app.register("bob").await;
    let s = app
        .post_ok(
            "/project-statuses",
            json!({"name": "Alice only", "color": "#000000", "category": "planned"}),
            &a,
        )
        .await;
    let path = format!("/project-statuses/{}", s["id"].as_str().unwrap());
    app.get(&path, bob.t()).await.err(404, "NOT_FOUND");
    app.put(&path, json!({"name": "Mine"}), bob.t())
        .await
        .err(404, "NOT_FOUND");
    app.delete(&path, bob.t()).await.err(404, "NOT_FOUND");
    let bobs = app.get_ok("/project-statuses", &bob).await;
    assert_eq!(bobs.as_array().unwrap().len(), 5);
    assert!(!ids(&bobs).contains(&s["id"].as_str().unwrap().to_string()));
    // Same name in another workspace is fine.
    app.post_ok(
        "/project-statuses",
        json!({"name": "Alice only", "color": "#000000", "category": "planned"}),
        &bob,
    )
    .await;
    assert_eq!(app.get_ok(&path, &a).await, s);
}
