//! The key-value contract, run on the in-process store and on Redis.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] fns fail the test by panicking"
)]

use std::time::Duration;

use bytes::Bytes;
use trellis_kernel::backend_tests;
use trellis_kernel::kv::Kv;
use trellis_kernel::testing::{Backend, platform};

async fn kv(backend: Backend) -> (trellis_kernel::testing::TestPlatform, Kv) {
    let t = platform(backend, &[]).await;
    let kv = t.platform.kv.clone();
    (t, kv)
}

backend_tests!(
    values_with_ttl,
    set_if_absent,
    counters,
    rate_limit_gcra,
    pub_sub,
    hash_counters
);

/// Presence counters: per-field counts that vanish at zero and never go negative.
async fn hash_counters(b: Backend) {
    let (_t, kv) = kv(b).await;
    assert_eq!(kv.hgetall("h").await.unwrap(), vec![]);
    assert_eq!(kv.hincr("h", "a", 1).await.unwrap(), 1);
    assert_eq!(kv.hincr("h", "a", 1).await.unwrap(), 2);
    assert_eq!(kv.hincr("h", "b", 1).await.unwrap(), 1);
    let mut all = kv.hgetall("h").await.unwrap();
    all.sort();
    assert_eq!(all, vec![("a".to_string(), 2), ("b".to_string(), 1)]);
    assert_eq!(kv.hincr("h", "b", -1).await.unwrap(), 0);
    assert_eq!(kv.hincr("h", "b", -1).await.unwrap(), 0, "never negative");
    assert_eq!(kv.hgetall("h").await.unwrap(), vec![("a".to_string(), 2)]);
    assert_eq!(kv.hincr("h", "b", 1).await.unwrap(), 1, "restarts at 0");
}

async fn values_with_ttl(b: Backend) {
    let (_t, kv) = kv(b).await;
    assert_eq!(kv.get("a").await.unwrap(), None);
    kv.set("a", "1", None).await.unwrap();
    assert_eq!(kv.get("a").await.unwrap().as_deref(), Some("1"));
    assert_eq!(kv.ttl("a").await.unwrap(), None);
    kv.set("b", "2", Some(Duration::from_millis(150)))
        .await
        .unwrap();
    let ttl = kv.ttl("b").await.unwrap().unwrap();
    assert!(ttl <= Duration::from_millis(150) && ttl > Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(kv.get("b").await.unwrap(), None);
    assert!(kv.del("a").await.unwrap());
    assert!(!kv.del("a").await.unwrap());
}

async fn set_if_absent(b: Backend) {
    let (_t, kv) = kv(b).await;
    assert!(
        kv.set_nx("n", "x", Duration::from_millis(150))
            .await
            .unwrap()
    );
    assert!(
        !kv.set_nx("n", "y", Duration::from_millis(150))
            .await
            .unwrap()
    );
    assert_eq!(kv.get("n").await.unwrap().as_deref(), Some("x"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(kv.set_nx("n", "z", Duration::from_secs(5)).await.unwrap());
}

async fn counters(b: Backend) {
    let (_t, kv) = kv(b).await;
    let ttl = Duration::from_millis(200);
    assert_eq!(kv.incr("c", ttl).await.unwrap(), 1);
    assert_eq!(kv.incr("c", ttl).await.unwrap(), 2);
    // Concurrent increments are atomic.
    let mut handles = Vec::new();
    for _ in 0..20 {
        let kv = kv.clone();
        handles.push(tokio::spawn(async move {
            kv.incr("c", Duration::from_millis(200)).await.unwrap()
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(kv.get("c").await.unwrap().as_deref(), Some("22"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        kv.incr("c", ttl).await.unwrap(),
        1,
        "counter restarts after its ttl"
    );
}

async fn rate_limit_gcra(b: Backend) {
    let (_t, kv) = kv(b).await;
    let period = Duration::from_secs(2);
    for i in 0..4u32 {
        let d = kv.throttle("rl", 4, period).await.unwrap();
        assert!(d.allowed, "request {i} refused");
        assert_eq!(d.limit, 4);
        assert_eq!(d.remaining, 3 - i);
    }
    let d = kv.throttle("rl", 4, period).await.unwrap();
    assert!(!d.allowed);
    assert_eq!(d.remaining, 0);
    assert!(d.retry_after > Duration::ZERO && d.retry_after <= Duration::from_millis(500));
    // One emission interval later, exactly one more request fits.
    tokio::time::sleep(d.retry_after + Duration::from_millis(50)).await;
    assert!(kv.throttle("rl", 4, period).await.unwrap().allowed);
    assert!(!kv.throttle("rl", 4, period).await.unwrap().allowed);
    // Keys are independent.
    assert!(kv.throttle("other", 4, period).await.unwrap().allowed);
}

async fn pub_sub(b: Backend) {
    let (_t, kv) = kv(b).await;
    let mut sub = kv.subscribe("topic").await.unwrap();
    let mut other = kv.subscribe("elsewhere").await.unwrap();
    // Redis subscriptions are established asynchronously; publish until the first arrives.
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            kv.publish("topic", Bytes::from_static(b"hello"))
                .await
                .unwrap();
            if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), sub.recv()).await
            {
                return m;
            }
        }
    })
    .await
    .expect("message delivered");
    assert_eq!(&got[..], b"hello");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), other.recv())
            .await
            .is_err(),
        "message leaked to another topic"
    );
}
