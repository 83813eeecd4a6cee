//! `/invitations…`: invite (mailed, all or nothing, one pending per address), list, get,
//! accept (only the invited address; joins and switches), decline, revoke, expiry, and the
//! concurrent burst of invitations of one address.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Backend, TestApp, join};

trellis_kernel::backend_tests!(
    invite_mails_and_accept_joins,
    invite_validates_every_address_and_conflicts,
    invite_needs_an_admin,
    decline_revoke_and_who_sees_what,
    expired_invitations_close_and_can_be_renewed,
    concurrent_invitations_of_one_address,
);

/// Waits (up to 5 s) for `n` mails to `email` and returns them.
async fn mails(app: &TestApp, email: &str, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let m = app.mails(email);
        if m.len() >= n {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no mail #{n} for {email}");
}

fn fields(r: &crate::harness::Resp) -> Vec<String> {
    assert_eq!(r.status, 422, "{}", r.body);
    r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

async fn invite_mails_and_accept_joins(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let ws = app.get_ok("/workspaces/current", &alice).await;
    // Addresses are normalized and count once.
    let r = app
        .post(
            "/invitations",
            json!({"emails": [" Bob@Example.com", "bob@example.com", "dan@example.com"], "role": "Admin"}),
            alice.t(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let list = r.ok();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let inv = list[0].clone();
    assert_eq!(inv["email"], "bob@example.com");
    assert_eq!(inv["role"], "admin");
    assert_eq!(inv["status"], "pending");
    assert_eq!(inv["workspace_id"], ws["id"]);
    assert_eq!(inv["workspace_name"], ws["name"]);
    assert_eq!(inv["invited_by"], json!(alice.id));
    assert_eq!(inv["invited_by_name"], "ALICE");
    let created =
        chrono::DateTime::parse_from_rfc3339(inv["created_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(inv["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, chrono::Duration::days(7));
    let id = inv["id"].as_str().unwrap().to_string();
    // The mail went out, naming the workspace and the invitation.
    let m = mails(&app, "bob@example.com", 1).await;
    assert!(m[0].contains(ws["name"].as_str().unwrap()), "{}", m[0]);
    assert!(m[0].contains(&id), "{}", m[0]);
    mails(&app, "dan@example.com", 1).await;

    // Bob registers with the invited address afterwards and finds the invitation.
    let bob = app.register("bob").await;
    let mine = app.get_ok("/invitations", &bob).await;
    assert_eq!(crate::harness::ids(&mine), [id.as_str()]);
    assert_eq!(
        app.get_ok(&format!("/invitations/{id}"), &bob).await["status"],
        "pending"
    );
    // Dan's invitation is not Bob's to see or answer.
    let dan_inv = list[1]["id"].as_str().unwrap().to_string();
    app.get(&format!("/invitations/{dan_inv}"), bob.t())
        .await
        .err(404, "NOT_FOUND");
    app.post(
        &format!("/invitations/{dan_inv}/accept"),
        json!({}),
        bob.t(),
    )
    .await
    .err(404, "NOT_FOUND");

    let accepted = app
        .post_ok(&format!("/invitations/{id}/accept"), json!({}), &bob)
        .await;
    assert_eq!(accepted["status"], "accepted");
    // Bob is an admin of Alice's workspace and works in it now.
    let cur = app.get_ok("/workspaces/current", &bob).await;
    assert_eq!(cur["id"], ws["id"]);
    assert_eq!(cur["role"], "admin");
    assert_eq!(
        app.get_ok("/workspaces", &bob)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let members = app.get_ok("/workspace-members", &alice).await;
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user_id"] == json!(bob.id) && m["role"] == "admin")
    );
    // Once answered, it is closed.
    app.post(&format!("/invitations/{id}/accept"), json!({}), bob.t())
        .await
        .err(409, "INVITATION_CLOSED");
    app.post(&format!("/invitations/{id}/decline"), json!({}), bob.t())
        .await
        .err(409, "INVITATION_CLOSED");
    // The admin sees the workspace's invitations; the list and the change log agree.
    let all = app.get_ok("/invitations", &alice).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let log = app.get_ok("/sync/delta?limit=1000", &alice).await;
    let entries: Vec<_> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "invitation" || c["entity"] == "member")
        .map(|c| {
            (
                c["entity"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = [
        ("invitation", "create"),
        ("invitation", "create"),
        ("invitation", "update"),
        ("member", "create"),
    ]
    .map(|(a, b)| (a.to_string(), b.to_string()));
    assert_eq!(entries, expect);
    // The log, readable by every member, does not carry the invited addresses.
    assert!(!log.to_string().contains("dan@example.com"));
}

async fn invite_validates_every_address_and_conflicts(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let r = app
        .post(
            "/invitations",
            json!({"emails": ["nope", "ok@example.com", "a@b", ""], "role": "boss"}),
            alice.t(),
        )
        .await;
    assert_eq!(fields(&r), ["emails[0]", "emails[2]", "emails[3]", "role"]);
    let r = app
        .post("/invitations", json!({"emails": []}), alice.t())
        .await;
    assert_eq!(fields(&r), ["emails"]);
    let r = app.post("/invitations", json!({}), alice.t()).await;
    assert_eq!(fields(&r), ["emails"]);
    let many: Vec<String> = (0..51).map(|i| format!("u{i}@example.com")).collect();
    let r = app
        .post("/invitations", json!({"emails": many}), alice.t())
        .await;
    assert_eq!(fields(&r), ["emails"]);
    let r = app
        .post(
            "/invitations",
            json!({"emails": "x@example.com"}),
            alice.t(),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // A member's address (the caller's own, in any case).
    app.post(
        "/invitations",
        json!({"emails": ["ALICE@example.com"]}),
        alice.t(),
    )
    .await
    .err(409, "ALREADY_MEMBER");
    // Default role: member.
    let inv = app
        .post_ok(
            "/invitations",
            json!({"emails": ["carl@example.com"]}),
            &alice,
        )
        .await;
    assert_eq!(inv[0]["role"], "member");
    app.post(
        "/invitations",
        json!({"emails": ["carl@example.com"]}),
        alice.t(),
    )
    .await
    .err(409, "INVITATION_PENDING");
    // All or nothing: the fresh address of a failing batch was not invited.
    app.post(
        "/invitations",
        json!({"emails": ["fresh@example.com", "carl@example.com"]}),
        alice.t(),
    )
    .await
    .err(409, "INVITATION_PENDING");
    let all = app.get_ok("/invitations", &alice).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert!(app.mails("fresh@example.com").is_empty());
    // Another workspace may invite the same address.
    let zoe = app.register("zoe").await;
    app.post_ok(
        "/invitations",
        json!({"emails": ["carl@example.com"]}),
        &zoe,
    )
    .await;
}

async fn invite_needs_an_admin(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    join(&app, &alice, &bob, "member").await;
    join(&app, &alice, &carol, "admin").await;
    // A member cannot invite; an admin can, but not owners; an owner can invite owners.
    app.post(
        "/invitations",
        json!({"emails": ["x@example.com"]}),
        bob.t(),
    )
    .await
    .err(403, "FORBIDDEN");
    app.post_ok(
        "/invitations",
        json!({"emails": ["x@example.com"], "role": "guest"}),
        &carol,
    )
    .await;
    app.post(
        "/invitations",
        json!({"emails": ["y@example.com"], "role": "owner"}),
        carol.t(),
    )
    .await
    .err(403, "FORBIDDEN");
    let inv = app
        .post_ok(
            "/invitations",
            json!({"emails": ["y@example.com"], "role": "owner"}),
            &alice,
        )
        .await;
    assert_eq!(inv[0]["role"], "owner");
    // The member sees the members but not the invitations; admins see both.
    let mi = app.get_ok("/workspace-member-and-invitations", &bob).await;
    assert_eq!(mi["members"].as_array().unwrap().len(), 3);
    assert_eq!(mi["invitations"], json!([]));
    let mi = app
        .get_ok("/workspace-member-and-invitations", &carol)
        .await;
    assert_eq!(mi["invitations"].as_array().unwrap().len(), 2);
    // A member's GET /invitations lists only their own.
    assert_eq!(
        app.get_ok("/invitations", &bob)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn decline_revoke_and_who_sees_what(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let inv = app
        .post_ok("/invitations", json!({"emails": [bob.email]}), &alice)
        .await;
    let id = inv[0]["id"].as_str().unwrap().to_string();
    // Eve (another workspace's admin) sees nothing of it.
    app.get(&format!("/invitations/{id}"), eve.t())
        .await
        .err(404, "NOT_FOUND");
    for action in ["accept", "decline", "revoke"] {
        app.post(&format!("/invitations/{id}/{action}"), json!({}), eve.t())
            .await
            .err(404, "NOT_FOUND");
    }
    assert_eq!(app.get_ok("/invitations", &eve).await, json!([]));
    app.get(&format!("/invitations/{}", uuid::Uuid::now_v7()), alice.t())
        .await
        .err(404, "NOT_FOUND");
    app.get("/invitations/not-a-uuid", alice.t())
        .await
        .err(404, "NOT_FOUND");
    // Its workspace's admin sees it, but only the invitee answers it.
    for action in ["accept", "decline"] {
        app.post(&format!("/invitations/{id}/{action}"), json!({}), alice.t())
            .await
            .err(403, "FORBIDDEN");
    }
    // The invitee cannot revoke (it is theirs to see, not to manage).
    app.post(&format!("/invitations/{id}/revoke"), json!({}), bob.t())
        .await
        .err(403, "FORBIDDEN");
    let d = app
        .post_ok(&format!("/invitations/{id}/decline"), json!({}), &bob)
        .await;
    assert_eq!(d["status"], "declined");
    app.post(&format!("/invitations/{id}/revoke"), json!({}), alice.t())
        .await
        .err(409, "INVITATION_CLOSED");
    // A new invitation after the decline; the admin revokes it; then it cannot be accepted.
    let inv = app
        .post_ok("/invitations", json!({"emails": [bob.email]}), &alice)
        .await;
    let id2 = inv[0]["id"].as_str().unwrap().to_string();
    let r = app
        .post_ok(&format!("/invitations/{id2}/revoke"), json!({}), &alice)
        .await;
    assert_eq!(r["status"], "revoked");
    app.post(&format!("/invitations/{id2}/accept"), json!({}), bob.t())
        .await
        .err(409, "INVITATION_CLOSED");
    // Accepting goes by the account's e-mail now: after Bob changes his address, a pending
    // invitation to the old one is not his any more; one to the new one is.
    let inv = app
        .post_ok("/invitations", json!({"emails": [bob.email]}), &alice)
        .await;
    let id3 = inv[0]["id"].as_str().unwrap().to_string();
    app.put(
        "/auth/profile",
        json!({"email": "robert@example.com"}),
        bob.t(),
    )
    .await
    .ok();
    app.post(&format!("/invitations/{id3}/accept"), json!({}), bob.t())
        .await
        .err(404, "NOT_FOUND");
    let inv = app
        .post_ok(
            "/invitations",
            json!({"emails": ["robert@example.com"]}),
            &alice,
        )
        .await;
    let id4 = inv[0]["id"].as_str().unwrap().to_string();
    app.post_ok(&format!("/invitations/{id4}/accept"), json!({}), &bob)
        .await;
    // Now a member: the other address can no longer be invited by his current one.
    app.post(
        "/invitations",
        json!({"emails": ["robert@example.com"]}),
        alice.t(),
    )
    .await
    .err(409, "ALREADY_MEMBER");
}

async fn expired_invitations_close_and_can_be_renewed(b: Backend) {
    let app = TestApp::with(b, &[("MOMENTUM_INVITATION_DAYS", "1")]).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let inv = app
        .post_ok("/invitations", json!({"emails": [bob.email]}), &alice)
        .await;
    let id = inv[0]["id"].as_str().unwrap().to_string();
    app.platform().clock.advance(Duration::from_secs(25 * 3600));
    let alice = app.login(&alice).await;
    let bob = app.login(&bob).await;
    assert_eq!(
        app.get_ok(&format!("/invitations/{id}"), &bob).await["status"],
        "expired"
    );
    app.post(&format!("/invitations/{id}/accept"), json!({}), bob.t())
        .await
        .err(409, "INVITATION_CLOSED");
    let mi = app
        .get_ok("/workspace-member-and-invitations", &alice)
        .await;
    assert_eq!(mi["invitations"][0]["status"], "expired");
    // Inviting the address again replaces the expired invitation.
    let inv = app
        .post_ok("/invitations", json!({"emails": [bob.email]}), &alice)
        .await;
    let id2 = inv[0]["id"].as_str().unwrap().to_string();
    app.get(&format!("/invitations/{id}"), bob.t())
        .await
        .err(404, "NOT_FOUND");
    app.post_ok(&format!("/invitations/{id2}/accept"), json!({}), &bob)
        .await;
}

async fn concurrent_invitations_of_one_address(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.register("alice").await;
    let burst = (0..8).map(|_| {
        app.post(
            "/invitations",
            json!({"emails": ["race@example.com"]}),
            alice.t(),
        )
    });
    let results = futures::future::join_all(burst).await;
    let mut created = 0;
    for r in &results {
        if r.status == 201 {
            created += 1;
        } else {
            r.err(409, "INVITATION_PENDING");
        }
    }
    assert_eq!(created, 1);
    let all = app.get_ok("/invitations", &alice).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["status"], "pending");
}
