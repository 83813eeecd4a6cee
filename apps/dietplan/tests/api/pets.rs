//! Pets: CRUD, every validation rule, toxic foods refused naming the food, and other
//! users' pets invisible.

use serde_json::json;
use trellis_kernel::backend_tests;
use trellis_kernel::testing::Backend;

use crate::harness::TestApp;

backend_tests!(
    pet_crud,
    pet_validation,
    toxic_foods_are_refused_by_name,
    pets_are_private
);

pub fn dog() -> serde_json::Value {
    json!({"name": "旺财", "type": "dog", "breed": "Beagle", "age_months": 36, "weight_kg": 10,
           "gender": "male", "neutered": true, "activity_level": "moderate",
           "body_condition_score": 5, "allergies": [], "food_preferences": ["chicken breast"]})
}

async fn pet_crud(b: Backend) {
    let app = TestApp::spawn(b).await;
    let t = app.user("alice").await;
    let r = app.post_auth("/api/v1/pets", &t, dog()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["code"], 0);
    let pet = r.ok();
    let id = pet["id"].as_str().unwrap().to_string();
    assert_eq!(pet["type"], "dog");
    assert_eq!(pet["weight_kg"], 10.0);
    assert_eq!(pet["activity_level"], "moderate");
    let got = app.get(&format!("/api/v1/pets/{id}"), Some(&t)).await.ok();
    assert_eq!(got["name"], "旺财");
    // A partial update changes only what it names; decimals are kept.
    let up = app
        .put(
            &format!("/api/v1/pets/{id}"),
            json!({"weight_kg": 10.55, "neutered": false}),
            Some(&t),
        )
        .await
        .ok();
    assert_eq!(up["weight_kg"], 10.55);
    assert_eq!(up["neutered"], false);
    assert_eq!(up["name"], "旺财");
    let list = app.get("/api/v1/pets", Some(&t)).await.ok();
    assert_eq!(list["total"], 1);
    app.delete(&format!("/api/v1/pets/{id}"), Some(&t))
        .await
        .ok();
    app.get(&format!("/api/v1/pets/{id}"), Some(&t))
        .await
        .err(404, "pet_not_found");
    assert_eq!(app.get("/api/v1/pets", Some(&t)).await.ok()["total"], 0);
    app.get("/api/v1/pets", None)
        .await
        .err(401, "not_authenticated");
}

async fn pet_validation(b: Backend) {
    let app = TestApp::spawn(b).await;
    let t = app.user("bob").await;
    let r = app.post_auth("/api/v1/pets", &t, json!({})).await;
    r.err(422, "validation_error");
    let fields: Vec<&str> = r.body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    for f in ["name", "type", "age_months", "weight_kg"] {
        assert!(fields.contains(&f), "{fields:?}");
    }
    assert_eq!(r.body["detail"][0]["type"], "required");
    for (field, value) in [
        ("age_months", json!(0)),
        ("age_months", json!(361)),
        ("weight_kg", json!(0.05)),
        ("weight_kg", json!(250)),
        ("type", json!("hamster")),
        ("gender", json!("x")),
        ("activity_level", json!("lazy")),
        ("body_condition_score", json!(10)),
        ("name", json!("")),
    ] {
        let mut body = dog();
        body[field] = value.clone();
        let r = app.post_auth("/api/v1/pets", &t, body).await;
        r.err(422, "validation_error");
        assert_eq!(r.body["detail"][0]["field"], field, "{value}: {}", r.body);
    }
    // Wrong JSON types are a 4xx in the envelope, never a 500.
    let r = app
        .post_auth("/api/v1/pets", &t, json!({"name": 5, "type": "dog"}))
        .await;
    assert!(r.status.is_client_error(), "{}", r.body);
    assert!(r.body["code"].as_u64().unwrap() >= 400);
}

async fn toxic_foods_are_refused_by_name(b: Backend) {
    let app = TestApp::spawn(b).await;
    let t = app.user("carol").await;
    let mut body = dog();
    body["food_preferences"] = json!(["鸡胸肉", "葡萄"]);
    let r = app.post_auth("/api/v1/pets", &t, body).await;
    r.err(422, "validation_error");
    assert_eq!(r.body["detail"][0]["field"], "food_preferences[1]");
    assert_eq!(r.body["detail"][0]["type"], "toxic_food");
    assert!(
        r.body["detail"][0]["message"]
            .as_str()
            .unwrap()
            .contains("葡萄")
    );
    let mut body = dog();
    body["allergies"] = json!(["Chocolate"]);
    let r = app.post_auth("/api/v1/pets", &t, body).await;
    r.err(422, "validation_error");
    assert_eq!(r.body["detail"][0]["field"], "allergies[0]");
    // Cats: onion too; safe foods pass.
    let cat = json!({"name": "咪咪", "type": "cat", "age_months": 24, "weight_kg": 4,
                     "food_preferences": ["洋葱"]});
    app.post_auth("/api/v1/pets", &t, cat)
        .await
        .err(422, "validation_error");
    let cat = json!({"name": "咪咪", "type": "cat", "age_months": 24, "weight_kg": 4,
                     "food_preferences": ["turkey"]});
    app.post_auth("/api/v1/pets", &t, cat).await.ok();
}

async fn pets_are_private(b: Backend) {
    let app = TestApp::spawn(b).await;
    let a = app.user("dave").await;
    let e = app.user("erin").await;
    let id = app.post_auth("/api/v1/pets", &a, dog()).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/pets/{id}");
    app.get(&path, Some(&e)).await.err(404, "pet_not_found");
    app.put(&path, json!({"name": "x"}), Some(&e))
        .await
        .err(404, "pet_not_found");
    app.delete(&path, Some(&e)).await.err(404, "pet_not_found");
    assert_eq!(app.get("/api/v1/pets", Some(&e)).await.ok()["total"], 0);
    app.post_auth("/api/v1/plans", &e, json!({"pet_id": id}))
        .await
        .err(404, "pet_not_found");
}
