//! Testing a pool's proxies (`POST /proxy/pools/{id}/test`) and the periodic validation.
//!
//! A test probes every proxy of the pool (retired ones included: a success revives them)
//! against a judge URL that echoes the request headers, at most `concurrency` at once,
//! each within `timeout_seconds`, so 1,000 proxies at concurrency 100 finish in about ten
//! timeouts at worst and within two when most answer (issue 11). Latency, anonymity, state
//! and `last_checked_at` are written in one transaction at the end.
//!
//! Periodic validation (pool `settings.test.interval_seconds`) is an engine schedule on the
//! engine queue `proxy` (its own queue, so it neither counts against the user's workflow
//! schedules nor shows among them): each fire runs one `proxy.validate` step, which waits
//! a random part of a tenth of the interval first (jitter, so pools created together do not
//! test together) and starts at most `rate_per_second` probes per second.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trellis_engine::schedule::{Fire, Overlap, Schedule, ScheduleSpec, Timing};
use trellis_engine::{
    Engine, EngineConfig, EngineRef, NewRun, Plan, Registry, StepCtx, StepError, StepHandler,
    StepOutput, StepSpec,
};
use trellis_kernel::Platform;
use trellis_kernel::db::Tx;
use uuid::Uuid;

use super::endpoint::ProxyEndpoint;
use super::health::{HealthState, Outcome, Scope};
use super::live::{Live, target_host};
use super::pool::PoolBody;
use super::probe::{self, Anonymity};
use crate::error::WorkflowError;
use crate::store::proxy::{self as store, Delta, TestResult};

/// The engine queue of periodic validations.
pub const QUEUE: &str = "proxy";

/// The default judge (`TRELLIS_PROXY_JUDGE_URL`): it answers the headers it received.
pub const DEFAULT_JUDGE: &str = "https://httpbin.org/get";

/// Proxy pools' shared parts (in the workflow state).
#[derive(Clone)]
pub struct Proxies {
    /// The live pools (leases, reports, clients).
    pub live: Live,
    /// `TRELLIS_ALLOW_PRIVATE_TARGETS`.
    pub allow_private: bool,
    /// The default judge URL.
    pub judge_url: String,
    platform: Platform,
    engine: EngineRef,
}

/// `POST /proxy/pools/{id}/test` (every field optional: the pool's `settings.test` apply).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// The judge URL (default: the pool's, else `TRELLIS_PROXY_JUDGE_URL`).
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    /// Test against this host instead (`https://{target}/`): outcomes also count in each
    /// proxy's record for that host.
    #[schema(max_length = 253)]
    pub target: Option<String>,
    /// Proxies tested at once (1 to 200).
    #[schema(minimum = 1, maximum = 200)]
    pub concurrency: Option<u32>,
    /// Per-proxy timeout, seconds (1 to 60).
    #[schema(minimum = 1, maximum = 60)]
    pub timeout_seconds: Option<u64>,
}

/// One proxy's test.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProbeSummary {
    /// The proxy.
    pub proxy_id: Uuid,
    /// `ok | error | blocked`.
    pub outcome: Outcome,
    /// Round trip, ms.
    pub latency_ms: Option<u64>,
    /// The judge's HTTP status.
    pub status: Option<u16>,
    /// Detected anonymity.
    pub anonymity: Option<Anonymity>,
    /// The state after the test.
    pub state: HealthState,
    /// What happened, in words (never credentials).
    pub message: String,
}

/// A test's answer.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TestReport {
    /// The pool.
    pub pool_id: Uuid,
    /// Proxies tested.
    pub tested: usize,
    /// Outcome counts.
    pub ok: usize,
    /// Failures.
    pub failed: usize,
    /// Blocks.
    pub blocked: usize,
    /// Wall time, ms.
    pub duration_ms: u64,
    /// Per proxy.
    pub results: Vec<ProbeSummary>,
}

