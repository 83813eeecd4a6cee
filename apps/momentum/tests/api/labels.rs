//! `/labels`: CRUD with level and search filters, every bad field listed at once, names
//! unique per workspace (also under a burst of creates), the atomic batch (one bad entry:
//! nothing applied, every failure listed by list and index), the other workspace's ids 404
//! in paths and 422 in batch bodies, guests read only, one change-log entry per object.

use futures::future::join_all;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{Backend, TestApp, User};
use crate::projects::{fields, invalid, join_as, last_sync, logged};

trellis_kernel::backend_tests!(
    label_crud_and_filters,
    label_errors_are_listed_together,
    concurrent_creates_of_one_name_make_one_label,
    batch_applies_everything_in_one_go,
    batch_is_atomic_and_lists_every_failure,
    labels_of_another_workspace_are_invisible,
    guests_read_labels_only,
    deleting_a_label_unlinks_its_issues,
);

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect()
}

async fn label_id(app: &TestApp, u: &User, name: &str) -> String {
    let list = app.get_ok("/labels", u).await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn label_crud_and_filters(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("alice").await;
    // A new workspace has the original's three issue labels, listed by name.
    let list = app.get_ok("/labels", &u).await;
    assert_eq!(names(&list), ["Bug", "Feature", "Improvement"]);
    assert_eq!(list[0]["color"], "#FF6B6B");
    assert_eq!(list[0]["level"], "issue");
    let since = last_sync(&app, &u).await;

    let l = app
        .post_ok(
            "/labels",
            json!({"name": " Backend ", "color": "#112233", "level": "Project"}),
            &u,
        )
        .await;
    let id = l["id"].as_str().unwrap().to_string();
    assert_eq!(l["name"], "Backend");
    assert_eq!(l["level"], "project");
    assert_eq!(
        app.get_ok(&format!("/labels/{id}"), &u).await,
        l,
        "GET answers what POST did"
    );
    // `level` defaults to issue.
    let d = app
        .post_ok("/labels", json!({"name": "docs_1", "color": "#abcdef"}), &u)
        .await;
    assert_eq!(d["level"], "issue");

    // Filters: level (any case), search (any case, wildcards literal).
    let q = |s: &str| format!("/labels?{s}");
    assert_eq!(
        names(&app.get_ok(&q("level=project"), &u).await),
        ["Backend"]
    );
    assert_eq!(
        names(&app.get_ok(&q("level=Issue"), &u).await),
        ["Bug", "docs_1", "Feature", "Improvement"]
    );
    assert_eq!(names(&app.get_ok(&q("search=BACK"), &u).await), ["Backend"]);
    assert_eq!(names(&app.get_ok(&q("search=s_"), &u).await), ["docs_1"]);
    assert_eq!(app.get_ok(&q("search=%25"), &u).await, json!([]));
    assert_eq!(
        names(&app.get_ok(&q("level=issue&search=e"), &u).await),
        ["Feature", "Improvement"]
    );
    let r = app.get(&q("level=epic"), u.t()).await;
    invalid(&r);
    assert_eq!(fields(&r), ["level"]);

    // PUT: absent fields stay.
    let done = app
        .put(
            &format!("/labels/{id}"),
            json!({"name": "Back end", "level": "issue"}),
            u.t(),
        )
        .await
        .ok();
    assert_eq!(done["name"], "Back end");
    assert_eq!(done["color"], "#112233");
    assert_eq!(done["level"], "issue");
    let done = app
        .put(&format!("/labels/{id}"), json!({"color": "#FFFFFF"}), u.t())
        .await
        .ok();
    assert_eq!(done["name"], "Back end");
    assert_eq!(done["color"], "#FFFFFF");
    // Renaming onto another label's name is a conflict; keeping one's own name is not.
    app.put(&format!("/labels/{id}"), json!({"name": "Bug"}), u.t())
        .await
        .err(409, "LABEL_EXISTS");
    app.put(&format!("/labels/{id}"), json!({"name": "Back end"}), u.t())
        .await
        .ok();

    app.delete(&format!("/labels/{id}"), u.t()).await.ok();
    app.get(&format!("/labels/{id}"), u.t())
        .await
        .err(404, "NOT_FOUND");
    app.delete(&format!("/labels/{id}"), u.t())
        .await
        .err(404, "NOT_FOUND");
    app.put(&format!("/labels/{id}"), json!({"name": "x"}), u.t())
        .await
        .err(404, "NOT_FOUND");
    app.get("/labels/not-a-uuid", u.t())
        .await
        .err(404, "NOT_FOUND");
    // The name is free again.
    app.post_ok(
        "/labels",
        json!({"name": "Back end", "color": "#000000"}),
        &u,
    )
    .await;

    let log = logged(&app, &u, "label", since).await;
    let actions: Vec<&str> = log.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "create", "create", "update", "update", "update", "delete", "create"
        ]
    );
}

