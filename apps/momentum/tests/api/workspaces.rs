//! `/workspaces…` and the original's aliases: list, create (provisioned), get, update,
//! delete (everything inside goes; members fall back), switch, current, members with roles,
//! the last-owner rules, and another workspace's ids answering 404.

use serde_json::{Value, json};
use trellis_kernel::on_db;
use uuid::Uuid;

use crate::harness::join;
use crate::harness::{Backend, TestApp, User, ids};

trellis_kernel::backend_tests!(
    create_list_get_update,
    create_validates_every_field,
    concurrent_url_key_claims,
    switch_and_current,
    another_workspace_is_not_found,
    roles_and_the_last_owner,
    owners_demoting_each_other_at_once,
    leaving_and_removal_take_team_memberships,
    deleting_a_workspace_falls_back,
);

fn fields(r: &crate::harness::Resp) -> Vec<String> {
    assert_eq!(r.status, 422, "{}", r.body);
    r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

fn count_entities(log: &Value, entity: &str) -> usize {
    log.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == entity)
        .count()
}

/// Rows of `table` whose `column` is `id` (straight from the database).
async fn rows(app: &TestApp, table: &str, column: &str, id: &str) -> i64 {
    let id = Uuid::parse_str(id).unwrap();
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1");
    // Test-only SQL from the literals above.
    let sql = sqlx::AssertSqlSafe(sql);
    on_db!(&app.platform().db, pool => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await)
        .unwrap()
}

async fn create_list_get_update(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let list = app.get_ok("/workspaces", &alice).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["role"], "owner");
    assert_eq!(list[0]["url_key"], "alice");
    let first = list[0]["id"].as_str().unwrap().to_string();

    let r = app
        .post("/workspaces", json!({"name": "Acme Corp"}), alice.t())
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ws = r.ok();
    assert_eq!(ws["name"], "Acme Corp");
    assert_eq!(ws["url_key"], "acme-corp");
    assert_eq!(ws["role"], "owner");
    assert!(ws["logo_url"].is_null());
    let id = ws["id"].as_str().unwrap().to_string();
    // The new workspace is current and provisioned like a registration's.
    assert_eq!(
        app.get_ok("/workspaces/current", &alice).await["id"],
        ws["id"]
    );
    let log = app.get_ok("/sync/delta?limit=1000", &alice).await;
    assert_eq!(log[0]["entity"], "workspace");
    assert_eq!(log[0]["entity_id"], ws["id"]);
    assert_eq!(count_entities(&log, "project_status"), 5);
    assert_eq!(count_entities(&log, "label"), 3);
    assert_eq!(count_entities(&log, "team"), 1);
    assert_eq!(count_entities(&log, "workflow_state"), 6);
    assert_eq!(rows(&app, "mm_members", "workspace_id", &id).await, 1);
    // Listed oldest membership first.
    let list = app.get_ok("/workspaces", &alice).await;
    assert_eq!(ids(&list), [first.clone(), id.clone()]);

    // A derived key is made unique; an explicit taken one is a conflict.
    let again = app
        .post_ok(
            "/workspaces",
            json!({"name": "Acme Corp", "logo_url": "https://img.example.com/a.png"}),
            &alice,
        )
        .await;
    assert_eq!(again["url_key"], "acme-corp-2");
    assert_eq!(again["logo_url"], "https://img.example.com/a.png");
    app.post(
        "/workspaces",
        json!({"name": "Other", "url_key": "acme-corp"}),
        alice.t(),
    )
    .await
    .err(409, "WORKSPACE_URL_KEY_EXISTS");
    let x = app
        .post_ok("/workspaces", json!({"name": "X", "url_key": "x1"}), &alice)
        .await;
    assert_eq!(x["url_key"], "x1");

    let got = app.get_ok(&format!("/workspaces/{id}"), &alice).await;
    assert_eq!(got["url_key"], "acme-corp");
    let up = app
        .put(
            &format!("/workspaces/{id}"),
            json!({"name": "Acme Inc", "url_key": "acme-inc", "logo_url": "/logos/acme.png"}),
            alice.t(),
        )
        .await
        .ok();
    assert_eq!(up["name"], "Acme Inc");
    assert_eq!(up["url_key"], "acme-inc");
    assert_eq!(up["logo_url"], "/logos/acme.png");
    let up = app
        .put(
            &format!("/workspaces/{id}"),
            json!({"logo_url": null}),
            alice.t(),
        )
        .await
        .ok();
    assert!(up["logo_url"].is_null());
    assert_eq!(up["name"], "Acme Inc");
    app.put(
        &format!("/workspaces/{id}"),
        json!({"url_key": "acme-corp-2"}),
        alice.t(),
    )
    .await
    .err(409, "WORKSPACE_URL_KEY_EXISTS");
    let r = app
        .put(
            &format!("/workspaces/{id}"),
            json!({"name": "", "url_key": "Has Space", "logo_url": "javascript:x"}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["name", "url_key", "logo_url"]);
    // Each change is in the workspace's log.
    app.post_ok("/workspaces/switch", json!({"workspace_id": id}), &alice)
        .await;
    let log = app.get_ok("/sync/delta?limit=1000", &alice).await;
    let updates = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "workspace" && c["action"] == "update")
        .count();
    assert_eq!(updates, 2);
}