impl Proxies {
    /// Starts the live pools and the `proxy` engine (periodic validations).
    pub fn start(platform: &Platform, live: Live, allow_private: bool) -> Result<Proxies, String> {
        let judge_url = platform
            .config
            .vars
            .get("TRELLIS_PROXY_JUDGE_URL")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_JUDGE.to_string());
        url::Url::parse(&judge_url)
            .map_err(|e| format!("TRELLIS_PROXY_JUDGE_URL is not a URL: {e}"))?;
        let cell = EngineRef::default();
        let proxies = Proxies {
            live,
            allow_private,
            judge_url,
            platform: platform.clone(),
            engine: cell.clone(),
        };
        let cfg =
            EngineConfig::from_vars(QUEUE, &platform.config.vars).map_err(|e| e.join("; "))?;
        let registry = Registry::new(vec![(
            "proxy.validate",
            Arc::new(ValidateStep(proxies.clone())) as Arc<dyn StepHandler>,
        )]);
        let engine = Engine::builder(platform, cfg, registry)
            .schedules(Arc::new(StartValidation(cell.clone())))
            .build();
        cell.set(&engine);
        engine.start();
        Ok(proxies)
    }

    fn engine(&self) -> Result<Engine, WorkflowError> {
        self.engine
            .get()
            .ok_or_else(|| trellis_kernel::ApiError::internal("proxy engine not started").into())
    }

    async fn schedule_of(
        &self,
        pool: Uuid,
        owner: Uuid,
    ) -> Result<Option<Schedule>, WorkflowError> {
        Ok(self
            .engine()?
            .schedules(Some(owner))
            .await?
            .into_iter()
            .find(|s| s.subject_id == pool))
    }

    /// Creates, updates or removes the pool's validation schedule after a create or edit.
    pub async fn schedule_validation(
        &self,
        pool: Uuid,
        owner: Uuid,
        b: &PoolBody,
    ) -> Result<(), WorkflowError> {
        let existing = self.schedule_of(pool, owner).await?;
        let engine = self.engine()?;
        let mut tx = self.platform.db.begin().await?;
        match (b.settings.test.interval_seconds, existing) {
            (None, None) => return Ok(()),
            (None, Some(s)) => engine.delete_schedule(&mut tx, s.id).await?,
            (Some(secs), existing) => {
                let spec = ScheduleSpec {
                    timing: Timing::Interval {
                        seconds: secs as i64,
                    },
                    overlap: Overlap::Skip,
                    // A validation due while the server was down (or busy) still runs, once.
                    catchup_seconds: 3600,
                    input: json!({"pool_id": pool}),
                    max_failures: 0,
                };
                match existing {
                    Some(s) => engine.update_schedule(&mut tx, s.id, &spec).await?,
                    None => {
                        engine.create_schedule(&mut tx, owner, pool, &spec).await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes a deleted pool's validation schedule.
    pub async fn unschedule_validation(&self, pool: Uuid) -> Result<(), WorkflowError> {
        let engine = self.engine()?;
        let found = engine
            .schedules(None)
            .await?
            .into_iter()
            .find(|s| s.subject_id == pool);
        if let Some(s) = found {
            let mut tx = self.platform.db.begin().await?;
            engine.delete_schedule(&mut tx, s.id).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Tests every proxy of a pool (module docs). `rate_per_second` paces the starts.
    pub async fn test_pool(
        &self,
        pool_id: Uuid,
        req: &TestRequest,
        rate_per_second: Option<u32>,
    ) -> Result<TestReport, WorkflowError> {
        let platform = &self.platform;
        let db = &platform.db;
        let pool = store::pool(db, pool_id)
            .await?
            .ok_or(WorkflowError::NotFound("proxy pool"))?;
        let t = &pool.settings.test;
        let concurrency = req.concurrency.unwrap_or(t.concurrency).clamp(1, 200) as usize;
        let timeout = Duration::from_secs(
            req.timeout_seconds
                .unwrap_or(t.timeout_seconds)
                .clamp(1, 60),
        );
        let target = match &req.target {
            Some(x) => Some(
                target_host(x)
                    .ok_or_else(|| WorkflowError::field("target", "invalid", "a host name"))?,
            ),
            None => None,
        };
        let url = match (&target, &req.url) {
            (Some(host), _) => format!("https://{host}/"),
            (None, Some(u)) => u.clone(),
            (None, None) => t.url.clone().unwrap_or_else(|| self.judge_url.clone()),
        };
        crate::steps::net::check_url(&url, self.allow_private)
            .map_err(|m| WorkflowError::field("url", "refused", m))?;
        let real_ip = if target.is_none() {
            self.own_address(&url).await
        } else {
            None
        };
        let rows = store::proxies(db, pool_id).await?;
        let started = Instant::now();
        let pace = rate_per_second.map(|r| Duration::from_secs_f64(1.0 / f64::from(r.max(1))));
        // Owned inputs per probe: a stream of futures borrowing `rows` trips the compiler's
        // higher-ranked lifetime check inside `async_trait` step handlers.
        let jobs: Vec<(usize, Option<ProxyEndpoint>, Uuid, u64)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (i, self.live.endpoint(r), r.id, r.version as u64))
            .collect();
        let probes = futures::stream::iter(jobs.into_iter().map(|(i, endpoint, id, version)| {
            let (url, live) = (url.clone(), self.live.clone());
            async move {
                if let Some(p) = pace {
                    tokio::time::sleep(p * i as u32).await;
                }
                let client = match endpoint.map(|e| live.clients().get(id, version, &e)) {
                    Some(Ok(c)) => c,
                    Some(Err(m)) => return (i, failed(m)),
                    None => {
                        return (
                            i,
                            failed("the proxy's stored credentials cannot be opened".into()),
                        );
                    }
                };
                (i, probe::probe(&client, &url, real_ip, timeout).await)
            }
        }))
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
        let now = platform.clock.now();
        let now_ms = now.timestamp_millis();
        let policy = &pool.settings.health;
        let targets = match &target {
            Some(_) => store::health_rows(db, pool_id).await?,
            None => Vec::new(),
        };
        let mut results = Vec::with_capacity(probes.len());
        let mut tx = db.begin().await?;
        for (i, pr) in probes {
            let row = &rows[i];
            let mut h = row.health();
            let mut delta = Delta::default();
            match pr.outcome {
                Outcome::Ok => {
                    h.revive();
                    delta.successes = 1;
                }
                Outcome::Error => delta.failures = 1,
                Outcome::Blocked => delta.blocks = 1,
            }
            h.apply(Scope::Proxy, pr.outcome, pr.latency_ms, now_ms, policy);
            if let Some(host) = &target {
                let mut th = targets
                    .iter()
                    .find(|x| x.proxy_id == row.id && &x.target == host)
                    .map(|x| x.health())
                    .unwrap_or_default();
                if pr.outcome == Outcome::Ok {
                    th.revive();
                }
                th.apply(Scope::Target, pr.outcome, pr.latency_ms, now_ms, policy);
                let mut d = Delta::default();
                match pr.outcome {
                    Outcome::Ok => d.successes = 1,
                    Outcome::Error => d.failures = 1,
                    Outcome::Blocked => d.blocks = 1,
                }
                store::write_target_health(&mut tx, row.id, host, &d, &th, now_ms).await?;
            }
            let anonymity = pr.anonymity.map(Anonymity::as_str);
            let error = (pr.outcome != Outcome::Ok).then_some(pr.message.as_str());
            store::write_test(
                &mut tx,
                &TestResult {
                    id: row.id,
                    health: &h,
                    delta,
                    anonymity,
                    error,
                },
                now,
            )
            .await?;
            results.push(ProbeSummary {
                proxy_id: row.id,
                outcome: pr.outcome,
                latency_ms: pr.latency_ms,
                status: pr.status,
                anonymity: pr.anonymity,
                state: h.state_at(now_ms),
                message: pr.message,
            });
        }
        tx.commit().await?;
        self.live.invalidate(pool_id);
        results.sort_by_key(|r| r.proxy_id);
        let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
        tracing::info!(pool_id = %pool_id, tested = results.len(), ok = count(Outcome::Ok), "proxy: pool tested");
        Ok(TestReport {
            pool_id,
            tested: results.len(),
            ok: count(Outcome::Ok),
            failed: count(Outcome::Error),
            blocked: count(Outcome::Blocked),
            duration_ms: started.elapsed().as_millis() as u64,
            results,
        })
    }

    /// Our address as the judge sees it without a proxy (to tell transparent proxies).
    async fn own_address(&self, url: &str) -> Option<IpAddr> {
        let client = crate::steps::net::client(self.allow_private, Duration::from_secs(10)).ok()?;
        let body: Value = client
            .http()
            .get(url)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let text = body
            .get("origin")
            .or_else(|| body.get("remote_addr"))
            .and_then(Value::as_str)?;
        let first = text.split(',').next()?.trim();
        first
            .parse::<IpAddr>()
            .ok()
            .or_else(|| first.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
    }
}

/// A probe that could not start (no client for the proxy).
fn failed(message: String) -> probe::ProbeResult {
    probe::ProbeResult {
        outcome: Outcome::Error,
        latency_ms: None,
        status: None,
        anonymity: None,
        exit_ip: None,
        message,
    }
}

/// `proxy.validate {pool_id}`: a periodic validation run.
struct ValidateStep(Proxies);

#[async_trait::async_trait]
impl StepHandler for ValidateStep {
    async fn run(&self, ctx: StepCtx) -> Result<StepOutput, StepError> {
        let pool = ctx
            .step
            .params
            .get("pool_id")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| StepError::Fatal("pool_id missing".into()))?;
        let Some(p) = store::pool(&self.0.platform.db, pool)
            .await
            .map_err(|e| StepError::Retryable(e.to_string()))?
        else {
            return Ok(StepOutput::value(json!({"skipped": "pool deleted"})));
        };
        let interval = p.settings.test.interval_seconds.unwrap_or(300);
        let jitter_ms = rand::Rng::gen_range(&mut rand::thread_rng(), 0..=interval * 100);
        // On the platform clock, so tests cross the jitter by moving time.
        let until = ctx.clock.now().timestamp_millis() + jitter_ms as i64;
        if !trellis_engine::sleep_until(&ctx.clock, until, &ctx.cancel).await {
            return Err(StepError::Fatal("cancelled".into()));
        }
        let report = self
            .0
            .test_pool(
                pool,
                &TestRequest::default(),
                Some(p.settings.test.rate_per_second),
            )
            .await
            .map_err(|e| StepError::Fatal(e.to_string()))?;
        Ok(StepOutput::value(json!({
            "tested": report.tested, "ok": report.ok, "failed": report.failed, "blocked": report.blocked,
        })))
    }
}

/// Starts a validation run for a due schedule.
struct StartValidation(EngineRef);

#[async_trait::async_trait]
impl Fire for StartValidation {
    async fn fire(&self, tx: &mut Tx, s: &Schedule, _now: i64) -> Result<Option<Uuid>, String> {
        let engine = self.0.get().ok_or("engine not ready")?;
        let id = Uuid::now_v7();
        let run = NewRun {
            id,
            queue: QUEUE.into(),
            owner_id: s.owner_id,
            subject_id: Some(s.subject_id),
            subject_version: None,
            schedule_id: Some(s.id),
            plan: Plan {
                steps: vec![StepSpec {
                    id: "validate".into(),
                    kind: "proxy.validate".into(),
                    depends_on: vec![],
                    params: json!({"pool_id": s.subject_id}),
                    retry: None,
                    timeout_seconds: Some(3600),
                }],
                timeout_seconds: Some(7200),
            },
            input: s.input.clone(),
            idempotency_key: None,
            limit_keys: vec![],
            refused: None,
        };
        engine.submit(tx, &run).await.map_err(|e| e.to_string())?;
        Ok(Some(id))
    }
}
