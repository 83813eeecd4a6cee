//! Momentum's console pages (issue 13) over plain HTTP, on both backends: a first workspace
//! for a console account, the board (columns in workflow order, create, move by form, a move
//! the workflow's rules refuse explained on the card that stays), issue detail (comments,
//! labels, history), labels and cycles pages, another workspace's objects answering the 404
//! page, the CSRF refusal, and the WebSocket ticket of the console session opening `/ws`.
//! The live board in a real browser is `console_browser_momentum.rs`.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

mod console_kit;

use console_kit::{Browserless, USER, USER_PASSWORD, between};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::{Backend, TestApp};

backend_tests!(
    board_create_move_refusal_detail_labels_cycles,
    another_workspace_is_not_found_and_csrf_is_required,
    a_full_board_stays_under_the_page_budget,
    ws_ticket_of_the_console_session_opens_the_socket
);

/// Signs `user` in and gives them a Momentum workspace through the start page; answers the
/// board page's body.
async fn start(
    app: &TestApp,
    user: &str,
    password: &str,
    workspace: &str,
) -> (Browserless, String) {
    let mut c = Browserless::new(app);
    c.sign_in(user, password).await;
    let first = c.get("/console/issues").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(
        first.body.contains(r#"action="/console/issues/start""#),
        "{}",
        first.body
    );
    let r = c
        .post_form("/console/issues/start", &[("name", workspace)])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/console/issues");
    let board = c.get("/console/issues").await;
    assert_eq!(board.status, 200, "{}", board.body);
    (c, board.body)
}

/// The board's columns: `(state id, name)` in page order.
fn columns(body: &str) -> Vec<(String, String)> {
    body.split(r#"<section class="column" data-state=""#)
        .skip(1)
        .map(|rest| {
            let id = rest.split('"').next().unwrap().to_string();
            let name = between(rest, &format!(r#"<h2 id="col-{id}">"#), " <span")
                .trim()
                .to_string();
            (id, name)
        })
        .collect()
}

fn state<'a>(cols: &'a [(String, String)], name: &str) -> &'a str {
    &cols.iter().find(|(_, n)| n == name).unwrap().0
}

/// The id of the column the card of `key` is in.
fn column_of(body: &str, key: &str) -> String {
    let at = body
        .find(&format!(r#"id="card-{key}""#))
        .unwrap_or_else(|| panic!("card {key} not on the board: {body}"));
    let marker = r#"<section class="column" data-state=""#;
    let col = body[..at].rfind(marker).unwrap() + marker.len();
    body[col..].split('"').next().unwrap().to_string()
}

/// A move as `board.js` sends it (the CSRF token in a header, `X-Board-Move`); answers the
/// status and body.
async fn scripted_move(app: &TestApp, c: &Browserless, key: &str, to: &str) -> (u16, String) {
    let cookies = ["trellis_session", "trellis_csrf"]
        .iter()
        .filter_map(|n| c.cookie(n).map(|v| format!("{n}={v}")))
        .collect::<Vec<_>>()
        .join("; ");
    let r = app
        .server
        .client
        .post(app.server.url(&format!("/console/issues/i/{key}/move")))
        .header("cookie", cookies)
        .header("x-csrf-token", c.csrf.clone().unwrap())
        .header("x-board-move", "1")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("to_state_id={to}"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The Momentum API token of `user` (for what the console does not do: transition rules,
/// cycles).
async fn api_token(app: &TestApp, user: &str, password: &str) -> String {
    let d = app
        .post(
            "/auth/login",
            json!({"username": user, "password": password}),
            None,
        )
        .await
        .ok();
    d["access_token"].as_str().unwrap().to_string()
}

async fn board_create_move_refusal_detail_labels_cycles(b: Backend) {
    let app = console_kit::spawn(b).await;
    let (mut c, body) = start(&app, USER, USER_PASSWORD, "Plain Works").await;
    // The columns are the default workflow's states, in order.
    let cols = columns(&body);
    let names: Vec<&str> = cols.iter().map(|(_, n)| n.as_str()).collect();
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
    assert!(body.contains("看板"), "Chinese by default");
    assert!(body.contains("/console/assets/board.js?v="), "{body}");
    let team = between(&body, r#"data-team=""#, "\"").to_string();

    // Create an issue in Todo; a missing title is the service's message in place.
    let create = format!("/console/issues/teams/{team}/issues");
    let todo = state(&cols, "Todo").to_string();
    let bad = c
        .post_form(&create, &[("title", "  "), ("workflow_state_id", &todo)])
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("title:"), "{}", bad.body);
    assert!(bad.body.contains(r#"role="alert""#));
    let r = c
        .post_form(
            &create,
            &[
                ("title", "修复登录页"),
                ("description", "登录按钮在手机上看不到"),
                ("workflow_state_id", &todo),
                ("priority", "high"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), format!("/console/issues?team={team}"));
    let board = c.get(r.location()).await;
    assert_eq!(column_of(&board.body, "PLA-1"), todo);
    assert!(board.body.contains("修复登录页"));
    let card = between(&board.body, r#"id="card-PLA-1""#, "</article>");
    assert!(card.contains("高"), "priority on the card: {card}");
    assert!(board.raw_len < 50_000, "board is {} bytes", board.raw_len);

    // Move by the card's form.
    let started = state(&cols, "In Progress").to_string();
    let r = c
        .post_form("/console/issues/i/PLA-1/move", &[("to_state_id", &started)])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let board = c.get(&format!("/console/issues?team={team}")).await;
    assert_eq!(column_of(&board.body, "PLA-1"), started);

    // Rules: from In Progress only to Done. A move to Canceled is refused, explained on the
    // card, and the card stays in its column.
    let token = api_token(&app, USER, USER_PASSWORD).await;
    let wfs = app
        .get(&format!("/teams/{team}/workflows"), Some(&token))
        .await
        .ok();
    let wf = wfs[0]["id"].as_str().unwrap().to_string();
    let done = state(&cols, "Done").to_string();
    let canceled = state(&cols, "Canceled").to_string();
    let r = app
        .put(
            &format!("/workflows/{wf}/transitions"),
            json!({"transitions": [{"from_state_id": started, "to_state_id": done}]}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let refused = c
        .post_form(
            "/console/issues/i/PLA-1/move",
            &[("to_state_id", &canceled)],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    let msg = "the workflow's rules do not allow moving from the current state to this one";
    let card = between(&refused.body, r#"id="card-PLA-1""#, "</article>");
    assert!(card.contains(msg), "{card}");
    assert!(card.contains(r#"role="alert""#), "{card}");
    assert_eq!(column_of(&refused.body, "PLA-1"), started);
    // The same refusal as board.js gets it: the message as JSON, nothing moved.
    let (status, body) = scripted_move(&app, &c, "PLA-1", &canceled).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        json!({ "error": msg })
    );
    let board = c.get(&format!("/console/issues?team={team}")).await;
    assert_eq!(column_of(&board.body, "PLA-1"), started);
    // From the issue page the refusal shows beside its state picker.
    let refused = c
        .post_form(
            "/console/issues/i/PLA-1/move",
            &[("to_state_id", &canceled), ("back", "issue")],
        )
        .await;
    assert_eq!(refused.status, 409);
    assert!(
        between(&refused.body, r#"id="move""#, "</section>").contains(msg),
        "{}",
        refused.body
    );
    // An allowed scripted move answers 204; back by form to In Progress is refused (only
    // In Progress → Done is allowed), then Done again from the issue page.
    let (status, body) = scripted_move(&app, &c, "PLA-1", &done).await;
    assert_eq!(status, 204, "{body}");
    let board = c.get(&format!("/console/issues?team={team}")).await;
    assert_eq!(column_of(&board.body, "PLA-1"), done);
    let r = c
        .post_form(
            "/console/issues/i/PLA-1/move",
            &[("to_state_id", &started), ("back", "issue")],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = c
        .post_form(
            "/console/issues/i/PLA-1/move",
            &[("to_state_id", &done), ("back", "issue")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/console/issues/i/PLA-1");

    // Issue detail: fields, description, history; add a comment (an empty one is refused in
    // place).
    let detail = c.get("/console/issues/i/PLA-1").await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert!(detail.body.contains("登录按钮在手机上看不到"));
    let history = between(&detail.body, r#"id="history""#, "</section>");
    assert!(
        history.contains("workflow_state_id") && history.contains("In Progress"),
        "{history}"
    );
    let empty = c
        .post_form("/console/issues/i/PLA-1/comments", &[("content", "")])
        .await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    assert!(between(&empty.body, r#"id="comments""#, "</section>").contains(r#"role="alert""#));
    let r = c
        .post_form(
            "/console/issues/i/PLA-1/comments",
            &[("content", "已在 Safari 上复现")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/console/issues/i/PLA-1#comments");
    let detail = c.get("/console/issues/i/PLA-1").await;
    let comments = between(&detail.body, r#"id="comments""#, "</section>");
    assert!(comments.contains("已在 Safari 上复现"), "{comments}");

    // Labels: set Bug, then unset it.
    let bug = {
        let at = detail.body.find("Bug").unwrap();
        let before = &detail.body[..at];
        let v = before.rfind(r#"name="label_ids" value=""#).unwrap() + 24;
        before[v..].split('"').next().unwrap().to_string()
    };
    let r = c
        .post_form("/console/issues/i/PLA-1/labels", &[("label_ids", &bug)])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let detail = c.get("/console/issues/i/PLA-1").await;
    assert!(detail.body.contains(&format!(r#"value="{bug}" checked"#)));
    assert!(detail.body.contains(r#"<span class="badge">Bug</span>"#));
    let r = c.post_form("/console/issues/i/PLA-1/labels", &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let detail = c.get("/console/issues/i/PLA-1").await;
    assert!(!detail.body.contains(" checked"), "no label left checked");
    let r = c
        .post_form(
            "/console/issues/i/PLA-1/labels",
            &[("label_ids", "not-a-label")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(between(&r.body, r#"id="labels""#, "</section>").contains("label_ids[0]"));

    // Labels page: list and create; a duplicate is the service's message in place.
    let labels = c.get("/console/issues/labels").await;
    assert_eq!(labels.status, 200);
    for l in ["Feature", "Improvement", "Bug"] {
        assert!(labels.body.contains(l), "{l}");
    }
    let r = c
        .post_form(
            "/console/issues/labels",
            &[
                ("name", "Backend"),
                ("color", "#112233"),
                ("level", "issue"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        c.get("/console/issues/labels")
            .await
            .body
            .contains("Backend")
    );
    let dup = c
        .post_form(
            "/console/issues/labels",
            &[("name", "Backend"), ("color", "#112233")],
        )
        .await;
    assert_eq!(dup.status, 409, "{}", dup.body);
    assert!(dup.body.contains("already exists"), "{}", dup.body);

    // Cycles page: completed of total issues as a progress bar.
    let today = chrono::Utc::now().date_naive();
    let day = |d: i64| (today + chrono::Duration::days(d)).to_string();
    let cycle = app
        .post(
            "/cycles",
            json!({"team_id": team, "name": "Sprint 1", "start_date": day(-1), "end_date": day(6)}),
            Some(&token),
        )
        .await
        .ok();
    let cycle = cycle["id"].as_str().unwrap();
    let r = c
        .post_form(
            &create,
            &[("title", "第二个议题"), ("workflow_state_id", &todo)],
        )
        .await;
    assert_eq!(r.status, 303);
    for key in ["PLA-1", "PLA-2"] {
        let r = app
            .put(
                &format!("/issues/{key}"),
                json!({"cycle_id": cycle}),
                Some(&token),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let cycles = c.get("/console/issues/cycles").await;
    assert_eq!(cycles.status, 200, "{}", cycles.body);
    assert!(cycles.body.contains("Sprint 1"));
    assert!(
        cycles.body.contains(r#"<progress max="2" value="1""#),
        "{}",
        cycles.body
    );

    // English on request.
    let en = c.get("/console/issues?lang=en").await;
    assert!(en.body.contains("New issue") && en.body.contains("Board"));
}

async fn another_workspace_is_not_found_and_csrf_is_required(b: Backend) {
    let app = console_kit::spawn(b).await;
    let (mut plain, body) = start(&app, USER, USER_PASSWORD, "Plain Works").await;
    let team = between(&body, r#"data-team=""#, "\"").to_string();
    let r = plain
        .post_form(
            &format!("/console/issues/teams/{team}/issues"),
            &[("title", "只属于 Plain 的议题")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let todo = state(&columns(&body), "Todo").to_string();

    let (mut admin, admin_board) =
        start(&app, "admin", console_kit::ADMIN_PASSWORD, "Admin Works").await;
    assert!(!admin_board.contains("只属于 Plain 的议题"));
    for path in [
        "/console/issues/i/PLA-1".to_string(),
        format!("/console/issues?team={team}"),
        format!("/console/issues/teams/{team}/columns"),
        "/console/issues?team=not-a-uuid".to_string(),
    ] {
        let r = admin.get(&path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(r.body.contains("未找到"), "{path}");
        assert!(!r.body.contains("只属于 Plain 的议题"), "{path}");
    }
    for (path, fields) in [
        (
            "/console/issues/i/PLA-1/move",
            vec![("to_state_id", todo.as_str())],
        ),
        ("/console/issues/i/PLA-1/comments", vec![("content", "hi")]),
        ("/console/issues/i/PLA-1/labels", vec![]),
    ] {
        let r = admin.post_form(path, &fields).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    let r = admin
        .post_form(
            &format!("/console/issues/teams/{team}/issues"),
            &[("title", "intruder")],
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // The owner's issue is untouched.
    let mine = plain.get("/console/issues/i/PLA-1").await;
    assert_eq!(mine.status, 200);
    assert!(!mine.body.contains("intruder") && !mine.body.contains(">hi<"));

    // A POST without the CSRF token is refused before any handler runs.
    let r = plain
        .post_raw(
            &format!("/console/issues/teams/{team}/issues"),
            "title=no-token",
            "application/x-www-form-urlencoded",
            None,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = plain
        .post_raw(
            "/console/issues/i/PLA-1/move",
            &format!("to_state_id={todo}&csrf_token=wrong"),
            "application/x-www-form-urlencoded",
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    let board = plain.get(&format!("/console/issues?team={team}")).await;
    assert!(!board.body.contains("no-token"));
}

async fn a_full_board_stays_under_the_page_budget(b: Backend) {
    let app = console_kit::spawn(b).await;
    let (mut c, body) = start(&app, USER, USER_PASSWORD, "Plain Works").await;
    let team = between(&body, r#"data-team=""#, "\"").to_string();
    let create = format!("/console/issues/teams/{team}/issues");
    let cols = columns(&body);
    // More issues than a column shows, in every column, with long titles.
    let long = "修复在旧版安卓手机上登录页面的按钮被键盘遮住导致无法提交的问题，以及相关的布局错位和滚动异常";
    for (state, _) in &cols {
        for n in 0..7 {
            let title = format!("{n} {long}");
            let r = c
                .post_form(
                    &create,
                    &[
                        ("title", &title),
                        ("workflow_state_id", state),
                        ("priority", "urgent"),
                    ],
                )
                .await;
            assert_eq!(r.status, 303, "{}", r.body);
        }
    }
    let board = c.get(&format!("/console/issues?team={team}")).await;
    assert_eq!(board.status, 200);
    assert!(board.raw_len < 50_000, "board is {} bytes", board.raw_len);
    assert_eq!(
        board.body.matches("<article class=\"issue\"").count(),
        6 * 6
    );
    assert_eq!(board.body.matches("(6+)").count(), 6);
    // Each full column links to its whole list: all 7, titles whole.
    let all = format!(
        "/console/issues/teams/{team}/states/{}",
        between(
            &board.body,
            &format!("/console/issues/teams/{team}/states/"),
            "\""
        )
    );
    let list = c.get(&all).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body.matches("<tr>").count(), 1 + 7, "{}", list.body);
    assert!(list.body.contains(long));
    assert!(list.raw_len < 50_000, "list is {} bytes", list.raw_len);
    let bad = c
        .get(&format!(
            "/console/issues/teams/{team}/states/{}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(bad.status, 404);
    let (mut other, _) = start(&app, "admin", console_kit::ADMIN_PASSWORD, "Admin Works").await;
    assert_eq!(other.get(&all).await.status, 404);
    // Titles are cut on cards, whole on the issue's page.
    assert!(!board.body.contains(long));
    let detail = c.get("/console/issues/i/PLA-1").await;
    assert!(detail.body.contains(long));
    let fragment = c
        .get(&format!("/console/issues/teams/{team}/columns"))
        .await;
    assert_eq!(fragment.status, 200);
    assert!(!fragment.body.contains("<html"), "a fragment, not a page");
    assert_eq!(
        fragment.body.matches("<article class=\"issue\"").count(),
        6 * 6
    );
}

/// A WebSocket upgrade request for `/ws?ticket=`; answers the status.
async fn open_ws(app: &TestApp, ticket: &str, upgrade: bool) -> u16 {
    let mut req = app
        .server
        .client
        .get(app.server.url(&format!("/ws?ticket={ticket}")));
    if upgrade {
        req = req
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    }
    req.send().await.unwrap().status().as_u16()
}

async fn ws_ticket_of_the_console_session_opens_the_socket(b: Backend) {
    let app = console_kit::spawn(b).await;
    let (mut c, _) = start(&app, USER, USER_PASSWORD, "Plain Works").await;
    // Without the CSRF token: refused.
    let r = c
        .post_raw("/console/issues/ws-ticket", "", "text/plain", None)
        .await;
    assert_eq!(r.status, 403);
    // With it (as board.js sends it, in the header): a ticket.
    let token = c.csrf.clone().unwrap();
    let ticket = |r: console_kit::Page| {
        assert_eq!(r.status, 201, "{}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["expires_in"], 30);
        v["ticket"].as_str().unwrap().to_string()
    };
    let t1 = ticket(
        c.post_raw("/console/issues/ws-ticket", "", "text/plain", Some(&token))
            .await,
    );
    // The ticket authenticates the console session: an upgrade is switched to the socket.
    assert_eq!(open_ws(&app, &t1, true).await, 101);
    // Single use: spent, it no longer authenticates (401 before the upgrade check).
    assert_eq!(open_ws(&app, &t1, false).await, 401);
    // A fresh one authenticates too (426: it is not an upgrade request).
    let t2 = ticket(
        c.post_raw("/console/issues/ws-ticket", "", "text/plain", Some(&token))
            .await,
    );
    assert_eq!(open_ws(&app, &t2, false).await, 426);
    // A console session's socket follows changes and runs no other command: a console
    // cookie is no API credential.
    let t4 = ticket(
        c.post_raw("/console/issues/ws-ticket", "", "text/plain", Some(&token))
            .await,
    );
    let ws_url = app
        .server
        .url(&format!("/ws?ticket={t4}"))
        .replacen("http://", "ws://", 1);
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
        .await
        .unwrap();
    for (kind, ok) in [
        ("ping", true),
        ("query_teams", false),
        ("delete_workspace", false),
        ("get_connection_info", true),
    ] {
        let rid = format!("r-{kind}");
        ws.send(tokio_tungstenite::tungstenite::Message::text(
            json!({"type": kind, "request_id": rid}).to_string(),
        ))
        .await
        .unwrap();
        let reply = loop {
            let frame = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let Ok(text) = frame.to_text() else { continue };
            let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            if v["message_type"] == "command_response" && v["data"]["request_id"] == rid.as_str() {
                break v["data"].clone();
            }
        };
        assert_eq!(reply["success"], ok, "{kind}: {reply}");
        if !ok {
            assert_eq!(reply["error"]["code"], "FORBIDDEN", "{kind}: {reply}");
        }
    }
    // After signing out, a ticket issued before no longer opens anything.
    let t3 = ticket(
        c.post_raw("/console/issues/ws-ticket", "", "text/plain", Some(&token))
            .await,
    );
    let out = c.post_form("/console/logout", &[]).await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(open_ws(&app, &t3, false).await, 401);
}
