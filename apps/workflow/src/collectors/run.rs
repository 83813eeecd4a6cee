//! One collector step's run: its collection row (found again on a resumed try, with its
//! checkpoint), its budget, its proxy pool, and storing each page with its checkpoint in one
//! transaction (items upserted by natural key, counted against `collected_items_per_day`),
//! so a run killed at any point resumes after the last stored page with no duplicates and
//! no gaps.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use trellis_engine::{StepCtx, StepError, StepOutput};
use trellis_kernel::Platform;
use uuid::Uuid;

use super::polite::{Budget, FetchError, Polite};
use crate::domain::plans::Meter;
use crate::error::WorkflowError;
use crate::store::collections::{self as store, Collection, NewItem};

/// Collector settings (all documented in the README).
#[derive(Clone, Debug)]
pub struct Sites {
    /// `TRELLIS_QIDIAN_BASE_URL` (`https://www.qidian.com`).
    pub qidian: String,
    /// `TRELLIS_QIDIAN_BOOK_BASE_URL` (`https://book.qidian.com`).
    pub qidian_book: String,
    /// `TRELLIS_QIDIAN_MOBILE_BASE_URL` (`https://m.qidian.com`).
    pub qidian_mobile: String,
    /// `TRELLIS_XHS_API_BASE_URL` (`https://edith.xiaohongshu.com`).
    pub xhs_api: String,
    /// `TRELLIS_XHS_WEB_BASE_URL` (`https://www.xiaohongshu.com`).
    pub xhs_web: String,
    /// `TRELLIS_XHS_ENABLED` (false).
    pub xhs_enabled: bool,
    /// `TRELLIS_XHS_SIGNER` (an `http(s)://` URL or a command; none by default).
    pub xhs_signer: Option<String>,
    /// `TRELLIS_COLLECTOR_MIN_INTERVAL_MS` (3000): the least time between two requests to
    /// one host.
    pub min_interval: Duration,
}

impl Sites {
    /// From the configuration variables; errors name the variable.
    pub fn from_vars(vars: &std::collections::HashMap<String, String>) -> Result<Sites, String> {
        let url = |name: &str, default: &str| -> Result<String, String> {
            let v = vars
                .get(name)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .unwrap_or(default);
            url::Url::parse(v).map_err(|e| format!("{name} is not a URL: {e}"))?;
            Ok(v.trim_end_matches('/').to_string())
        };
        let min_interval = match vars.get("TRELLIS_COLLECTOR_MIN_INTERVAL_MS") {
            None => 3000,
            Some(v) => v.trim().parse::<u64>().map_err(|_| {
                "TRELLIS_COLLECTOR_MIN_INTERVAL_MS must be a whole number of milliseconds"
                    .to_string()
            })?,
        };
        Ok(Sites {
            qidian: url("TRELLIS_QIDIAN_BASE_URL", "https://www.qidian.com")?,
            qidian_book: url("TRELLIS_QIDIAN_BOOK_BASE_URL", "https://book.qidian.com")?,
            qidian_mobile: url("TRELLIS_QIDIAN_MOBILE_BASE_URL", "https://m.qidian.com")?,
            xhs_api: url("TRELLIS_XHS_API_BASE_URL", "https://edith.xiaohongshu.com")?,
            xhs_web: url("TRELLIS_XHS_WEB_BASE_URL", "https://www.xiaohongshu.com")?,
            xhs_enabled: matches!(
                vars.get("TRELLIS_XHS_ENABLED").map(|v| v.trim()),
                Some("true" | "1")
            ),
            xhs_signer: vars
                .get("TRELLIS_XHS_SIGNER")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            min_interval: Duration::from_millis(min_interval),
        })
    }
}

/// What every collector step shares.
#[derive(Clone)]
pub struct Collectors {
    /// Database, clock.
    pub platform: Platform,
    /// The fetcher.
    pub polite: Polite,
    /// Site settings.
    pub sites: Sites,
}

/// A collector step in progress.
pub struct Run {
    /// The collection row.
    pub collection: Collection,
    /// Where to continue (`{}` on a first run).
    pub checkpoint: Value,
    /// Limits.
    pub budget: Budget,
    /// `(pool, owner)` when the step names `proxy_pool_id`.
    pub proxy: Option<(Uuid, Uuid)>,
    owner: Uuid,
    source: &'static str,
    new: i64,
    updated: i64,
    stored_requests: i64,
}

fn fatal(e: impl std::fmt::Display) -> StepError {
    StepError::Fatal(e.to_string())
}

/// The canonical key of a step's query (its parameters without the budget).
fn query_key(params: &Value) -> String {
    let mut p = params.clone();
    if let Some(o) = p.as_object_mut() {
        o.remove("max_requests");
        o.remove("max_seconds");
    }
    hex::encode(Sha256::digest(p.to_string().as_bytes()))
}

