//! Subscriptions and usage (`/api/v1/subscription/*`): the public catalogue, Free on first
//! sight, subscribe / upgrade (with its proration line) / cancel, renewal, admin changes
//! and overrides, and `/usage` with the quota API's reservations.

use std::time::Duration;

use serde_json::{Value, json};
use trellis_kernel::backend_tests;
use trellis_kernel::testing::{Backend, Resp};
use trellis_workflow::domain::plans::Meter;
use trellis_workflow::service::quota;
use uuid::Uuid;

use crate::harness::TestApp;

backend_tests!(
    plans_are_public,
    every_account_starts_on_free,
    subscribe_validates_and_starts_a_paid_period,
    upgrade_prorates_and_refuses_downgrades,
    cancel_at_period_end_and_now,
    renewal_is_past_due_until_an_admin_records_payment,
    admin_sets_plan_status_and_limits,
    usage_counts_reservations_per_period
);

const DAY: Duration = Duration::from_secs(86_400);

impl TestApp {
    async fn sub_get(&self, what: &str, token: &str) -> Resp {
        self.get(&format!("/api/v1/subscription/{what}"), Some(token))
            .await
    }

    async fn sub_post(&self, what: &str, token: &str, body: Value) -> Resp {
        self.post_auth(&format!("/api/v1/subscription/{what}"), token, body)
            .await
    }

    async fn subscribe(&self, token: &str, plan: &str, cycle: &str) -> Value {
        self.sub_post(
            "subscribe",
            token,
            json!({"plan_id": plan, "billing_cycle": cycle}),
        )
        .await
        .ok()
    }

    async fn meter(&self, token: &str, meter: &str) -> Value {
        let all = self.sub_get("usage", token).await.ok();
        all.as_array()
            .unwrap()
            .iter()
            .find(|m| m["meter"] == meter)
            .unwrap()
            .clone()
    }
}

async fn plans_are_public(b: Backend) {
    let app = TestApp::spawn(b).await;
    let d = app.get("/api/v1/subscription/plans", None).await.ok();
    let ids: Vec<&str> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["free", "pro", "team"]);
    let free = &d[0];
    assert_eq!(free["price_monthly"], 0);
    assert_eq!(
        free["entitlements"],
        json!({"executions_per_month": 1000, "concurrent_executions": 2, "workflow_definitions": 10,
               "proxy_pools": 1, "collected_items_per_day": 1000, "schedules": 2})
    );
    assert!(free["features"].is_object());
    assert!(d[1]["price_monthly"].as_i64().unwrap() > 0);
    assert!(d[1]["currency"].is_string());
}

async fn every_account_starts_on_free(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.get("/api/v1/subscription/current", None)
        .await
        .err(401, "NOT_AUTHENTICATED");
    app.get("/api/v1/subscription/usage", None)
        .await
        .err(401, "NOT_AUTHENTICATED");
    let (user, t) = app.user("alice").await;
    let d = app.sub_get("current", &t.access).await.ok();
    assert_eq!(d["plan_id"], "free");
    assert_eq!(d["status"], "active");
    assert_eq!(d["user_id"], user["id"]);
    assert_eq!(d["provider"], "manual");
    assert_eq!(d["effective_plan_id"], "free");
    assert_eq!(d["entitlements"]["executions_per_month"], 1000);
    // Reading again finds the same row (ensure_free is idempotent).
    let again = app.sub_get("current", &t.access).await.ok();
    assert_eq!(again["id"], d["id"]);
    // Free cannot be canceled.
    app.sub_post("cancel", &t.access, json!({}))
        .await
        .err(409, "NO_PAID_SUBSCRIPTION");
}

