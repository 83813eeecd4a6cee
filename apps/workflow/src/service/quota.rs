//! Usage quotas: the API the engine integration calls around work that a plan limits, and
//! `GET /usage`.
//!
//! Period meters (`executions_per_month`: the UTC calendar month, `collected_items_per_day`:
//! the UTC day) are counted in `wf_usage`. The engine reserves a unit in the transaction
//! that creates the work ([`reserve`]), then commits it when the work counts
//! ([`commit`]) or releases it when it never ran ([`release`]). Each unit carries the
//! caller's event id, so retries never count twice: reserving an id again, committing twice,
//! or releasing a committed unit changes nothing. A unit counts in the period it was
//! reserved in, even when committed after the period ended.
//!
//! Count meters (definitions, proxy pools, schedules, concurrent executions) limit how
//! many things exist; [`check_count`] compares a count against the limit, and `/usage`
//! takes the counts from `store::counts`.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use trellis_kernel::ApiError;
use trellis_kernel::db::{Db, StoreError, Tx};
use uuid::Uuid;

use super::subscriptions::{entitlements_tx, load_settled, view};
use crate::domain::plans::{Entitlements, Meter, catalogue};
use crate::domain::subscription::{day_start, month_start};
use crate::error::WorkflowError;
use crate::store::counts::counts;
use crate::store::usage;

/// One meter in `GET /usage`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WorkflowMeterUsage)]
pub struct MeterUsage {
    /// The meter.
    pub meter: Meter,
    /// Units counted this period (period meters) or things that exist now (count meters).
    pub used: i64,
    /// Units held by open reservations (period meters; 0 for count meters).
    pub reserved: i64,
    /// The limit in force (plan and overrides).
    pub limit: i64,
    /// `limit - used - reserved`, never below 0.
    pub remaining: i64,
    /// When a period meter starts counting from 0 again; null for count meters.
    pub reset_at: Option<DateTime<Utc>>,
}

/// The period a period meter counts in at `now`, as `(start, reset_at)`; `None` for count
/// meters.
pub fn period_of(meter: Meter, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    match meter {
        Meter::ExecutionsPerMonth => {
            let start = month_start(now);
            let next = month_start(start + Duration::days(32));
            Some((start, next))
        }
        Meter::CollectedItemsPerDay => {
            let start = day_start(now);
            Some((start, start + Duration::days(1)))
        }
        _ => None,
    }
}

/// Reserves one unit of the period meter `meter` for `user` under `event_id`, in the
/// caller's transaction (so the reservation commits or rolls back with the work it is
/// for).
///
/// The check and the reservation are one conditional UPDATE (`used + reserved < limit`),
/// so N concurrent reservations with k units left admit exactly k on SQLite and
/// PostgreSQL. Over the limit: [`WorkflowError::QuotaExceeded`] (402) with the meter, the
/// limit and when the period resets; nothing is written. Reserving an `event_id` that
/// exists already succeeds without reserving again. A count meter is a programming error
/// (500): use [`check_count`].
pub async fn reserve(
    tx: &mut Tx,
    user: Uuid,
    meter: Meter,
    event_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), WorkflowError> {
    let Some((start, reset_at)) = period_of(meter, now) else {
        return Err(ApiError::internal(format!(
            "reserve called with the count meter {}",
            meter.as_str()
        ))
        .into());
    };
    let limit = entitlements_tx(tx, user, now).await?.get(meter);
    if !usage::insert_event(tx, event_id, user, meter.as_str(), start, now).await? {
        return Ok(());
    }
    usage::ensure_row(tx, user, meter.as_str(), start, now).await?;
    if usage::try_reserve(tx, user, meter.as_str(), start, limit, now).await? {
        return Ok(());
    }
    // The caller may still commit its transaction (to record the refusal): leave no event.
    usage::delete_event(tx, event_id).await?;
    Err(WorkflowError::QuotaExceeded {
        meter: meter.as_str(),
        limit,
        reset_at: Some(reset_at),
    })
}

/// Counts the unit reserved under `event_id` (reserved → used), in the caller's
/// transaction. True if this call counted it; false (nothing changed) when the event is
/// unknown, already committed, or released.
pub async fn commit(tx: &mut Tx, event_id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    usage::settle(tx, event_id, true, now).await
}

/// Gives back the unit reserved under `event_id` (the work never ran), in the caller's
/// transaction. True if this call released it; false (nothing changed) when the event is
/// unknown, already released, or committed (a counted unit stays counted).
pub async fn release(tx: &mut Tx, event_id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    usage::settle(tx, event_id, false, now).await
}

