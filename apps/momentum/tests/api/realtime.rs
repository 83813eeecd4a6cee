//! `/ws` (issue 9): connection and typed closes, heartbeat, commands' replies, topics and
//! events, presence, resume, idempotency, rate limits, revocation, the monitoring
//! endpoints, and two tenants that never see each other's frames.

use serde_json::{Value, json};
use trellis_kernel::testing::{Backend, TEST_ADMIN_PASSWORD};

use crate::harness::{TestApp, User};
use crate::ws::Ws;

trellis_kernel::backend_tests!(
    connect_with_token_header_or_ticket,
    heartbeat_and_bad_frames,
    events_follow_topics,
    both_command_forms_and_one_reply_each,
    presence_once_per_user,
    resume_without_gap_or_duplicate,
    idempotent_request_ids,
    commands_share_the_rate_limit,
    logout_closes_the_sessions_sockets,
    lost_access_drops_subscriptions,
    monitoring_endpoints_by_role,
    two_tenants_never_share_frames,
    socket_caps_and_idle_timeout,
    a_slow_consumer_is_told_to_resync,
    a_password_change_elsewhere_closes_the_sockets
);

/// Signs in the platform admin (seeded from `ADMIN_USERNAME`/`ADMIN_PASSWORD`).
async fn platform_admin(app: &TestApp) -> User {
    let d = app
        .post(
            "/auth/login",
            json!({"username": "admin", "password": TEST_ADMIN_PASSWORD}),
            None,
        )
        .await
        .ok();
    User {
        token: d["access_token"].as_str().unwrap().to_string(),
        refresh: d["refresh_token"].as_str().unwrap().to_string(),
        id: d["user"]["id"].as_str().unwrap().to_string(),
        username: "admin".into(),
        email: String::new(),
        password: TEST_ADMIN_PASSWORD.into(),
    }
}