impl Collectors {
    /// Opens (or finds again) the step's collection.
    pub async fn open(
        &self,
        ctx: &StepCtx,
        source: &'static str,
        params: &Value,
    ) -> Result<Run, StepError> {
        let now = self.platform.clock.now();
        let max_requests = params
            .get("max_requests")
            .and_then(Value::as_i64)
            .unwrap_or(100)
            .clamp(1, 100_000);
        let max_seconds = params
            .get("max_seconds")
            .and_then(Value::as_u64)
            .unwrap_or(600)
            .clamp(1, 86_400);
        let proxy = match params.get("proxy_pool_id").and_then(Value::as_str) {
            None => None,
            Some(s) => {
                let pool = Uuid::parse_str(s).map_err(|_| fatal("proxy_pool_id is not a UUID"))?;
                let found = crate::store::proxy::pool(&self.platform.db, pool)
                    .await
                    .map_err(|e| StepError::Retryable(e.to_string()))?;
                match found {
                    Some(p) if p.owner_id == ctx.owner_id => Some((pool, ctx.owner_id)),
                    _ => return Err(fatal("proxy pool not found")),
                }
            }
        };
        let query = params.to_string();
        let mut tx = self
            .platform
            .db
            .begin()
            .await
            .map_err(|e| StepError::Retryable(e.to_string()))?;
        let collection = store::open(
            &mut tx,
            ctx.owner_id,
            ctx.run_id,
            &ctx.step.id,
            source,
            &ctx.step.kind,
            &query,
            &query_key(params),
            now,
        )
        .await
        .map_err(|e| StepError::Retryable(e.to_string()))?;
        tx.commit()
            .await
            .map_err(|e| StepError::Retryable(e.to_string()))?;
        let checkpoint = collection
            .checkpoint
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_else(|| json!({}));
        if collection.checkpoint.is_some() {
            ctx.log(format!(
                "resuming collection {} from {checkpoint}",
                collection.id
            ));
        }
        Ok(Run {
            owner: ctx.owner_id,
            source,
            checkpoint,
            budget: Budget::new(max_requests, max_seconds),
            proxy,
            collection,
            new: 0,
            updated: 0,
            stored_requests: 0,
        })
    }

    /// Stores one page of items with the checkpoint after it, in one transaction.
    pub async fn store(
        &self,
        run: &mut Run,
        items: Vec<NewItem>,
        checkpoint: Value,
    ) -> Result<(), RunStop> {
        let now = self.platform.clock.now();
        let requests = run.budget.requests - run.stored_requests;
        let stored = async {
            let mut tx = self.platform.db.begin().await?;
            crate::service::quota::consume(
                &mut tx,
                run.owner,
                Meter::CollectedItemsPerDay,
                items.len() as i64,
                now,
            )
            .await?;
            let (n, u) = store::upsert_items(
                &mut tx,
                run.owner,
                run.source,
                run.collection.id,
                &items,
                now,
            )
            .await?;
            store::progress(&mut tx, run.collection.id, &checkpoint, requests, n, u, now).await?;
            tx.commit().await?;
            Ok::<_, WorkflowError>((n, u))
        }
        .await;
        match stored {
            Ok((n, u)) => {
                run.new += n;
                run.updated += u;
                run.stored_requests = run.budget.requests;
                run.checkpoint = checkpoint;
                Ok(())
            }
            Err(WorkflowError::QuotaExceeded { limit, .. }) => Err(RunStop::Quota(limit)),
            Err(e) => Err(RunStop::Fetch(FetchError::Transient(e.to_string()))),
        }
    }

    /// Ends the run: records its status and turns it into the step's result.
    pub async fn finish(
        &self,
        run: Run,
        result: Result<Value, RunStop>,
    ) -> Result<StepOutput, StepError> {
        let now = self.platform.clock.now();
        let requests = run.budget.requests - run.stored_requests;
        let (status, error, step): (&str, Option<String>, Result<(), StepError>) = match &result {
            Ok(_) => ("completed", None, Ok(())),
            Err(RunStop::Fetch(FetchError::Budget(m))) => (
                "budget_exhausted",
                Some(format!("budget exhausted: {m}")),
                Ok(()),
            ),
            Err(RunStop::Quota(limit)) => (
                "quota_exceeded",
                Some(format!("collected_items_per_day limit {limit} reached")),
                Ok(()),
            ),
            Err(RunStop::Fetch(e @ FetchError::Robots { .. })) => {
                ("refused", Some(e.to_string()), Err(fatal(e)))
            }
            Err(RunStop::Fetch(e @ FetchError::Blocked { .. })) => {
                ("blocked", Some(e.to_string()), Err(fatal(e)))
            }
            Err(RunStop::Fetch(e @ FetchError::Transient(_))) => (
                "interrupted",
                Some(e.to_string()),
                Err(StepError::Retryable(e.to_string())),
            ),
            Err(RunStop::Fetch(e)) | Err(RunStop::Other(e)) => {
                ("failed", Some(e.to_string()), Err(fatal(e)))
            }
        };
        store::finish(
            &self.platform.db,
            run.collection.id,
            status,
            error.as_deref(),
            requests,
            now,
        )
        .await
        .map_err(|e| StepError::Retryable(e.to_string()))?;
        step?;
        let mut out = json!({
            "collection_id": run.collection.id,
            "status": status,
            "items_new": run.new,
            "items_updated": run.updated,
            "requests": run.budget.requests,
        });
        if let (Ok(extra), Some(o)) = (result, out.as_object_mut()) {
            o.insert("result".into(), extra);
        } else if let (Some(e), Some(o)) = (error, out.as_object_mut()) {
            o.insert("error".into(), Value::String(e));
        }
        Ok(StepOutput::value(out))
    }
}

/// Why a run stopped before its end.
#[derive(Debug)]
pub enum RunStop {
    /// A fetch failed or was refused.
    Fetch(FetchError),
    /// The day's `collected_items_per_day` is used up (the limit).
    Quota(i64),
    /// A page could not be parsed, or a parameter is wrong.
    Other(FetchError),
}

impl From<FetchError> for RunStop {
    fn from(e: FetchError) -> Self {
        RunStop::Fetch(e)
    }
}