/// Counts `n` units of the period meter `meter` (items collected) in the caller's
/// transaction, all or none: over the limit, [`WorkflowError::QuotaExceeded`] and nothing is
/// counted (the caller stores nothing of that page).
pub async fn consume(
    tx: &mut Tx,
    user: Uuid,
    meter: Meter,
    n: i64,
    now: DateTime<Utc>,
) -> Result<(), WorkflowError> {
    let Some((start, reset_at)) = period_of(meter, now) else {
        return Err(ApiError::internal(format!(
            "consume called with the count meter {}",
            meter.as_str()
        ))
        .into());
    };
    if n <= 0 {
        return Ok(());
    }
    let limit = entitlements_tx(tx, user, now).await?.get(meter);
    usage::ensure_row(tx, user, meter.as_str(), start, now).await?;
    if usage::try_use(tx, user, meter.as_str(), start, limit, n, now).await? {
        return Ok(());
    }
    Err(WorkflowError::QuotaExceeded {
        meter: meter.as_str(),
        limit,
        reset_at: Some(reset_at),
    })
}

/// Checks that one more thing fits under a count meter: `current` is how many exist now.
/// At or over the limit: [`WorkflowError::QuotaExceeded`] without `reset_at`.
pub fn check_count(ent: &Entitlements, meter: Meter, current: i64) -> Result<(), WorkflowError> {
    let limit = ent.get(meter);
    if current < limit {
        Ok(())
    } else {
        Err(WorkflowError::QuotaExceeded {
            meter: meter.as_str(),
            limit,
            reset_at: None,
        })
    }
}