fn ws_id(u: &Ws) -> String {
    u.initial["current_workspace"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn connect_with_token_header_or_ticket(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("wsann").await;
    // Query token: the opening frames carry the workspace, teams, members and sync_id.
    let ws = Ws::open(&app, &u).await;
    let init = &ws.initial;
    assert_eq!(init["user"]["id"], u.id.as_str(), "{init}");
    assert_eq!(init["workspaces"].as_array().unwrap().len(), 1);
    assert!(!init["teams"].as_array().unwrap().is_empty());
    assert_eq!(init["workspace_members"].as_array().unwrap().len(), 1);
    assert!(init["sync_id"].as_i64().unwrap() > 0, "{init}");
    // Bearer header.
    let mut h = Ws::try_connect(&app, "", Some(&u.token)).await.unwrap();
    h.expect_opening().await;
    // Ticket: single use.
    let t = app.post_ok("/ws/ticket", json!({}), &u).await;
    let ticket = t["ticket"].as_str().unwrap().to_string();
    assert_eq!(t["expires_in"], 30);
    let mut k = Ws::connect(&app, &format!("ticket={ticket}")).await;
    k.expect_opening().await;
    let mut again = Ws::connect(&app, &format!("ticket={ticket}")).await;
    assert_eq!(again.closed().await, 4401);
    // A burst of connects with one ticket: exactly one opens.
    let t = app.post_ok("/ws/ticket", json!({}), &u).await;
    let q = format!("ticket={}", t["ticket"].as_str().unwrap());
    let burst = futures::future::join_all((0..8).map(|_| Ws::connect(&app, &q))).await;
    let mut opened = 0;
    for mut s in burst {
        let first = s.drain(300).await;
        if first.iter().any(|f| f["message_type"] == "initial_data") {
            opened += 1;
        } else {
            assert_eq!(s.closed().await, 4401, "{first:?}");
        }
    }
    assert_eq!(opened, 1);
    // A bad token is accepted then closed with 4401; no credentials at all is a 401.
    let mut bad = Ws::connect(&app, "token=not-a-jwt").await;
    assert_eq!(bad.closed().await, 4401);
    assert_eq!(Ws::try_connect(&app, "", None).await.err(), Some(401));
    // Not an upgrade request: 426 in the envelope; a bad after_sync_id: 422.
    let r = app.get("/ws", u.t()).await;
    assert_eq!(r.status, 426, "{}", r.body);
    assert_eq!(r.code(), "upgrade_required");
    let r = app.get("/ws?after_sync_id=-1", u.t()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    // Another app's token (audience) is refused.
    assert_eq!(app.post("/ws/ticket", json!({}), None).await.status, 401);
}

async fn heartbeat_and_bad_frames(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("wsbob").await;
    let mut ws = Ws::open(&app, &u).await;
    ws.send(json!({"message_type": "ping", "data": {}})).await;
    let pong = ws.next_where(|f| f["message_type"] == "pong").await;
    assert!(pong["timestamp"].is_string(), "{pong}");
    let r = ws.cmd("ping", json!({})).await;
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(r["data"]["pong"], true);
    assert_eq!(r["command_type"], "ping");
    // Unparseable, non-object, unknown: an error frame or reply, and the socket stays open.
    ws.send_text("{not json").await;
    let e = ws.next_where(|f| f["message_type"] == "error").await;
    assert_eq!(e["data"]["code"], "INVALID_JSON", "{e}");
    ws.send_text("[1,2]").await;
    let e = ws.next_where(|f| f["message_type"] == "error").await;
    assert_eq!(e["data"]["code"], "INVALID_MESSAGE", "{e}");
    ws.send(json!({"data": {}, "request_id": "x1"})).await;
    let e = ws
        .next_where(|f| f["message_type"] == "command_response")
        .await;
    assert_eq!(e["data"]["success"], false, "{e}");
    assert_eq!(e["data"]["error"]["code"], "INVALID_COMMAND", "{e}");
    let r = ws.cmd("launch_rockets", json!({})).await;
    assert_eq!(r["error"]["code"], "UNKNOWN_COMMAND", "{r}");
    let info = ws.cmd("get_connection_info", json!({})).await;
    assert_eq!(info["data"]["user_id"], u.id.as_str(), "{info}");
    assert!(info["data"]["connection_id"].is_u64());
    assert_eq!(ws.cmd("ping", json!({})).await["success"], true);
}

async fn events_follow_topics(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("wscat").await;
    let mut ws = Ws::open(&app, &u).await;
    let w = ws_id(&ws);
    // Nothing arrives before subscribing.
    app.post_ok(
        "/labels",
        json!({"name": "Before", "color": "#112233", "level": "issue"}),
        &u,
    )
    .await;
    assert!(
        ws.drain(300)
            .await
            .iter()
            .all(|f| f["message_type"] != "event")
    );
    let r = ws
        .cmd("subscribe", json!({"topics": [format!("workspace:{w}")]}))
        .await;
    assert_eq!(r["success"], true, "{r}");
    let start = r["data"]["sync_ids"][&w].as_i64().unwrap();
    // A REST change arrives as one event.
    app.post_ok(
        "/labels",
        json!({"name": "Live", "color": "#112233", "level": "issue"}),
        &u,
    )
    .await;
    let e = ws.event(start + 1).await;
    assert_eq!(e["entity"], "label", "{e}");
    assert_eq!(e["action"], "create");
    assert_eq!(e["data"]["name"], "Live");
    assert_eq!(e["workspace_id"], w.as_str());
    // Topic shorthands and object topics: an issue event reaches `issues`, `team:` and
    // `issue:` subscribers; a label event does not reach `issues`.
    let team = app.first_team_id(&u).await;
    let mut only_issues = Ws::open(&app, &u).await;
    let r = only_issues
        .cmd(
            "subscribe",
            json!({"topics": ["issues", format!("team:{team}")]}),
        )
        .await;
    assert_eq!(r["success"], true, "{r}");
    let issue = app.create_issue(&u, &team, "Realtime").await;
    let sid = app.changes(&u).await.last().unwrap()["sync_id"]
        .as_i64()
        .unwrap();
    let e = only_issues.event(sid).await;
    assert_eq!(e["entity"], "issue");
    assert_eq!(e["entity_id"], issue["id"]);
    app.post_ok(
        "/labels",
        json!({"name": "NotForIssues", "color": "#112233", "level": "issue"}),
        &u,
    )
    .await;
    let seen = only_issues.drain(300).await;
    assert!(
        seen.iter()
            .all(|f| f["message_type"] != "event" || f["data"]["entity"] != "label"),
        "{seen:?}"
    );
    // Unknown and missing topics answer an error naming the topic; nothing is subscribed.
    let r = ws.cmd("subscribe", json!({"topics": ["bogus"]})).await;
    assert_eq!(r["error"]["code"], "UNKNOWN_TOPIC", "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("bogus"));
    let r = ws
        .cmd(
            "subscribe",
            json!({"topics": [format!("issue:{}", uuid::Uuid::now_v7())]}),
        )
        .await;
    assert_eq!(r["error"]["code"], "FORBIDDEN_TOPIC", "{r}");
    let r = ws.cmd("subscribe", json!({})).await;
    assert_eq!(r["error"]["code"], "VALIDATION_ERROR", "{r}");
    // Unsubscribing stops the events.
    ws.drain(200).await;
    let r = ws
        .cmd("unsubscribe", json!({"topics": [format!("workspace:{w}")]}))
        .await;
    assert_eq!(
        r["data"]["unsubscribed"][0],
        format!("workspace:{w}"),
        "{r}"
    );
    app.post_ok(
        "/labels",
        json!({"name": "After", "color": "#112233", "level": "issue"}),
        &u,
    )
    .await;
    assert!(
        ws.drain(300)
            .await
            .iter()
            .all(|f| f["message_type"] != "event")
    );
}

async fn both_command_forms_and_one_reply_each(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("wsdan").await;
    let mut ws = Ws::open(&app, &u).await;
    let w = ws_id(&ws);
    ws.cmd("subscribe", json!({"topics": [format!("workspace:{w}")]}))
        .await;
    // Seed form.
    let r = ws
        .cmd(
            "create_label",
            json!({"data": {"name": "Seed", "color": "#ff0000", "level": "issue"}}),
        )
        .await;
    assert_eq!(r["success"], true, "{r}");
    let sid = r["sync_id"].as_i64().unwrap();
    let e = ws.event(sid).await;
    assert_eq!(e["entity_id"], r["data"]["id"]);
    // The original's enveloped form.
    ws.send(
        json!({"message_type": "command", "data": {"type": "create_label",
        "data": {"name": "Wrapped", "color": "#00ff00", "level": "issue"}, "request_id": "w1"}}),
    )
    .await;
    let r = ws.reply("w1").await;
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(r["data"]["name"], "Wrapped");
    // A failing command: the REST codes, one reply, no sync_id.
    let r = ws
        .cmd(
            "create_label",
            json!({"data": {"name": "Seed", "color": "#ff0000", "level": "issue"}}),
        )
        .await;
    assert_eq!(r["success"], false);
    assert_eq!(r["error"]["code"], "LABEL_EXISTS", "{r}");
    assert!(r.get("sync_id").is_none());
    let r = ws
        .cmd(
            "create_label",
            json!({"data": {"name": "", "color": "red", "level": "issue"}}),
        )
        .await;
    assert_eq!(r["error"]["code"], "VALIDATION_ERROR", "{r}");
    assert!(r["error"]["field"].is_string(), "{r}");
    // Exactly one reply per command: nothing else for these request ids.
    let rest = ws.drain(300).await;
    assert!(
        rest.iter().all(|f| f["message_type"] != "command_response"),
        "{rest:?}"
    );
}

async fn presence_once_per_user(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.register("wseve").await;
    let mate = app.join_workspace(&owner, "wsfay", "member").await;
    let mut a = Ws::open(&app, &owner).await;
    let m1 = Ws::open(&app, &mate).await;
    let joined = a
        .next_where(|f| {
            f["message_type"] == "user_joined" && f["data"]["user"]["id"] == mate.id.as_str()
        })
        .await;
    assert_eq!(joined["data"]["connections"], 1, "{joined}");
    // A second socket of the same user: no second user_joined.
    let m2 = Ws::open(&app, &mate).await;
    let online = app.get_ok("/ws/online", &owner).await;
    let me = online["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["user_id"] == mate.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(me["connections"], 2, "{online}");
    assert_eq!(online["count"], 2);
    m1.close().await;
    let frames = a.drain(400).await;
    let about_mate = |f: &&Value| {
        f["data"]["user"]["id"] == mate.id.as_str() || f["data"]["user_id"] == mate.id.as_str()
    };
    assert!(
        frames
            .iter()
            .filter(about_mate)
            .all(|f| f["message_type"] != "user_joined" && f["message_type"] != "user_left"),
        "{frames:?}"
    );
    m2.close().await;
    let left = a.next_where(|f| f["message_type"] == "user_left").await;
    assert_eq!(left["data"]["user_id"], mate.id.as_str(), "{left}");
    let online = app.get_ok("/ws/online", &mate).await;
    assert_eq!(online["count"], 1, "{online}");
}

async fn resume_without_gap_or_duplicate(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("wsgus").await;
    let ws = Ws::open(&app, &u).await;
    let w = ws_id(&ws);
    let start = ws.initial["sync_id"].as_i64().unwrap();
    ws.close().await;
    for i in 0..5 {
        app.post_ok(
            "/labels",
            json!({"name": format!("Gap{i}"), "color": "#112233", "level": "issue"}),
            &u,
        )
        .await;
    }
    // Reconnect with ?after_sync_id: the five events in order, then live ones.
    let mut ws = Ws::connect(&app, &format!("token={}&after_sync_id={start}", u.token)).await;
    ws.expect_opening().await;
    let mut got = Vec::new();
    for _ in 0..5 {
        let e = ws.next_where(|f| f["message_type"] == "event").await;
        got.push(e["data"]["sync_id"].as_i64().unwrap());
    }
    assert_eq!(got, (start + 1..=start + 5).collect::<Vec<_>>());
    let resumed = ws
        .next_where(|f| f["message_type"] == "system_message" && f["data"]["type"] == "resumed")
        .await;
    assert_eq!(resumed["data"]["sync_id"], start + 5, "{resumed}");
    app.post_ok(
        "/labels",
        json!({"name": "Live", "color": "#112233", "level": "issue"}),
        &u,
    )
    .await;
    assert_eq!(ws.event(start + 6).await["data"]["name"], "Live");
    // The command form replays the same range again on request, without duplicating live ones.
    let r = ws
        .cmd(
            "resume",
            json!({"data": {"workspace_id": w, "after_sync_id": start + 4}}),
        )
        .await;
    assert_eq!(r["data"]["replayed"], 2, "{r}");
    let frames = ws.drain(300).await;
    let ids: Vec<i64> = frames
        .iter()
        .filter(|f| f["message_type"] == "event")
        .map(|f| f["data"]["sync_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [start + 5, start + 6], "{frames:?}");
    // Another socket resuming from what the workspace's reader holds in memory (it has
    // followed the workspace since start + 5): the same frames, in order, once.
    let mut other = Ws::open(&app, &u).await;
    let r = other
        .cmd(
            "resume",
            json!({"data": {"workspace_id": w, "after_sync_id": start + 5}}),
        )
        .await;
    assert_eq!(r["data"]["replayed"], 1, "{r}");
    app.post_ok(
        "/labels",
        json!({"name": "Later", "color": "#112233", "level": "issue"}),
        &u,
    )
    .await;
    assert_eq!(other.event(start + 7).await["data"]["name"], "Later");
    let frames = other.drain(300).await;
    let ids: Vec<i64> = frames
        .iter()
        .filter(|f| f["message_type"] == "event")
        .map(|f| f["data"]["sync_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [start + 6], "{frames:?}");
    // Beyond the log's end: resync_required.
    let r = ws
        .cmd(
            "resume",
            json!({"data": {"workspace_id": w, "after_sync_id": 1_000_000}}),
        )
        .await;
    assert_eq!(r["data"]["resync_required"], true, "{r}");
    // Another workspace: refused.
    let other = app.register("wshal").await;
    let theirs = app.get_ok("/auth/profile", &other).await["current_workspace_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = ws
        .cmd(
            "resume",
            json!({"data": {"workspace_id": theirs, "after_sync_id": 0}}),
        )
        .await;
    assert_eq!(r["error"]["code"], "FORBIDDEN_TOPIC", "{r}");
}

async fn idempotent_request_ids(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("wsivy").await;
    let mut a = Ws::open(&app, &u).await;
    let mut b2 = Ws::open(&app, &u).await;
    let args = json!({"data": {"name": "Once", "color": "#123456", "level": "issue"}});
    let first = a.cmd_with_id("create_label", args.clone(), "same-id").await;
    assert_eq!(first["success"], true, "{first}");
    // The same request id again, even on another socket of the user: the first reply, and
    // nothing executed twice.
    let again = b2.cmd_with_id("create_label", args, "same-id").await;
    assert_eq!(again["data"]["id"], first["data"]["id"], "{again}");
    assert_eq!(again["sync_id"], first["sync_id"]);
    let labels = app.get_ok("/labels?search=Once", &u).await;
    assert_eq!(labels.as_array().unwrap().len(), 1, "{labels}");
    // The same new request id sent on both sockets at once: it runs once, both get its reply.
    let args = json!({"data": {"name": "Twice", "color": "#123456", "level": "issue"}});
    let (x, y) = tokio::join!(
        a.cmd_with_id("create_label", args.clone(), "burst-id"),
        b2.cmd_with_id("create_label", args, "burst-id")
    );
    assert_eq!(x["success"], true, "{x}");
    assert_eq!(x["data"]["id"], y["data"]["id"], "{x} / {y}");
    let labels = app.get_ok("/labels?search=Twice", &u).await;
    assert_eq!(labels.as_array().unwrap().len(), 1, "{labels}");
}

async fn commands_share_the_rate_limit(b: Backend) {
    let app = TestApp::with(
        b,
        &[("RATE_LIMIT_PER_SECOND", "1"), ("RATE_LIMIT_BURST", "3")],
    )
    .await;
    let u = app.register("wsjon").await;
    let mut ws = Ws::open(&app, &u).await;
    let mut limited = None;
    for _ in 0..6 {
        let r = ws.cmd("query_labels", json!({"filters": {}})).await;
        if r["success"] == false {
            limited = Some(r);
            break;
        }
    }
    let r = limited.unwrap_or_else(|| panic!("a command over the bucket is refused"));
    assert_eq!(r["error"]["code"], "RATE_LIMITED", "{r}");
    assert!(r["retry_after_ms"].as_u64().unwrap() > 0, "{r}");
    // REST writes draw from the same bucket.
    let rest = app
        .post(
            "/labels",
            json!({"name": "X", "color": "#123456", "level": "issue"}),
            u.t(),
        )
        .await;
    assert_eq!(rest.status, 429, "{}", rest.body);
    // Flooding on after refusals (more than twice the burst): closed with 4429.
    for i in 0..10 {
        ws.send(json!({"type": "query_labels", "filters": {}, "request_id": format!("f{i}")}))
            .await;
    }
    assert_eq!(ws.closed().await, 4429);
}

async fn logout_closes_the_sessions_sockets(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("wskim").await;
    let other_session = app.login(&u).await;
    let mut ws = Ws::open(&app, &u).await;
    let mut keep = Ws::open(&app, &other_session).await;
    let r = app
        .post("/auth/logout", json!({"refresh_token": u.refresh}), u.t())
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_eq!(ws.closed().await, 4000);
    // The other session's socket stays.
    assert_eq!(keep.cmd("ping", json!({})).await["success"], true);
}

async fn lost_access_drops_subscriptions(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.register("wslea").await;
    let mate = app.join_workspace(&owner, "wsmax", "member").await;
    let mut ws = Ws::open(&app, &mate).await;
    let w = ws_id(&ws);
    // A public team the member is not in: followed until it is made private.
    let team = app.create_team(&owner, "Hidden", "HID").await;
    let team_id = team["id"].as_str().unwrap().to_string();
    let r = ws
        .cmd("subscribe", json!({"topics": [format!("team:{team_id}")]}))
        .await;
    assert_eq!(r["success"], true, "{r}");
    let r = app
        .put(
            &format!("/teams/{team_id}"),
            json!({"is_private": true}),
            owner.t(),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let dropped = ws
        .next_where(|f| f["data"]["type"] == "subscription_dropped")
        .await;
    assert_eq!(dropped["data"]["topic"], format!("team:{team_id}"));
    let r = ws
        .cmd("subscribe", json!({"topics": [format!("team:{team_id}")]}))
        .await;
    assert_eq!(r["error"]["code"], "FORBIDDEN_TOPIC", "{r}");
    let r = ws
        .cmd("subscribe", json!({"topics": [format!("workspace:{w}")]}))
        .await;
    assert_eq!(r["success"], true, "{r}");
    let r = app
        .delete(&format!("/workspaces/{w}/members/{}", mate.id), owner.t())
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let dropped = ws
        .next_where(|f| f["data"]["type"] == "subscription_dropped")
        .await;
    assert_eq!(dropped["data"]["topic"], format!("workspace:{w}"));
    // Later changes do not reach the former member.
    app.post_ok(
        "/labels",
        json!({"name": "Secret", "color": "#123456", "level": "issue"}),
        &owner,
    )
    .await;
    let seen = ws.drain(400).await;
    assert!(
        seen.iter()
            .all(|f| !(f["message_type"] == "event" && f["data"]["entity"] == "label")),
        "{seen:?}"
    );
}

async fn monitoring_endpoints_by_role(b: Backend) {
    let app = TestApp::spawn(b).await;
    let owner = app.register("wsned").await;
    let mate = app.join_workspace(&owner, "wsola", "member").await;
    let admin = platform_admin(&app).await;
    let stranger = app.register("wspat").await;
    for (m, p) in [
        ("GET", "/ws/online"),
        ("GET", "/ws/stats"),
        ("POST", "/ws/send"),
        ("POST", "/ws/broadcast"),
        ("POST", "/ws/cleanup"),
    ] {
        let r = if m == "GET" {
            app.get(p, None).await
        } else {
            app.post(p, json!({}), None).await
        };
        assert_eq!(r.status, 401, "{p}: {}", r.body);
    }
    let mut mate_ws = Ws::open(&app, &mate).await;
    let mut stranger_ws = Ws::open(&app, &stranger).await;
    // Members: online yes; stats, send, cleanup no.
    assert_eq!(app.get("/ws/online", mate.t()).await.status, 200);
    assert_eq!(app.get("/ws/stats", mate.t()).await.status, 403);
    let send = json!({"to_user_id": owner.id, "message_type": "text", "data": {"content": "hi"}});
    assert_eq!(app.post("/ws/send", send, mate.t()).await.status, 403);
    assert_eq!(
        app.post("/ws/cleanup", json!({}), mate.t()).await.status,
        403
    );
    // Owners: stats of their workspace, send to members only, broadcast to their workspace.
    let s = app.get_ok("/ws/stats", &owner).await;
    assert_eq!(s["total_connections"], 1, "{s}");
    assert!(s.get("instance").is_none());
    let r = app
        .post_ok(
            "/ws/send",
            json!({"to_user_id": mate.id, "message_type": "notification", "data": {"content": "hello"}}),
            &owner,
        )
        .await;
    assert_eq!(r["recipients_count"], 1, "{r}");
    let f = mate_ws
        .next_where(|f| f["message_type"] == "notification")
        .await;
    assert_eq!(f["data"]["content"], "hello");
    assert_eq!(f["from_user_id"], owner.id.as_str());
    let r = app
        .post(
            "/ws/send",
            json!({"to_user_id": stranger.id, "message_type": "text", "data": {}}),
            owner.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "to_user_id", "{}", r.body);
    let r = app
        .post(
            "/ws/send",
            json!({"to_user_id": mate.id, "message_type": "user_joined", "data": {}}),
            owner.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    app.post_ok(
        "/ws/broadcast",
        json!({"message_type": "text", "data": {"content": "all hands"}}),
        &owner,
    )
    .await;
    mate_ws
        .next_where(|f| f["message_type"] == "text" && f["data"]["content"] == "all hands")
        .await;
    let stranger_frames = stranger_ws.drain(300).await;
    assert!(
        stranger_frames
            .iter()
            .all(|f| f["message_type"] != "text" && f["message_type"] != "notification"),
        "{stranger_frames:?}"
    );
    let theirs = stranger_ws.initial["current_workspace"]["id"].clone();
    let r = app
        .post(
            "/ws/broadcast",
            json!({"message_type": "text", "data": {}, "workspace_id": theirs}),
            owner.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // The platform admin: everything.
    let s = app.get_ok("/ws/stats", &admin).await;
    assert_eq!(s["total_connections"], 2, "{s}");
    assert!(s["instance"]["commands"].is_u64(), "{s}");
    let r = app
        .post_ok(
            "/ws/broadcast",
            json!({"message_type": "notification", "data": {"content": "maintenance"}}),
            &admin,
        )
        .await;
    assert_eq!(r["recipients_count"], 2, "{r}");
    stranger_ws
        .next_where(|f| f["data"]["content"] == "maintenance")
        .await;
    let c = app.post_ok("/ws/cleanup", json!({}), &admin).await;
    assert_eq!(c["cleaned_connections"], 0, "{c}");
    assert_eq!(c["remaining_connections"], 2);
    let online = app
        .get_ok(
            &format!("/ws/online?workspace_id={}", theirs.as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(online["count"], 1, "{online}");
    // WS figures on /metrics.
    let m = app
        .server
        .client
        .get(app.server.url("/metrics"))
        .send()
        .await
        .unwrap();
    let text = m.text().await.unwrap();
    assert!(text.contains("ws_connections_opened_total"), "{text}");
}

/// Two users of different workspaces: neither sees the other's replies, events, presence
/// or messages, and neither can subscribe to the other's topics.
async fn two_tenants_never_share_frames(b: Backend) {
    let app = TestApp::spawn(b).await;
    let a = app.register("wsquin").await;
    let bb = app.register("wsrita").await;
    let mut wa = Ws::open(&app, &a).await;
    let mut wb = Ws::open(&app, &bb).await;
    let (ida, idb) = (ws_id(&wa), ws_id(&wb));
    assert_ne!(ida, idb);
    let r = wa
        .cmd(
            "subscribe",
            json!({"topics": [format!("workspace:{ida}"), "issues", "projects"]}),
        )
        .await;
    assert_eq!(r["success"], true, "{r}");
    let team_b = app.first_team_id(&bb).await;
    for t in [format!("workspace:{idb}"), format!("team:{team_b}")] {
        let r = wa.cmd("subscribe", json!({"topics": [t]})).await;
        assert_eq!(r["error"]["code"], "FORBIDDEN_TOPIC", "{r}");
    }
    // B works: commands, REST, a second socket (presence), a broadcast to B's workspace.
    wb.cmd("subscribe", json!({"topics": [format!("workspace:{idb}")]}))
        .await;
    wb.cmd(
        "create_label",
        json!({"data": {"name": "BOnly", "color": "#123456", "level": "issue"}}),
    )
    .await;
    let issue = app.create_issue(&bb, &team_b, "B's issue").await;
    let _b2 = Ws::open(&app, &bb).await;
    app.post_ok(
        "/ws/broadcast",
        json!({"message_type": "text", "data": {"content": "b only"}}),
        &bb,
    )
    .await;
    // A cannot reach B's objects through commands either.
    let r = wa.cmd("get_issue", json!({"issue_id": issue["id"]})).await;
    assert_eq!(r["success"], false, "{r}");
    let seen: Vec<Value> = wa.drain(500).await;
    let text = serde_json::to_string(&seen).unwrap();
    assert!(!text.contains(&idb), "A saw B's workspace id: {text}");
    assert!(!text.contains("BOnly") && !text.contains("b only") && !text.contains(&bb.id));
    // B saw its own things.
    let seen_b = wb.drain(300).await;
    assert!(
        seen_b.iter().any(|f| f["message_type"] == "event"),
        "{seen_b:?}"
    );
}

async fn socket_caps_and_idle_timeout(b: Backend) {
    let app = TestApp::with(
        b,
        &[
            ("WS_MAX_CONNECTIONS", "3"),
            ("WS_MAX_CONNECTIONS_PER_USER", "2"),
            ("WS_CONNECTION_TIMEOUT", "1"),
            ("WS_PING_INTERVAL", "1"),
        ],
    )
    .await;
    let u = app.register("wssam").await;
    let v = app.register("wstom").await;
    let mut one = Ws::open(&app, &u).await;
    let _two = Ws::open(&app, &u).await;
    assert_eq!(
        Ws::try_connect(&app, &format!("token={}", u.token), None)
            .await
            .err(),
        Some(429)
    );
    let _three = Ws::open(&app, &v).await;
    assert_eq!(
        Ws::try_connect(&app, &format!("token={}", v.token), None)
            .await
            .err(),
        Some(503)
    );
    // A client that never answers (reads nothing, so sends no pong) is closed with 4408.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    assert_eq!(one.closed().await, 4408);
}

/// A socket that stops reading while frames pile up is sent `resync_required` and closed
/// with 4409 once its queue is full, never silently skipped.
async fn a_slow_consumer_is_told_to_resync(b: Backend) {
    let app = TestApp::with(
        b,
        &[("WS_QUEUE_FRAMES", "8"), ("RATE_LIMIT_PER_SECOND", "0")],
    )
    .await;
    let owner = app.register("wsuma").await;
    let admin = platform_admin(&app).await;
    let mut slow = Ws::open(&app, &owner).await;
    // 15 KiB broadcasts until the socket's buffers and queue are full.
    let blob = "x".repeat(15 * 1024);
    let mut overflowed = false;
    for i in 0..3000 {
        app.post_ok(
            "/ws/broadcast",
            json!({"message_type": "text", "data": {"n": i, "blob": blob}}),
            &owner,
        )
        .await;
        if i % 50 == 49 {
            let s = app.get_ok("/ws/stats", &admin).await;
            if s["instance"]["dropped_slow"] == 1 {
                overflowed = true;
                break;
            }
        }
    }
    assert!(overflowed, "the slow socket's queue never filled");
    assert_eq!(slow.closed().await, 4409);
    let all = slow.drain(100).await;
    let resync = all
        .iter()
        .find(|f| f["data"]["type"] == "resync_required")
        .unwrap_or_else(|| panic!("no resync_required frame among {} frames", all.len()));
    assert_eq!(resync["message_type"], "system_message");
}

/// One account works in every app: changing the password through the Workflow Platform's
/// API signs out the account's other sessions, and their Momentum sockets close with 4000.
async fn a_password_change_elsewhere_closes_the_sockets(b: Backend) {
    let app = TestApp(
        trellis_kernel::testing::TestApp::new(b)
            .with_apps(&["momentum", "workflow"])
            .start(trellis::testing::launch)
            .await,
    );
    let u = app.register("wsvic").await;
    let mut ws = Ws::open(&app, &u).await;
    let r = app
        .post(
            "/api/v1/users/auth/login",
            json!({"username_or_email": u.email, "password": u.password}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.body["data"]["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token in {}", r.body))
        .to_string();
    let r = app
        .post(
            "/api/v1/users/me/change-password",
            json!({"old_password": u.password, "new_password": "Another-Pass-2"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ws.closed().await, 4000);
}