async fn create_validates_every_field(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let r = app
        .post(
            "/workspaces",
            json!({"name": "", "url_key": "A!", "logo_url": "ftp://x"}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["name", "url_key", "logo_url"]);
    let r = app.post("/workspaces", json!({}), alice.t()).await;
    assert_eq!(fields(&r), ["name"]);
    let long = "k".repeat(51);
    let r = app
        .post(
            "/workspaces",
            json!({"name": "n".repeat(101), "url_key": long}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["name", "url_key"]);
    let r = app
        .post(
            "/workspaces",
            json!({"name": "Ok", "url_key": "a"}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["url_key"]);
    // A one-letter name still gets a valid derived key.
    let ws = app
        .post_ok("/workspaces", json!({"name": "Q"}), &alice)
        .await;
    assert_eq!(ws["url_key"], "q-workspace");
    // Nothing was created by the refused requests.
    assert_eq!(
        app.get_ok("/workspaces", &alice)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn concurrent_url_key_claims(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let burst = (0..6).map(|i| {
        app.post(
            "/workspaces",
            json!({"name": format!("Race {i}"), "url_key": "race"}),
            alice.t(),
        )
    });
    let results = futures::future::join_all(burst).await;
    let mut created = 0;
    for r in &results {
        if r.status == 201 {
            created += 1;
        } else {
            r.err(409, "WORKSPACE_URL_KEY_EXISTS");
        }
    }
    assert_eq!(created, 1);
    // Derived keys of the same name never collide into an error.
    let burst = (0..4).map(|_| app.post("/workspaces", json!({"name": "Same"}), alice.t()));
    let results = futures::future::join_all(burst).await;
    let mut keys: Vec<String> = results
        .into_iter()
        .map(|r| r.ok()["url_key"].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    assert_eq!(keys, ["same", "same-2", "same-3", "same-4"]);
}

async fn switch_and_current(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let first = app.get_ok("/workspaces/current", &alice).await;
    assert_eq!(first["role"], "owner");
    let second = app
        .post_ok("/workspaces", json!({"name": "Second"}), &alice)
        .await;
    assert_eq!(
        app.get_ok("/workspaces/current", &alice).await["id"],
        second["id"]
    );
    let s = app
        .post_ok(
            "/workspaces/switch",
            json!({"workspace_id": first["id"]}),
            &alice,
        )
        .await;
    assert_eq!(s["id"], first["id"]);
    assert_eq!(s["role"], "owner");
    assert_eq!(
        app.get_ok("/workspaces/current", &alice).await["id"],
        first["id"]
    );
    assert_eq!(
        app.get_ok("/auth/profile", &alice).await["current_workspace_id"],
        first["id"]
    );
    // The original's path.
    let s = app
        .post_ok(
            "/auth/switch-workspace",
            json!({"workspace_id": second["id"]}),
            &alice,
        )
        .await;
    assert_eq!(s["id"], second["id"]);
    assert_eq!(
        app.get_ok("/workspaces/current", &alice).await["id"],
        second["id"]
    );
    // Someone else's workspace is an unknown reference, like a missing one.
    let bobs = app.get_ok("/workspaces/current", &bob).await;
    for path in ["/workspaces/switch", "/auth/switch-workspace"] {
        for body in [
            json!({"workspace_id": bobs["id"]}),
            json!({"workspace_id": Uuid::now_v7()}),
        ] {
            let r = app.post(path, body, alice.t()).await;
            assert_eq!(fields(&r), ["workspace_id"]);
            assert_eq!(r.body["errors"][0]["code"], "not_found");
        }
        let r = app
            .post(path, json!({"workspace_id": "nope"}), alice.t())
            .await;
        assert_eq!(fields(&r), ["workspace_id"]);
        let r = app.post(path, json!({}), alice.t()).await;
        assert_eq!(fields(&r), ["workspace_id"]);
    }
    assert_eq!(
        app.get_ok("/workspaces/current", &alice).await["id"],
        second["id"]
    );
    app.get("/workspaces/current", None)
        .await
        .err(401, "NOT_AUTHENTICATED");
}

async fn another_workspace_is_not_found(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let a = app.get_ok("/workspaces/current", &alice).await;
    let aid = a["id"].as_str().unwrap();
    let missing = Uuid::now_v7().to_string();
    for id in [aid, missing.as_str(), "not-a-uuid"] {
        app.get(&format!("/workspaces/{id}"), bob.t())
            .await
            .err(404, "NOT_FOUND");
        app.put(
            &format!("/workspaces/{id}"),
            json!({"name": "Mine"}),
            bob.t(),
        )
        .await
        .err(404, "NOT_FOUND");
        app.delete(&format!("/workspaces/{id}"), bob.t())
            .await
            .err(404, "NOT_FOUND");
        app.get(&format!("/workspaces/{id}/members"), bob.t())
            .await
            .err(404, "NOT_FOUND");
        for target in [alice.id.as_str(), bob.id.as_str()] {
            app.put(
                &format!("/workspaces/{id}/members/{target}"),
                json!({"role": "member"}),
                bob.t(),
            )
            .await
            .err(404, "NOT_FOUND");
            app.delete(&format!("/workspaces/{id}/members/{target}"), bob.t())
                .await
                .err(404, "NOT_FOUND");
        }
    }
    // Nothing of Alice's shows in Bob's lists, and nothing changed.
    let mine = app.get_ok("/workspaces", &bob).await;
    assert!(!ids(&mine).contains(&aid.to_string()));
    let members = app.get_ok("/workspace-members", &bob).await;
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["user_id"] == json!(bob.id))
    );
    let mi = app.get_ok("/workspace-member-and-invitations", &bob).await;
    assert_eq!(mi["members"].as_array().unwrap().len(), 1);
    let again = app.get_ok(&format!("/workspaces/{aid}"), &alice).await;
    assert_eq!(again["name"], a["name"]);
    assert_eq!(
        app.get_ok(&format!("/workspaces/{aid}/members"), &alice)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn roles_and_the_last_owner(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let ws = app.get_ok("/workspaces/current", &alice).await;
    let id = ws["id"].as_str().unwrap().to_string();
    join(&app, &alice, &bob, "member").await;
    join(&app, &alice, &carol, "guest").await;
    let members = app.get_ok(&format!("/workspaces/{id}/members"), &bob).await;
    assert_eq!(members.as_array().unwrap().len(), 3);
    let m = &members[1];
    assert_eq!(m["user_id"], json!(bob.id));
    assert_eq!(m["workspace_id"], ws["id"]);
    assert_eq!(m["role"], "member");
    assert!(m["joined_at"].is_string());
    assert_eq!(
        m["user"],
        json!({"id": bob.id, "email": bob.email, "username": bob.username, "name": "BOB", "avatar_url": null})
    );
    assert_eq!(app.get_ok("/workspace-members", &carol).await, members);
    let member_path = |u: &str| format!("/workspaces/{id}/members/{u}");

    // A member or a guest can read but not manage.
    for u in [&bob, &carol] {
        app.get_ok(&format!("/workspaces/{id}"), u).await;
        app.put(
            &format!("/workspaces/{id}"),
            json!({"name": "Taken"}),
            u.t(),
        )
        .await
        .err(403, "FORBIDDEN");
        app.delete(&format!("/workspaces/{id}"), u.t())
            .await
            .err(403, "FORBIDDEN");
        app.put(&member_path(&alice.id), json!({"role": "guest"}), u.t())
            .await
            .err(403, "FORBIDDEN");
        app.delete(&member_path(&alice.id), u.t())
            .await
            .err(403, "FORBIDDEN");
    }
    app.put(&member_path(&carol.id), json!({"role": "admin"}), bob.t())
        .await
        .err(403, "FORBIDDEN");

    // The owner makes Bob admin (any case accepted).
    let m = app
        .put(&member_path(&bob.id), json!({"role": "Admin"}), alice.t())
        .await
        .ok();
    assert_eq!(m["role"], "admin");
    assert_eq!(
        app.get_ok("/workspaces/current", &bob).await["role"],
        "admin"
    );
    // An admin manages the workspace and non-owners, but not owners.
    app.put(
        &format!("/workspaces/{id}"),
        json!({"name": "Renamed"}),
        bob.t(),
    )
    .await
    .ok();
    app.put(&member_path(&carol.id), json!({"role": "member"}), bob.t())
        .await
        .ok();
    app.put(&member_path(&bob.id), json!({"role": "owner"}), bob.t())
        .await
        .err(403, "FORBIDDEN");
    app.put(&member_path(&alice.id), json!({"role": "member"}), bob.t())
        .await
        .err(403, "FORBIDDEN");
    app.delete(&member_path(&alice.id), bob.t())
        .await
        .err(403, "FORBIDDEN");
    app.delete(&format!("/workspaces/{id}"), bob.t())
        .await
        .err(403, "FORBIDDEN");
    // Bad input and unknown members.
    let r = app
        .put(&member_path(&carol.id), json!({"role": "boss"}), alice.t())
        .await;
    assert_eq!(fields(&r), ["role"]);
    let r = app.put(&member_path(&carol.id), json!({}), alice.t()).await;
    assert_eq!(fields(&r), ["role"]);
    let stranger = Uuid::now_v7();
    app.put(
        &member_path(&stranger.to_string()),
        json!({"role": "member"}),
        alice.t(),
    )
    .await
    .err(404, "NOT_FOUND");
    app.delete(&member_path(&stranger.to_string()), alice.t())
        .await
        .err(404, "NOT_FOUND");

    // The last owner can neither be demoted nor leave.
    app.put(&member_path(&alice.id), json!({"role": "admin"}), alice.t())
        .await
        .err(409, "LAST_OWNER");
    app.delete(&member_path(&alice.id), alice.t())
        .await
        .err(409, "LAST_OWNER");
    // With a second owner, the first may step down; then the new one is the last.
    app.put(&member_path(&bob.id), json!({"role": "owner"}), alice.t())
        .await
        .ok();
    app.put(&member_path(&alice.id), json!({"role": "admin"}), alice.t())
        .await
        .ok();
    app.delete(&member_path(&bob.id), bob.t())
        .await
        .err(409, "LAST_OWNER");
    app.put(&member_path(&bob.id), json!({"role": "member"}), bob.t())
        .await
        .err(409, "LAST_OWNER");
    app.delete(&member_path(&bob.id), alice.t())
        .await
        .err(403, "FORBIDDEN");
    let roles: Vec<_> = app
        .get_ok(&format!("/workspaces/{id}/members"), &alice)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(roles, ["admin", "owner", "member"]);
    // Every role change is in the log.
    let log = app.get_ok("/sync/delta?limit=1000", &alice).await;
    let updates = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "member" && c["action"] == "update")
        .count();
    assert_eq!(updates, 4);
}

async fn owners_demoting_each_other_at_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let id = app.get_ok("/workspaces/current", &alice).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    join(&app, &alice, &bob, "owner").await;
    let bob_path = format!("/workspaces/{id}/members/{}", bob.id);
    let alice_path = format!("/workspaces/{id}/members/{}", alice.id);
    for _ in 0..3 {
        let (a, b) = tokio::join!(
            app.put(&bob_path, json!({"role": "member"}), alice.t()),
            app.put(&alice_path, json!({"role": "member"}), bob.t()),
        );
        let done: Vec<_> = [&a, &b].into_iter().filter(|r| r.status == 200).collect();
        assert_eq!(done.len(), 1, "{} / {}", a.body, b.body);
        for r in [&a, &b] {
            if r.status != 200 {
                // The loser was demoted first (403) or would have been the last owner (409).
                assert!(r.status == 403 || r.status == 409, "{}", r.body);
            }
        }
        let members = app
            .get_ok(&format!("/workspaces/{id}/members"), &alice)
            .await;
        let owners: Vec<_> = members
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "owner")
            .map(|m| m["user_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(owners.len(), 1, "{members}");
        // Make the demoted one an owner again for the next round.
        let owner = if owners[0] == alice.id { &alice } else { &bob };
        let other = if owners[0] == alice.id { &bob } else { &alice };
        app.put(
            &format!("/workspaces/{id}/members/{}", other.id),
            json!({"role": "owner"}),
            owner.t(),
        )
        .await
        .ok();
    }
}

async fn leaving_and_removal_take_team_memberships(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let ws = app.get_ok("/workspaces/current", &alice).await;
    let id = ws["id"].as_str().unwrap().to_string();
    join(&app, &alice, &bob, "member").await;
    join(&app, &alice, &carol, "member").await;
    // Put both in Alice's first team.
    let team = app.first_team(&alice).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for u in [&bob, &carol] {
        app.post_ok(
            &format!("/teams/{team}/members"),
            json!({"user_id": u.id, "role": "member"}),
            &alice,
        )
        .await;
    }
    assert_eq!(rows(&app, "mm_team_members", "user_id", &bob.id).await, 2);

    // Bob leaves: his own team memberships elsewhere stay; he works in his own workspace.
    let gone = app
        .delete(&format!("/workspaces/{id}/members/{}", bob.id), bob.t())
        .await
        .ok();
    assert_eq!(gone["user_id"], json!(bob.id));
    assert_eq!(rows(&app, "mm_team_members", "user_id", &bob.id).await, 1);
    let cur = app.get_ok("/workspaces/current", &bob).await;
    assert_ne!(cur["id"], ws["id"]);
    assert_eq!(cur["role"], "owner");
    app.get(&format!("/workspaces/{id}"), bob.t())
        .await
        .err(404, "NOT_FOUND");
    // Alice removes Carol.
    app.delete(&format!("/workspaces/{id}/members/{}", carol.id), alice.t())
        .await
        .ok();
    assert_eq!(rows(&app, "mm_team_members", "user_id", &carol.id).await, 1);
    app.delete(&format!("/workspaces/{id}/members/{}", carol.id), alice.t())
        .await
        .err(404, "NOT_FOUND");
    let members = app
        .get_ok(&format!("/workspaces/{id}/members"), &alice)
        .await;
    assert_eq!(members.as_array().unwrap().len(), 1);
    // The log has both removals and their team memberships.
    let log = app.get_ok("/sync/delta?limit=1000", &alice).await;
    let deletes: Vec<_> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "delete")
        .map(|c| c["entity"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(deletes, ["member", "team_member", "member", "team_member"]);
}

/// Puts a project, an issue (in a workflow state, with every label) and a comment into `u`'s
/// current workspace, through the API.
async fn fill(app: &TestApp, u: &User) {
    let project = app
        .post_ok(
            "/projects",
            json!({"name": "Launch", "project_key": "LCH"}),
            u,
        )
        .await;
    let team = app.first_team(u).await;
    let labels: Vec<Value> = app
        .get_ok("/labels", u)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].clone())
        .collect();
    let issue = app
        .post_ok(
            "/issues",
            json!({"title": "First", "team_id": team["id"], "project_id": project["id"], "label_ids": labels}),
            u,
        )
        .await;
    app.post_ok(
        "/comments",
        json!({"issue_id": issue["id"], "content": "hi"}),
        u,
    )
    .await;
}

async fn deleting_a_workspace_falls_back(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let first = app.get_ok("/workspaces/current", &alice).await;
    let ws = app
        .post_ok("/workspaces", json!({"name": "Doomed"}), &alice)
        .await;
    let id = ws["id"].as_str().unwrap().to_string();
    join(&app, &alice, &bob, "admin").await;
    assert_eq!(
        app.get_ok("/workspaces/current", &bob).await["id"],
        ws["id"]
    );
    // Only an owner deletes.
    app.delete(&format!("/workspaces/{id}"), bob.t())
        .await
        .err(403, "FORBIDDEN");
    assert!(rows(&app, "mm_teams", "workspace_id", &id).await > 0);
    fill(&app, &alice).await;
    assert_eq!(rows(&app, "mm_issues", "workspace_id", &id).await, 1);
    app.delete(&format!("/workspaces/{id}"), alice.t())
        .await
        .ok();
    // Everything inside went with it.
    for table in [
        "mm_members",
        "mm_teams",
        "mm_labels",
        "mm_project_statuses",
        "mm_invitations",
        "mm_changes",
        "mm_projects",
        "mm_issues",
        "mm_comments",
    ] {
        assert_eq!(rows(&app, table, "workspace_id", &id).await, 0, "{table}");
    }
    app.get(&format!("/workspaces/{id}"), alice.t())
        .await
        .err(404, "NOT_FOUND");
    // Both fall back to another membership, never a NO_WORKSPACE dead end.
    assert_eq!(
        app.get_ok("/workspaces/current", &alice).await["id"],
        first["id"]
    );
    let bobs = app.get_ok("/workspaces/current", &bob).await;
    assert_ne!(bobs["id"], ws["id"]);
    assert_eq!(bobs["role"], "owner");
    assert_eq!(
        app.get_ok("/workspaces", &bob)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A user whose only workspace is gone can still create one or accept an invitation.
    let bid = bobs["id"].as_str().unwrap().to_string();
    app.delete(&format!("/workspaces/{bid}"), bob.t())
        .await
        .ok();
    app.get("/workspaces/current", bob.t())
        .await
        .err(409, "NO_WORKSPACE");
    assert_eq!(app.get_ok("/workspaces", &bob).await, json!([]));
    let inv = app
        .post_ok("/invitations", json!({"emails": [bob.email]}), &alice)
        .await;
    // (The invitation to the deleted workspace went with it.)
    assert_eq!(
        app.get_ok("/invitations", &bob)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let iid = inv[0]["id"].as_str().unwrap();
    app.post_ok(&format!("/invitations/{iid}/accept"), json!({}), &bob)
        .await;
    assert_eq!(
        app.get_ok("/workspaces/current", &bob).await["id"],
        first["id"]
    );
    let own = app
        .post_ok("/workspaces", json!({"name": "Bob Again"}), &bob)
        .await;
    assert_eq!(
        app.get_ok("/workspaces/current", &bob).await["id"],
        own["id"]
    );
}
