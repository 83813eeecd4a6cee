//! Plans made with no LLM key, end to end: a task created (202), run by the engine through
//! every node, the plan stored with the engine's numbers; results, lists, filters, deletes,
//! apply with meal records, idempotency keys, the active-task cap, and privacy.

use std::time::Duration;

use serde_json::{Value, json};
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::TestApp;
use crate::pets::dog;

backend_tests!(
    a_plan_with_no_key_end_to_end,
    inline_pet_info_and_refusals,
    idempotency_key_answers_the_same_task,
    plan_lists_apply_and_meals,
    tasks_and_plans_are_private
);

impl TestApp {
    /// Polls the task until it is final; returns it. Every answer must be consistent: a
    /// completed task has every node completed and a plan (`finalize` completes the row a
    /// moment before the engine records the node's end; readers must not see that gap).
    pub async fn wait_task(&self, token: &str, id: &str) -> Value {
        for _ in 0..3000 {
            let t = self
                .get(&format!("/api/v1/tasks/{id}"), Some(token))
                .await
                .ok();
            if t["status"] == "completed" {
                assert!(
                    t["nodes"]
                        .as_array()
                        .is_some_and(|n| n.iter().all(|n| n["status"] == "completed")),
                    "{t}"
                );
                assert!(t["plan_id"].is_string(), "{t}");
            }
            if matches!(
                t["status"].as_str(),
                Some("completed" | "failed" | "cancelled")
            ) {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("task {id} did not finish");
    }

    /// Creates a pet; returns its id.
    pub async fn pet(&self, token: &str, body: Value) -> String {
        self.post_auth("/api/v1/pets", token, body).await.ok()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates a plan task; returns its id.
    pub async fn plan_task(&self, token: &str, body: Value) -> String {
        let r = self.post_auth("/api/v1/plans", token, body).await;
        assert_eq!(r.status, 202, "{}", r.body);
        r.ok()["task_id"].as_str().unwrap().to_string()
    }
}

async fn a_plan_with_no_key_end_to_end(b: Backend) {
    let app = TestApp::spawn(b).await;
    let t = app.user("alice").await;
    let pet = app.pet(&t, dog()).await;
    let task = app.plan_task(&t, json!({"pet_id": pet})).await;
    let done = app.wait_task(&t, &task).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"], 100);
    assert!(done["started_at"].is_string() && done["completed_at"].is_string());
    let nodes: Vec<&str> = done["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert_eq!(
        nodes,
        ["assess", "week_1", "week_2", "week_3", "week_4", "finalize"]
    );
    assert!(
        done["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["status"] == "completed" && n["tries"] == 1),
        "{done}"
    );
    let result = app
        .get(&format!("/api/v1/tasks/{task}/result"), Some(&t))
        .await
        .ok();
    let plan_id = result["plan_id"].as_str().unwrap().to_string();
    let plan = app
        .get(&format!("/api/v1/plans/{plan_id}"), Some(&t))
        .await
        .ok();
    assert_eq!(plan["pet_id"], json!(pet));
    assert_eq!(plan["pet_type"], "dog");
    let data = &plan["plan_data"];
    // 10 kg neutered adult dog, moderate activity: 1.6 × 70 × 10^0.75 ≈ 630 kcal.
    let kcal = data["nutrition_targets"]["daily_kcal"].as_f64().unwrap();
    assert!((kcal - 629.9).abs() < 2.0, "{kcal}");
    for k in ["protein_g", "fat_g", "carbohydrates_g"] {
        assert!(data["nutrition_targets"][k].as_f64().unwrap() > 0.0, "{k}");
    }
    let weeks = data["pet_diet_plan"]["monthly_diet_plan"]
        .as_array()
        .unwrap();
    assert_eq!(weeks.len(), 4);
    for w in weeks {
        let days = w["weekly_diet_plan"]["daily_diet_plans"]
            .as_array()
            .unwrap();
        assert_eq!(days.len(), 7);
        for d in days {
            let items = d["food_items"].as_array().unwrap();
            let sum: f64 = items.iter().map(|i| i["kcal"].as_f64().unwrap()).sum();
            assert!(
                (sum - kcal).abs() <= kcal * 0.05,
                "day sums to {sum}, target {kcal}"
            );
            assert!(items.iter().all(|i| i["weight"].as_f64().unwrap() > 0.0));
        }
    }
    let notes = data["notes"].to_string();
    assert!(notes.contains("兽医"), "{notes}");
    // No narrative without a key, said so.
    assert!(data["narrative_omitted"].is_string(), "{data}");
    // A finished task cannot be cancelled.
    app.post_auth(&format!("/api/v1/tasks/{task}/cancel"), &t, json!({}))
        .await
        .err(409, "task_finished");
    let list = app.get("/api/v1/tasks", Some(&t)).await.ok();
    assert_eq!(list["total"], 1);
    assert_eq!(
        app.get("/api/v1/tasks?status=completed", Some(&t))
            .await
            .ok()["total"],
        1
    );
    app.get("/api/v1/tasks?status=weird", Some(&t))
        .await
        .err(422, "validation_error");
}

async fn inline_pet_info_and_refusals(b: Backend) {
    let app = TestApp::spawn(b).await;
    let t = app.user("bob").await;
    // The seed's inline fields (pet_age in months).
    let task = app
        .plan_task(
            &t,
            json!({"pet_type": "cat", "pet_breed": "英短", "pet_age": 24, "pet_weight": 4.2,
                   "health_status": "健康", "neutered": true}),
        )
        .await;
    let done = app.wait_task(&t, &task).await;
    assert_eq!(done["status"], "completed", "{done}");
    let plan_id = done["plan_id"].as_str().unwrap();
    let plan = app
        .get(&format!("/api/v1/plans/{plan_id}"), Some(&t))
        .await
        .ok();
    assert_eq!(plan["pet_type"], "cat");
    assert_eq!(plan["pet_weight"], 4.2);
    assert!(plan["pet_id"].is_null());
    let r = app
        .post_auth(
            "/api/v1/plans",
            &t,
            json!({"pet_type": "dog", "pet_age": 24, "pet_weight": 500}),
        )
        .await;
    r.err(422, "validation_error");
    assert_eq!(r.body["detail"][0]["field"], "pet_weight");
    let r = app
        .post_auth(
            "/api/v1/plans",
            &t,
            json!({"pet_type": "dog", "pet_age": 24, "pet_weight": 8, "food_preferences": ["大蒜"]}),
        )
        .await;
    r.err(422, "validation_error");
    assert_eq!(r.body["detail"][0]["type"], "toxic_food");
    let pet = app.pet(&t, dog()).await;
    let r = app
        .post_auth(
            "/api/v1/plans",
            &t,
            json!({"pet_id": pet, "food_preferences": ["xylitol gum"]}),
        )
        .await;
    r.err(422, "validation_error");
    app.post_auth("/api/v1/plans", &t, json!({}))
        .await
        .err(422, "validation_error");
    app.get("/api/v1/plans?page_size=101", Some(&t))
        .await
        .err(422, "validation_error");
}

async fn idempotency_key_answers_the_same_task(b: Backend) {
    let app = TestApp::spawn(b).await;
    let t = app.user("carol").await;
    let pet = app.pet(&t, dog()).await;
    let send = |key: &'static str| {
        let app = &app;
        let t = t.clone();
        let pet = pet.clone();
        async move {
            reqwest::Client::new()
                .post(app.server.url("/api/v1/plans"))
                .bearer_auth(&t)
                .header("idempotency-key", key)
                .json(&json!({"pet_id": pet}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let (a, b2) = tokio::join!(send("plan-1"), send("plan-1"));
    assert_eq!(a["data"]["task_id"], b2["data"]["task_id"], "{a} {b2}");
    let c = send("plan-2").await;
    assert_ne!(a["data"]["task_id"], c["data"]["task_id"]);
    let list = app.get("/api/v1/tasks", Some(&t)).await.ok();
    assert_eq!(list["total"], 2);
}

async fn plan_lists_apply_and_meals(b: Backend) {
    let app = TestApp::spawn(b).await;
    let t = app.user("dave").await;
    let pet = app.pet(&t, dog()).await;
    let cat = app
        .pet(&t, json!({"name": "咪咪", "type": "cat", "age_months": 30, "weight_kg": 4, "neutered": true}))
        .await;
    let t1 = app.plan_task(&t, json!({"pet_id": pet})).await;
    let t2 = app.plan_task(&t, json!({"pet_id": cat})).await;
    let p1 = app.wait_task(&t, &t1).await["plan_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.wait_task(&t, &t2).await;
    assert_eq!(app.get("/api/v1/plans", Some(&t)).await.ok()["total"], 2);
    let dogs = app.get("/api/v1/plans?pet_type=dog", Some(&t)).await.ok();
    assert_eq!(dogs["total"], 1);
    assert_eq!(dogs["items"][0]["id"], json!(p1));
    assert!(dogs["items"][0]["daily_kcal"].as_f64().unwrap() > 0.0);
    assert_eq!(
        app.get(&format!("/api/v1/plans?pet_id={cat}"), Some(&t))
            .await
            .ok()["total"],
        1
    );
    app.get("/api/v1/plans?pet_type=fish", Some(&t))
        .await
        .err(422, "validation_error");
    let page = app
        .get("/api/v1/plans?page=2&page_size=1", Some(&t))
        .await
        .ok();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    // Apply: 28 days of meals from today.
    let applied = app
        .post_auth(&format!("/api/v1/plans/{p1}/apply"), &t, Value::Null)
        .await
        .ok();
    let n = applied["meals_created"].as_u64().unwrap();
    assert!(n >= 28, "{applied}");
    let today = app
        .get(&format!("/api/v1/meals/today?pet_id={pet}"), Some(&t))
        .await
        .ok();
    let meals = today["meals"].as_array().unwrap();
    assert!(!meals.is_empty(), "{today}");
    assert!(today["total_calories"].as_f64().unwrap() > 0.0);
    let meal = meals[0]["id"].as_str().unwrap();
    let done = app
        .post_auth(
            &format!("/api/v1/meals/{meal}/complete"),
            &t,
            json!({"notes": "吃光了"}),
        )
        .await
        .ok();
    assert_eq!(done["is_completed"], true);
    assert_eq!(done["notes"], "吃光了");
    let undone = app
        .delete(&format!("/api/v1/meals/{meal}/complete"), Some(&t))
        .await
        .ok();
    assert_eq!(undone["is_completed"], false);
    // A `null` body is no body (schemathesis sends one; the fields are all optional).
    let again = app
        .post_auth(&format!("/api/v1/meals/{meal}/complete"), &t, Value::Null)
        .await
        .ok();
    assert_eq!(again["is_completed"], true);
    app.delete(&format!("/api/v1/meals/{meal}/complete"), Some(&t))
        .await
        .ok();
    let date = today["date"].as_str().unwrap();
    let same = app
        .get(&format!("/api/v1/meals?pet_id={pet}&date={date}"), Some(&t))
        .await
        .ok();
    assert_eq!(same["meals"].as_array().unwrap().len(), meals.len());
    let plan = app.get(&format!("/api/v1/plans/{p1}"), Some(&t)).await.ok();
    assert_eq!(plan["is_active"], true);
    assert_eq!(
        app.get(&format!("/api/v1/pets/{pet}"), Some(&t)).await.ok()["active_plan_id"],
        json!(p1)
    );
    // Applying the dog's plan to the cat is refused; deleting the plan removes open meals.
    app.post_auth(
        &format!("/api/v1/plans/{p1}/apply"),
        &t,
        json!({"pet_id": cat}),
    )
    .await
    .err(422, "validation_error");
    app.delete(&format!("/api/v1/plans/{p1}"), Some(&t))
        .await
        .ok();
    app.get(&format!("/api/v1/plans/{p1}"), Some(&t))
        .await
        .err(404, "plan_not_found");
    let after = app
        .get(&format!("/api/v1/meals/today?pet_id={pet}"), Some(&t))
        .await
        .ok();
    assert!(after["meals"].as_array().unwrap().is_empty());
}

async fn tasks_and_plans_are_private(b: Backend) {
    let app = TestApp::spawn(b).await;
    let a = app.user("erin").await;
    let e = app.user("frank").await;
    let pet = app.pet(&a, dog()).await;
    let task = app.plan_task(&a, json!({"pet_id": pet})).await;
    let plan = app.wait_task(&a, &task).await["plan_id"]
        .as_str()
        .unwrap()
        .to_string();
    for path in [
        format!("/api/v1/tasks/{task}"),
        format!("/api/v1/tasks/{task}/result"),
        format!("/api/v1/plans/stream?task_id={task}"),
    ] {
        app.get(&path, Some(&e)).await.err(404, "task_not_found");
    }
    app.post_auth(&format!("/api/v1/tasks/{task}/cancel"), &e, json!({}))
        .await
        .err(404, "task_not_found");
    app.get(&format!("/api/v1/plans/{plan}"), Some(&e))
        .await
        .err(404, "plan_not_found");
    app.delete(&format!("/api/v1/plans/{plan}"), Some(&e))
        .await
        .err(404, "plan_not_found");
    app.post_auth(
        &format!("/api/v1/plans/{plan}/apply"),
        &e,
        json!({"pet_id": pet}),
    )
    .await
    .err(404, "plan_not_found");
    app.get(&format!("/api/v1/meals/today?pet_id={pet}"), Some(&e))
        .await
        .err(404, "pet_not_found");
    assert_eq!(app.get("/api/v1/plans", Some(&e)).await.ok()["total"], 0);
    assert_eq!(app.get("/api/v1/tasks", Some(&e)).await.ok()["total"], 0);
}