async fn label_errors_are_listed_together(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("alice").await;
    let r = app
        .post(
            "/labels",
            json!({"name": "", "color": "red", "level": "epic"}),
            u.t(),
        )
        .await;
    invalid(&r);
    assert_eq!(fields(&r), ["name", "color", "level"]);
    assert_eq!(r.body["errors"][1]["code"], "invalid_color");
    let r = app.post("/labels", json!({}), u.t()).await;
    invalid(&r);
    assert_eq!(fields(&r), ["name", "color"]);
    let r = app
        .post(
            "/labels",
            json!({"name": "x".repeat(51), "color": "#12345"}),
            u.t(),
        )
        .await;
    assert_eq!(fields(&r), ["name", "color"]);
    assert_eq!(r.body["errors"][0]["code"], "too_long");
    // 50 characters is fine.
    app.post_ok(
        "/labels",
        json!({"name": "y".repeat(50), "color": "#123456"}),
        &u,
    )
    .await;
    app.post("/labels", json!({"name": "Bug", "color": "#123456"}), u.t())
        .await
        .err(409, "LABEL_EXISTS");
    let id = label_id(&app, &u, "Bug").await;
    let r = app
        .put(
            &format!("/labels/{id}"),
            json!({"name": "  ", "color": "#GGGGGG", "level": "team"}),
            u.t(),
        )
        .await;
    invalid(&r);
    assert_eq!(fields(&r), ["name", "color", "level"]);
    // Nothing changed.
    let bug = app.get_ok(&format!("/labels/{id}"), &u).await;
    assert_eq!(
        (bug["name"].as_str(), bug["color"].as_str()),
        (Some("Bug"), Some("#FF6B6B"))
    );
}

async fn concurrent_creates_of_one_name_make_one_label(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("alice").await;
    let results = join_all(
        (0..16).map(|_| app.post("/labels", json!({"name": "Hot", "color": "#FF0000"}), u.t())),
    )
    .await;
    let created = results.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in results.iter().filter(|r| r.status != 201) {
        r.err(409, "LABEL_EXISTS");
    }
    let hot: Vec<String> = names(&app.get_ok("/labels?search=hot", &u).await);
    assert_eq!(hot, ["Hot"]);
    // The same with batches racing for one name.
    let results = join_all((0..8).map(|i| {
        app.post(
            "/labels/batch",
            json!({"create": [{"name": format!("Solo {i}"), "color": "#000000"}, {"name": "Cold", "color": "#0000FF"}]}),
            u.t(),
        )
    }))
    .await;
    assert_eq!(results.iter().filter(|r| r.status == 200).count(), 1);
    for r in results.iter().filter(|r| r.status != 200) {
        r.err(409, "LABEL_EXISTS");
    }
    assert_eq!(
        names(&app.get_ok("/labels?search=solo", &u).await).len(),
        1,
        "a refused batch leaves nothing behind"
    );
}

