//! Comments: threads in order, the `/issues/{id}/comments` aliases, edits by the author,
//! soft delete (author or admin) that keeps the thread's shape, guests commenting, bad input
//! with every field listed, and another workspace's issues and comments out of reach.

use serde_json::{Value, json};

use crate::harness::{TestApp, User, ids};
use trellis_kernel::testing::Backend;

trellis_kernel::backend_tests!(
    comment_input_is_checked_before_any_issue_exists,
    threads_in_order_through_every_route,
    edits_and_soft_delete_keep_the_thread,
    author_and_admin_rules_guests_comment,
    bad_input_lists_every_field,
    another_workspace_is_out_of_reach,
);

/// A server without the per-user write limit (these tests write in bursts).
async fn spawn(b: Backend) -> TestApp {
    TestApp::with(b, &[("RATE_LIMIT_PER_SECOND", "0")]).await
}

/// An issue in `u`'s first team.
async fn issue(app: &TestApp, u: &User, title: &str) -> Value {
    let team = app.first_team_id(u).await;
    app.create_issue(u, &team, title).await
}

fn fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn comment(
    app: &TestApp,
    u: &User,
    issue_id: &str,
    content: &str,
    parent: Option<&str>,
) -> Value {
    let mut body = json!({"issue_id": issue_id, "content": content});
    if let Some(p) = parent {
        body["parent_comment_id"] = json!(p);
    }
    let r = app.post("/comments", body, u.t()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.ok()
}

async fn comment_input_is_checked_before_any_issue_exists(b: Backend) {
    let app = spawn(b).await;
    let u = app.register("ann").await;
    let r = app.get("/comments", u.t()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["issue_id"]);
    let missing = uuid_like();
    app.get(&format!("/comments?issue_id={missing}"), u.t())
        .await
        .err(404, "NOT_FOUND");
    app.get(&format!("/issues/{missing}/comments"), u.t())
        .await
        .err(404, "NOT_FOUND");
    app.get("/issues/NOPE-1/comments", u.t())
        .await
        .err(404, "NOT_FOUND");
    app.post(
        &format!("/issues/{missing}/comments"),
        json!({"content": "hi"}),
        u.t(),
    )
    .await
    .err(404, "NOT_FOUND");
    app.get(&format!("/comments/{missing}"), u.t())
        .await
        .err(404, "NOT_FOUND");
    app.get("/comments/not-a-uuid", u.t())
        .await
        .err(404, "NOT_FOUND");
    app.put(
        &format!("/comments/{missing}"),
        json!({"content": "x"}),
        u.t(),
    )
    .await
    .err(404, "NOT_FOUND");
    app.delete(&format!("/comments/{missing}"), u.t())
        .await
        .err(404, "NOT_FOUND");
    // Every bad field at once; a well-formed but unknown issue is 422 `issue_id`.
    let r = app
        .post(
            "/comments",
            json!({"issue_id": "x", "content": "", "parent_comment_id": "y"}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        fields(&r.body),
        ["issue_id", "content", "parent_comment_id"]
    );
    let r = app.post("/comments", json!({}), u.t()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["issue_id", "content"]);
    let r = app
        .post(
            "/comments",
            json!({"issue_id": missing, "content": "hello"}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["issue_id"]);
    assert_eq!(r.body["errors"][0]["code"], "not_found");
}

fn uuid_like() -> String {
    "0190a000-0000-7000-8000-000000000001".to_string()
}

async fn threads_in_order_through_every_route(b: Backend) {
    let app = spawn(b).await;
    let u = app.register("bea").await;
    let i = issue(&app, &u, "Threads").await;
    let iid = i["id"].as_str().unwrap();
    let key = i["key"].as_str().unwrap();
    let a = comment(&app, &u, iid, "**first**", None).await;
    assert_eq!(a["issue_id"], iid);
    assert_eq!(a["content"], "**first**");
    assert_eq!(a["content_type"], "markdown");
    assert_eq!(a["is_edited"], false);
    assert_eq!(a["is_deleted"], false);
    assert_eq!(a["author"]["username"], "bea");
    assert_eq!(a["author"]["name"], "BEA");
    assert_eq!(a["author_id"], json!(u.id));
    assert!(a["parent_comment_id"].is_null());
    let r = app
        .post(
            &format!("/issues/{iid}/comments"),
            json!({"content": "second"}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let second = r.ok();
    let a1 = comment(&app, &u, iid, "reply to first", a["id"].as_str()).await;
    assert_eq!(a1["parent_comment_id"], a["id"]);
    let r = app
        .post(
            &format!("/issues/{key}/comments"),
            json!({"content": "reply to the reply", "parent_comment_id": a1["id"]}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let a1a = r.ok();
    let a2 = comment(&app, &u, iid, "second reply to first", a["id"].as_str()).await;
    let want = ids(&json!([a, a1, a1a, a2, second]));
    for path in [
        format!("/comments?issue_id={iid}"),
        format!("/comments?issue_id={key}"),
        format!("/issues/{iid}/comments"),
        format!("/issues/{key}/comments"),
    ] {
        let list = app.get_ok(&path, &u).await;
        assert_eq!(ids(&list), want, "{path}");
    }
    let got = app
        .get_ok(&format!("/comments/{}", a1a["id"].as_str().unwrap()), &u)
        .await;
    assert_eq!(got["content"], "reply to the reply");
    assert_eq!(got["parent_comment_id"], a1["id"]);
    // Another issue's thread is its own.
    let other = issue(&app, &u, "Other").await;
    let list = app
        .get_ok(
            &format!("/issues/{}/comments", other["id"].as_str().unwrap()),
            &u,
        )
        .await;
    assert_eq!(list, json!([]));
    // Every comment was logged.
    let logged = app
        .changes(&u)
        .await
        .iter()
        .filter(|c| c["entity"] == "comment" && c["action"] == "create")
        .count();
    assert_eq!(logged, 5);
}

async fn edits_and_soft_delete_keep_the_thread(b: Backend) {
    let app = spawn(b).await;
    let u = app.register("cid").await;
    let i = issue(&app, &u, "Edits").await;
    let iid = i["id"].as_str().unwrap();
    let root = comment(&app, &u, iid, "root", None).await;
    let rid = root["id"].as_str().unwrap();
    let reply = comment(&app, &u, iid, "reply", Some(rid)).await;
    let last = comment(&app, &u, iid, "last", None).await;

    let edited = app
        .put(
            &format!("/comments/{rid}"),
            json!({"content": "root, edited"}),
            u.t(),
        )
        .await
        .ok();
    assert_eq!(edited["content"], "root, edited");
    assert_eq!(edited["is_edited"], true);

    let deleted = app.delete(&format!("/comments/{rid}"), u.t()).await.ok();
    assert_eq!(deleted["is_deleted"], true);
    assert_eq!(deleted["content"], "");
    // The thread keeps its shape: the deleted root in place, its reply after it.
    let list = app.get_ok(&format!("/comments?issue_id={iid}"), &u).await;
    assert_eq!(ids(&list), ids(&json!([root, reply, last])));
    assert_eq!(list[0]["is_deleted"], true);
    assert_eq!(list[0]["content"], "");
    assert_eq!(list[1]["parent_comment_id"], json!(rid));
    assert_eq!(list[1]["content"], "reply");
    let got = app.get_ok(&format!("/comments/{rid}"), &u).await;
    assert_eq!(got["is_deleted"], true);
    assert_eq!(got["content"], "");
    // A deleted comment is not edited, takes no replies, and deleting it again changes nothing.
    app.put(
        &format!("/comments/{rid}"),
        json!({"content": "back"}),
        u.t(),
    )
    .await
    .err(409, "COMMENT_DELETED");
    let r = app
        .post(
            "/comments",
            json!({"issue_id": iid, "content": "late", "parent_comment_id": rid}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["parent_comment_id"]);
    let again = app.delete(&format!("/comments/{rid}"), u.t()).await.ok();
    assert_eq!(again["is_deleted"], true);
    // Logged: one update, one delete, and the deleted content is not in the log.
    let changes = app.changes(&u).await;
    let of_root: Vec<&Value> = changes
        .iter()
        .filter(|c| c["entity"] == "comment" && c["entity_id"] == json!(rid))
        .collect();
    let actions: Vec<&str> = of_root
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "update", "delete"]);
    assert_eq!(of_root[2]["data"]["content"], "");
}

async fn author_and_admin_rules_guests_comment(b: Backend) {
    let app = spawn(b).await;
    let owner = app.register("dora").await;
    let member = app.join_workspace(&owner, "dmember", "member").await;
    let admin = app.join_workspace(&owner, "dadmin", "admin").await;
    let guest = app.join_workspace(&owner, "dguest", "guest").await;
    let i = issue(&app, &owner, "Roles").await;
    let iid = i["id"].as_str().unwrap();

    let by_owner = comment(&app, &owner, iid, "owner's", None).await;
    let by_member = comment(&app, &member, iid, "member's", None).await;
    // Guests may comment, reply and edit their own comments.
    let by_guest = comment(&app, &guest, iid, "guest's", by_owner["id"].as_str()).await;
    assert_eq!(by_guest["author"]["username"], "dguest");
    let gid = by_guest["id"].as_str().unwrap();
    let e = app
        .put(
            &format!("/comments/{gid}"),
            json!({"content": "guest's, edited"}),
            guest.t(),
        )
        .await
        .ok();
    assert_eq!(e["is_edited"], true);

    let oid = by_owner["id"].as_str().unwrap();
    let mid = by_member["id"].as_str().unwrap();
    // Only the author edits, admins and owners included.
    app.put(
        &format!("/comments/{oid}"),
        json!({"content": "x"}),
        member.t(),
    )
    .await
    .err(403, "FORBIDDEN");
    app.put(
        &format!("/comments/{mid}"),
        json!({"content": "x"}),
        admin.t(),
    )
    .await
    .err(403, "FORBIDDEN");
    app.put(
        &format!("/comments/{mid}"),
        json!({"content": "x"}),
        owner.t(),
    )
    .await
    .err(403, "FORBIDDEN");
    // Members and guests delete only their own; admins and owners delete anyone's.
    app.delete(&format!("/comments/{oid}"), member.t())
        .await
        .err(403, "FORBIDDEN");
    app.delete(&format!("/comments/{mid}"), guest.t())
        .await
        .err(403, "FORBIDDEN");
    let d = app
        .delete(&format!("/comments/{mid}"), admin.t())
        .await
        .ok();
    assert_eq!(d["is_deleted"], true);
    let d = app
        .delete(&format!("/comments/{gid}"), owner.t())
        .await
        .ok();
    assert_eq!(d["is_deleted"], true);
    let mine = comment(&app, &member, iid, "mine", None).await;
    app.delete(
        &format!("/comments/{}", mine["id"].as_str().unwrap()),
        member.t(),
    )
    .await
    .ok();
    let unchanged = app.get_ok(&format!("/comments/{oid}"), &member).await;
    assert_eq!(unchanged["content"], "owner's");
    assert_eq!(unchanged["is_edited"], false);
}

async fn bad_input_lists_every_field(b: Backend) {
    let app = spawn(b).await;
    let u = app.register("eve").await;
    let i = issue(&app, &u, "Input").await;
    let iid = i["id"].as_str().unwrap();
    let other = issue(&app, &u, "Another").await;
    let oid = other["id"].as_str().unwrap();

    let long = "x".repeat(10_001);
    let r = app
        .post(
            "/comments",
            json!({"issue_id": iid, "content": long}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["content"]);
    assert_eq!(r.body["errors"][0]["code"], "too_long");
    // Markdown keeps its leading indentation; blank edges go.
    let code = comment(&app, &u, oid, "\n\n    let x = 1;\n  \n", None).await;
    assert_eq!(code["content"], "    let x = 1;");
    let max = comment(&app, &u, iid, &"y".repeat(10_000), None).await;
    assert_eq!(max["content"].as_str().unwrap().len(), 10_000);
    let r = app
        .post(
            "/comments",
            json!({"issue_id": iid, "content": "   "}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["content"]);
    let r = app
        .post(
            &format!("/issues/{iid}/comments"),
            json!({"content": "", "parent_comment_id": "nope"}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["content", "parent_comment_id"]);
    // The parent must be a comment of the same issue.
    let on_other = comment(&app, &u, oid, "elsewhere", None).await;
    let r = app
        .post(
            "/comments",
            json!({"issue_id": iid, "content": "x", "parent_comment_id": on_other["id"]}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["parent_comment_id"]);
    let r = app
        .post(
            &format!("/issues/{iid}/comments"),
            json!({"content": "x", "parent_comment_id": uuid_like()}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["parent_comment_id"]);
    let mid = max["id"].as_str().unwrap();
    let r = app
        .put(&format!("/comments/{mid}"), json!({"content": ""}), u.t())
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["content"]);
    let r = app
        .put(&format!("/comments/{mid}"), json!({"content": 5}), u.t())
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // Nothing of the refused requests was stored.
    let list = app.get_ok(&format!("/comments?issue_id={iid}"), &u).await;
    assert_eq!(ids(&list), ids(&json!([max])));
}

async fn another_workspace_is_out_of_reach(b: Backend) {
    let app = spawn(b).await;
    let alice = app.register("fay").await;
    let bob = app.register("gus").await;
    let theirs = issue(&app, &alice, "Alice's").await;
    let tid = theirs["id"].as_str().unwrap();
    let tkey = theirs["key"].as_str().unwrap();
    let c = comment(&app, &alice, tid, "private", None).await;
    let cid = c["id"].as_str().unwrap();
    let mine = issue(&app, &bob, "Bob's").await;
    let mid = mine["id"].as_str().unwrap();

    for path in [
        format!("/comments?issue_id={tid}"),
        format!("/issues/{tid}/comments"),
        format!("/comments/{cid}"),
    ] {
        app.get(&path, bob.t()).await.err(404, "NOT_FOUND");
    }
    // Bob's own team key may equal Alice's: the key resolves in Bob's workspace only.
    let list = app.get(&format!("/issues/{tkey}/comments"), bob.t()).await;
    if list.status == 200 {
        assert!(!ids(&list.body["data"]).contains(&cid.to_string()));
    } else {
        list.err(404, "NOT_FOUND");
    }
    app.post(
        &format!("/issues/{tid}/comments"),
        json!({"content": "hi"}),
        bob.t(),
    )
    .await
    .err(404, "NOT_FOUND");
    app.put(
        &format!("/comments/{cid}"),
        json!({"content": "mine now"}),
        bob.t(),
    )
    .await
    .err(404, "NOT_FOUND");
    app.delete(&format!("/comments/{cid}"), bob.t())
        .await
        .err(404, "NOT_FOUND");
    let r = app
        .post(
            "/comments",
            json!({"issue_id": tid, "content": "hi"}),
            bob.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["issue_id"]);
    let r = app
        .post(
            "/comments",
            json!({"issue_id": mid, "content": "hi", "parent_comment_id": cid}),
            bob.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(fields(&r.body), ["parent_comment_id"]);
    // Alice's comment is untouched, and Bob's log shows none of it.
    let got = app.get_ok(&format!("/comments/{cid}"), &alice).await;
    assert_eq!(got["content"], "private");
    assert_eq!(got["is_deleted"], false);
    assert!(
        app.changes(&bob)
            .await
            .iter()
            .all(|ch| ch["entity_id"] != json!(cid))
    );
}
