//! A pool's settings as clients send them (`POST|PUT /api/v1/proxy/pools`), parsed and
//! checked at the edge; every field has a default.

use serde::{Deserialize, Serialize};
use trellis_kernel::error::FieldError;

use super::health::HealthPolicy;
use super::select::{Filters, Strategy};

/// `sticky` limits: a session moves to another proxy after this many leases or this age.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StickyLimits {
    /// Leases per session before it moves (default 100).
    #[schema(minimum = 1, maximum = 1000000)]
    pub max_uses: u64,
    /// Age of a session's binding before it moves, seconds (default 1800).
    #[schema(minimum = 1, maximum = 86400)]
    pub max_age_seconds: u64,
}

impl Default for StickyLimits {
    fn default() -> Self {
        StickyLimits {
            max_uses: 100,
            max_age_seconds: 1800,
        }
    }
}

/// How `POST /pools/{id}/test` and the periodic validation check the proxies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestSettings {
    /// The judge URL (echoes the request headers as JSON); default
    /// `TRELLIS_PROXY_JUDGE_URL`.
    pub url: Option<String>,
    /// Proxies tested at once (default 50, 1 to 200).
    #[schema(minimum = 1, maximum = 200)]
    pub concurrency: u32,
    /// Per-proxy timeout, seconds (default 10, 1 to 60).
    #[schema(minimum = 1, maximum = 60)]
    pub timeout_seconds: u64,
    /// Periodic validation every this many seconds (300 to 604800), as an engine schedule
    /// (jittered by up to a tenth of the interval); `null` = off (default).
    #[schema(minimum = 300, maximum = 604800)]
    pub interval_seconds: Option<u64>,
    /// Probes started per second at most during a periodic validation (default 20).
    #[schema(minimum = 1, maximum = 1000)]
    pub rate_per_second: u32,
}

impl Default for TestSettings {
    fn default() -> Self {
        TestSettings {
            url: None,
            concurrency: 50,
            timeout_seconds: 10,
            interval_seconds: None,
            rate_per_second: 20,
        }
    }
}

/// A pool's settings (`settings` in the pool body).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PoolSettings {
    /// Which proxies may be leased.
    pub filters: Filters,
    /// Cool-down and retirement rules.
    pub health: HealthPolicy,
    /// Limits of `sticky` sessions.
    pub sticky: StickyLimits,
    /// Testing.
    pub test: TestSettings,
}

/// `POST /proxy/pools` and `PUT /proxy/pools/{id}`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolBody {
    /// 1 to 100 characters, unique per owner.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// At most 1000 characters.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// Selection strategy (default `weighted`).
    #[serde(default)]
    pub strategy: Strategy,
    /// Filters, health rules, sticky limits, testing.
    #[serde(default)]
    pub settings: PoolSettings,
}

impl PoolBody {
    /// Every problem, for a 422.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            out.push(FieldError::new("name", "invalid", "1 to 100 characters"));
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 1000)
        {
            out.push(FieldError::new(
                "description",
                "too_long",
                "at most 1000 characters",
            ));
        }
        for (f, m) in self.settings.health.problems() {
            out.push(FieldError::new(
                format!("settings.health.{f}"),
                "out_of_range",
                m,
            ));
        }
        let s = &self.settings;
        let mut range = |field: &str, ok: bool, m: &str| {
            if !ok {
                out.push(FieldError::new(field, "out_of_range", m));
            }
        };
        range(
            "settings.sticky.max_uses",
            (1..=1_000_000).contains(&s.sticky.max_uses),
            "1 to 1000000",
        );
        range(
            "settings.sticky.max_age_seconds",
            (1..=86_400).contains(&s.sticky.max_age_seconds),
            "1 to 86400",
        );
        range(
            "settings.test.concurrency",
            (1..=200).contains(&s.test.concurrency),
            "1 to 200",
        );
        range(
            "settings.test.timeout_seconds",
            (1..=60).contains(&s.test.timeout_seconds),
            "1 to 60",
        );
        range(
            "settings.test.interval_seconds",
            s.test
                .interval_seconds
                .is_none_or(|i| (300..=604_800).contains(&i)),
            "300 to 604800, or null",
        );
        range(
            "settings.test.rate_per_second",
            (1..=1000).contains(&s.test.rate_per_second),
            "1 to 1000",
        );
        range(
            "settings.filters.max_latency_ms",
            s.filters
                .max_latency_ms
                .is_none_or(|m| (1..=600_000).contains(&m)),
            "1 to 600000, or null",
        );
        if let Some(url) = &s.test.url
            && (url.len() > 2048 || url::Url::parse(url).is_err())
        {
            out.push(FieldError::new(
                "settings.test.url",
                "invalid",
                "an absolute http(s) URL of at most 2048 characters",
            ));
        }
        out
    }
}