async fn subscribe_validates_and_starts_a_paid_period(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, t) = app.user("bob").await;
    app.post(
        "/api/v1/subscription/subscribe",
        json!({"plan_id": "pro", "billing_cycle": "monthly"}),
    )
    .await
    .err(401, "NOT_AUTHENTICATED");
    let r = app
        .sub_post(
            "subscribe",
            &t.access,
            json!({"plan_id": "gold", "billing_cycle": "monthly"}),
        )
        .await;
    r.err(422, "VALIDATION_ERROR");
    assert_eq!(r.body["details"][0]["field"], "plan_id");
    let r = app
        .sub_post(
            "subscribe",
            &t.access,
            json!({"plan_id": "pro", "billing_cycle": "weekly"}),
        )
        .await;
    r.err(422, "VALIDATION_ERROR");
    assert_eq!(r.body["details"][0]["field"], "billing_cycle");
    let r = app
        .sub_post(
            "subscribe",
            &t.access,
            json!({"plan_id": "x", "billing_cycle": "y"}),
        )
        .await;
    r.err(422, "VALIDATION_ERROR");
    assert_eq!(r.body["details"].as_array().unwrap().len(), 2);
    app.sub_post("subscribe", &t.access, json!({"billing_cycle": "monthly"}))
        .await
        .err(422, "VALIDATION_ERROR");

    let d = app.subscribe(&t.access, "pro", "yearly").await;
    assert_eq!(d["plan_id"], "pro");
    assert_eq!(d["status"], "active");
    assert_eq!(d["billing_cycle"], "yearly");
    assert_eq!(d["entitlements"]["executions_per_month"], 20_000);
    let (start, end) = (
        d["current_period_start"].as_str().unwrap(),
        d["current_period_end"].as_str().unwrap(),
    );
    let year: i32 = start[..4].parse().unwrap();
    assert_eq!(&end[..4], (year + 1).to_string(), "{start} .. {end}");
    assert_eq!(&end[4..10], &start[4..10]);
    app.sub_post(
        "subscribe",
        &t.access,
        json!({"plan_id": "team", "billing_cycle": "monthly"}),
    )
    .await
    .err(409, "ALREADY_SUBSCRIBED");
    assert_eq!(
        app.sub_get("current", &t.access).await.ok()["plan_id"],
        "pro"
    );
}

async fn upgrade_prorates_and_refuses_downgrades(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, t) = app.user("carol").await;
    app.sub_post("upgrade", &t.access, json!({"plan_id": "pro"}))
        .await
        .err(409, "NO_PAID_SUBSCRIPTION");
    let plans = app.get("/api/v1/subscription/plans", None).await.ok();
    let (pro, team) = (
        plans[1]["price_monthly"].as_i64().unwrap(),
        plans[2]["price_monthly"].as_i64().unwrap(),
    );
    app.subscribe(&t.access, "pro", "monthly").await;
    app.advance(10 * DAY);
    // Access tokens last 30 minutes of the server clock: sign in again.
    let t = app.login("carol", crate::harness::PASSWORD).await;
    app.sub_post("upgrade", &t.access, json!({"plan_id": "gold"}))
        .await
        .err(422, "VALIDATION_ERROR");
    let r = app
        .sub_post("upgrade", &t.access, json!({"plan_id": "free"}))
        .await;
    r.err(422, "VALIDATION_ERROR");
    assert_eq!(r.body["details"][0]["code"], "not_an_upgrade");
    app.sub_post("upgrade", &t.access, json!({"plan_id": "pro"}))
        .await
        .err(422, "VALIDATION_ERROR");

    let d = app
        .sub_post("upgrade", &t.access, json!({"plan_id": "team"}))
        .await
        .ok();
    let s = &d["subscription"];
    assert_eq!(s["plan_id"], "team");
    assert_eq!(s["status"], "active");
    assert_eq!(s["entitlements"]["executions_per_month"], 100_000);
    let p = &d["proration"];
    assert_eq!(p["kind"], "proration");
    assert_eq!(p["from_plan_id"], "pro");
    assert_eq!(p["to_plan_id"], "team");
    let (unused, period) = (
        p["unused_seconds"].as_i64().unwrap(),
        p["period_seconds"].as_i64().unwrap(),
    );
    // A calendar month, ten days of it gone (a few seconds of test time aside).
    assert!((28 * 86_400..=31 * 86_400).contains(&period), "{p}");
    assert!((period - 10 * 86_400 - unused).abs() <= 5, "{p}");
    let rata = |price: i64| (2 * price * unused + period) / (2 * period);
    assert_eq!(p["credit"], rata(pro));
    assert_eq!(p["charge"], rata(team));
    assert_eq!(p["amount"], rata(team) - rata(pro));
    assert!(p["amount"].as_i64().unwrap() > 0);
    // The period is kept; going back down is refused.
    assert_eq!(s["current_period_end"], {
        let c = app.sub_get("current", &t.access).await.ok();
        c["current_period_end"].clone()
    });
    app.sub_post("upgrade", &t.access, json!({"plan_id": "pro"}))
        .await
        .err(422, "VALIDATION_ERROR");
}