async fn batch_applies_everything_in_one_go(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("alice").await;
    let bug = label_id(&app, &u, "Bug").await;
    let feature = label_id(&app, &u, "Feature").await;
    let improvement = label_id(&app, &u, "Improvement").await;
    let since = last_sync(&app, &u).await;
    let r = app
        .post(
            "/labels/batch",
            json!({
                "create": [
                    {"name": "Backend", "color": "#111111", "level": "Project"},
                    // Reuses the name of a label deleted in the same batch.
                    {"name": "Feature", "color": "#222222"}
                ],
                "update": [
                    {"id": bug, "name": "Defect", "color": "#333333"},
                    {"id": improvement, "level": "project"}
                ],
                "delete": [feature]
            }),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = r.ok();
    assert_eq!(names(&d["created"]), ["Backend", "Feature"]);
    assert_eq!(d["created"][0]["level"], "project");
    assert_eq!(names(&d["updated"]), ["Defect", "Improvement"]);
    assert_eq!(d["updated"][0]["id"], bug.as_str());
    assert_eq!(d["updated"][0]["color"], "#333333");
    assert_eq!(d["updated"][1]["level"], "project");
    assert_eq!(d["deleted"], json!([feature]));
    let list = app.get_ok("/labels", &u).await;
    assert_eq!(
        names(&list),
        ["Backend", "Defect", "Feature", "Improvement"]
    );
    app.get(&format!("/labels/{feature}"), u.t())
        .await
        .err(404, "NOT_FOUND");
    // One change-log entry per object.
    let mut log = logged(&app, &u, "label", since).await;
    log.sort();
    let mut want: Vec<(String, String)> = vec![
        ("delete".into(), feature.clone()),
        ("update".into(), bug.clone()),
        ("update".into(), improvement.clone()),
        (
            "create".into(),
            d["created"][0]["id"].as_str().unwrap().into(),
        ),
        (
            "create".into(),
            d["created"][1]["id"].as_str().unwrap().into(),
        ),
    ];
    want.sort();
    assert_eq!(log, want);

    // Two labels swap names in one batch.
    let r = app
        .post(
            "/labels/batch",
            json!({"update": [{"id": bug, "name": "Improvement"}, {"id": improvement, "name": "Defect"}]}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.get_ok(&format!("/labels/{bug}"), &u).await["name"],
        "Improvement"
    );
    assert_eq!(
        app.get_ok(&format!("/labels/{improvement}"), &u).await["name"],
        "Defect"
    );
    // An empty batch does nothing.
    let d = app.post_ok("/labels/batch", json!({}), &u).await;
    assert_eq!(d, json!({"created": [], "updated": [], "deleted": []}));
}

async fn batch_is_atomic_and_lists_every_failure(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("alice").await;
    let bob = app.register("bob").await;
    let bug = label_id(&app, &u, "Bug").await;
    let feature = label_id(&app, &u, "Feature").await;
    let bobs = label_id(&app, &bob, "Bug").await;
    let before = app.get_ok("/labels", &u).await;
    let since = last_sync(&app, &u).await;

    let r = app
        .post(
            "/labels/batch",
            json!({
                "create": [
                    {"name": "Good", "color": "#000000"},
                    {"name": "", "color": "#000000"},
                    {"name": "Also good", "color": "blue", "level": "epic"}
                ],
                "update": [
                    {"id": bobs, "name": "Mine"},
                    {"id": "nope"},
                    {"id": bug, "color": "#12"},
                    {"name": "no id"}
                ],
                "delete": [feature, "x", Uuid::now_v7(), feature]
            }),
            u.t(),
        )
        .await;
    invalid(&r);
    assert_eq!(
        fields(&r),
        [
            "create[1].name",
            "create[2].color",
            "create[2].level",
            "update[1].id",
            "update[2].color",
            "update[3].id",
            "delete[1]",
            "delete[3]",
            "update[0].id",
            "delete[2]",
        ]
    );
    let codes: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes[7], "duplicate");
    assert_eq!(codes[8], "not_found");
    assert_eq!(app.get_ok("/labels", &u).await, before, "nothing applied");
    assert_eq!(
        app.get_ok("/labels", &bob).await.as_array().unwrap().len(),
        3
    );

    // Names clashing with existing labels or inside the batch, and nothing else wrong:
    // 409 naming every clashing entry.
    let r = app
        .post(
            "/labels/batch",
            json!({
                "create": [
                    {"name": "Bug", "color": "#000000"},
                    {"name": "Twin", "color": "#000000"},
                    {"name": "Twin", "color": "#000000"}
                ],
                "update": [{"id": feature, "name": "Improvement"}]
            }),
            u.t(),
        )
        .await;
    r.err(409, "LABEL_EXISTS");
    assert_eq!(
        fields(&r),
        ["update[0].name", "create[0].name", "create[2].name"]
    );
    // With another failure too, the clashes are part of the 422.
    let r = app
        .post(
            "/labels/batch",
            json!({"create": [{"name": "Bug", "color": "#000000"}, {"name": "New", "color": "bad"}]}),
            u.t(),
        )
        .await;
    invalid(&r);
    assert_eq!(fields(&r), ["create[1].color", "create[0].name"]);
    assert_eq!(r.body["errors"][1]["code"], "label_exists");
    // Too many entries.
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"name": format!("L{i}"), "color": "#000000"}))
        .collect();
    let r = app
        .post("/labels/batch", json!({"create": many}), u.t())
        .await;
    invalid(&r);
    assert_eq!(fields(&r), ["create"]);

    assert_eq!(app.get_ok("/labels", &u).await, before, "nothing applied");
    assert!(logged(&app, &u, "label", since).await.is_empty());
}