/// `GET /usage`: every meter of the user with its limit and what is left (the user is put
/// on Free on first sight).
pub async fn usage(
    db: &Db,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<MeterUsage>, WorkflowError> {
    let mut tx = db.begin().await?;
    let s = load_settled(&mut tx, user, now).await?;
    tx.commit().await?;
    let ent = view(s, &catalogue(), now).entitlements;
    let c = counts(db, user).await?;
    let mut out = Vec::with_capacity(Meter::ALL.len());
    for meter in Meter::ALL {
        let limit = ent.get(meter);
        let (used, reserved, reset_at) = match period_of(meter, now) {
            Some((start, reset_at)) => {
                let (u, r) = usage::period(db, user, meter.as_str(), start).await?;
                (u, r, Some(reset_at))
            }
            None => {
                let n = match meter {
                    Meter::WorkflowDefinitions => c.workflow_definitions,
                    Meter::ProxyPools => c.proxy_pools,
                    Meter::Schedules => c.schedules,
                    _ => c.concurrent_executions,
                };
                (n, 0, None)
            }
        };
        out.push(MeterUsage {
            meter,
            used,
            reserved,
            limit,
            remaining: (limit - used - reserved).max(0),
            reset_at,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! The reservation invariants on both backends: a unit counts once whatever the
    //! retries, a refusal leaves nothing behind, and a concurrent burst at the limit admits
    //! exactly the units left.

    use trellis_kernel::testing::{Backend, TestPlatform, platform};
    use trellis_kernel::{backend_tests, on_tx};

    use super::*;
    use crate::domain::plans::Limits;
    use crate::service::subscriptions::ensure_free;
    use crate::store::subscriptions as subs_store;

    backend_tests!(
        commit_and_release_are_idempotent,
        refusal_writes_nothing,
        burst_at_the_limit_admits_exactly_the_rest,
        count_meters_are_checked_not_reserved
    );

    /// A migrated platform with one user whose `executions_per_month` limit is `limit`.
    async fn setup(b: Backend, limit: i64) -> (TestPlatform, Uuid) {
        let t = platform(b, &[]).await;
        let db = &t.platform.db;
        db.migrate(&trellis_identity::migrations()).await.unwrap();
        db.migrate(&crate::migrations()).await.unwrap();
        let (user, now) = (Uuid::now_v7(), t.platform.clock.now());
        let mut tx = db.begin().await.unwrap();
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO users (id, username, username_key, email, password_hash, status, role, created_at, updated_at) \
             VALUES ($1, 'quota', 'quota', 'quota@example.com', 'x', 'active', 'user', $2, $2)")
            .bind(user).bind(now).execute(&mut *c).await.map(|_| ())).unwrap();
        ensure_free(&mut tx, user, now).await.unwrap();
        let mut s = subs_store::by_user_tx(&mut tx, user)
            .await
            .unwrap()
            .unwrap();
        s.limits = Limits::from([(Meter::ExecutionsPerMonth, limit)]);
        subs_store::update(&mut tx, &s).await.unwrap();
        tx.commit().await.unwrap();
        (t, user)
    }

    async fn meter(t: &TestPlatform, user: Uuid) -> (i64, i64) {
        let now = t.platform.clock.now();
        let (start, _) = period_of(Meter::ExecutionsPerMonth, now).unwrap();
        usage::period(&t.platform.db, user, "executions_per_month", start)
            .await
            .unwrap()
    }

    async fn reserve_one(t: &TestPlatform, user: Uuid, event: Uuid) -> Result<(), WorkflowError> {
        let now = t.platform.clock.now();
        let mut tx = t.platform.db.begin().await?;
        reserve(&mut tx, user, Meter::ExecutionsPerMonth, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn settle_one(t: &TestPlatform, event: Uuid, commit_it: bool) -> bool {
        let now = t.platform.clock.now();
        let mut tx = t.platform.db.begin().await.unwrap();
        let changed = if commit_it {
            commit(&mut tx, event, now).await.unwrap()
        } else {
            release(&mut tx, event, now).await.unwrap()
        };
        tx.commit().await.unwrap();
        changed
    }

    async fn commit_and_release_are_idempotent(b: Backend) {
        let (t, user) = setup(b, 10).await;
        let (a, c) = (Uuid::now_v7(), Uuid::now_v7());
        reserve_one(&t, user, a).await.unwrap();
        reserve_one(&t, user, a).await.unwrap();
        assert_eq!(meter(&t, user).await, (0, 1), "one event id, one unit");
        assert!(settle_one(&t, a, true).await);
        assert!(!settle_one(&t, a, true).await, "committed twice");
        assert!(!settle_one(&t, a, false).await, "released after commit");
        reserve_one(&t, user, a).await.unwrap();
        assert_eq!(meter(&t, user).await, (1, 0), "counted once");
        reserve_one(&t, user, c).await.unwrap();
        assert!(settle_one(&t, c, false).await);
        assert!(!settle_one(&t, c, false).await, "released twice");
        assert!(!settle_one(&t, c, true).await, "committed after release");
        assert!(!settle_one(&t, Uuid::now_v7(), true).await, "unknown event");
        assert_eq!(meter(&t, user).await, (1, 0));
        let state = usage::event_state(&t.platform.db, c).await.unwrap();
        assert_eq!(state.as_deref(), Some("released"));
    }

    async fn refusal_writes_nothing(b: Backend) {
        let (t, user) = setup(b, 1).await;
        reserve_one(&t, user, Uuid::now_v7()).await.unwrap();
        let refused = Uuid::now_v7();
        let now = t.platform.clock.now();
        let mut tx = t.platform.db.begin().await.unwrap();
        let err = reserve(&mut tx, user, Meter::ExecutionsPerMonth, refused, now)
            .await
            .unwrap_err();
        // The caller commits anyway (to record the refusal): no event stays behind.
        tx.commit().await.unwrap();
        let WorkflowError::QuotaExceeded {
            meter: m,
            limit,
            reset_at,
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!((m, limit), ("executions_per_month", 1));
        assert_eq!(
            reset_at,
            period_of(Meter::ExecutionsPerMonth, now).map(|p| p.1)
        );
        assert_eq!(
            usage::event_state(&t.platform.db, refused).await.unwrap(),
            None
        );
        assert_eq!(meter(&t, user).await, (0, 1));
    }

    async fn burst_at_the_limit_admits_exactly_the_rest(b: Backend) {
        let (t, user) = setup(b, 7).await;
        for _ in 0..2 {
            let e = Uuid::now_v7();
            reserve_one(&t, user, e).await.unwrap();
            settle_one(&t, e, true).await;
        }
        reserve_one(&t, user, Uuid::now_v7()).await.unwrap();
        // 7 - 2 used - 1 reserved = 4 left; 24 ask at once.
        let t = std::sync::Arc::new(t);
        let tasks: Vec<_> = (0..24)
            .map(|_| {
                let t = t.clone();
                tokio::spawn(async move { reserve_one(&t, user, Uuid::now_v7()).await })
            })
            .collect();
        let (mut admitted, mut refused) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => admitted += 1,
                Err(WorkflowError::QuotaExceeded { .. }) => refused += 1,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!((admitted, refused), (4, 20));
        assert_eq!(meter(&t, user).await, (2, 5));
    }

    async fn count_meters_are_checked_not_reserved(b: Backend) {
        let (t, user) = setup(b, 7).await;
        let now = t.platform.clock.now();
        let mut tx = t.platform.db.begin().await.unwrap();
        let err = reserve(&mut tx, user, Meter::Schedules, Uuid::now_v7(), now).await;
        assert!(matches!(err, Err(WorkflowError::Api(_))), "{err:?}");
        drop(tx);
        let ent = crate::service::subscriptions::entitlements(&t.platform.db, user, now)
            .await
            .unwrap();
        assert_eq!(ent.executions_per_month, 7, "override applied");
        assert_eq!(ent.schedules, 2, "Free otherwise");
        assert!(check_count(&ent, Meter::Schedules, 1).is_ok());
        assert!(matches!(
            check_count(&ent, Meter::Schedules, 2),
            Err(WorkflowError::QuotaExceeded {
                reset_at: None,
                limit: 2,
                ..
            })
        ));
    }
}