async fn cancel_at_period_end_and_now(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (_, t) = app.user("dave").await;
    app.subscribe(&t.access, "pro", "monthly").await;
    app.post(
        "/api/v1/subscription/cancel",
        json!({"at_period_end": false}),
    )
    .await
    .err(401, "NOT_AUTHENTICATED");
    let d = app.sub_post("cancel", &t.access, json!({})).await.ok();
    assert_eq!(d["cancel_at_period_end"], true);
    assert_eq!(d["status"], "active");
    assert_eq!(d["effective_plan_id"], "pro");
    // After the period's end the subscription is over and Free applies.
    app.advance(32 * DAY);
    // Access tokens last 30 minutes of the server clock: sign in again.
    let t = app.login("dave", crate::harness::PASSWORD).await;
    let d = app.sub_get("current", &t.access).await.ok();
    assert_eq!(d["status"], "canceled");
    assert_eq!(d["canceled_at"], d["current_period_end"]);
    assert_eq!(d["effective_plan_id"], "free");
    assert_eq!(d["entitlements"]["executions_per_month"], 1000);
    app.sub_post("cancel", &t.access, json!({}))
        .await
        .err(409, "ALREADY_CANCELED");
    // A canceled user can subscribe again.
    let d = app.subscribe(&t.access, "team", "monthly").await;
    assert_eq!(d["status"], "active");
    assert_eq!(d["canceled_at"], Value::Null);

    let (_, e) = app.user("erin").await;
    app.subscribe(&e.access, "team", "yearly").await;
    let d = app
        .sub_post("cancel", &e.access, json!({"at_period_end": false}))
        .await
        .ok();
    assert_eq!(d["status"], "canceled");
    assert!(d["canceled_at"].is_string());
    assert_eq!(d["effective_plan_id"], "free");
    let m = app.meter(&e.access, "executions_per_month").await;
    assert_eq!(m["limit"], 1000);
    app.sub_post("cancel", &e.access, json!({"at_period_end": "soon"}))
        .await
        .err(422, "VALIDATION_ERROR");
}

async fn renewal_is_past_due_until_an_admin_records_payment(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (user, t) = app.user("fay").await;
    let first = app.subscribe(&t.access, "pro", "monthly").await;
    app.advance(32 * DAY);
    // Access tokens last 30 minutes of the server clock: sign in again.
    let t = app.login("fay", crate::harness::PASSWORD).await;
    let d = app.sub_get("current", &t.access).await.ok();
    assert_eq!(d["status"], "past_due");
    // PostgreSQL keeps microseconds: compare to the millisecond.
    assert_eq!(
        d["current_period_start"].as_str().unwrap()[..23],
        first["current_period_end"].as_str().unwrap()[..23],
        "renewed on the anniversary"
    );
    assert_eq!(d["entitlements"]["executions_per_month"], 20_000, "grace");
    let admin = app.admin().await;
    let path = format!(
        "/api/v1/subscription/admin/users/{}",
        user["id"].as_str().unwrap()
    );
    let d = app
        .put(&path, json!({"status": "active"}), Some(&admin.access))
        .await
        .ok();
    assert_eq!(d["status"], "active");
    assert_eq!(
        app.sub_get("current", &t.access).await.ok()["status"],
        "active"
    );
    // Free renews as active.
    let (_, g) = app.user("gus").await;
    app.sub_get("current", &g.access).await.ok();
    app.advance(40 * DAY);
    // Access tokens last 30 minutes of the server clock: sign in again.
    let g = app.login("gus", crate::harness::PASSWORD).await;
    assert_eq!(
        app.sub_get("current", &g.access).await.ok()["status"],
        "active"
    );
}

