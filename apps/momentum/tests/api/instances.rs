//! Two `trellis` instances on one PostgreSQL + Redis (issue 9 "Multi-instance"): a change
//! made through instance A reaches a subscriber on B; presence, `/ws/send` and revocation
//! closes cross instances; a resume on B after a disconnect from A loses nothing.

use serde_json::json;
use trellis_kernel::Platform;
use trellis_kernel::testing::{Backend, TestServer, services};

use crate::harness::TestApp;
use crate::ws::Ws;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_presence_and_resume_across_instances() {
    if services().is_none() {
        eprintln!("TEST_DATABASE_URL/TEST_REDIS_URL unset: two-instance test not run");
        return;
    }
    let app = TestApp::spawn(Backend::Services).await;
    // Instance B: same database and Redis, its own hub, identity and feeds.
    let bp = Platform::with_parts(
        (*app.t.platform.config).clone(),
        app.t.platform.db.clone(),
        app.t.platform.kv.clone(),
    )
    .unwrap();
    let b = trellis::testing::launch(bp, vec![]).await;
    let sb = TestServer::at(b.addr, None);

    let owner = app.register("twoann").await;
    let mate = app.join_workspace(&owner, "twobob", "member").await;
    let on_b = format!("token={}", owner.token);
    let mut ob = Ws::open_at(b.addr, &on_b).await;
    let w = ob.initial["current_workspace"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = ob
        .cmd("subscribe", json!({"topics": [format!("workspace:{w}")]}))
        .await;
    assert_eq!(r["success"], true, "{r}");
    // A change through A reaches B's subscriber.
    app.post_ok(
        "/labels",
        json!({"name": "FromA", "color": "#123456", "level": "issue"}),
        &owner,
    )
    .await;
    let e = ob
        .next_where(|f| f["message_type"] == "event" && f["data"]["data"]["name"] == "FromA")
        .await;
    let first = e["data"]["sync_id"].as_i64().unwrap();
    // Presence from A reaches B.
    let mut ma = Ws::open(&app, &mate).await;
    ob.next_where(|f| {
        f["message_type"] == "user_joined" && f["data"]["user"]["id"] == mate.id.as_str()
    })
    .await;
    let online: serde_json::Value = sb
        .client
        .get(sb.url("/ws/online"))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(online["data"]["count"], 2, "{online}");
    // /ws/send through B reaches the socket on A.
    let r: serde_json::Value = sb
        .client
        .post(sb.url("/ws/send"))
        .bearer_auth(&owner.token)
        .json(&json!({"to_user_id": mate.id, "message_type": "text", "data": {"content": "via B"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["success"], true, "{r}");
    ma.next_where(|f| f["message_type"] == "text" && f["data"]["content"] == "via B")
        .await;
    // Resume: a subscriber on A disconnects; changes go through B; it reconnects to B with
    // its last sync_id and gets every change once, in order.
    let r = ma
        .cmd("subscribe", json!({"topics": [format!("workspace:{w}")]}))
        .await;
    let last = r["data"]["sync_ids"][&w].as_i64().unwrap();
    assert!(last >= first);
    ma.close().await;
    for i in 0..5 {
        let r: serde_json::Value = sb
            .client
            .post(sb.url("/labels"))
            .bearer_auth(&owner.token)
            .json(&json!({"name": format!("ViaB{i}"), "color": "#123456", "level": "issue"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["success"], true, "{r}");
    }
    let mut back = Ws::open_at(
        b.addr,
        &format!("token={}&after_sync_id={last}", mate.token),
    )
    .await;
    let mut ids = Vec::new();
    while ids.len() < 5 {
        let e = back.next_where(|f| f["message_type"] == "event").await;
        ids.push(e["data"]["sync_id"].as_i64().unwrap());
    }
    assert_eq!(ids, (last + 1..=last + 5).collect::<Vec<_>>());
    let extra = back.drain(500).await;
    assert!(
        extra.iter().all(|f| f["message_type"] != "event"),
        "duplicates: {extra:?}"
    );
    // Logging out through A closes the session's socket on B.
    let r = app
        .post(
            "/auth/logout",
            json!({"refresh_token": owner.refresh}),
            owner.t(),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(ob.closed().await, 4000);
    let _ = b.stop.send(());
}
