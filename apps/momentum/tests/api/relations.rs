//! `/issues/{id}/relations`: stored once, shown from both sides with the inverse type,
//! duplicates 409 from either side, no self-relations, the other issue must be in the
//! workspace, deletion from either side.

use serde_json::json;

use crate::issues::{app, bad_fields, new_issue, ws_of};
use trellis_kernel::testing::Backend;

trellis_kernel::backend_tests!(
    relations_show_the_inverse_and_refuse_duplicates,
    relation_bodies_list_every_bad_field,
);

async fn relations_show_the_inverse_and_refuse_duplicates(b: Backend) {
    let app = app(b).await;
    let u = app.register("rita").await;
    let ws = ws_of(&app, &u).await;
    let a = new_issue(&app, &u, &ws, "A", json!({})).await;
    let b_ = new_issue(&app, &u, &ws, "B", json!({})).await;
    let c = new_issue(&app, &u, &ws, "C", json!({})).await;
    let (aid, bid, cid) = (
        a["id"].as_str().unwrap(),
        b_["id"].as_str().unwrap(),
        c["id"].as_str().unwrap(),
    );
    // A is blocked by B (stored as B blocks A); the key works in the path.
    let r = app
        .post(
            &format!("/issues/{}/relations", a["key"].as_str().unwrap()),
            json!({"type": "blocked_by", "related_issue_id": bid}),
            u.t(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let rel = r.ok();
    assert_eq!(rel["type"], "blocked_by");
    assert_eq!(rel["issue_id"], aid);
    assert_eq!(rel["related_issue_id"], bid);
    assert_eq!(rel["related_issue"]["key"], b_["key"]);
    assert_eq!(rel["related_issue"]["state"]["category"], "backlog");
    let from_b = app.get_ok(&format!("/issues/{bid}/relations"), &u).await;
    assert_eq!(from_b[0]["id"], rel["id"]);
    assert_eq!(from_b[0]["type"], "blocks");
    assert_eq!(from_b[0]["related_issue_id"], aid);
    // The detail views show the same, each from its side.
    let a_detail = app.get_ok(&format!("/issues/{aid}"), &u).await;
    assert_eq!(a_detail["relations"][0]["type"], "blocked_by");
    assert_eq!(a_detail["relations"][0]["related_issue"]["key"], b_["key"]);
    let b_detail = app.get_ok(&format!("/issues/{bid}"), &u).await;
    assert_eq!(b_detail["relations"][0]["type"], "blocks");
    assert_eq!(b_detail["relations"][0]["id"], rel["id"]);
    // The same relation asked from the other side is a duplicate.
    app.post(
        &format!("/issues/{bid}/relations"),
        json!({"type": "blocks", "related_issue_id": aid}),
        u.t(),
    )
    .await
    .err(409, "RELATION_EXISTS");
    app.post(
        &format!("/issues/{aid}/relations"),
        json!({"type": "blocked_by", "related_issue_id": bid}),
        u.t(),
    )
    .await
    .err(409, "RELATION_EXISTS");
    // `related` is symmetric: one row whichever side asks.
    app.post_ok(
        &format!("/issues/{cid}/relations"),
        json!({"type": "related", "related_issue_id": aid}),
        &u,
    )
    .await;
    app.post(
        &format!("/issues/{aid}/relations"),
        json!({"type": "RELATED", "related_issue_id": cid}),
        u.t(),
    )
    .await
    .err(409, "RELATION_EXISTS");
    // Duplicates: the inverse is duplicated_by.
    let dup = app
        .post_ok(
            &format!("/issues/{cid}/relations"),
            json!({"type": "duplicate_of", "related_issue_id": bid}),
            &u,
        )
        .await;
    assert_eq!(dup["type"], "duplicate_of");
    let from_b = app.get_ok(&format!("/issues/{bid}/relations"), &u).await;
    let types: Vec<&str> = from_b
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["blocks", "duplicated_by"]);
    // The detail shows them too.
    let detail = app.get_ok(&format!("/issues/{aid}"), &u).await;
    let types: Vec<&str> = detail["relations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["blocked_by", "related"]);
    // Self-relations are refused.
    let r = app
        .post(
            &format!("/issues/{aid}/relations"),
            json!({"type": "blocks", "related_issue_id": aid}),
            u.t(),
        )
        .await;
    assert_eq!(bad_fields(&r), ["related_issue_id"]);
    assert_eq!(r.body["errors"][0]["code"], "self_relation");
    // Deleting from the other side removes it for both.
    let rid = rel["id"].as_str().unwrap();
    app.delete(&format!("/issues/{bid}/relations/{rid}"), u.t())
        .await
        .ok();
    app.delete(&format!("/issues/{aid}/relations/{rid}"), u.t())
        .await
        .err(404, "NOT_FOUND");
    let from_a = app.get_ok(&format!("/issues/{aid}/relations"), &u).await;
    assert_eq!(from_a.as_array().unwrap().len(), 1);
    assert_eq!(from_a[0]["type"], "related");
    // A relation of other issues is not found through this one.
    let did = dup["id"].as_str().unwrap();
    app.delete(&format!("/issues/{aid}/relations/{did}"), u.t())
        .await
        .err(404, "NOT_FOUND");
    app.delete(&format!("/issues/{aid}/relations/not-an-id"), u.t())
        .await
        .err(404, "NOT_FOUND");
    // Logged: three creates, one delete.
    let log = app.get_ok("/sync/delta?after=0&limit=1000", &u).await;
    let rels: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "issue_relation")
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(rels, ["create", "create", "create", "delete"]);
    // Asked again after deletion, it can be created again.
    app.post_ok(
        &format!("/issues/{bid}/relations"),
        json!({"type": "blocks", "related_issue_id": aid}),
        &u,
    )
    .await;
}

async fn relation_bodies_list_every_bad_field(b: Backend) {
    let app = app(b).await;
    let u = app.register("sven").await;
    let ws = ws_of(&app, &u).await;
    let a = new_issue(&app, &u, &ws, "A", json!({})).await;
    let path = format!("/issues/{}/relations", a["id"].as_str().unwrap());
    let r = app
        .post(
            &path,
            json!({"type": "parent_of", "related_issue_id": "x"}),
            u.t(),
        )
        .await;
    assert_eq!(bad_fields(&r), ["type", "related_issue_id"]);
    let r = app.post(&path, json!({}), u.t()).await;
    assert_eq!(bad_fields(&r), ["type", "related_issue_id"]);
    let r = app
        .post(
            &path,
            json!({"type": "blocks", "related_issue_id": uuid::Uuid::now_v7()}),
            u.t(),
        )
        .await;
    assert_eq!(bad_fields(&r), ["related_issue_id"]);
    assert_eq!(r.body["errors"][0]["code"], "not_found");
}