async fn admin_sets_plan_status_and_limits(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (user, t) = app.user("hank").await;
    let (other, o) = app.user("ivy").await;
    let path = format!(
        "/api/v1/subscription/admin/users/{}",
        user["id"].as_str().unwrap()
    );
    app.get(&path, Some(&o.access))
        .await
        .err(403, "INSUFFICIENT_PERMISSIONS");
    app.put(&path, json!({"plan_id": "team"}), Some(&o.access))
        .await
        .err(403, "INSUFFICIENT_PERMISSIONS");
    app.get(&path, None).await.err(401, "NOT_AUTHENTICATED");
    let admin = app.admin().await;
    let nobody = format!("/api/v1/subscription/admin/users/{}", Uuid::now_v7());
    app.get(&nobody, Some(&admin.access))
        .await
        .err(404, "USER_NOT_FOUND");
    app.put(&nobody, json!({"plan_id": "team"}), Some(&admin.access))
        .await
        .err(404, "USER_NOT_FOUND");
    let d = app.get(&path, Some(&admin.access)).await.ok();
    assert_eq!(d["plan_id"], "free", "Free on first sight, for admins too");
    assert_eq!(d["user_id"], user["id"]);

    let r = app
        .put(
            &path,
            json!({"plan_id": "gold", "status": "paid", "limits": {"bogus": 1, "schedules": -1}}),
            Some(&admin.access),
        )
        .await;
    r.err(422, "VALIDATION_ERROR");
    let fields: Vec<&str> = r.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["plan_id", "status", "limits.bogus", "limits.schedules"]
    );

    let d = app
        .put(
            &path,
            json!({"limits": {"executions_per_month": 5, "schedules": 7}}),
            Some(&admin.access),
        )
        .await
        .ok();
    assert_eq!(
        d["limits"],
        json!({"executions_per_month": 5, "schedules": 7})
    );
    assert_eq!(d["entitlements"]["executions_per_month"], 5);
    let m = app.meter(&t.access, "executions_per_month").await;
    assert_eq!(
        (m["limit"].clone(), m["remaining"].clone()),
        (json!(5), json!(5))
    );
    assert_eq!(app.meter(&t.access, "schedules").await["limit"], 7);
    // The other user is untouched.
    assert_eq!(app.meter(&o.access, "schedules").await["limit"], 2);
    let _ = other;

    let d = app
        .put(
            &path,
            json!({"plan_id": "team", "status": "trialing"}),
            Some(&admin.access),
        )
        .await
        .ok();
    assert_eq!(
        (d["plan_id"].clone(), d["status"].clone()),
        (json!("team"), json!("trialing"))
    );
    assert_eq!(
        d["entitlements"]["executions_per_month"], 5,
        "override kept"
    );
    assert_eq!(d["entitlements"]["workflow_definitions"], 1000);
    let d = app
        .put(
            &path,
            json!({"limits": {}, "status": "canceled"}),
            Some(&admin.access),
        )
        .await
        .ok();
    assert_eq!(d["status"], "canceled");
    assert_eq!(d["entitlements"]["executions_per_month"], 1000);
    assert_eq!(
        app.sub_get("current", &t.access).await.ok()["status"],
        "canceled"
    );
}

async fn usage_counts_reservations_per_period(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (user, t) = app.user("jane").await;
    let d = app.sub_get("usage", &t.access).await.ok();
    let meters: Vec<&str> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["meter"].as_str().unwrap())
        .collect();
    assert_eq!(
        meters,
        [
            "executions_per_month",
            "concurrent_executions",
            "workflow_definitions",
            "proxy_pools",
            "collected_items_per_day",
            "schedules"
        ]
    );
    let month = &d[0];
    assert_eq!(
        (
            month["used"].clone(),
            month["reserved"].clone(),
            month["limit"].clone(),
            month["remaining"].clone()
        ),
        (json!(0), json!(0), json!(1000), json!(1000))
    );
    let reset = month["reset_at"].as_str().unwrap();
    assert!(reset.ends_with("-01T00:00:00Z"), "{reset}");
    assert!(d[4]["reset_at"].as_str().unwrap().ends_with("T00:00:00Z"));
    assert_eq!(d[2]["reset_at"], Value::Null);
    assert_eq!(d[2]["limit"], 10);

    // The engine's calls: two reservations, one counted, one given back, one open.
    let uid: Uuid = user["id"].as_str().unwrap().parse().unwrap();
    let db = &app.platform().db;
    let now = app.platform().clock.now();
    let events: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    let mut tx = db.begin().await.unwrap();
    for e in &events {
        quota::reserve(&mut tx, uid, Meter::ExecutionsPerMonth, *e, now)
            .await
            .unwrap();
    }
    assert!(quota::commit(&mut tx, events[0], now).await.unwrap());
    assert!(quota::release(&mut tx, events[1], now).await.unwrap());
    tx.commit().await.unwrap();
    let m = app.meter(&t.access, "executions_per_month").await;
    assert_eq!(
        (
            m["used"].clone(),
            m["reserved"].clone(),
            m["remaining"].clone()
        ),
        (json!(1), json!(1), json!(998))
    );
    // Next month the meter starts again.
    app.advance(32 * DAY);
    // Access tokens last 30 minutes of the server clock: sign in again.
    let t = app.login("jane", crate::harness::PASSWORD).await;
    let m = app.meter(&t.access, "executions_per_month").await;
    assert_eq!(
        (m["used"].clone(), m["reserved"].clone()),
        (json!(0), json!(0))
    );
    assert_ne!(m["reset_at"].as_str().unwrap(), reset);
}
