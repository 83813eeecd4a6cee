//! `GET /sync/delta`: the change log, numbered per workspace.

use crate::harness::TestApp;
use trellis_kernel::testing::Backend;

trellis_kernel::backend_tests!(registration_is_logged_in_order);

async fn registration_is_logged_in_order(b: Backend) {
    let app = TestApp::spawn(b).await;
    let u = app.register("kate").await;
    let v = app.get("/sync/delta?after=0&limit=1000", u.t()).await;
    assert_eq!(v.status, 200, "{}", v.body);
    let items = v.body["data"].as_array().unwrap().clone();
    let ids: Vec<i64> = items
        .iter()
        .map(|c| c["sync_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>());
    assert_eq!(items[0]["entity"], "workspace");
    assert!(items.iter().any(|c| c["entity"] == "team"));
    assert_eq!(
        items
            .iter()
            .filter(|c| c["entity"] == "workflow_state")
            .count(),
        6
    );
    let page = app.get("/sync/delta?after=2&limit=3", u.t()).await;
    let ids: Vec<i64> = page.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sync_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [3, 4, 5]);
    assert_eq!(page.body["meta"]["next_cursor"], "5");
    // Another workspace's log is not visible.
    let other = app.register("liam").await;
    let theirs = app.get_ok("/sync/delta", &other).await;
    assert!(
        theirs
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["workspace_id"] != items[0]["workspace_id"])
    );
}