async fn labels_of_another_workspace_are_invisible(b: Backend) {
    let app = TestApp::spawn(b).await;
    let a = app.register("alice").await;
    let bob = app.register("bob").await;
    let l = app
        .post_ok("/labels", json!({"name": "Secret", "color": "#000000"}), &a)
        .await;
    let path = format!("/labels/{}", l["id"].as_str().unwrap());
    app.get(&path, bob.t()).await.err(404, "NOT_FOUND");
    app.put(&path, json!({"name": "Mine"}), bob.t())
        .await
        .err(404, "NOT_FOUND");
    app.delete(&path, bob.t()).await.err(404, "NOT_FOUND");
    assert_eq!(
        names(&app.get_ok("/labels", &bob).await),
        ["Bug", "Feature", "Improvement"]
    );
    assert_eq!(app.get_ok("/labels?search=secret", &bob).await, json!([]));
    // Names are unique per workspace only.
    app.post_ok(
        "/labels",
        json!({"name": "Secret", "color": "#000000"}),
        &bob,
    )
    .await;
    // In a batch body: 422 naming the entry.
    let r = app
        .post(
            "/labels/batch",
            json!({"update": [{"id": l["id"], "color": "#FFFFFF"}], "delete": [l["id"]]}),
            bob.t(),
        )
        .await;
    invalid(&r);
    assert_eq!(fields(&r), ["delete[0]", "update[0].id"]);
    assert_eq!(r.body["errors"][0]["code"], "duplicate");
    let r = app
        .post("/labels/batch", json!({"delete": [l["id"]]}), bob.t())
        .await;
    invalid(&r);
    assert_eq!(fields(&r), ["delete[0]"]);
    assert_eq!(app.get_ok(&path, &a).await, l);
}

async fn guests_read_labels_only(b: Backend) {
    let app = TestApp::spawn(b).await;
    let a = app.register("alice").await;
    let g = app.register("gus").await;
    join_as(&app, &a, &g, "guest").await;
    let bug = label_id(&app, &g, "Bug").await;
    assert_eq!(bug, label_id(&app, &a, "Bug").await);
    let path = format!("/labels/{bug}");
    assert_eq!(app.get_ok(&path, &g).await["name"], "Bug");
    app.post("/labels", json!({"name": "G", "color": "#000000"}), g.t())
        .await
        .err(403, "FORBIDDEN");
    app.put(&path, json!({"name": "G"}), g.t())
        .await
        .err(403, "FORBIDDEN");
    app.delete(&path, g.t()).await.err(403, "FORBIDDEN");
    app.post("/labels/batch", json!({"delete": [bug]}), g.t())
        .await
        .err(403, "FORBIDDEN");
    app.put(
        &format!("/labels/{}", Uuid::now_v7()),
        json!({"name": "G"}),
        g.t(),
    )
    .await
    .err(404, "NOT_FOUND");
    // A member writes.
    let m = app.register("mia").await;
    join_as(&app, &a, &m, "member").await;
    app.post_ok("/labels", json!({"name": "M", "color": "#000000"}), &m)
        .await;
    app.put(&path, json!({"color": "#010101"}), m.t())
        .await
        .ok();
}

async fn deleting_a_label_unlinks_its_issues(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("alice").await;
    let bug: Uuid = label_id(&app, &u, "Bug").await.parse().unwrap();
    let feature: Uuid = label_id(&app, &u, "Feature").await.parse().unwrap();
    let team = app.first_team(&u).await["id"].clone();
    let issue = app
        .post_ok(
            "/issues",
            json!({"title": "Labelled", "team_id": team, "label_ids": [bug, feature]}),
            &u,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let labelled = app.get_ok(&format!("/issues/{issue}"), &u).await;
    assert_eq!(labelled["labels"].as_array().unwrap().len(), 2);
    app.delete(&format!("/labels/{bug}"), u.t()).await.ok();
    app.post_ok("/labels/batch", json!({"delete": [feature]}), &u)
        .await;
    // The issue stays, without the deleted labels.
    let left = app.get_ok(&format!("/issues/{issue}"), &u).await;
    assert_eq!(left["labels"], json!([]));
}
